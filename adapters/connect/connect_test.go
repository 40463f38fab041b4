package kratosconnect_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kratosauth/kratosauth"
	kratosconnect "github.com/kratosauth/kratosauth/adapters/connect"
	"github.com/kratosauth/kratosauth/internal/testing/adaptertest"
	"github.com/kratosauth/kratosauth/keto"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

const (
	sayProcedure   = "/test.v1.Echo/Say"
	ticksProcedure = "/test.v1.Echo/Ticks"
)

// server serves Say (unary: answers the session's identity ID) and Ticks
// (a server stream sending the identity ID every tick until Send fails,
// reported on ended) guarded by g over HTTP/1.1, and returns clients for
// both, speaking opts' protocol (Connect by default).
func server(t *testing.T, g *kratosconnect.Guard, ended chan<- error, opts ...connect.ClientOption) (
	*connect.Client[wrapperspb.StringValue, wrapperspb.StringValue], *connect.Client[wrapperspb.StringValue, wrapperspb.StringValue]) {
	t.Helper()
	return serve(t, handlers(g, ended), opts...)
}

// handlers is server's mux.
func handlers(g *kratosconnect.Guard, ended chan<- error) *http.ServeMux {
	identity := func(ctx context.Context) string {
		if id, ok := kratosconnect.Identity(ctx); ok {
			return id.ID
		}
		return "anonymous"
	}
	mux := http.NewServeMux()
	mux.Handle(sayProcedure, connect.NewUnaryHandler(sayProcedure,
		func(ctx context.Context, req *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
			return connect.NewResponse(wrapperspb.String(identity(ctx))), nil
		}, connect.WithInterceptors(g)))
	mux.Handle(ticksProcedure, connect.NewServerStreamHandler(ticksProcedure,
		func(ctx context.Context, req *connect.Request[wrapperspb.StringValue], s *connect.ServerStream[wrapperspb.StringValue]) error {
			var err error
			for err == nil {
				if err = s.Send(wrapperspb.String(identity(ctx))); err == nil {
					select {
					case <-time.After(5 * time.Millisecond):
					case <-ctx.Done():
						err = ctx.Err()
					}
				}
			}
			if ended != nil {
				ended <- err
			}
			return err
		}, connect.WithInterceptors(g)))
	return mux
}

// serve serves h and returns clients of Say and Ticks.
func serve(t *testing.T, h http.Handler, opts ...connect.ClientOption) (
	*connect.Client[wrapperspb.StringValue, wrapperspb.StringValue], *connect.Client[wrapperspb.StringValue, wrapperspb.StringValue]) {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+sayProcedure, opts...),
		connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+ticksProcedure, opts...)
}

// newAuth: every test here builds on the RPC adapters' Authenticator.
var newAuth = adaptertest.RPCAuthenticator

func mustGuard(t *testing.T, g *kratosauth.Guard, opts ...kratosconnect.Option) *kratosconnect.Guard {
	t.Helper()
	gg, err := kratosconnect.New(g, opts...)
	require.NoError(t, err)
	return gg
}

func request(header http.Header) *connect.Request[wrapperspb.StringValue] {
	req := connect.NewRequest(wrapperspb.String(""))
	for k, v := range header {
		req.Header()[k] = v
	}
	return req
}

func errorInfo(err error) *errdetails.ErrorInfo {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return nil
	}
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if info, ok := v.(*errdetails.ErrorInfo); ok {
				return info
			}
		}
	}
	return nil
}

func retryDelay(err error) time.Duration {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return 0
	}
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if ri, ok := v.(*errdetails.RetryInfo); ok {
				return ri.GetRetryDelay().AsDuration()
			}
		}
	}
	return 0
}

// Each credential Kratos reads reaches the handler with the session, over
// the Connect protocol on HTTP/1.1 (a browser's cookie included), gRPC and
// gRPC-Web; a re-issued session cookie is set on the response.
func TestCredentials(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	g := mustGuard(t, newAuth(t, kratos.URL).RequireSession())
	for protocol, opts := range map[string][]connect.ClientOption{
		"connect": nil, "grpc-web": {connect.WithGRPCWeb()},
	} {
		say, ticks := server(t, g, nil, opts...)
		for name, h := range map[string]http.Header{
			"x-session-token": {"X-Session-Token": {c.Token}},
			"bearer":          {"Authorization": {"Bearer " + c.Token}},
			"browser cookie":  {"Cookie": {"theme=dark; " + c.Cookie.Name + "=" + c.Cookie.Value}},
		} {
			res, err := say.CallUnary(context.Background(), request(h))
			require.NoError(t, err, "%s %s", protocol, name)
			assert.Equal(t, c.Session.Identity.ID, res.Msg.GetValue(), "%s %s", protocol, name)
			stream, err := ticks.CallServerStream(context.Background(), request(h))
			require.NoError(t, err)
			require.True(t, stream.Receive(), "%s %s: %v", protocol, name, stream.Err())
			assert.Equal(t, c.Session.Identity.ID, stream.Msg().GetValue())
			stream.Close()
		}
	}

	kratos.Fail(kratosauthtest.Raw(http.StatusOK, http.Header{"Set-Cookie": {"ory_kratos_session=NEW; Path=/; HttpOnly"}},
		kratosauthtest.WhoamiBody(c.Session)))
	say, _ := server(t, g, nil)
	res, err := say.CallUnary(context.Background(), request(http.Header{"Cookie": {c.Cookie.Name + "=" + c.Cookie.Value}}))
	require.NoError(t, err)
	assert.Equal(t, []string{"ory_kratos_session=NEW; Path=/; HttpOnly"}, res.Header().Values("Set-Cookie"))
}

// The error of every refusal, over a real server and client.
func TestErrors(t *testing.T) {
	for _, tc := range adaptertest.RPCCalls() {
		t.Run(tc.Name, func(t *testing.T) {
			g, c := tc.Start(t)
			ended := make(chan error, 1)
			say, ticks := server(t, mustGuard(t, g), ended)
			h := http.Header{"X-Session-Token": {c.Token}}
			if tc.NoCredentials {
				h = nil
			}
			_, unaryErr := say.CallUnary(context.Background(), request(h))
			stream, err := ticks.CallServerStream(context.Background(), request(h))
			require.NoError(t, err)
			stream.Receive()
			streamErr := stream.Err()
			stream.Close()
			for call, err := range map[string]error{"unary": unaryErr, "stream": streamErr} {
				if tc.Code == 0 {
					require.NoError(t, err, call)
					continue
				}
				require.Equal(t, connect.Code(tc.Code), connect.CodeOf(err), "%s: %v", call, err)
				info := errorInfo(err)
				require.NotNil(t, info, call)
				assert.Equal(t, kratosconnect.ErrorDomain, info.GetDomain(), call)
				assert.Equal(t, tc.Reason, info.GetReason(), call)
				assert.Equal(t, tc.Redirect, info.GetMetadata()[kratosconnect.RedirectBrowserToKey], call)
				assert.Equal(t, tc.Retry, retryDelay(err), call)
			}
			if tc.Code != 0 {
				select {
				case err := <-ended:
					t.Fatalf("a refused stream reached the handler (it ended with %v)", err)
				default:
				}
			}
		})
	}
}

// RequirePermission with the object from the unary request message.
func TestPermissionFromMessage(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	user := kratos.Login()
	ketoFake := kratosauthtest.NewKeto(t)
	ketoFake.Grant("Doc", "readme", "view", user.Session.Identity.ID)
	perms, err := keto.New(ketoFake.URL, keto.WithAllowTTL(0), keto.WithTimeout(200*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(perms.Close)
	a := newAuth(t, kratos.URL, kratosauth.WithPermissions(perms))
	say, ticks := server(t, mustGuard(t, a.RequirePermission("Doc", "view",
		kratosconnect.Message(func(m *wrapperspb.StringValue) string { return m.GetValue() }))), nil)
	call := func(object string) error {
		req := connect.NewRequest(wrapperspb.String(object))
		req.Header().Set("X-Session-Token", user.Token)
		_, err := say.CallUnary(context.Background(), req)
		return err
	}
	assert.NoError(t, call("readme"))
	assert.Equal(t, connect.CodePermissionDenied, connect.CodeOf(call("payroll")))
	assert.Equal(t, connect.CodePermissionDenied, connect.CodeOf(call("")))
	req := connect.NewRequest(wrapperspb.String("readme"))
	req.Header().Set("X-Session-Token", user.Token)
	stream, err := ticks.CallServerStream(context.Background(), req)
	require.NoError(t, err)
	assert.False(t, stream.Receive())
	assert.Equal(t, connect.CodePermissionDenied, connect.CodeOf(stream.Err()), "a stream has no message when admitted")
	ketoFake.Fail(kratosauthtest.Status(500))
	assert.Equal(t, connect.CodeUnavailable, connect.CodeOf(call("readme")))
}

// A stream whose session is revoked while it runs ends with
// unauthenticated on its first message after the recheck interval.
func TestStreamRevokedMidStream(t *testing.T) {
	const recheck = 50 * time.Millisecond
	type ticks = *connect.Client[wrapperspb.StringValue, wrapperspb.StringValue]
	for name, serveTicks := range map[string]func(*testing.T, *kratosauth.Authenticator, chan<- error) ticks{
		"RequireSession": func(t *testing.T, a *kratosauth.Authenticator, ended chan<- error) ticks {
			_, ticks := server(t, mustGuard(t, a.RequireSession(), kratosconnect.WithStreamRecheck(recheck)), ended)
			return ticks
		},
		// Began with a session: never goes on as a visitor.
		"LoadSession": func(t *testing.T, a *kratosauth.Authenticator, ended chan<- error) ticks {
			_, ticks := server(t, mustGuard(t, a.LoadSession(), kratosconnect.WithStreamRecheck(recheck)), ended)
			return ticks
		},
		// The HTTP middleware's session in the stream's context is not taken
		// for the one the stream began with.
		"LoadSession behind the HTTP middleware": func(t *testing.T, a *kratosauth.Authenticator, ended chan<- error) ticks {
			mux := handlers(mustGuard(t, a.LoadSession(), kratosconnect.WithStreamRecheck(recheck)), ended)
			_, ticks := serve(t, a.LoadSession().Middleware(mux))
			return ticks
		},
	} {
		t.Run(name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			c := kratos.Login()
			ended := make(chan error, 1)
			ticks := serveTicks(t, newAuth(t, kratos.URL), ended)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a stream never rechecked ends here
			defer cancel()
			stream, err := ticks.CallServerStream(ctx, request(http.Header{"X-Session-Token": {c.Token}}))
			require.NoError(t, err)
			defer stream.Close()
			for end := time.Now().Add(3 * recheck); time.Now().Before(end); {
				require.True(t, stream.Receive(), "%v", stream.Err())
			}
			require.Equal(t, c.Session.Identity.ID, stream.Msg().GetValue(), "admitted as the user")
			kratos.Revoke(c)
			revoked := time.Now()
			for stream.Receive() {
			}
			assert.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(stream.Err()), "%v", stream.Err())
			assert.Less(t, time.Since(revoked), recheck+time.Second)
			assert.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(<-ended), "the handler's Send failed")
		})
	}
}

func TestNew(t *testing.T) {
	a := newAuth(t, kratosauthtest.NewServer(t).URL)
	_, err := kratosconnect.New(nil)
	assert.Error(t, err)
	_, err = kratosconnect.New(a.RequireSession(), nil)
	assert.Error(t, err)
	_, err = kratosconnect.New(a.RequireSession(), kratosconnect.WithStreamRecheck(-1))
	assert.Error(t, err)
	assert.Panics(t, func() { kratosconnect.Message[*wrapperspb.StringValue](nil) })
}

// Kratos re-issued the session cookie of an admitted call whose handler
// then fails: the cookie must still reach the client, as it does with
// kratosgrpc (grpc.SetHeader before the handler) and with every HTTP
// adapter; WrapUnary adds it only to a non-nil response.
func TestReissuedCookieWhenHandlerFails(t *testing.T) {
	const reissued = "ory_kratos_session=NEW; Path=/; HttpOnly"
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	kratos.Fail(kratosauthtest.Raw(http.StatusOK, http.Header{"Set-Cookie": {reissued}}, kratosauthtest.WhoamiBody(c.Session)))
	g := mustGuard(t, newAuth(t, kratos.URL).RequireSession())
	mux := http.NewServeMux()
	mux.Handle(sayProcedure, connect.NewUnaryHandler(sayProcedure,
		func(ctx context.Context, req *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
			return nil, connect.NewError(connect.CodeNotFound, errors.New("no such thing"))
		}, connect.WithInterceptors(g)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	say := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+sayProcedure)

	_, err := say.CallUnary(context.Background(), request(http.Header{"Cookie": {c.Cookie.Name + "=" + c.Cookie.Value}}))
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "%v", err)
	var ce *connect.Error
	require.True(t, errors.As(err, &ce))
	assert.Equal(t, []string{reissued}, ce.Meta().Values("Set-Cookie"), "Kratos' re-issued session cookie")
}

// A browser's Connect call refused by a route's rules (forbidden) after
// Kratos re-issued its session cookie: the HTTP adapters pass the cookie
// on with the 403; Connect drops it (check returns no cookies on error).
func TestReissuedCookieOnRefusal(t *testing.T) {
	const reissued = "ory_kratos_session=NEW; Path=/; HttpOnly"
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	kratos.Fail(kratosauthtest.Raw(http.StatusOK, http.Header{"Set-Cookie": {reissued}}, kratosauthtest.WhoamiBody(c.Session)))
	never := kratosauth.NewPredicate("never", func(*kratosauth.Session) bool { return false })
	say, _ := server(t, mustGuard(t, newAuth(t, kratos.URL).Require(never)), nil)
	_, err := say.CallUnary(context.Background(), request(http.Header{"Cookie": {c.Cookie.Name + "=" + c.Cookie.Value}}))
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "%v", err)
	var ce *connect.Error
	require.True(t, errors.As(err, &ce))
	assert.Equal(t, []string{reissued}, ce.Meta().Values("Set-Cookie"), "Kratos' re-issued session cookie")
}
