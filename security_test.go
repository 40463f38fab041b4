package kratosauth_test

// Tests named in SECURITY.md: each proves one mitigation of the threat
// model and fails when that mitigation is removed.

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// secRequest is a request for /private?x=1 carrying c as kind says:
// "token" (X-Session-Token), "bearer" (Authorization), "cookie" (among
// other cookies) or "" (no credential); from a browser or an API client.
func secRequest(kind string, c kratosauthtest.Credentials, browser bool) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/private?x=1", nil)
	switch kind {
	case "token":
		r.Header.Set("X-Session-Token", c.Token)
	case "bearer":
		r.Header.Set("Authorization", "Bearer "+c.Token)
	case "cookie":
		r.Header.Set("Cookie", "theme=dark; "+c.Cookie.Name+"="+c.Cookie.Value)
	}
	if browser {
		r.Header.Set("Accept", "text/html")
	} else {
		r.Header.Set("Accept", "application/json")
	}
	return r
}

// Threat: the credential is sent to another host, through a redirect from
// Kratos (or anything pretending to be it) or through the request's Host.
// Mitigation: whoamiClient's CheckRedirect and a whoami URL fixed by New.
func TestSecurityWhoamiRedirectNeverCarriesCredential(t *testing.T) {
	// The other host: a Kratos of its own that also counts requests for any
	// other path. Nothing may reach it.
	thief := kratosauthtest.NewServer(t)
	var stray atomic.Int64
	thief.Handle("/", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { stray.Add(1) }))
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	for _, status := range []int{301, 302, 303, 307, 308} {
		kratos.Fail(kratosauthtest.Raw(status, http.Header{"Location": {thief.URL + "/sessions/whoami"}}, nil))
		clients := map[string]kratosauth.Option{
			"default client":              kratosauth.WithTimeout(kratosauth.DefaultTimeout),
			"client that would follow it": kratosauth.WithHTTPClient(&http.Client{}),
		}
		for name, opt := range clients {
			a := newAuth(t, kratos.URL, opt, kratosauth.WithCacheTTL(0))
			for _, kind := range []string{"token", "cookie", "bearer"} {
				r := secRequest(kind, c, false)
				// The request also names the thief as its host.
				r.Host = strings.TrimPrefix(thief.URL, "http://")
				r.URL, _ = url.Parse(thief.URL + "/private")
				r.Header.Set("X-Forwarded-Host", r.Host)
				_, err := a.Authenticate(r)
				assert.ErrorIs(t, err, kratosauth.ErrUnavailable, "%d %s %s", status, name, kind)
			}
		}
	}
	assert.Zero(t, thief.Calls()+int(stray.Load()), "whoami followed a redirect or used the request's host")
	assert.Nil(t, thief.LastRequest())
}

// Threat: a huge (or endless) whoami body exhausts memory.
// Mitigation: httpbody.ReadCapped with WithMaxResponseBytes (default 1 MiB).
func TestSecurityOversizedResponseIsCapped(t *testing.T) {
	session := kratosauthtest.WhoamiBody(kratosauthtest.NewSession())
	padded := func(n int) []byte { // valid JSON of exactly n bytes
		return append(bytes.Clone(session), bytes.Repeat([]byte(" "), n-len(session))...)
	}
	const limit = 8 << 10
	for _, tc := range []struct {
		name string
		body []byte
		opt  kratosauth.Option
		ok   bool
	}{
		{"at the limit", padded(limit), kratosauth.WithMaxResponseBytes(limit), true},
		{"one byte over", padded(limit + 1), kratosauth.WithMaxResponseBytes(limit), false},
		{"10 MB with the default cap", padded(10 << 20), kratosauth.WithTimeout(kratosauth.DefaultTimeout), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			kratos.Fail(kratosauthtest.Raw(http.StatusOK, nil, tc.body))
			a := newAuth(t, kratos.URL, tc.opt)
			s, err := a.Authenticate(secRequest("token", kratos.Login(), false))
			if tc.ok {
				require.NoError(t, err)
				assert.NotNil(t, s)
				return
			}
			assert.Nil(t, s)
			assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
		})
	}
}

// Threat: the credential leaks into errors, logs, responses or the cache.
// Mitigation: errors and logs carry causes only, fixed response texts, and
// cache keys that are SHA-256 digests.
func TestSecurityCredentialNeverLeaks(t *testing.T) {
	cases := map[string]struct {
		login  []kratosauthtest.SessionOption
		kratos kratosAnswer // nil: Kratos answers for the session
	}{
		"200":       {},
		"401":       {kratos: func(k *kratosauthtest.Server, c kratosauthtest.Credentials) { k.Revoke(c) }},
		"403 aal2":  {login: []kratosauthtest.SessionOption{kratosauthtest.WithSecondFactorPending()}},
		"429":       {kratos: failing(kratosauthtest.RateLimited(3 * time.Second))},
		"500":       {kratos: failing(kratosauthtest.Raw(500, nil, []byte("oops")))},
		"302":       {kratos: failing(kratosauthtest.Raw(302, http.Header{"Location": {"http://127.0.0.1:1/"}}, nil))},
		"truncated": {kratos: failing(kratosauthtest.Raw(200, nil, kratosauthtest.WhoamiBody(kratosauthtest.NewSession())[:100]))},
		"timeout":   {kratos: failing(kratosauthtest.Slow(time.Second))},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			store := newRecordingStore()
			kratos := kratosauthtest.NewServer(t)
			c := kratos.Login(tc.login...)
			if tc.kratos != nil {
				tc.kratos(kratos, c)
			}
			a := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithTimeout(200*time.Millisecond),
				kratosauth.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			secrets := []string{c.Token, c.Cookie.Value}
			for _, kind := range []string{"token", "cookie", "bearer"} {
				for _, browser := range []bool{false, true} {
					r := secRequest(kind, c, browser)
					w := httptest.NewRecorder()
					kratoshttp.RequireSession(a)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						w.WriteHeader(http.StatusNoContent)
					})).ServeHTTP(w, r)
					_, err := a.Authenticate(r)
					var hdr bytes.Buffer
					_ = w.Header().Write(&hdr)
					for _, secret := range secrets {
						if err != nil {
							assert.NotContains(t, err.Error(), secret)
						}
						assert.NotContains(t, hdr.String()+w.Body.String(), secret, "response")
					}
				}
			}
			store.mu.Lock()
			defer store.mu.Unlock()
			if name == "200" {
				assert.Len(t, store.entries, 3, "a session cached per credential")
			}
			for _, secret := range secrets {
				assert.NotContains(t, logs.String(), secret, "logs")
				for _, k := range store.keys {
					assert.Len(t, k, 64)
					assert.NotContains(t, k, secret)
					assert.NotContains(t, string(store.entries[k]), secret)
				}
			}
		})
	}
}

// Threat: one credential is answered with another's session (cache key
// collision or poisoning). Mitigation: the cache key is the full SHA-256 of
// the namespace and every part sent to Kratos, each length-prefixed, so that
// no two different requests to Kratos share it.
func TestSecurityCacheEntriesBoundToCredential(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	alice, bob := kratos.Login(), kratos.Login()
	store := newRecordingStore()
	a := newAuth(t, kratos.URL, kratosauth.WithCache(store))
	cookies := func(values ...string) http.Header {
		var pairs []string
		for _, v := range values {
			pairs = append(pairs, kratosauth.DefaultCookieName+"="+v)
		}
		return http.Header{"Cookie": {strings.Join(pairs, "; ")}}
	}
	ac, bc := alice.Cookie.Value, bob.Cookie.Value
	lastChanged := alice.Token[:len(alice.Token)-1] + string(alice.Token[len(alice.Token)-1]^1)
	aliceOrBob := cookies(ac)
	aliceOrBob.Set("Authorization", "Bearer "+bob.Token)
	cases := []struct {
		name string
		h    http.Header
		want *kratosauthtest.Credentials // nil: Kratos refuses the request
	}{
		{"token alice", http.Header{"X-Session-Token": {alice.Token}}, &alice},
		{"token bob", http.Header{"X-Session-Token": {bob.Token}}, &bob},
		{"token alice, last character changed", http.Header{"X-Session-Token": {lastChanged}}, nil},
		{"bearer alice", http.Header{"Authorization": {"Bearer " + alice.Token}}, &alice},
		{"token \"Bearer alice\"", http.Header{"X-Session-Token": {"Bearer " + alice.Token}}, nil}, // the same bytes as "bearer alice", in another part
		{"alice's token as a cookie", cookies(alice.Token), nil},
		{"cookie alice", cookies(ac), &alice},
		{"cookie alice, bearer bob", aliceOrBob, &alice},
		{"cookies alice, bob", cookies(ac, bc), &alice},
		{"cookies bob, alice", cookies(bc, ac), &bob},
		{"cookies alice, bob cut elsewhere", cookies(ac+bc[:1], bc[1:]), nil},
	}
	accepted, refused := 0, 0
	for _, tc := range cases {
		if tc.want == nil {
			refused++
		} else {
			accepted++
		}
	}
	for range 3 { // the first round fills the cache, the others read it
		for _, tc := range cases {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header = tc.h.Clone()
			s, err := a.Authenticate(r)
			if tc.want == nil {
				assert.ErrorIs(t, err, kratosauth.ErrInvalidSession, "%s was answered with another credential's session", tc.name)
				continue
			}
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.want.Session.ID, s.ID, "%s answered with another credential's session", tc.name)
		}
	}
	assert.Equal(t, accepted, store.len(), "one entry per distinct credential")
	assert.Equal(t, accepted+3*refused, kratos.Calls(), "each accepted credential asked once, each refused one every time")
}

// Threat: session fixation. The library never writes a session cookie of its
// own. It passes on only the session cookie Kratos re-issues with a 200 for
// a request that presented session cookies (TestSessionCookieRefreshIsRelayed):
// never on a refusal or an outage, and never to a token client.
func TestSecurityNeverSetsCookies(t *testing.T) {
	fixate := http.Header{"Set-Cookie": {"ory_kratos_session=attacker; Path=/"}}
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	for name, f := range map[string]kratosauthtest.Fault{
		"200": kratosauthtest.Raw(200, fixate, kratosauthtest.WhoamiBody(c.Session)),
		"401": kratosauthtest.Raw(401, fixate, recorded(t, "whoami_401_revoked")),
		"403": kratosauthtest.Raw(403, fixate, recorded(t, "whoami_403_aal2_required")),
		"503": kratosauthtest.Raw(503, fixate, nil),
	} {
		kratos.Fail(f)
		a := newAuth(t, kratos.URL, kratosauth.WithCacheTTL(0))
		h := kratoshttp.RequireSession(a)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		requests := []*http.Request{secRequest("", c, true), secRequest("token", c, true), secRequest("bearer", c, false)}
		if name != "200" {
			requests = append(requests, secRequest("cookie", c, true), secRequest("cookie", c, false))
		}
		for _, r := range requests {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			assert.Empty(t, w.Header().Values("Set-Cookie"), "%s: status %d", name, w.Code)
		}
	}
}

// Threat: a malformed or hostile cookie reaches Kratos, or shadows the
// session cookie. Mitigation: only pairs named exactly as the session cookie
// are sent. The cookie-name cases were found by FuzzExtractCredential.
func TestSecurityMalformedCookieNamesNeverReachKratos(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL)
	for _, c := range []string{
		"ory_session_a b=abc", "ory_session_x,y=abc", "ory_session_\x01=abc", "ory_session_é=abc",
		`ory_session_"x"=abc`, "ory_session_x\t=abc\t\x7f",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Cookie"] = []string{c}
		_, err := a.Authenticate(r)
		assert.Error(t, err, "%q", c)
	}
	assert.Zero(t, kratos.Calls())
}

// Threat: a revoked session keeps working. Documented bound: the cache TTL
// (1 minute by default), or nothing once Invalidate is called.
func TestSecurityRevocationLagIsBoundedByTTL(t *testing.T) {
	const ttl = 300 * time.Millisecond
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	a := newAuth(t, kratos.URL, kratosauth.WithCacheTTL(ttl))
	_, err := a.Authenticate(secRequest("token", c, false))
	require.NoError(t, err)
	kratos.Revoke(c)
	revokedAt := time.Now()
	for {
		_, err := a.Authenticate(secRequest("token", c, false))
		if err != nil {
			assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
			break
		}
		require.Less(t, time.Since(revokedAt), ttl+100*time.Millisecond, "revoked session served past the TTL")
		time.Sleep(10 * time.Millisecond)
	}

	// Invalidate ends the lag at once.
	d := kratos.Login()
	_, err = a.Authenticate(secRequest("cookie", d, false))
	require.NoError(t, err)
	kratos.Revoke(d)
	a.Invalidate(secRequest("cookie", d, false))
	_, err = a.Authenticate(secRequest("cookie", d, false))
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
}

// Threat: a Kratos outage logs everybody out. Mitigation: only Kratos'
// explicit 401 (or an inactive/expired session) is ErrInvalidSession;
// everything else is a 503 without a redirect to login.
func TestSecurityOutageIsNotALogout(t *testing.T) {
	faults := map[string]kratosauthtest.Fault{
		"500": kratosauthtest.Status(500), "502": kratosauthtest.Status(502), "503": kratosauthtest.Status(503),
		"429":          kratosauthtest.RateLimited(5 * time.Second),
		"404":          kratosauthtest.Raw(404, nil, nil),
		"403 no id":    kratosauthtest.Raw(403, nil, []byte(`{"error":{"code":403}}`)),
		"200 garbage":  kratosauthtest.Raw(200, nil, []byte("<html>maintenance</html>")),
		"200 no ident": kratosauthtest.Raw(200, nil, []byte(`{"id":"x","active":true,"expires_at":"2100-01-01T00:00:00Z"}`)),
		"timeout":      kratosauthtest.Slow(time.Second),
		"hang-up":      kratosauthtest.Unreachable(),
	}
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login() // a valid session all along
	for name, f := range faults {
		kratos.Fail(f)
		a := newAuth(t, kratos.URL, kratosauth.WithTimeout(200*time.Millisecond), kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
		h := kratoshttp.RequireSession(a)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		for _, browser := range []bool{false, true} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, secRequest("token", c, browser))
			assert.Equal(t, http.StatusServiceUnavailable, w.Code, "%s browser=%v", name, browser)
			assert.Empty(t, w.Header().Get("Location"), name)
		}
	}
	// Kratos not listening at all.
	a := newAuth(t, "http://127.0.0.1:1", kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
	w := httptest.NewRecorder()
	kratoshttp.RequireSession(a)(http.NotFoundHandler()).ServeHTTP(w, secRequest("cookie", c, true))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
}

// Lifecycle: after Close nothing of the Authenticator keeps running: not
// bigcache's cleanup goroutine, not the whoami client's idle connections.
func TestCloseStopsAllGoroutines(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	leaks := goleak.IgnoreCurrent()
	a, err := kratosauth.New(kratos.URL, kratosauth.WithCacheTTL(time.Minute))
	require.NoError(t, err)
	for range 3 {
		_, err = a.Authenticate(secRequest("token", c, false))
		require.NoError(t, err)
		_, err = a.Authenticate(secRequest("cookie", c, false))
		require.NoError(t, err)
	}
	require.NoError(t, a.Close())
	goleak.VerifyNone(t, leaks)
}
