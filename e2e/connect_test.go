package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kratosauth/kratosauth"
	kratosconnect "github.com/kratosauth/kratosauth/adapters/connect"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

// testConnect guards a Connect handler, served over HTTP/1.1, with the real
// Kratos: a browser's session cookie and a native client's token are
// admitted, a logged-out session is unauthenticated, an aal1 session on an
// aal2 procedure permission_denied.
func testConnect(t *testing.T, k *kratostest.Server) {
	email := kratostest.UniqueEmail("connect")
	tok, sess := k.RegisterAPI(t, email, password)
	_, identityID := kratostest.SessionIDs(t, sess)
	_, browserCookie := k.LoginBrowser(t, email, password)
	a := rpcAuth(t, k, k.PublicURL, kratosauth.WithCacheTTL(0))

	mux := http.NewServeMux()
	for procedure, g := range map[string]*kratosauth.Guard{
		"/e2e.v1.Me/Get":     a.RequireSession(),
		"/e2e.v1.Me/GetAAL2": a.RequireAAL(kratosauth.AAL2),
	} {
		guard, err := kratosconnect.New(g)
		require.NoError(t, err)
		mux.Handle(procedure, connect.NewUnaryHandler(procedure,
			func(ctx context.Context, _ *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
				id, _ := kratosconnect.Identity(ctx)
				return connect.NewResponse(wrapperspb.String(id.ID)), nil
			}, connect.WithInterceptors(guard)))
	}
	srv := httptest.NewServer(mux) // HTTP/1.1
	t.Cleanup(srv.Close)
	call := func(procedure string, h http.Header) (string, error) {
		c := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+procedure)
		req := connect.NewRequest(wrapperspb.String(""))
		for k, v := range h {
			req.Header()[k] = v
		}
		res, err := c.CallUnary(context.Background(), req)
		if err != nil {
			return "", err
		}
		return res.Msg.GetValue(), nil
	}

	for name, h := range map[string]http.Header{
		"browser cookie":  {"Cookie": {"theme=dark; " + browserCookie.Name + "=" + browserCookie.Value}},
		"x-session-token": {"X-Session-Token": {tok}},
		"bearer":          {"Authorization": {"Bearer " + tok}},
	} {
		id, err := call("/e2e.v1.Me/Get", h)
		require.NoError(t, err, name)
		assert.Equal(t, identityID, id, name)
	}
	_, err := call("/e2e.v1.Me/Get", nil)
	assert.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
	_, err = call("/e2e.v1.Me/GetAAL2", http.Header{"X-Session-Token": {tok}})
	assert.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))
	k.LogoutAPI(t, tok)
	_, err = call("/e2e.v1.Me/Get", http.Header{"X-Session-Token": {tok}})
	assert.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "logged out")
}
