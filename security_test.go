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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/internal/kratosfake"
)

const secretToken = "ory_st_SECRETsecretSECRETsecret0123"

func secAuth(t *testing.T, kratosURL string, opts ...kratosauth.Option) *kratosauth.Authenticator {
	t.Helper()
	opts = append([]kratosauth.Option{kratosauth.WithAppURL("https://app.example.com")}, opts...)
	a, err := kratosauth.New(kratosURL, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func secRequest(kind, value string, browser bool) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/private?x=1", nil)
	switch kind {
	case "token":
		r.Header.Set("X-Session-Token", value)
	case "bearer":
		r.Header.Set("Authorization", "Bearer "+value)
	case "cookie":
		r.Header.Set("Cookie", "theme=dark; ory_kratos_session="+value)
	}
	if browser {
		r.Header.Set("Accept", "text/html")
	} else {
		r.Header.Set("Accept", "application/json")
	}
	return r
}

// secStore is a cache.Store that records every key and entry it is given.
type secStore struct {
	mu      sync.Mutex
	entries map[string][]byte
	keys    []string
}

func (s *secStore) Get(key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok {
		return nil, cache.ErrNotFound
	}
	return bytes.Clone(e), nil
}

func (s *secStore) Set(key string, e []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries == nil {
		s.entries = map[string][]byte{}
	}
	s.entries[key] = bytes.Clone(e)
	s.keys = append(s.keys, key)
	return nil
}

func (s *secStore) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, key)
	return nil
}

func (s *secStore) Close() error { return nil }

// recorder is a listener that counts requests and remembers whether any
// carried a credential. Whoami must never reach it.
type recorder struct {
	*httptest.Server
	requests, withCredential atomic.Int64
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.requests.Add(1)
		if r.Header.Get("Cookie") != "" || r.Header.Get("X-Session-Token") != "" || r.Header.Get("Authorization") != "" {
			rec.withCredential.Add(1)
		}
		w.Write(kratosfake.Fresh(kratosfake.SessionAAL1, time.Hour))
	}))
	t.Cleanup(rec.Close)
	return rec
}

// Threat: the credential is sent to another host, through a redirect from
// Kratos (or anything pretending to be it) or through the request's Host.
// Mitigation: whoamiClient's CheckRedirect and a whoami URL fixed by New.
func TestSecurityWhoamiRedirectNeverCarriesCredential(t *testing.T) {
	rec := newRecorder(t)
	for _, status := range []int{301, 302, 303, 307, 308} {
		fake := kratosfake.Always(t, kratosfake.Response{Status: status,
			Header: http.Header{"Location": {rec.URL + "/sessions/whoami"}}})
		clients := map[string]kratosauth.Option{
			"default client":              kratosauth.WithTimeout(kratosauth.DefaultTimeout),
			"client that would follow it": kratosauth.WithHTTPClient(&http.Client{}),
		}
		for name, opt := range clients {
			a := secAuth(t, fake.URL, opt, kratosauth.WithCacheTTL(0))
			for _, kind := range []string{"token", "cookie", "bearer"} {
				r := secRequest(kind, secretToken, false)
				// The request also names the recorder as its host.
				r.Host = strings.TrimPrefix(rec.URL, "http://")
				r.URL, _ = url.Parse(rec.URL + "/private")
				r.Header.Set("X-Forwarded-Host", r.Host)
				_, err := a.Authenticate(r)
				assert.ErrorIs(t, err, kratosauth.ErrUnavailable, "%d %s %s", status, name, kind)
			}
		}
	}
	assert.Zero(t, rec.requests.Load(), "whoami followed a redirect or used the request's host")
	assert.Zero(t, rec.withCredential.Load())
}

// Threat: a huge (or endless) whoami body exhausts memory.
// Mitigation: httpbody.ReadCapped with WithMaxResponseBytes (default 1 MiB).
func TestSecurityOversizedResponseIsCapped(t *testing.T) {
	session := kratosfake.Fresh(kratosfake.SessionAAL1, time.Hour)
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
			fake := kratosfake.Always(t, kratosfake.Response{Status: 200, Body: tc.body})
			a := secAuth(t, fake.URL, tc.opt)
			s, err := a.Authenticate(secRequest("token", secretToken, false))
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
	responses := map[string]kratosfake.Response{
		"200":       kratosfake.OK(),
		"401":       {Status: 401, Body: kratosfake.Unauthorized},
		"403 aal2":  {Status: 403, Body: kratosfake.AAL2Required},
		"429":       {Status: 429, Header: http.Header{"Retry-After": {"3"}}},
		"500":       {Status: 500, Body: []byte("oops")},
		"302":       {Status: 302, Header: http.Header{"Location": {"http://127.0.0.1:1/"}}},
		"truncated": {Status: 200, Body: kratosfake.SessionAAL1[:100]},
		"timeout":   {Status: 200, Delay: time.Second},
	}
	for name, resp := range responses {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			store := &secStore{}
			fake := kratosfake.Always(t, resp)
			a := secAuth(t, fake.URL, kratosauth.WithCache(store), kratosauth.WithTimeout(200*time.Millisecond),
				kratosauth.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			for _, kind := range []string{"token", "cookie", "bearer"} {
				for _, browser := range []bool{false, true} {
					r := secRequest(kind, secretToken, browser)
					w := httptest.NewRecorder()
					kratoshttp.RequireSession(a)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						w.WriteHeader(http.StatusNoContent)
					})).ServeHTTP(w, r)
					_, err := a.Authenticate(r)
					if err != nil {
						assert.NotContains(t, err.Error(), secretToken)
					}
					var hdr bytes.Buffer
					_ = w.Header().Write(&hdr)
					assert.NotContains(t, hdr.String()+w.Body.String(), secretToken, "response")
				}
			}
			assert.NotContains(t, logs.String(), secretToken, "logs")
			store.mu.Lock()
			defer store.mu.Unlock()
			for _, k := range store.keys {
				assert.Len(t, k, 64)
				assert.NotContains(t, k, secretToken)
				assert.NotContains(t, string(store.entries[k]), secretToken)
			}
		})
	}
}

// Threat: one credential is answered with another's session (cache key
// collision or poisoning). Mitigation: the cache key is the full SHA-256 of
// the namespace and every part sent to Kratos, each length-prefixed, so that
// no two different requests to Kratos share it.
func TestSecurityCacheEntriesBoundToCredential(t *testing.T) {
	// The fake names the identity after exactly what it received.
	fake := kratosfake.New(t, func(r *http.Request) kratosfake.Response {
		who := "token:" + r.Header.Get("X-Session-Token") + "|cookie:" + r.Header.Get("Cookie") + "|auth:" + r.Header.Get("Authorization")
		return kratosfake.Response{Status: 200, Body: kratosfake.Modify(kratosfake.Fresh(kratosfake.SessionAAL1, time.Hour),
			func(m map[string]any) { m["identity"].(map[string]any)["id"] = who })}
	})
	store := &secStore{}
	a := secAuth(t, fake.URL, kratosauth.WithCache(store))
	reqs := map[string]*http.Request{}
	add := func(name string, h http.Header) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header = h
		reqs[name] = r
	}
	add("token abc", http.Header{"X-Session-Token": {"abc"}})
	add("token abd", http.Header{"X-Session-Token": {"abd"}})
	add("token Bearer abc", http.Header{"X-Session-Token": {"Bearer abc"}}) // the same bytes as "bearer abc", in another part
	add("bearer abc", http.Header{"Authorization": {"Bearer abc"}})
	add("cookie abc", http.Header{"Cookie": {"ory_kratos_session=abc"}})
	add("cookie abc, bearer abc", http.Header{"Cookie": {"ory_kratos_session=abc"}, "Authorization": {"Bearer abc"}})
	add("cookies a, bc", http.Header{"Cookie": {"ory_kratos_session=a; ory_kratos_session=bc"}})
	add("cookies ab, c", http.Header{"Cookie": {"ory_kratos_session=ab; ory_kratos_session=c"}})
	add("cookies bc, a", http.Header{"Cookie": {"ory_kratos_session=bc; ory_kratos_session=a"}})
	want := map[string]string{}
	for round := range 3 { // the first round fills the cache, the others read it
		for name, r := range reqs {
			s, err := a.Authenticate(r)
			require.NoError(t, err, name)
			if round == 0 {
				want[name] = s.Identity.ID
				continue
			}
			assert.Equal(t, want[name], s.Identity.ID, "%s answered with another credential's session", name)
		}
	}
	seen := map[string]string{}
	for name, id := range want {
		if other, dup := seen[id]; dup {
			t.Errorf("%s and %s share a session", name, other)
		}
		seen[id] = name
	}
	assert.Len(t, store.entries, len(reqs), "one entry per distinct credential")
	assert.Equal(t, len(reqs), fake.Calls())
}

// Threat: session fixation. The library never writes a session cookie of its
// own. It passes on only the session cookie Kratos re-issues with a 200 for
// a request that presented session cookies (TestSessionCookieRefreshIsRelayed):
// never on a refusal or an outage, and never to a token client.
func TestSecurityNeverSetsCookies(t *testing.T) {
	fixate := http.Header{"Set-Cookie": {"ory_kratos_session=attacker; Path=/"}}
	for name, resp := range map[string]kratosfake.Response{
		"200": {Status: 200, Header: fixate, Body: kratosfake.Fresh(kratosfake.SessionAAL1, time.Hour)},
		"401": {Status: 401, Header: fixate, Body: kratosfake.Unauthorized},
		"403": {Status: 403, Header: fixate, Body: kratosfake.AAL2Required},
		"503": {Status: 503, Header: fixate},
	} {
		fake := kratosfake.Always(t, resp)
		a := secAuth(t, fake.URL, kratosauth.WithCacheTTL(0))
		h := kratoshttp.RequireSession(a)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		requests := []*http.Request{secRequest("", "", true), secRequest("token", secretToken, true), secRequest("bearer", secretToken, false)}
		if name != "200" {
			requests = append(requests, secRequest("cookie", "abc", true), secRequest("cookie", "abc", false))
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
	fake := kratosfake.Always(t, kratosfake.OK())
	a := secAuth(t, fake.URL)
	for _, c := range []string{
		"ory_session_a b=abc", "ory_session_x,y=abc", "ory_session_\x01=abc", "ory_session_é=abc",
		`ory_session_"x"=abc`, "ory_session_x\t=abc\t\x7f",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Cookie"] = []string{c}
		_, err := a.Authenticate(r)
		assert.Error(t, err, "%q", c)
	}
	assert.Zero(t, fake.Calls())
}

// Threat: a revoked session keeps working. Documented bound: the cache TTL
// (1 minute by default), or nothing once Invalidate is called.
func TestSecurityRevocationLagIsBoundedByTTL(t *testing.T) {
	const ttl = 300 * time.Millisecond
	var revoked atomic.Bool
	fake := kratosfake.New(t, func(*http.Request) kratosfake.Response {
		if revoked.Load() {
			return kratosfake.Response{Status: 401, Body: kratosfake.Unauthorized}
		}
		return kratosfake.OK()
	})
	a := secAuth(t, fake.URL, kratosauth.WithCacheTTL(ttl))
	_, err := a.Authenticate(secRequest("token", secretToken, false))
	require.NoError(t, err)
	revoked.Store(true)
	revokedAt := time.Now()
	for {
		_, err := a.Authenticate(secRequest("token", secretToken, false))
		if err != nil {
			assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
			break
		}
		require.Less(t, time.Since(revokedAt), ttl+100*time.Millisecond, "revoked session served past the TTL")
		time.Sleep(10 * time.Millisecond)
	}

	// Invalidate ends the lag at once.
	revoked.Store(false)
	_, err = a.Authenticate(secRequest("cookie", "c1", false))
	require.NoError(t, err)
	revoked.Store(true)
	a.Invalidate(secRequest("cookie", "c1", false))
	_, err = a.Authenticate(secRequest("cookie", "c1", false))
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
}

// Threat: a Kratos outage logs everybody out. Mitigation: only Kratos'
// explicit 401 (or an inactive/expired session) is ErrInvalidSession;
// everything else is a 503 without a redirect to login.
func TestSecurityOutageIsNotALogout(t *testing.T) {
	responses := map[string]kratosfake.Response{
		"500": {Status: 500}, "502": {Status: 502}, "503": {Status: 503},
		"429":          {Status: 429, Header: http.Header{"Retry-After": {"5"}}},
		"404":          {Status: 404},
		"403 no id":    {Status: 403, Body: []byte(`{"error":{"code":403}}`)},
		"200 garbage":  {Status: 200, Body: []byte("<html>maintenance</html>")},
		"200 no ident": {Status: 200, Body: []byte(`{"id":"x","active":true,"expires_at":"2100-01-01T00:00:00Z"}`)},
		"timeout":      {Status: 200, Delay: time.Second},
	}
	for name, resp := range responses {
		fake := kratosfake.Always(t, resp)
		a := secAuth(t, fake.URL, kratosauth.WithTimeout(200*time.Millisecond), kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
		h := kratoshttp.RequireSession(a)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		for _, browser := range []bool{false, true} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, secRequest("token", secretToken, browser))
			assert.Equal(t, http.StatusServiceUnavailable, w.Code, "%s browser=%v", name, browser)
			assert.Empty(t, w.Header().Get("Location"), name)
		}
	}
	// Kratos not listening at all.
	a := secAuth(t, "http://127.0.0.1:1", kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
	w := httptest.NewRecorder()
	kratoshttp.RequireSession(a)(http.NotFoundHandler()).ServeHTTP(w, secRequest("cookie", "abc", true))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
}

// Lifecycle: after Close nothing of the Authenticator keeps running: not
// bigcache's cleanup goroutine, not the whoami client's idle connections.
func TestCloseStopsAllGoroutines(t *testing.T) {
	fake := kratosfake.Always(t, kratosfake.OK())
	leaks := goleak.IgnoreCurrent()
	a, err := kratosauth.New(fake.URL, kratosauth.WithCacheTTL(time.Minute))
	require.NoError(t, err)
	for range 3 {
		_, err = a.Authenticate(secRequest("token", secretToken, false))
		require.NoError(t, err)
		_, err = a.Authenticate(secRequest("cookie", "abc", false))
		require.NoError(t, err)
	}
	require.NoError(t, a.Close())
	goleak.VerifyNone(t, leaks)
}
