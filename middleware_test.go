package kratosauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// TestGuards is the request policy's table: for each Guard and each kind of
// request, whether the handler runs, with which session, and what the
// client gets otherwise. The adapters only translate it (see the
// conformance suite in internal/testing/adaptertest).
func TestGuards(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL, kratosauth.WithCacheTTL(0))
	aal1 := kratos.Login()
	aal2 := kratos.Login(kratosauthtest.WithAAL2())
	pending := kratos.Login(kratosauthtest.WithSecondFactorPending())

	type want struct {
		ran     bool   // the handler ran
		session string // its session's ID ("" for none)
		status  int    // the response's status when it did not run
	}
	guards := map[string]*kratosauth.Guard{
		"RequireSession":   a.RequireSession(),
		"RequireAAL(aal1)": a.RequireAAL(kratosauth.AAL1),
		"RequireAAL(aal2)": a.RequireAAL(kratosauth.AAL2),
		"LoadSession":      a.LoadSession(),
	}
	cases := []struct {
		name   string
		token  string
		down   bool
		cancel bool
		want   map[string]want
	}{
		{name: "no credentials", want: map[string]want{
			"RequireSession": {status: 401}, "RequireAAL(aal1)": {status: 401}, "RequireAAL(aal2)": {status: 401},
			"LoadSession": {ran: true}}},
		{name: "aal1 session", token: aal1.Token, want: map[string]want{
			"RequireSession": {ran: true, session: aal1.Session.ID}, "RequireAAL(aal1)": {ran: true, session: aal1.Session.ID},
			"RequireAAL(aal2)": {status: 403}, "LoadSession": {ran: true, session: aal1.Session.ID}}},
		{name: "aal2 session", token: aal2.Token, want: map[string]want{
			"RequireSession": {ran: true, session: aal2.Session.ID}, "RequireAAL(aal1)": {ran: true, session: aal2.Session.ID},
			"RequireAAL(aal2)": {ran: true, session: aal2.Session.ID}, "LoadSession": {ran: true, session: aal2.Session.ID}}},
		{name: "Kratos wants a second factor", token: pending.Token, want: map[string]want{
			"RequireSession": {status: 403}, "RequireAAL(aal1)": {status: 403}, "RequireAAL(aal2)": {status: 403},
			"LoadSession": {ran: true}}},
		{name: "unknown token", token: "ory_st_unknown", want: map[string]want{
			"RequireSession": {status: 401}, "RequireAAL(aal1)": {status: 401}, "RequireAAL(aal2)": {status: 401},
			"LoadSession": {ran: true}}},
		{name: "Kratos down", token: aal2.Token, down: true, want: map[string]want{
			"RequireSession": {status: 503}, "RequireAAL(aal1)": {status: 503}, "RequireAAL(aal2)": {status: 503},
			"LoadSession": {status: 503}}},
		{name: "client hung up", token: aal2.Token, cancel: true, want: map[string]want{
			"RequireSession": {status: 499}, "RequireAAL(aal1)": {status: 499}, "RequireAAL(aal2)": {status: 499},
			"LoadSession": {status: 499}}},
	}
	for _, tc := range cases {
		for name, g := range guards {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				if tc.down {
					kratos.Fail(kratosauthtest.Status(http.StatusInternalServerError))
					defer kratos.Recover()
				}
				var got want
				h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					got.ran = true
					if s, ok := kratosauth.SessionFromContext(r.Context()); ok {
						got.session = s.ID
					}
				}))
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				if tc.token != "" {
					r.Header.Set("X-Session-Token", tc.token)
				}
				if tc.cancel {
					ctx, cancel := context.WithCancel(r.Context())
					cancel()
					r = r.WithContext(ctx)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if !got.ran {
					got.status = w.Code
				}
				assert.Equal(t, tc.want[name], got)
			})
		}
	}
}

// Check tells its caller what the middleware decided, for adapters.
func TestGuardCheckReturnsTheRequestToServe(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL)
	user := kratos.Login()
	r := tokenRequest(user.Token)
	w := httptest.NewRecorder()
	served, err := a.RequireSession().Check(w, r)
	require.NoError(t, err)
	s, ok := kratosauth.SessionFromContext(served.Context())
	require.True(t, ok)
	assert.Equal(t, user.Session.ID, s.ID)
	_, ok = kratosauth.SessionFromContext(r.Context())
	assert.False(t, ok, "the caller's request is left as it was")

	served, err = a.RequireSession().Check(w, tokenRequest("nope"))
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	assert.Nil(t, served)
	assert.Equal(t, http.StatusUnauthorized, w.Code, "the refusal is written")

	anon := httptest.NewRequest(http.MethodGet, "/", nil)
	served, err = a.LoadSession().Check(httptest.NewRecorder(), anon)
	require.NoError(t, err)
	assert.Same(t, anon, served, "LoadSession without a session serves the request as it is")
}

// Kratos re-issued the session cookie of a valid (aal1) session: a route
// that refuses it must still pass the cookie on, as a route refusing it by
// a predicate (ErrForbidden) does; otherwise the browser keeps the old
// expiry and is logged out early.
func TestReissuedCookieReachesARefusedRequest(t *testing.T) {
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

// Recheck, as a stream or WebSocket calls it: a request admitted with a
// session goes on with that session only, under LoadSession too; one
// admitted as a visitor stays one; an outage is never a logout.
func TestRecheck(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a, err := kratosauth.New(kratos.URL, kratosauth.WithCacheTTL(0))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	request := func(token string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/stream", nil)
		if token != "" {
			r.Header.Set("X-Session-Token", token)
		}
		return r
	}
	for name, guard := range map[string]*kratosauth.Guard{"RequireSession": a.RequireSession(), "LoadSession": a.LoadSession()} {
		t.Run(name, func(t *testing.T) {
			c := kratos.Login()
			assert.NoError(t, guard.Recheck(request(c.Token), c.Session), "the same session")
			other := kratos.Login()
			assert.ErrorIs(t, guard.Recheck(request(other.Token), c.Session), kratosauth.ErrInvalidSession, "another session")
			kratos.Fail(kratosauthtest.Status(http.StatusInternalServerError))
			assert.ErrorIs(t, guard.Recheck(request(c.Token), c.Session), kratosauth.ErrUnavailable, "Kratos down")
			kratos.Recover()
			kratos.Revoke(c)
			assert.ErrorIs(t, guard.Recheck(request(c.Token), c.Session), kratosauth.ErrInvalidSession, "revoked")
			if name == "LoadSession" {
				assert.NoError(t, guard.Recheck(request(""), nil), "a visitor stays one")
				assert.NoError(t, guard.Recheck(request(c.Token), nil), "admitted as a visitor: the revoked token is a visitor's")
			}
		})
	}
}
