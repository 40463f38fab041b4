package kratosgrpcjwt_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kratosauth/kratosauth"
	kratosgrpc "github.com/kratosauth/kratosauth/adapters/grpc"
	kratosgrpcjwt "github.com/kratosauth/kratosauth/adapters/grpc/jwt"
	"github.com/kratosauth/kratosauth/internal/testing/jwtkit"
	kratosjwt "github.com/kratosauth/kratosauth/jwtverify"
)

// downstream answers Check with the token's subject as the "x-subject" header.
type downstream struct {
	healthpb.UnimplementedHealthServer
}

func (downstream) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	c, ok := kratosjwt.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no claims")
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-subject", c.Subject))
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// The edge's client interceptor forwards the session's token, the
// downstream's interceptor verifies it; without a valid token, the call is
// Unauthenticated, and without a readable JWKS Unavailable.
func TestForwardAndVerify(t *testing.T) {
	key := jwtkit.NewES256("k1")
	path := filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(path, jwtkit.PublicJWKS(key), 0o600))
	v, err := kratosjwt.New("file://" + path)
	require.NoError(t, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.UnaryInterceptor(kratosgrpcjwt.Unary(v)), grpc.StreamInterceptor(kratosgrpcjwt.Stream(v)))
	healthpb.RegisterHealthServer(srv, downstream{})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(kratosgrpc.UnaryClientInterceptor()),
		grpc.WithStreamInterceptor(kratosgrpc.StreamClientInterceptor()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	client := healthpb.NewHealthClient(conn)

	good := key.Sign(jwtkit.KratosClaims("http://kratos/", "identity-1", "session-1", time.Minute))
	withSession := func(token string) context.Context {
		return kratosauth.NewContext(context.Background(), &kratosauth.Session{Tokenized: token})
	}
	var header metadata.MD
	_, err = client.Check(withSession(good), &healthpb.HealthCheckRequest{}, grpc.Header(&header))
	require.NoError(t, err)
	assert.Equal(t, []string{"identity-1"}, header.Get("x-subject"))

	// A stream with the token is admitted (the service has no Watch).
	stream, err := client.Watch(withSession(good), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	_, err = stream.Recv()
	assert.Equal(t, codes.Unimplemented, status.Code(err))

	// The caller's own authorization is never replaced.
	ctx := metadata.AppendToOutgoingContext(withSession(good), "authorization", "Bearer not-a-jwt")
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{})
	assert.Equal(t, codes.Unauthenticated, status.Code(err))

	for name, ctx := range map[string]context.Context{
		"no session":       context.Background(),
		"session no token": withSession(""),
		"unsigned token":   withSession(jwtkit.Unsigned("k1", jwtkit.KratosClaims("http://kratos/", "i", "s", time.Minute))),
	} {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		assert.Equal(t, codes.Unauthenticated, status.Code(err), name)
		stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
		require.NoError(t, err)
		_, err = stream.Recv()
		assert.Equal(t, codes.Unauthenticated, status.Code(err), name+" (stream)")
	}

	// A verifier whose JWKS cannot be read.
	missing, err := kratosjwt.New("file://" + filepath.Join(t.TempDir(), "missing.json"))
	require.NoError(t, err)
	unary := kratosgrpcjwt.Unary(missing)
	_, err = unary(metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+good)),
		nil, &grpc.UnaryServerInfo{FullMethod: "/pkg.S/M"}, func(context.Context, any) (any, error) {
			t.Fatal("the handler ran")
			return nil, nil
		})
	assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
}
