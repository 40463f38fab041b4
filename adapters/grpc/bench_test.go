package kratosgrpc_test

// The cost the interceptor adds to a call whose session is cached. The
// pair BenchmarkUnaryBare / BenchmarkUnaryCacheHit runs the same handler on
// the same incoming context (the metadata gRPC hands a server: a session
// token, a user agent, a content type), without and with the interceptor;
// the Loopback pair is the same over a real server and client on loopback,
// where the interceptor's share drowns in the transport's.
//
//	go test -run '^$' -bench . -benchmem -count 8 . | benchstat -
//
// (scripts/bench.sh runs them).

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/kratosauth/kratosauth"
	kratosgrpc "github.com/kratosauth/kratosauth/adapters/grpc"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

var (
	benchReq  = &healthpb.HealthCheckRequest{}
	benchRes  = &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}
	benchInfo = &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"}
)

func benchHandler(ctx context.Context, _ any) (any, error) { return benchRes, nil }

// benchSetup returns a warm guard and the incoming context of a call with
// c's token.
func benchSetup(b *testing.B) (*kratosgrpc.Guard, context.Context) {
	kratos := kratosauthtest.NewServer(b)
	c := kratos.Login()
	a, err := kratosauth.New(kratos.URL)
	require.NoError(b, err)
	b.Cleanup(func() { a.Close() })
	g, err := kratosgrpc.New(a.RequireSession())
	require.NoError(b, err)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.MD{
		"x-session-token": {c.Token},
		"user-agent":      {"grpc-go/1.85.0"},
		"content-type":    {"application/grpc"},
		":authority":      {"127.0.0.1:50051"},
	})
	_, err = g.Unary(ctx, benchReq, benchInfo, benchHandler) // the miss that fills the cache
	require.NoError(b, err)
	return g, ctx
}

func BenchmarkUnaryBare(b *testing.B) {
	_, ctx := benchSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := benchHandler(ctx, benchReq); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnaryCacheHit(b *testing.B) {
	g, ctx := benchSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Unary(ctx, benchReq, benchInfo, benchHandler); err != nil {
			b.Fatal(err)
		}
	}
}

func benchLoopback(b *testing.B, guarded bool) {
	kratos := kratosauthtest.NewServer(b)
	c := kratos.Login()
	a, err := kratosauth.New(kratos.URL)
	require.NoError(b, err)
	b.Cleanup(func() { a.Close() })
	g, err := kratosgrpc.New(a.RequireSession())
	require.NoError(b, err)
	var opts []grpc.ServerOption
	if guarded {
		opts = append(opts, grpc.UnaryInterceptor(g.Unary))
	}
	client := serve(b, &health{quiet: true}, opts...)
	ctx := kratosgrpc.WithSessionToken(context.Background(), c.Token)
	_, err = client.Check(ctx, benchReq)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.Check(ctx, benchReq); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoopbackBare(b *testing.B)     { benchLoopback(b, false) }
func BenchmarkLoopbackCacheHit(b *testing.B) { benchLoopback(b, true) }
