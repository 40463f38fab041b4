package kratosgrpc_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
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
	"github.com/kratosauth/kratosauth/internal/testing/adaptertest"
	"github.com/kratosauth/kratosauth/keto"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// newAuth: every test here builds on the RPC adapters' Authenticator.
var newAuth = adaptertest.RPCAuthenticator

func mustGuard(t *testing.T, g *kratosauth.Guard, opts ...kratosgrpc.Option) *kratosgrpc.Guard {
	t.Helper()
	gg, err := kratosgrpc.New(g, opts...)
	require.NoError(t, err)
	return gg
}

// errorInfo returns the ErrorInfo detail of err's status, or nil.
func errorInfo(err error) *errdetails.ErrorInfo {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

func retryDelay(err error) time.Duration {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

// Each credential Kratos reads, sent as metadata, reaches the handler with
// the session in its context, on unary calls and streams.
func TestCredentials(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	client := guarded(t, mustGuard(t, newAuth(t, kratos.URL).RequireSession()), nil)
	for name, md := range map[string]metadata.MD{
		"x-session-token":                metadata.Pairs("x-session-token", c.Token),
		"authorization bearer":           metadata.Pairs("authorization", "Bearer "+c.Token),
		"cookie":                         metadata.Pairs("cookie", c.Cookie.String()),
		"cookie among others, split":     metadata.Pairs("cookie", "theme=dark", "cookie", c.Cookie.String()+"; lang=en"),
		"token wins over a bad bearer":   metadata.Pairs("x-session-token", c.Token, "authorization", "Bearer nonsense"),
		"bearer beside a foreign cookie": metadata.Pairs("authorization", "Bearer "+c.Token, "cookie", "other=1"),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := metadata.NewOutgoingContext(context.Background(), md)
			var header metadata.MD
			res, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header))
			require.NoError(t, err)
			assert.Equal(t, healthpb.HealthCheckResponse_SERVING, res.GetStatus())
			assert.Equal(t, []string{c.Session.Identity.ID}, header.Get("x-identity"))

			stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
			require.NoError(t, err)
			_, err = stream.Recv()
			require.NoError(t, err)
			header, err = stream.Header()
			require.NoError(t, err)
			assert.Equal(t, []string{c.Session.Identity.ID}, header.Get("x-identity"))
		})
	}
}

// The status of every refusal, over a real server and client: the codes,
// ErrorInfo reasons and details clients rely on.
func TestStatuses(t *testing.T) {
	for _, tc := range adaptertest.RPCCalls() {
		t.Run(tc.Name, func(t *testing.T) {
			g, c := tc.Start(t)
			h := &health{tick: time.Millisecond, watched: make(chan error, 1)}
			client := guarded(t, mustGuard(t, g), h)
			ctx := context.Background()
			if !tc.NoCredentials {
				ctx = kratosgrpc.WithSessionToken(ctx, c.Token)
			}
			_, unaryErr := client.Check(ctx, &healthpb.HealthCheckRequest{})
			stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
			require.NoError(t, err)
			_, streamErr := stream.Recv()
			for call, err := range map[string]error{"unary": unaryErr, "stream": streamErr} {
				st := status.Convert(err)
				require.Equal(t, codes.Code(tc.Code), st.Code(), "%s: %v", call, err)
				if tc.Code == 0 {
					continue
				}
				info := errorInfo(err)
				require.NotNil(t, info, call)
				assert.Equal(t, kratosgrpc.ErrorDomain, info.GetDomain(), call)
				assert.Equal(t, tc.Reason, info.GetReason(), call)
				assert.Equal(t, tc.Redirect, info.GetMetadata()[kratosgrpc.RedirectBrowserToKey], call)
				assert.Equal(t, tc.Retry, retryDelay(err), call)
				assert.NotContains(t, st.Message(), "kratos", "%s: the message names no internals", call)
			}
			if tc.Code != 0 {
				select {
				case err := <-h.watched:
					t.Fatalf("a refused stream reached the handler (it ended with %v)", err)
				default:
				}
			}
		})
	}
}

// A call whose client hangs up, or whose deadline passes, while Kratos is
// asked never reaches the handler, and the server ends it with Canceled or
// DeadlineExceeded, not Unavailable.
func TestCanceled(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	kratos.Fail(kratosauthtest.Slow(time.Second))
	g := mustGuard(t, newAuth(t, kratos.URL).RequireSession())
	var handled atomic.Int32
	serverErr := make(chan error, 2)
	record := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		res, err := handler(ctx, req)
		serverErr <- err
		return res, err
	}
	count := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		handled.Add(1)
		return handler(ctx, req)
	}
	client := serve(t, nil, grpc.ChainUnaryInterceptor(record, g.Unary, count))

	ctx, cancel := context.WithTimeout(kratosgrpc.WithSessionToken(context.Background(), c.Token), 50*time.Millisecond)
	defer cancel()
	_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
	assert.Equal(t, codes.DeadlineExceeded, status.Code(err))
	// The server sees its own deadline pass, or the client's reset first.
	assert.Contains(t, []codes.Code{codes.DeadlineExceeded, codes.Canceled}, status.Code(<-serverErr), "the server's status")

	ctx, cancel = context.WithCancel(kratosgrpc.WithSessionToken(context.Background(), c.Token))
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{})
	assert.Equal(t, codes.Canceled, status.Code(err))
	assert.Equal(t, codes.Canceled, status.Code(<-serverErr), "the server's status")
	assert.Zero(t, handled.Load(), "a canceled call reached the handler")
}

// RequirePermission with the object from the request message (unary) or
// from metadata (unary and streams), against the fake Keto.
func TestPermissions(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	user := kratos.Login()
	ketoFake := kratosauthtest.NewKeto(t)
	ketoFake.Grant("Service", "payments", "check", user.Session.Identity.ID)
	perms, err := keto.New(ketoFake.URL, keto.WithAllowTTL(0), keto.WithTimeout(200*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(perms.Close)
	a := newAuth(t, kratos.URL, kratosauth.WithPermissions(perms))

	byMessage := guarded(t, mustGuard(t, a.RequirePermission("Service", "check",
		kratosgrpc.Message(func(r *healthpb.HealthCheckRequest) string { return r.GetService() }))), nil)
	byMetadata := guarded(t, mustGuard(t, a.RequirePermission("Service", "check", kratosgrpc.Metadata("x-service"))), nil)

	ctx := kratosgrpc.WithSessionToken(context.Background(), user.Token)
	for _, tc := range []struct {
		name    string
		client  healthpb.HealthClient
		service string // the message's object
		md      string // the metadata's object
		fault   *kratosauthtest.Fault
		want    codes.Code
		stream  codes.Code
	}{
		{name: "message granted", client: byMessage, service: "payments", want: codes.OK, stream: codes.PermissionDenied},
		{name: "message other object", client: byMessage, service: "ledger", want: codes.PermissionDenied, stream: codes.PermissionDenied},
		{name: "message empty object", client: byMessage, want: codes.PermissionDenied, stream: codes.PermissionDenied},
		{name: "metadata granted", client: byMetadata, md: "payments", want: codes.OK, stream: codes.OK},
		{name: "metadata other object", client: byMetadata, md: "ledger", want: codes.PermissionDenied, stream: codes.PermissionDenied},
		{name: "metadata missing", client: byMetadata, want: codes.PermissionDenied, stream: codes.PermissionDenied},
		{name: "keto 500", client: byMetadata, md: "payments", fault: ptr(kratosauthtest.Status(500)), want: codes.Unavailable, stream: codes.Unavailable},
		{name: "keto slow", client: byMetadata, md: "payments", fault: ptr(kratosauthtest.Slow(time.Second)), want: codes.Unavailable, stream: codes.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				ketoFake.Fail(*tc.fault)
				defer ketoFake.Recover()
			}
			ctx := ctx
			if tc.md != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "x-service", tc.md)
			}
			_, err := tc.client.Check(ctx, &healthpb.HealthCheckRequest{Service: tc.service})
			assert.Equal(t, tc.want, status.Code(err), "unary: %v", err)
			stream, err := tc.client.Watch(ctx, &healthpb.HealthCheckRequest{Service: tc.service})
			require.NoError(t, err)
			_, err = stream.Recv()
			assert.Equal(t, tc.stream, status.Code(err), "stream: %v", err)
		})
	}
}

func ptr[T any](v T) *T { return &v }

// A stream whose session is revoked while it runs ends with
// Unauthenticated on its first message after the recheck interval; the
// handler sees the error from Send. Behind LoadSession too: a stream that
// began with a session does not go on as a visitor, let alone as the user,
// even where its context already holds that session (guards chained, or
// the HTTP middleware in front of grpc.Server.ServeHTTP).
func TestStreamRevokedMidStream(t *testing.T) {
	const recheck = 50 * time.Millisecond
	for name, client := range map[string]func(*testing.T, *kratosauth.Authenticator, *health) healthpb.HealthClient{
		"RequireSession": func(t *testing.T, a *kratosauth.Authenticator, h *health) healthpb.HealthClient {
			return guarded(t, mustGuard(t, a.RequireSession(), kratosgrpc.WithStreamRecheck(recheck)), h)
		},
		"LoadSession": func(t *testing.T, a *kratosauth.Authenticator, h *health) healthpb.HealthClient {
			return guarded(t, mustGuard(t, a.LoadSession(), kratosgrpc.WithStreamRecheck(recheck)), h)
		},
		"LoadSession under another guard": func(t *testing.T, a *kratosauth.Authenticator, h *health) healthpb.HealthClient {
			outer := mustGuard(t, a.LoadSession(), kratosgrpc.WithStreamRecheck(0))
			inner := mustGuard(t, a.LoadSession(), kratosgrpc.WithStreamRecheck(recheck))
			return serve(t, h, grpc.ChainStreamInterceptor(outer.Stream, inner.Stream))
		},
		"LoadSession behind the HTTP middleware": func(t *testing.T, a *kratosauth.Authenticator, h *health) healthpb.HealthClient {
			gs := grpc.NewServer(grpc.StreamInterceptor(mustGuard(t, a.LoadSession(), kratosgrpc.WithStreamRecheck(recheck)).Stream))
			healthpb.RegisterHealthServer(gs, h)
			srv := httptest.NewUnstartedServer(a.LoadSession().Middleware(gs)) // gRPC's metadata is HTTP/2 headers: X-Session-Token
			srv.Config.Protocols = new(http.Protocols)
			srv.Config.Protocols.SetUnencryptedHTTP2(true)
			srv.Start()
			t.Cleanup(srv.Close)
			conn, err := grpc.NewClient(strings.TrimPrefix(srv.URL, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
			require.NoError(t, err)
			t.Cleanup(func() { conn.Close() })
			return healthpb.NewHealthClient(conn)
		},
	} {
		t.Run(name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			c := kratos.Login()
			h := &health{tick: 5 * time.Millisecond, watched: make(chan error, 1)}
			client := client(t, newAuth(t, kratos.URL), h)

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a stream never rechecked ends here
			defer cancel()
			stream, err := client.Watch(kratosgrpc.WithSessionToken(ctx, c.Token), &healthpb.HealthCheckRequest{})
			require.NoError(t, err)
			deadline := time.Now().Add(3 * recheck)
			for time.Now().Before(deadline) { // longer than the interval: rechecks pass
				_, err := stream.Recv()
				require.NoError(t, err)
			}
			header, err := stream.Header()
			require.NoError(t, err)
			require.Equal(t, []string{c.Session.Identity.ID}, header.Get("x-identity"), "admitted as the user")
			kratos.Revoke(c)
			revoked := time.Now()
			for {
				_, err = stream.Recv()
				if err != nil {
					break
				}
			}
			assert.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
			assert.Less(t, time.Since(revoked), recheck+time.Second, "ended within the interval (and a tick)")
			assert.Equal(t, codes.Unauthenticated, status.Code(<-h.watched), "the handler's Send failed")
		})
	}
}

// Kratos starts answering 403 session_aal2_required for a stream's session
// (the identity added a second factor, required_aal: highest_available):
// the recheck ends the stream with PermissionDenied and the step-up
// reason, never with Unauthenticated, which clients take for a logout;
// behind LoadSession too.
func TestStreamRecheckAAL2RequiredIsAStepUp(t *testing.T) {
	const recheck = 40 * time.Millisecond
	aal2 := []byte(`{"error":{"id":"session_aal2_required","code":403,"status":"Forbidden","reason":"aal2"},"redirect_browser_to":"http://kratos/self-service/login/browser?aal=aal2"}`)
	for name, guard := range map[string]func(*kratosauth.Authenticator) *kratosauth.Guard{
		"RequireSession": (*kratosauth.Authenticator).RequireSession,
		"LoadSession":    (*kratosauth.Authenticator).LoadSession,
	} {
		t.Run(name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			c := kratos.Login()
			h := &health{tick: 5 * time.Millisecond, watched: make(chan error, 1)}
			client := guarded(t, mustGuard(t, guard(newAuth(t, kratos.URL)), kratosgrpc.WithStreamRecheck(recheck)), h)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			stream, err := client.Watch(kratosgrpc.WithSessionToken(ctx, c.Token), &healthpb.HealthCheckRequest{})
			require.NoError(t, err)
			_, err = stream.Recv()
			require.NoError(t, err)
			kratos.Fail(kratosauthtest.Raw(http.StatusForbidden, http.Header{"Content-Type": {"application/json"}}, aal2))
			for err == nil {
				_, err = stream.Recv()
			}
			assert.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
			assert.Equal(t, kratosgrpc.ReasonSessionAAL2Required, errorInfo(err).GetReason())
		})
	}
}

// With WithStreamRecheck(0) a stream keeps its admission.
func TestStreamAdmissionOnly(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	client := guarded(t, mustGuard(t, newAuth(t, kratos.URL).RequireSession(), kratosgrpc.WithStreamRecheck(0)), nil)
	stream, err := client.Watch(kratosgrpc.WithSessionToken(context.Background(), c.Token), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	_, err = stream.Recv()
	require.NoError(t, err)
	kratos.Revoke(c)
	calls := kratos.Calls()
	for range 20 {
		_, err = stream.Recv()
		require.NoError(t, err)
	}
	assert.Equal(t, calls, kratos.Calls(), "no recheck")
}

// Concurrent calls with one credential and a cold cache share one whoami.
func TestConcurrentCallsOneWhoami(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	kratos.Fail(kratosauthtest.Raw(http.StatusOK, nil, kratosauthtest.WhoamiBody(c.Session)))
	client := guarded(t, mustGuard(t, newAuth(t, kratos.URL, kratosauth.WithCacheTTL(time.Minute)).RequireSession()), nil)
	ctx := kratosgrpc.WithSessionToken(context.Background(), c.Token)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	assert.Equal(t, 1, kratos.Calls())
}

// Public methods run without a session; every other method is guarded,
// including one whose name differs only in case.
func TestPublicMethods(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL)
	client := guarded(t, mustGuard(t, a.RequireSession(), kratosgrpc.WithPublicMethods("/grpc.health.v1.Health/Check")), nil)
	res, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVICE_UNKNOWN, res.GetStatus(), "no session in a public method's context")
	stream, err := client.Watch(context.Background(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	_, err = stream.Recv()
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "Watch is not public")
	assert.Zero(t, kratos.Calls())

	wrongCase := guarded(t, mustGuard(t, a.RequireSession(), kratosgrpc.WithPublicMethods("/grpc.health.v1.health/check")), nil)
	_, err = wrongCase.Check(context.Background(), &healthpb.HealthCheckRequest{})
	assert.Equal(t, codes.Unauthenticated, status.Code(err))

	for _, bad := range []string{"", "/", "grpc.health.v1.Health/Check", "/grpc.health.v1.Health", "/grpc.health.v1.Health/", "//Check", "/a/b/c"} {
		_, err := kratosgrpc.New(a.RequireSession(), kratosgrpc.WithPublicMethods(bad))
		assert.Error(t, err, "%q", bad)
	}
}

func TestNew(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL)
	_, err := kratosgrpc.New(nil)
	assert.Error(t, err)
	_, err = kratosgrpc.New(a.RequireSession(), nil)
	assert.Error(t, err)
	_, err = kratosgrpc.New(a.RequireSession(), kratosgrpc.WithStreamRecheck(-time.Second))
	assert.Error(t, err)
	assert.Panics(t, func() { kratosgrpc.Metadata("") })
	assert.Panics(t, func() { kratosgrpc.Message[*healthpb.HealthCheckRequest](nil) })
}

// The session cookie Kratos re-issued goes out as "set-cookie" header
// metadata, for grpc-web and gateways, whether the call is served or
// refused.
func TestReissuedCookie(t *testing.T) {
	const reissued = "ory_kratos_session=NEW; Path=/; HttpOnly"
	never := kratosauth.NewPredicate("never", func(*kratosauth.Session) bool { return false })
	for name, tc := range map[string]struct {
		guard func(*kratosauth.Authenticator) *kratosauth.Guard
		code  codes.Code
	}{
		"served":  {(*kratosauth.Authenticator).RequireSession, codes.OK},
		"refused": {func(a *kratosauth.Authenticator) *kratosauth.Guard { return a.Require(never) }, codes.PermissionDenied},
	} {
		t.Run(name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			c := kratos.Login()
			kratos.Fail(kratosauthtest.Raw(http.StatusOK, http.Header{"Set-Cookie": {reissued}}, kratosauthtest.WhoamiBody(c.Session)))
			client := guarded(t, mustGuard(t, tc.guard(newAuth(t, kratos.URL))), &health{})
			ctx := metadata.AppendToOutgoingContext(context.Background(), "cookie", c.Cookie.Name+"="+c.Cookie.Value)
			var header metadata.MD
			_, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header))
			require.Equal(t, tc.code, status.Code(err), "%v", err)
			assert.Equal(t, []string{reissued}, header.Get("set-cookie"))
		})
	}
}
