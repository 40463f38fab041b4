package kratosauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/settings"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

const (
	appURL = "https://app.example.com"
	// token is a credential for tests whose Kratos never looks at it (it is
	// down, or fails every request); the others log in with kratosauthtest.
	token = "ory_st_0123456789abcdefABCDEF012345"
)

func newAuth(t *testing.T, kratosURL string, opts ...kratosauth.Option) *kratosauth.Authenticator {
	t.Helper()
	opts = append([]kratosauth.Option{kratosauth.WithAppURL(appURL)}, opts...)
	a, err := kratosauth.New(kratosURL, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, a.Close()) })
	return a
}

func tokenRequest(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/private", nil)
	r.Header.Set("X-Session-Token", tok)
	return r
}

// recorded is a whoami body recorded from Kratos v1.3.1 (kratosauthtest/recorded).
func recorded(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("kratosauthtest", "recorded", name+".json"))
	require.NoError(t, err)
	return b
}

// editJSON decodes a JSON body, lets edit change it, and encodes it again.
func editJSON(t *testing.T, body []byte, edit func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	edit(m)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

// sessionBody is whoami's 200 body for a new session changed by edit.
func sessionBody(edit func(*kratosauth.Session)) []byte {
	s := kratosauthtest.NewSession()
	edit(s)
	return kratosauthtest.WhoamiBody(s)
}

func TestNewValidatesConfiguration(t *testing.T) {
	bad := []struct {
		name string
		url  string
		opts []kratosauth.Option
	}{
		{"empty URL", "", nil},
		{"no scheme", "127.0.0.1:4433", nil},
		{"ftp scheme", "ftp://kratos", nil},
		{"query in URL", "http://kratos?x=1", nil},
		{"userinfo in URL", "http://user:pw@kratos", nil},
		{"bad browser URL", "http://kratos", []kratosauth.Option{kratosauth.WithBrowserURL("javascript:alert(1)")}},
		{"bad app URL", "http://kratos", []kratosauth.Option{kratosauth.WithAppURL("//evil.example")}},
		{"app URL with fragment", "http://kratos", []kratosauth.Option{kratosauth.WithAppURL("https://app#x")}},
		// Origins are compared in ASCII (origin.Key): a non-ASCII host would
		// match no redirect target, silently.
		{"non-ASCII browser URL", "http://kratos", []kratosauth.Option{kratosauth.WithBrowserURL("https://\u212auth.example")}},
		{"non-ASCII app URL", "http://kratos", []kratosauth.Option{kratosauth.WithAppURL("https://b\u0130lling.example")}},
		{"non-ASCII public URL", "http://kr\u0430tos", nil},
		{"negative TTL", "http://kratos", []kratosauth.Option{kratosauth.WithCacheTTL(-time.Second)}},
		{"zero timeout", "http://kratos", []kratosauth.Option{kratosauth.WithTimeout(0)}},
		{"bad cookie name", "http://kratos", []kratosauth.Option{kratosauth.WithCookieName("a b")}},
		{"nil client", "http://kratos", []kratosauth.Option{kratosauth.WithHTTPClient(nil)}},
		{"nil error handler", "http://kratos", []kratosauth.Option{kratosauth.WithErrorHandler(nil)}},
		{"zero cache size", "http://kratos", []kratosauth.Option{kratosauth.WithCacheSizeMB(0)}},
		{"zero max response", "http://kratos", []kratosauth.Option{kratosauth.WithMaxResponseBytes(0)}},
		{"nil option", "http://kratos", []kratosauth.Option{nil}},
		{"nil logger", "http://kratos", []kratosauth.Option{kratosauth.WithLogger(nil)}},
		{"nil store", "http://kratos", []kratosauth.Option{kratosauth.WithCache(nil)}},
		{"size of a store of one's own", "http://kratos", []kratosauth.Option{kratosauth.WithCache(newRecordingStore()), kratosauth.WithCacheSizeMB(8)}},
		{"stale-if-error without a cache", "http://kratos", []kratosauth.Option{kratosauth.WithCacheTTL(0), kratosauth.WithStaleIfError(time.Minute)}},
		{"negative cache without a cache", "http://kratos", []kratosauth.Option{kratosauth.WithNegativeCacheTTL(time.Minute), kratosauth.WithCacheTTL(0)}},
		{"a store without a cache", "http://kratos", []kratosauth.Option{kratosauth.WithCacheTTL(0), kratosauth.WithCache(newRecordingStore())}},
		{"a size without a cache", "http://kratos", []kratosauth.Option{kratosauth.WithCacheTTL(0), kratosauth.WithCacheSizeMB(8)}},
	}
	messages := map[string]string{}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			a, err := kratosauth.New(tc.url, tc.opts...)
			require.Error(t, err)
			assert.Nil(t, a)
			assert.NotContains(t, messages, err.Error(), "%q gives the same error as %q", tc.name, messages[err.Error()])
			messages[err.Error()] = tc.name
		})
	}

	a, err := kratosauth.New("http://127.0.0.1:4433/", kratosauth.WithAppURL("https://app.example.com/base/"))
	require.NoError(t, err)
	defer a.Close()
	st := settings.Of(a)
	assert.Equal(t, "http://127.0.0.1:4433", st.PublicURL.String())
	assert.Equal(t, "http://127.0.0.1:4433", st.BrowserURL.String(), "browser URL defaults to the public URL")
	assert.Equal(t, "https://app.example.com/base", st.AppURL.String())
}

// kratosAnswer sets up how the fake Kratos answers for c.
type kratosAnswer func(k *kratosauthtest.Server, c kratosauthtest.Credentials)

// failing makes Kratos answer every whoami with f.
func failing(f kratosauthtest.Fault) kratosAnswer {
	return func(k *kratosauthtest.Server, _ kratosauthtest.Credentials) { k.Fail(f) }
}

func TestWhoamiResponses(t *testing.T) {
	inactive := sessionBody(func(s *kratosauth.Session) { s.Active = false })
	expired := sessionBody(func(s *kratosauth.Session) { s.ExpiresAt = time.Now().Add(-time.Minute) })
	noIdentity := editJSON(t, sessionBody(func(*kratosauth.Session) {}), func(m map[string]any) { delete(m, "identity") })
	raw := func(status int, body string) kratosAnswer {
		return failing(kratosauthtest.Raw(status, nil, []byte(body)))
	}

	cases := []struct {
		name       string
		login      []kratosauthtest.SessionOption
		kratos     kratosAnswer // nil: Kratos answers for the session
		want       error
		retryAfter time.Duration
	}{
		{"200 active", nil, nil, nil, 0},
		{"200 inactive", nil, raw(200, string(inactive)), kratosauth.ErrInvalidSession, 0},
		{"200 expired", nil, raw(200, string(expired)), kratosauth.ErrInvalidSession, 0},
		{"200 without identity", nil, raw(200, string(noIdentity)), kratosauth.ErrUnavailable, 0},
		{"200 not JSON", nil, raw(200, "<html>proxy error</html>"), kratosauth.ErrUnavailable, 0},
		{"200 truncated JSON", nil, raw(200, string(sessionBody(func(*kratosauth.Session) {})[:200])), kratosauth.ErrUnavailable, 0},
		{"200 empty", nil, raw(200, ""), kratosauth.ErrUnavailable, 0},
		{"200 oversized", nil, raw(200, `{"x":"`+strings.Repeat("a", 2<<20)+`"}`), kratosauth.ErrUnavailable, 0},
		{"401 revoked", nil, func(k *kratosauthtest.Server, c kratosauthtest.Credentials) { k.Revoke(c) }, kratosauth.ErrInvalidSession, 0},
		{"401 identity disabled", nil, func(k *kratosauthtest.Server, c kratosauthtest.Credentials) { k.DisableIdentity(c.Session.Identity.ID) },
			kratosauth.ErrInvalidSession, 0},
		{"403 aal2", []kratosauthtest.SessionOption{kratosauthtest.WithSecondFactorPending()}, nil, kratosauth.ErrAAL2Required, 0},
		{"403 other", nil, raw(403, `{"error":{"code":403}}`), kratosauth.ErrUnavailable, 0},
		{"404 wrong URL", nil, raw(404, "404 page not found"), kratosauth.ErrUnavailable, 0},
		{"429", nil, failing(kratosauthtest.RateLimited(7 * time.Second)), kratosauth.ErrUnavailable, 7 * time.Second},
		{"500", nil, failing(kratosauthtest.Status(500)), kratosauth.ErrUnavailable, 0},
		{"502", nil, failing(kratosauthtest.Status(502)), kratosauth.ErrUnavailable, 0},
		{"503", nil, failing(kratosauthtest.Status(503)), kratosauth.ErrUnavailable, 0},
		{"302 redirect", nil, failing(kratosauthtest.Raw(302, http.Header{"Location": {"http://127.0.0.1:1/steal"}}, nil)), kratosauth.ErrUnavailable, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			c := kratos.Login(tc.login...)
			if tc.kratos != nil {
				tc.kratos(kratos, c)
			}
			a := newAuth(t, kratos.URL)
			s, err := a.Authenticate(tokenRequest(c.Token))
			if tc.want == nil {
				require.NoError(t, err)
				assert.Equal(t, "aal1", s.AuthenticatorAssuranceLevel)
				assert.Equal(t, c.Session.Identity.ID, s.Identity.ID)
				return
			}
			assert.Nil(t, s)
			require.ErrorIs(t, err, tc.want)
			var e *kratosauth.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.retryAfter, e.RetryAfter)
			assert.Equal(t, 1, kratos.Calls(), "exactly one whoami call, redirects not followed")
			for _, other := range []error{kratosauth.ErrNoCredentials, kratosauth.ErrInvalidSession, kratosauth.ErrAAL2Required, kratosauth.ErrUnavailable} {
				if other != tc.want {
					assert.NotErrorIs(t, err, other)
				}
			}
		})
	}
}

func TestKratosDownOrSlowIsUnavailable(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		kratos := kratosauthtest.NewServer(t)
		c := kratos.Login()
		kratos.Close()
		a := newAuth(t, kratos.URL)
		_, err := a.Authenticate(tokenRequest(c.Token))
		assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
	})
	t.Run("timeout", func(t *testing.T) {
		kratos := kratosauthtest.NewServer(t)
		c := kratos.Login()
		kratos.Fail(kratosauthtest.Slow(5 * time.Second))
		a := newAuth(t, kratos.URL, kratosauth.WithTimeout(100*time.Millisecond))
		start := time.Now()
		_, err := a.Authenticate(tokenRequest(c.Token))
		assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "the cause is kept")
		assert.Less(t, time.Since(start), 4*time.Second, "the timeout bounds the call")
	})
}

func TestCacheServesWithoutKratos(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	alice, bob := kratos.Login(), kratos.Login()
	a := newAuth(t, kratos.URL)
	for range 5 {
		_, err := a.Authenticate(tokenRequest(alice.Token))
		require.NoError(t, err)
	}
	assert.Equal(t, 1, kratos.Calls())

	// Another credential is another entry.
	s, err := a.Authenticate(tokenRequest(bob.Token))
	require.NoError(t, err)
	assert.Equal(t, bob.Session.ID, s.ID)
	assert.Equal(t, 2, kratos.Calls())

	// A cached session survives a Kratos outage until its deadline.
	kratos.Fail(kratosauthtest.Status(http.StatusServiceUnavailable))
	s, err = a.Authenticate(tokenRequest(alice.Token))
	require.NoError(t, err)
	assert.Equal(t, alice.Session.ID, s.ID)
	assert.Equal(t, 2, kratos.Calls())
}

func TestCacheExpiresAfterTTL(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	a := newAuth(t, kratos.URL, kratosauth.WithCacheTTL(150*time.Millisecond))
	_, err := a.Authenticate(tokenRequest(c.Token))
	require.NoError(t, err)
	_, err = a.Authenticate(tokenRequest(c.Token))
	require.NoError(t, err)
	require.Equal(t, 1, kratos.Calls())
	time.Sleep(300 * time.Millisecond)
	_, err = a.Authenticate(tokenRequest(c.Token))
	require.NoError(t, err)
	assert.Equal(t, 2, kratos.Calls())
}

func TestFailuresAreNotCached(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	kratos.Fail(kratosauthtest.Raw(http.StatusUnauthorized, nil, recorded(t, "whoami_401_garbage_token")))
	a := newAuth(t, kratos.URL)
	for range 3 {
		_, err := a.Authenticate(tokenRequest(c.Token))
		require.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	}
	assert.Equal(t, 3, kratos.Calls())

	// A session that becomes valid (the user logged in) is seen at once.
	kratos.Recover()
	_, err := a.Authenticate(tokenRequest(c.Token))
	require.NoError(t, err)
}

func TestInvalidateEvicts(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	a := newAuth(t, kratos.URL)
	_, err := a.Authenticate(tokenRequest(c.Token))
	require.NoError(t, err)

	// The user logs out; Kratos now refuses the token.
	kratos.Revoke(c)
	_, err = a.Authenticate(tokenRequest(c.Token))
	require.NoError(t, err, "still cached")

	a.Invalidate(tokenRequest(c.Token))
	_, err = a.Authenticate(tokenRequest(c.Token))
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	assert.Equal(t, 2, kratos.Calls())
}

func TestCacheDisabled(t *testing.T) {
	for name, opt := range map[string]kratosauth.Option{
		"zero TTL": kratosauth.WithCacheTTL(0),
	} {
		t.Run(name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			c := kratos.Login()
			a := newAuth(t, kratos.URL, opt)
			for range 3 {
				_, err := a.Authenticate(tokenRequest(c.Token))
				require.NoError(t, err)
			}
			assert.Equal(t, 3, kratos.Calls())
			a.Invalidate(tokenRequest(c.Token)) // no-op, no panic
		})
	}
}

func TestConcurrentMissesShareOneWhoami(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	kratos.Fail(kratosauthtest.Slow(500 * time.Millisecond)) // answers normally, late
	a := newAuth(t, kratos.URL)

	const n = 200
	var wg sync.WaitGroup
	var started sync.WaitGroup
	started.Add(n)
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := tokenRequest(c.Token)
			started.Done()
			_, err := a.Authenticate(r)
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return kratos.Calls() > 0 }, 5*time.Second, time.Millisecond, "the first whoami call")
	started.Wait()
	// Every goroutine is about to join the in-flight call, which Kratos
	// answers after 500 ms. One that arrives after the call ends finds the
	// session in the cache instead, so this bounds nothing but speed.
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, kratos.Calls())
}

func TestCanceledCallerDoesNotFailOthers(t *testing.T) {
	const slow = time.Second
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	kratos.Fail(kratosauthtest.Slow(slow)) // answers normally, late
	a := newAuth(t, kratos.URL)

	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	firstErr := make(chan error, 1)
	go func() {
		_, err := a.Authenticate(tokenRequest(c.Token).WithContext(ctx))
		firstErr <- err
	}()
	require.Eventually(t, func() bool { return kratos.Calls() > 0 }, 5*time.Second, time.Millisecond, "the first whoami call")
	secondErr := make(chan error, 1)
	go func() {
		_, err := a.Authenticate(tokenRequest(c.Token))
		secondErr <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	assert.ErrorIs(t, <-firstErr, context.Canceled, "the canceled caller leaves at once")
	assert.Less(t, time.Since(start), slow, "the canceled caller left before Kratos answered")
	assert.NoError(t, <-secondErr, "the others still get the answer")
	assert.Equal(t, 1, kratos.Calls())
}

func TestRequireAAL(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login() // an aal1 session
	a := newAuth(t, kratos.URL)
	r, err := a.RequireAAL(kratosauth.AAL1).Check(httptest.NewRecorder(), tokenRequest(c.Token))
	require.NoError(t, err)
	s, _ := kratosauth.SessionFromContext(r.Context())
	assert.True(t, s.SatisfiesAAL(kratosauth.AAL1))

	r = httptest.NewRequest(http.MethodGet, "https://evil.example/billing?x=1", nil)
	r.Header.Set("X-Session-Token", c.Token)
	w := httptest.NewRecorder()
	_, err = a.RequireAAL(kratosauth.AAL2).Check(w, r)
	require.ErrorIs(t, err, kratosauth.ErrAAL2Required)
	assert.Equal(t, http.StatusForbidden, w.Code)
	var e *kratosauth.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, kratos.URL+"/self-service/login/browser?aal=aal2&return_to=https%3A%2F%2Fapp.example.com%2Fbilling%3Fx%3D1", e.RedirectTo)
}

func TestStepUpTargetFromKratos(t *testing.T) {
	body := func(target string) []byte {
		return editJSON(t, recorded(t, "whoami_403_aal2_required"), func(m map[string]any) { m["redirect_browser_to"] = target })
	}
	cases := []struct{ name, kratosTarget, want string }{
		{"same origin is kept", "http://kratos.example/self-service/login/browser?aal=aal2",
			"http://kratos.example/self-service/login/browser?aal=aal2&return_to=https%3A%2F%2Fapp.example.com%2Fprivate"},
		{"another origin is replaced", "https://evil.example/phish?aal=aal2",
			"http://kratos.example/self-service/login/browser?aal=aal2&return_to=https%3A%2F%2Fapp.example.com%2Fprivate"},
		{"empty is replaced", "",
			"http://kratos.example/self-service/login/browser?aal=aal2&return_to=https%3A%2F%2Fapp.example.com%2Fprivate"},
		// The self-service pages' origin check (internal/origin), not a second one:
		{"same origin in other case and with the default port is kept", "HTTP://Kratos.Example:80/self-service/login/browser?aal=aal2&via=kratos",
			"http://kratos.example/self-service/login/browser?aal=aal2&return_to=https%3A%2F%2Fapp.example.com%2Fprivate&via=kratos"},
		{"a backslash is replaced", `http://kratos.example\@evil.example/`,
			"http://kratos.example/self-service/login/browser?aal=aal2&return_to=https%3A%2F%2Fapp.example.com%2Fprivate"},
		{"userinfo is replaced", "http://evil@kratos.example/self-service/login/browser?aal=aal2",
			"http://kratos.example/self-service/login/browser?aal=aal2&return_to=https%3A%2F%2Fapp.example.com%2Fprivate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			kratos.Fail(kratosauthtest.Raw(http.StatusForbidden, nil, body(tc.kratosTarget)))
			a := newAuth(t, kratos.URL, kratosauth.WithBrowserURL("http://kratos.example"))
			_, err := a.Authenticate(tokenRequest(token))
			var e *kratosauth.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.want, e.RedirectTo)
		})
	}
	t.Run("the fake's own step-up answer", func(t *testing.T) {
		kratos := kratosauthtest.NewServer(t)
		c := kratos.Login(kratosauthtest.WithSecondFactorPending())
		a := newAuth(t, kratos.URL)
		_, err := a.Authenticate(tokenRequest(c.Token))
		var e *kratosauth.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, kratos.URL+"/self-service/login/browser?aal=aal2&return_to=https%3A%2F%2Fapp.example.com%2Fprivate", e.RedirectTo)
	})
}

func TestLoginURLNeverUsesHost(t *testing.T) {
	a := newAuth(t, "http://kratos.example")
	cases := []struct{ target, wantReturnTo string }{
		{"http://evil.example/dashboard", appURL + "/dashboard"},
		{"/dashboard?tab=2&x=%2F", appURL + "/dashboard?tab=2&x=%2F"},
		{"//evil.example/path", appURL + "//evil.example/path"},
		{"/a%5Cb", appURL + "/a%5Cb"},
		{"/@evil.example", appURL + "/@evil.example"},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		// As net/http's server parses a request target.
		u, err := url.ParseRequestURI(tc.target)
		require.NoError(t, err)
		r.URL = u
		r.Host = "evil.example"
		r.Header.Set("X-Forwarded-Host", "evil.example")
		login, err := url.Parse(a.LoginURL(r))
		require.NoError(t, err)
		assert.Equal(t, tc.wantReturnTo, login.Query().Get("return_to"), tc.target)
		assert.True(t, strings.HasPrefix(a.LoginURL(r), "http://kratos.example/self-service/login/browser?return_to=https%3A%2F%2Fapp.example.com%2F"))
	}

	noApp, err := kratosauth.New("http://kratos.example")
	require.NoError(t, err)
	defer noApp.Close()
	r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	assert.Equal(t, "http://kratos.example/self-service/login/browser", noApp.LoginURL(r), "no app URL: no return_to")
}

func TestRedirectToLoginIsSeeOther(t *testing.T) {
	a := newAuth(t, "http://kratos.example")
	rec := httptest.NewRecorder()
	a.RedirectToLogin(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	assert.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, "http://kratos.example/self-service/login/browser?return_to=https%3A%2F%2Fapp.example.com%2Fx", rec.Header().Get("Location"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"), "a cached redirect to login would send a signed-in user back to it")
}

func TestCustomErrorHandler(t *testing.T) {
	var got error
	a := newAuth(t, "http://kratos.example", kratosauth.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	_, err := a.Authenticate(r)
	rec := httptest.NewRecorder()
	a.HandleError(rec, r, err)
	assert.Equal(t, http.StatusTeapot, rec.Code)
	assert.ErrorIs(t, got, kratosauth.ErrNoCredentials)
}

func TestErrorKeepsCause(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	kratos.Fail(kratosauthtest.Raw(http.StatusOK, nil, []byte("{")))
	a := newAuth(t, kratos.URL)
	_, err := a.Authenticate(tokenRequest(token))
	require.ErrorIs(t, err, kratosauth.ErrUnavailable)
	var e *kratosauth.Error
	require.ErrorAs(t, err, &e)
	require.Error(t, e.Cause)
	assert.Contains(t, err.Error(), "decoding session")
	assert.NotContains(t, err.Error(), token, "errors never carry the credential")
	assert.True(t, errors.Is(err, e.Cause))
}
