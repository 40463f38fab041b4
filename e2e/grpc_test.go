package e2e

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kratosauth/kratosauth"
	kratosgrpc "github.com/kratosauth/kratosauth/adapters/grpc"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	rediscache "github.com/kratosauth/kratosauth/cache/redis"
	"github.com/kratosauth/kratosauth/internal/testing/ketotest"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
	"github.com/kratosauth/kratosauth/internal/testing/redistest"
	ketoclient "github.com/kratosauth/kratosauth/keto"
)

// rpcHealth is the guarded service: Check answers with the session's
// identity ID as the "x-identity" header; Watch sends every tick until
// it fails, and reports how it ended on ended.
type rpcHealth struct {
	healthpb.UnimplementedHealthServer
	tick  time.Duration
	ended chan error
}

func (h *rpcHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	id, ok := kratosgrpc.Identity(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no session in the handler's context")
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-identity", id.ID))
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (h *rpcHealth) Watch(_ *healthpb.HealthCheckRequest, s healthpb.Health_WatchServer) error {
	var err error
	for err == nil {
		if err = s.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err == nil {
			select {
			case <-time.After(h.tick):
			case <-s.Context().Done():
				err = s.Context().Err()
			}
		}
	}
	if h.ended != nil {
		h.ended <- err
	}
	return err
}

// serveRPC serves h guarded by g on a loopback port; it returns a client.
func serveRPC(t *testing.T, g *kratosgrpc.Guard, h *rpcHealth) healthpb.HealthClient {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.UnaryInterceptor(g.Unary), grpc.StreamInterceptor(g.Stream))
	healthpb.RegisterHealthServer(srv, h)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func rpcGuard(t *testing.T, g *kratosauth.Guard, opts ...kratosgrpc.Option) *kratosgrpc.Guard {
	t.Helper()
	gg, err := kratosgrpc.New(g, opts...)
	require.NoError(t, err)
	return gg
}

func rpcAuth(t *testing.T, k *kratostest.Server, whoamiURL string, opts ...kratosauth.Option) *kratosauth.Authenticator {
	t.Helper()
	a, err := kratosauth.New(whoamiURL, append([]kratosauth.Option{
		kratosauth.WithBrowserURL(k.PublicURL),
		kratosauth.WithAppURL(k.Options.AppURL),
		kratosauth.WithLogger(slog.New(slog.DiscardHandler)),
	}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func checkRPC(client healthpb.HealthClient, md metadata.MD) (metadata.MD, error) {
	var header metadata.MD
	_, err := client.Check(metadata.NewOutgoingContext(context.Background(), md), &healthpb.HealthCheckRequest{}, grpc.Header(&header))
	return header, err
}

func rpcErrorInfo(err error) *errdetails.ErrorInfo {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// TestRPC runs the gRPC and Connect tests against one real Kratos.
func TestRPC(t *testing.T) {
	k := kratostest.Start(t, kratostest.Options{AppURL: "http://127.0.0.1:4455"})
	for _, tc := range []struct {
		name string
		test func(*testing.T, *kratostest.Server)
	}{
		{"grpc", testGRPC},
		{"grpc/1000 concurrent RPCs one whoami", testGRPCConcurrentOneWhoami},
		{"grpc/stream revoked", testGRPCStreamRevoked},
		{"grpc/fleet logout", testGRPCFleetLogout},
		{"grpc/permission", testGRPCPermission},
		{"connect", testConnect},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, k) })
	}
}

// testGRPC guards a real gRPC server with the real Kratos: each credential
// Kratos accepts, as metadata, and each refusal's status.
func testGRPC(t *testing.T, k *kratostest.Server) {
	email := kratostest.UniqueEmail("grpc")
	tok, sess := k.RegisterAPI(t, email, password)
	_, identityID := kratostest.SessionIDs(t, sess)
	_, browserCookie := k.LoginBrowser(t, email, password)
	a := rpcAuth(t, k, k.PublicURL, kratosauth.WithCacheTTL(0))
	session := serveRPC(t, rpcGuard(t, a.RequireSession()), &rpcHealth{})
	aal2 := serveRPC(t, rpcGuard(t, a.RequireAAL(kratosauth.AAL2)), &rpcHealth{})

	for name, md := range map[string]metadata.MD{
		"x-session-token": metadata.Pairs("x-session-token", tok),
		"bearer":          metadata.Pairs("authorization", "Bearer "+tok),
		"browser cookie":  metadata.Pairs("cookie", "theme=dark; "+browserCookie.Name+"="+browserCookie.Value),
	} {
		header, err := checkRPC(session, md)
		require.NoError(t, err, name)
		assert.Equal(t, []string{identityID}, header.Get("x-identity"), name)
	}

	_, err := checkRPC(session, nil)
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "no credentials")
	_, err = checkRPC(session, metadata.Pairs("x-session-token", "ory_st_notasessiontoken0000000000"))
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "unknown token")

	_, err = checkRPC(aal2, metadata.Pairs("x-session-token", tok))
	assert.Equal(t, codes.PermissionDenied, status.Code(err), "aal1 on an aal2 method")
	if info := rpcErrorInfo(err); assert.NotNil(t, info) {
		assert.Equal(t, kratosgrpc.ReasonSessionAAL2Required, info.GetReason())
		assert.Equal(t, k.PublicURL+"/self-service/login/browser?aal=aal2", info.GetMetadata()[kratosgrpc.RedirectBrowserToKey])
	}

	other := kratostest.UniqueEmail("grpc-logout")
	otherTok, _ := k.RegisterAPI(t, other, password)
	_, err = checkRPC(session, metadata.Pairs("x-session-token", otherTok))
	require.NoError(t, err)
	k.LogoutAPI(t, otherTok)
	_, err = checkRPC(session, metadata.Pairs("x-session-token", otherTok))
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "logged out")

	// Kratos unreachable: a closed port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	ln.Close()
	down := serveRPC(t, rpcGuard(t, rpcAuth(t, k, closed).RequireSession()), &rpcHealth{})
	_, err = checkRPC(down, metadata.Pairs("x-session-token", tok))
	assert.Equal(t, codes.Unavailable, status.Code(err), "Kratos down: %v", err)
}

// 1,000 concurrent RPCs with one session and a cold cache: one whoami.
func testGRPCConcurrentOneWhoami(t *testing.T, k *kratostest.Server) {
	tok, _ := k.RegisterAPI(t, kratostest.UniqueEmail("grpc-1000"), password)
	px := newProxy(t, k.PublicURL)
	px.delay.Store(int64(100 * time.Millisecond)) // every call arrives while the first whoami is out
	client := serveRPC(t, rpcGuard(t, rpcAuth(t, k, px.URL).RequireSession()), &rpcHealth{})

	var wg sync.WaitGroup
	var mu sync.Mutex
	codesSeen := map[codes.Code]int{}
	for range 1000 {
		wg.Go(func() {
			_, err := checkRPC(client, metadata.Pairs("x-session-token", tok))
			mu.Lock()
			codesSeen[status.Code(err)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, map[codes.Code]int{codes.OK: 1000}, codesSeen)
	assert.Equal(t, int64(1), px.Whoamis())
}

// A stream whose session Kratos revokes while it runs: with a recheck
// interval, its first message after the next check fails with
// Unauthenticated and the stream ends; the handler's Send reports it.
func testGRPCStreamRevoked(t *testing.T, k *kratostest.Server) {
	tok, sess := k.RegisterAPI(t, kratostest.UniqueEmail("grpc-stream"), password)
	sessionID, _ := kratostest.SessionIDs(t, sess)
	const recheck = 200 * time.Millisecond
	// The cache TTL bounds how late Kratos' own revocation is seen: the
	// recheck reads the cache first.
	a := rpcAuth(t, k, k.PublicURL, kratosauth.WithCacheTTL(100*time.Millisecond))
	h := &rpcHealth{tick: 10 * time.Millisecond, ended: make(chan error, 1)}
	client := serveRPC(t, rpcGuard(t, a.RequireSession(), kratosgrpc.WithStreamRecheck(recheck)), h)

	ctx, cancel := context.WithTimeout(kratosgrpc.WithSessionToken(context.Background(), tok), 10*time.Second)
	defer cancel()
	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	for end := time.Now().Add(3 * recheck); time.Now().Before(end); {
		_, err := stream.Recv()
		require.NoError(t, err, "rechecks of a valid session pass")
	}
	k.RevokeSession(t, sessionID)
	revoked := time.Now()
	for err == nil {
		_, err = stream.Recv()
	}
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
	assert.Less(t, time.Since(revoked), recheck+100*time.Millisecond+2*time.Second, "ended within the interval and the cache TTL")
	assert.Equal(t, codes.Unauthenticated, status.Code(<-h.ended))
}

// An HTTP app and a gRPC server share the Redis session store: after a
// logout on the HTTP app (auth.Invalidate, then Kratos' logout) the gRPC
// server refuses the session within Redis' invalidation delay, although
// it had the session cached for a minute: the invalidation makes it ask
// Kratos again.
func testGRPCFleetLogout(t *testing.T, k *kratostest.Server) {
	rds := redistest.Start(t)
	tok, _ := k.RegisterAPI(t, kratostest.UniqueEmail("grpc-fleet"), password)
	px := newProxy(t, k.PublicURL)
	shared := func() *kratosauth.Authenticator {
		store, err := rediscache.New(rds.URL)
		require.NoError(t, err)
		t.Cleanup(func() { store.Close() })
		return rpcAuth(t, k, px.URL, kratosauth.WithCache(store), kratosauth.WithCacheTTL(time.Minute))
	}
	httpAuth, rpcAuthn := shared(), shared()
	mux := http.NewServeMux()
	mux.Handle("GET /private", kratoshttp.RequireSession(httpAuth)(http.HandlerFunc(writeMe)))
	mux.HandleFunc("POST /logout", invalidate(httpAuth))
	web := httptest.NewServer(mux)
	t.Cleanup(web.Close)
	rpc := serveRPC(t, rpcGuard(t, rpcAuthn.RequireSession()), &rpcHealth{})
	md := metadata.Pairs("x-session-token", tok)

	assert.Equal(t, http.StatusOK, doGet(t, client, web.URL+"/private", token(tok)).Status)
	_, err := checkRPC(rpc, md)
	require.NoError(t, err)
	assert.Equal(t, int64(1), px.Whoamis(), "the RPC server found the HTTP app's session in Redis")

	req, err := http.NewRequest(http.MethodPost, web.URL+"/logout", nil)
	require.NoError(t, err)
	req.Header.Set("X-Session-Token", tok)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	k.LogoutAPI(t, tok) // what the app's logout does next: Kratos ends the session

	// Each replica serves hits from its memory; Redis' invalidation message
	// reaches it a moment after the write (README: Many replicas).
	loggedOut := time.Now()
	assert.Eventually(t, func() bool {
		_, err := checkRPC(rpc, md)
		return status.Code(err) == codes.Unauthenticated
	}, time.Second, 5*time.Millisecond, "the logout on the HTTP app is seen by the RPC server")
	t.Logf("the RPC server refused the session %s after the logout", time.Since(loggedOut).Round(time.Millisecond))
	assert.Equal(t, http.StatusUnauthorized, doGet(t, client, web.URL+"/private", token(tok)).Status)
}

// RequirePermission on an RPC against the real Keto, the object from
// metadata: allowed once the tuple is written, PermissionDenied before,
// Unavailable while Keto is down.
func testGRPCPermission(t *testing.T, k *kratostest.Server) {
	keto := ketotest.Start(t)
	tok, sess := k.RegisterAPI(t, kratostest.UniqueEmail("grpc-keto"), password)
	_, identityID := kratostest.SessionIDs(t, sess)
	perms, err := ketoclient.New(keto.ReadURL, ketoclient.WithAllowTTL(0), ketoclient.WithTimeout(time.Second))
	require.NoError(t, err)
	t.Cleanup(perms.Close)
	a := rpcAuth(t, k, k.PublicURL, kratosauth.WithPermissions(perms))
	client := serveRPC(t, rpcGuard(t, a.RequirePermission("Group", "members", kratosgrpc.Metadata("x-group"))), &rpcHealth{})
	md := metadata.Pairs("x-session-token", tok, "x-group", "admins")

	_, err = checkRPC(client, md)
	assert.Equal(t, codes.PermissionDenied, status.Code(err), "before the grant: %v", err)
	keto.Grant(t, "Group", "admins", "members", identityID)
	_, err = checkRPC(client, md)
	assert.NoError(t, err, "after the grant")
	_, err = checkRPC(client, metadata.Pairs("x-session-token", tok))
	assert.Equal(t, codes.PermissionDenied, status.Code(err), "no object")
	keto.Stop()
	_, err = checkRPC(client, metadata.Pairs("x-session-token", tok, "x-group", "other"))
	assert.Equal(t, codes.Unavailable, status.Code(err), "Keto down: %v", err)
}
