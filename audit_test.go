package kratosauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// Kratos re-issued the session cookie of a valid (aal1) session: a route
// that refuses it must still pass the cookie on, as a route refusing it by
// a predicate (ErrForbidden) does; otherwise the browser keeps the old
// expiry and is logged out early.
func TestAuditSetCookieOnRefusal(t *testing.T) {
	const reissued = "ory_kratos_session=NEW; Path=/; HttpOnly"
	never := kratosauth.NewPredicate("never", func(*kratosauth.Session) bool { return false })
	for name, route := range map[string]func(*kratosauth.Authenticator) *kratosauth.Guard{
		"forbidden by a predicate": func(a *kratosauth.Authenticator) *kratosauth.Guard { return a.Require(never) },
		"aal2 required by the route": func(a *kratosauth.Authenticator) *kratosauth.Guard {
			return a.RequireAAL(kratosauth.AAL2)
		},
	} {
		t.Run(name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			c := kratos.Login()
			kratos.Fail(kratosauthtest.Raw(http.StatusOK, http.Header{"Set-Cookie": {reissued}}, kratosauthtest.WhoamiBody(c.Session)))
			a, err := kratosauth.New(kratos.URL, kratosauth.WithAppURL("https://app.example.com"), kratosauth.WithCacheTTL(0))
			require.NoError(t, err)
			t.Cleanup(func() { a.Close() })
			h := route(a).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				t.Error("a refused request reached the handler")
			}))
			for _, accept := range []string{"application/json", "text/html"} {
				req := httptest.NewRequest(http.MethodGet, "/x", nil)
				req.Header.Set("Accept", accept)
				req.AddCookie(c.Cookie)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				assert.NotEqual(t, http.StatusOK, rec.Code)
				assert.Equal(t, []string{reissued}, rec.Result().Header.Values("Set-Cookie"), "%s: Kratos' re-issued session cookie", accept)
			}
		})
	}
}
