package e2e

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kratosauth/kratosauth"
	kratosgrpc "github.com/kratosauth/kratosauth/adapters/grpc"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

// diffRPCKey is the metadata key naming the guard a call goes through,
// like diffHandlerHeader.
const diffRPCKey = "x-differential-handler"

// diffGRPC is TestDifferential's gRPC leg: each case's credential header
// lines, in order and trimmed as an HTTP server reads them, become the
// call's metadata under the lower-case names (one value per line, which is
// how HTTP/2 carries repeated headers); the answer must be Kratos': OK with
// the same identity and session for 200, Unauthenticated for 401,
// PermissionDenied for 403. A case with a byte gRPC metadata cannot carry
// (outside printable ASCII) is not sent; the count is logged.
func diffGRPC(t *testing.T, k *kratostest.Server, pool *diffPool, cases []*diffCase, newAuth func(string) (*kratosauth.Authenticator, error)) {
	var guards sync.Map // key → *kratosgrpc.Guard
	dispatch := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		key := metadata.ValueFromIncomingContext(ctx, diffRPCKey)
		if len(key) == 0 {
			return nil, status.Error(codes.Internal, "differential: no guard named")
		}
		g, ok := guards.Load(key[0])
		if !ok {
			return nil, status.Error(codes.Internal, "differential: no guard "+key[0])
		}
		return g.(*kratosgrpc.Guard).Unary(ctx, req, info, handler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.UnaryInterceptor(dispatch))
	healthpb.RegisterHealthServer(srv, diffHealth{})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	client := healthpb.NewHealthClient(conn)

	var sendable []*diffCase
	for _, c := range cases {
		if _, ok := diffMetadata(c); ok {
			sendable = append(sendable, c)
		}
	}
	t.Logf("%d of %d cases expressible as gRPC metadata", len(sendable), len(cases))

	call := func(key string, g *kratosgrpc.Guard, c *diffCase) diffAnswer {
		guards.Store(key, g)
		defer guards.Delete(key)
		md, _ := diffMetadata(c)
		md.Set(diffRPCKey, key)
		ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), 30*time.Second)
		defer cancel()
		var header metadata.MD
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header))
		switch status.Code(err) {
		case codes.OK:
			return diffAnswer{status: 200, identityID: first(header.Get("x-identity")), sessionID: first(header.Get("x-session"))}
		case codes.Unauthenticated:
			return diffAnswer{status: 401}
		case codes.PermissionDenied:
			return diffAnswer{status: 403}
		default:
			return diffAnswer{err: err}
		}
	}
	mustGuard := func(a *kratosauth.Authenticator) *kratosgrpc.Guard {
		g, err := kratosgrpc.New(a.RequireSession())
		require.NoError(t, err)
		return g
	}

	fresh := map[int]diffAnswer{}
	t.Run("fresh", func(t *testing.T) {
		var mu sync.Mutex
		parallel(sendable, func(c *diffCase) {
			var a diffAnswer
			auth, err := newAuth(k.PublicURL)
			if err != nil {
				a.err = err
			} else {
				a = call("fresh/"+itoa(c.n), mustGuard(auth), c)
				_ = auth.Close()
			}
			mu.Lock()
			fresh[c.n] = a
			mu.Unlock()
		})
		reportDisagreements(t, pool, sendable, map[string]map[int]diffAnswer{"grpc": fresh}, nil)
	})
	t.Run("shared", func(t *testing.T) {
		p := newProxy(t, k.PublicURL)
		auth, err := newAuth(p.URL)
		require.NoError(t, err)
		t.Cleanup(func() { _ = auth.Close() })
		g := mustGuard(auth)
		shared := map[int]diffAnswer{}
		for _, c := range sendable {
			shared[c.n] = call("shared", g, c)
		}
		t.Logf("%d calls made %d whoami calls", len(sendable), p.Whoamis())
		reportDisagreements(t, pool, sendable, map[string]map[int]diffAnswer{"grpc": shared}, map[string]map[int]diffAnswer{"grpc": fresh})
	})
}

// diffMetadata is c's credential lines as metadata, and whether gRPC can
// carry them: printable ASCII only (grpc-go refuses anything else in a
// text value, where HTTP/1.1 allows obs-text).
func diffMetadata(c *diffCase) (metadata.MD, bool) {
	md := metadata.MD{}
	for _, l := range c.lines {
		v := strings.Trim(l.v.raw, " \t")
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				return nil, false
			}
		}
		key := strings.ToLower(l.name)
		md[key] = append(md[key], v)
	}
	return md, true
}

// diffHealth answers Check with the session's identity and session IDs as
// the "x-identity" and "x-session" headers.
type diffHealth struct {
	healthpb.UnimplementedHealthServer
}

func (diffHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	s, ok := kratosgrpc.Session(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no session in the handler's context")
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-identity", s.Identity.ID, "x-session", s.ID))
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func itoa(n int) string { return strconv.Itoa(n) }
