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
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kratosauth/kratosauth"
	kratosconnect "github.com/kratosauth/kratosauth/adapters/connect"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// Kratos re-issued the session cookie of an admitted call whose handler
// then fails: the cookie must still reach the client, as it does with
// kratosgrpc (grpc.SetHeader before the handler) and with every HTTP
// adapter; WrapUnary adds it only to a non-nil response.
func TestAuditUnarySetCookieWhenHandlerFails(t *testing.T) {
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

// A LoadSession stream admitted with a session that is then revoked must
// not go on as that user: the handler's context still holds the revoked
// session, so the recheck has to end the stream (unauthenticated), as it
// does behind RequireSession. Today the recheck takes the revoked session
// for a visitor, passes, and the stream keeps serving the revoked user.
func TestAuditLoadSessionStreamRevokedMidStream(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	const recheck = 50 * time.Millisecond
	ended := make(chan error, 1)
	_, ticks := server(t, mustGuard(t, newAuth(t, kratos.URL).LoadSession(), kratosconnect.WithStreamRecheck(recheck)), ended)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stream, err := ticks.CallServerStream(ctx, request(http.Header{"X-Session-Token": {c.Token}}))
	require.NoError(t, err)
	defer stream.Close()
	require.True(t, stream.Receive(), "%v", stream.Err())
	require.Equal(t, c.Session.Identity.ID, stream.Msg().GetValue())
	kratos.Revoke(c)
	calls := kratos.Calls()
	end := time.Now().Add(recheck + 500*time.Millisecond)
	var servedAsRevoked int
	for time.Now().Before(end) && stream.Receive() {
		if stream.Msg().GetValue() == c.Session.Identity.ID && kratos.Calls() > calls {
			servedAsRevoked++ // a recheck saw the revocation and the stream went on as the user
		}
	}
	assert.Greater(t, kratos.Calls(), calls, "the stream was rechecked")
	assert.Zero(t, servedAsRevoked, "messages sent as the revoked session's user after the recheck")
	assert.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(stream.Err()), "%v", stream.Err())
}

// A browser's Connect call refused by a route's rules (forbidden) after
// Kratos re-issued its session cookie: the HTTP adapters pass the cookie
// on with the 403; Connect drops it (check returns no cookies on error).
func TestAuditSetCookieOnForbidden(t *testing.T) {
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
