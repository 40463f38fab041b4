package kratosauthtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

func newApp(auth *kratosauth.Authenticator) http.Handler {
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux.Handle("GET /dashboard", kratoshttp.RequireSession(auth)(ok))
	mux.Handle("GET /billing", kratoshttp.RequireAAL(auth, kratosauth.AAL2)(ok))
	return mux
}

// TestDashboard is the README's example, as written there.
func TestDashboard(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	auth, err := kratosauth.New(kratos.URL, kratosauth.WithCacheTTL(0))
	require.NoError(t, err)
	app := newApp(auth) // your router, with kratoshttp / kratoschi / kratosgin middlewares

	get := func(path string, c *kratosauthtest.Credentials) int {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Accept", "application/json")
		if c != nil {
			r.Header.Set("X-Session-Token", c.Token) // or r.AddCookie(c.Cookie) for a browser
		}
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		return w.Code
	}
	alice := kratos.Login(kratosauthtest.WithTraits(map[string]string{"email": "alice@example.com"}))
	assert.Equal(t, 200, get("/dashboard", &alice)) // signed in
	assert.Equal(t, 401, get("/dashboard", nil))    // signed out
	assert.Equal(t, 403, get("/billing", &alice))   // RequireAAL(AAL2), alice is at aal1
	mfa := kratos.Login(kratosauthtest.WithAAL2())
	assert.Equal(t, 200, get("/billing", &mfa))
	kratos.Revoke(alice)
	assert.Equal(t, 401, get("/dashboard", &alice)) // logged out elsewhere
	kratos.Fail(kratosauthtest.Status(http.StatusInternalServerError))
	assert.Equal(t, 503, get("/dashboard", &mfa)) // Kratos down: never a 401
}

// whoami asks the fake directly, as the library would.
func whoami(t *testing.T, k *kratosauthtest.Server, h http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, k.URL+"/sessions/whoami", nil)
	require.NoError(t, err)
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestServerReadsCredentialsAsKratos(t *testing.T) {
	k := kratosauthtest.NewServer(t)
	a, b := k.Login(), k.Login()
	cases := []struct {
		name string
		h    http.Header
		want int
	}{
		{"token", http.Header{"X-Session-Token": {a.Token}}, 200},
		{"an empty token is no token", http.Header{"X-Session-Token": {""}, "Cookie": {a.Cookie.String()}}, 200},
		{"token alone counts", http.Header{"X-Session-Token": {"nope"}, "Cookie": {a.Cookie.String()}}, 401},
		{"cookie", http.Header{"Cookie": {"x=1; " + a.Cookie.Name + "=" + a.Cookie.Value}}, 200},
		{"the first cookie that decodes", http.Header{"Cookie": {a.Cookie.Name + "=junk; " + a.Cookie.Name + "=" + b.Cookie.Value}}, 200},
		{"bearer", http.Header{"Authorization": {"bearer " + a.Token}}, 200},
		{"bearer with two spaces", http.Header{"Authorization": {"Bearer  " + a.Token}}, 401},
		{"a bad cookie falls back on bearer", http.Header{"Cookie": {a.Cookie.Name + "=junk"}, "Authorization": {"Bearer " + b.Token}}, 200},
		{"nothing", http.Header{}, 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, whoami(t, k, tc.h).StatusCode)
		})
	}
}

func TestServerSessionLifecycle(t *testing.T) {
	k := kratosauthtest.NewServer(t)
	tok := func(c kratosauthtest.Credentials) http.Header { return http.Header{"X-Session-Token": {c.Token}} }

	expired := k.Login(kratosauthtest.WithExpiry(time.Now().Add(-time.Second)))
	assert.Equal(t, 401, whoami(t, k, tok(expired)).StatusCode)

	id := kratosauthtest.WithIdentityID("3d3a1c3e-0000-4000-8000-000000000001")
	one, two := k.Login(id), k.Login(id)
	k.DisableIdentity("3d3a1c3e-0000-4000-8000-000000000001")
	assert.Equal(t, 401, whoami(t, k, tok(one)).StatusCode)
	assert.Equal(t, 401, whoami(t, k, tok(two)).StatusCode)

	pending := k.Login(kratosauthtest.WithSecondFactorPending())
	resp := whoami(t, k, tok(pending))
	assert.Equal(t, 403, resp.StatusCode)
	auth, err := kratosauth.New(k.URL)
	require.NoError(t, err)
	defer auth.Close()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Session-Token", pending.Token)
	_, err = auth.Authenticate(r)
	var e *kratosauth.Error
	require.ErrorAs(t, err, &e)
	assert.ErrorIs(t, err, kratosauth.ErrAAL2Required)
	assert.Equal(t, k.URL+"/self-service/login/browser?aal=aal2", e.RedirectTo)

	k.SetCacheFor(30 * time.Second)
	ok := k.Login()
	assert.Equal(t, "30", whoami(t, k, tok(ok)).Header.Get("Ory-Session-Cache-For"))
	assert.Equal(t, 6, k.Calls())
}

func TestServerExtendReissuesTheCookie(t *testing.T) {
	k := kratosauthtest.NewServer(t)
	c := k.Login()
	withCookie := http.Header{"Cookie": {c.Cookie.Name + "=" + c.Cookie.Value}}
	assert.Empty(t, whoami(t, k, withCookie).Header.Values("Set-Cookie"))
	k.Extend(c, 48*time.Hour)
	resp := whoami(t, k, withCookie)
	require.Len(t, resp.Cookies(), 1)
	fresh := resp.Cookies()[0]
	assert.Equal(t, kratosauth.DefaultCookieName, fresh.Name)
	assert.True(t, fresh.Expires.After(c.Cookie.Expires.Add(24*time.Hour)))
	var s kratosauth.Session
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
	assert.True(t, s.ExpiresAt.After(time.Now().Add(24*time.Hour)), "the session shows the new expiry")
	assert.Equal(t, 200, whoami(t, k, http.Header{"Cookie": {fresh.Name + "=" + fresh.Value}}).StatusCode)
	assert.Empty(t, whoami(t, k, http.Header{"X-Session-Token": {c.Token}}).Header.Values("Set-Cookie"), "tokens get no cookie")
}

func TestServerFaults(t *testing.T) {
	k := kratosauthtest.NewServer(t)
	c := k.Login()
	auth, err := kratosauth.New(k.URL, kratosauth.WithCacheTTL(0), kratosauth.WithTimeout(200*time.Millisecond))
	require.NoError(t, err)
	defer auth.Close()
	check := func(f kratosauthtest.Fault) *kratosauth.Error {
		k.Fail(f)
		defer k.Recover()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Session-Token", c.Token)
		_, err := auth.Authenticate(r)
		var e *kratosauth.Error
		require.ErrorAs(t, err, &e)
		assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
		return e
	}
	check(kratosauthtest.Status(http.StatusBadGateway))
	assert.Equal(t, 7*time.Second, check(kratosauthtest.RateLimited(7*time.Second)).RetryAfter)
	check(kratosauthtest.Slow(time.Second))
	check(kratosauthtest.Unreachable())
	check(kratosauthtest.Raw(http.StatusOK, http.Header{"Content-Type": {"text/html"}}, []byte("<html>")))

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Session-Token", c.Token)
	_, err = auth.Authenticate(r)
	assert.NoError(t, err, "Recover ends the fault")
}

func TestServerCookieName(t *testing.T) {
	k := kratosauthtest.NewServer(t)
	k.SetCookieName("ory_session_mine")
	c := k.Login()
	assert.Equal(t, "ory_session_mine", c.Cookie.Name)
	assert.Equal(t, 200, whoami(t, k, http.Header{"Cookie": {"ory_session_mine=" + c.Cookie.Value}}).StatusCode)
	assert.Equal(t, 401, whoami(t, k, http.Header{"Cookie": {kratosauth.DefaultCookieName + "=" + c.Cookie.Value}}).StatusCode,
		"only the configured name is read")

	auth, err := kratosauth.New(k.URL, kratosauth.WithCookieName("ory_session_mine"))
	require.NoError(t, err)
	defer auth.Close()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(c.Cookie)
	s, err := auth.Authenticate(r)
	require.NoError(t, err)
	assert.Equal(t, c.Session.ID, s.ID)

	k.Extend(c, 48*time.Hour)
	resp := whoami(t, k, http.Header{"Cookie": {"ory_session_mine=" + c.Cookie.Value}})
	require.Len(t, resp.Cookies(), 1)
	assert.Equal(t, "ory_session_mine", resp.Cookies()[0].Name, "re-issued under the same name")
}

func TestWhoamiBody(t *testing.T) {
	k := kratosauthtest.NewServer(t)
	c := k.Login(kratosauthtest.WithTraits(map[string]string{"email": "ada@example.com"}), kratosauthtest.WithAAL2())
	resp := whoami(t, k, http.Header{"X-Session-Token": {c.Token}})
	require.Equal(t, 200, resp.StatusCode)
	sent, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, string(sent), string(kratosauthtest.WhoamiBody(c.Session)), "what the server sends")

	var decoded kratosauth.Session
	require.NoError(t, json.Unmarshal(kratosauthtest.WhoamiBody(c.Session), &decoded))
	assert.Equal(t, c.Session.ID, decoded.ID)
	assert.Equal(t, c.Session.Identity.ID, decoded.Identity.ID)
	assert.True(t, c.Session.ExpiresAt.Equal(decoded.ExpiresAt))
	assert.Equal(t, kratosauth.AAL2, decoded.AuthenticatorAssuranceLevel)
	assert.JSONEq(t, `{"email":"ada@example.com"}`, string(decoded.Identity.Traits))

	// In a Raw answer: Kratos' shape with a session it would never send.
	auth, err := kratosauth.New(k.URL, kratosauth.WithCacheTTL(0))
	require.NoError(t, err)
	defer auth.Close()
	inactive := kratosauthtest.NewSession()
	inactive.Active = false
	k.Fail(kratosauthtest.Raw(http.StatusOK, nil, kratosauthtest.WhoamiBody(inactive)))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Session-Token", c.Token)
	_, err = auth.Authenticate(r)
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
}
