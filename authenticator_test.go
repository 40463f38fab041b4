package kratosauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/kratosfake"
	"github.com/kratosauth/kratosauth/internal/settings"
)

const (
	appURL = "https://app.example.com"
	token  = "ory_st_0123456789abcdefABCDEF012345"
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
			if other, dup := messages[err.Error()]; dup {
				t.Errorf("%q and %q give the same error: %v", tc.name, other, err)
			}
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

func TestWhoamiResponses(t *testing.T) {
	expired := kratosfake.Modify(kratosfake.SessionAAL1, func(m map[string]any) {
		m["expires_at"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	})
	inactive := kratosfake.Modify(kratosfake.Fresh(kratosfake.SessionAAL1, time.Hour), func(m map[string]any) { m["active"] = false })
	noIdentity := kratosfake.Modify(kratosfake.Fresh(kratosfake.SessionAAL1, time.Hour), func(m map[string]any) { delete(m, "identity") })

	cases := []struct {
		name       string
		resp       kratosfake.Response
		want       error
		retryAfter time.Duration
	}{
		{"200 active", kratosfake.OK(), nil, 0},
		{"200 inactive", kratosfake.Response{Status: 200, Body: inactive}, kratosauth.ErrInvalidSession, 0},
		{"200 expired", kratosfake.Response{Status: 200, Body: expired}, kratosauth.ErrInvalidSession, 0},
		{"200 without identity", kratosfake.Response{Status: 200, Body: noIdentity}, kratosauth.ErrUnavailable, 0},
		{"200 not JSON", kratosfake.Response{Status: 200, Body: []byte("<html>proxy error</html>")}, kratosauth.ErrUnavailable, 0},
		{"200 truncated JSON", kratosfake.Response{Status: 200, Body: kratosfake.SessionAAL1[:200]}, kratosauth.ErrUnavailable, 0},
		{"200 empty", kratosfake.Response{Status: 200}, kratosauth.ErrUnavailable, 0},
		{"200 oversized", kratosfake.Response{Status: 200, Body: []byte(`{"x":"` + strings.Repeat("a", 2<<20) + `"}`)}, kratosauth.ErrUnavailable, 0},
		{"401", kratosfake.Response{Status: 401, Body: kratosfake.Unauthorized}, kratosauth.ErrInvalidSession, 0},
		{"403 aal2", kratosfake.Response{Status: 403, Body: kratosfake.AAL2Required}, kratosauth.ErrAAL2Required, 0},
		{"403 other", kratosfake.Response{Status: 403, Body: []byte(`{"error":{"code":403}}`)}, kratosauth.ErrUnavailable, 0},
		{"404 wrong URL", kratosfake.Response{Status: 404, Body: []byte(`404 page not found`)}, kratosauth.ErrUnavailable, 0},
		{"429", kratosfake.Response{Status: 429, Header: http.Header{"Retry-After": {"7"}}}, kratosauth.ErrUnavailable, 7 * time.Second},
		{"500", kratosfake.Response{Status: 500}, kratosauth.ErrUnavailable, 0},
		{"502", kratosfake.Response{Status: 502}, kratosauth.ErrUnavailable, 0},
		{"503", kratosfake.Response{Status: 503}, kratosauth.ErrUnavailable, 0},
		{"302 redirect", kratosfake.Response{Status: 302, Header: http.Header{"Location": {"http://127.0.0.1:1/steal"}}}, kratosauth.ErrUnavailable, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := kratosfake.Always(t, tc.resp)
			a := newAuth(t, fake.URL)
			s, err := a.Authenticate(tokenRequest(token))
			if tc.want == nil {
				require.NoError(t, err)
				assert.Equal(t, "aal1", s.AuthenticatorAssuranceLevel)
				assert.NotEmpty(t, s.Identity.ID)
				return
			}
			assert.Nil(t, s)
			require.ErrorIs(t, err, tc.want)
			var e *kratosauth.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.retryAfter, e.RetryAfter)
			assert.Equal(t, 1, fake.Calls(), "exactly one whoami call, redirects not followed")
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
		fake := kratosfake.Always(t, kratosfake.OK())
		url := fake.URL
		fake.Close()
		a := newAuth(t, url)
		_, err := a.Authenticate(tokenRequest(token))
		assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
	})
	t.Run("timeout", func(t *testing.T) {
		resp := kratosfake.OK()
		resp.Delay = 5 * time.Second
		fake := kratosfake.Always(t, resp)
		a := newAuth(t, fake.URL, kratosauth.WithTimeout(100*time.Millisecond))
		start := time.Now()
		_, err := a.Authenticate(tokenRequest(token))
		assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "the cause is kept")
		assert.Less(t, time.Since(start), 4*time.Second, "the timeout bounds the call")
	})
}

func TestOutageIsNeverALogout(t *testing.T) {
	fake := kratosfake.Always(t, kratosfake.Response{Status: 502})
	a := newAuth(t, fake.URL)
	r := tokenRequest(token)
	r.Header.Set("Accept", "text/html")
	rec := httptest.NewRecorder()
	_, err := a.Authenticate(r)
	a.HandleError(rec, r, err)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Empty(t, rec.Header().Get("Location"))
}

func TestCacheServesWithoutKratos(t *testing.T) {
	fake := kratosfake.Always(t, kratosfake.OK())
	a := newAuth(t, fake.URL)
	for range 5 {
		_, err := a.Authenticate(tokenRequest(token))
		require.NoError(t, err)
	}
	assert.Equal(t, 1, fake.Calls())

	// Another credential is another entry.
	_, err := a.Authenticate(tokenRequest(token + "x"))
	require.NoError(t, err)
	assert.Equal(t, 2, fake.Calls())

	// A cached session survives a Kratos outage until its deadline.
	fake.SetResponder(func(*http.Request) kratosfake.Response { return kratosfake.Response{Status: 503} })
	_, err = a.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	assert.Equal(t, 2, fake.Calls())
}

func TestCacheExpiresAfterTTL(t *testing.T) {
	fake := kratosfake.Always(t, kratosfake.OK())
	a := newAuth(t, fake.URL, kratosauth.WithCacheTTL(150*time.Millisecond))
	_, err := a.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	_, err = a.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	require.Equal(t, 1, fake.Calls())
	time.Sleep(300 * time.Millisecond)
	_, err = a.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	assert.Equal(t, 2, fake.Calls())
}

func TestFailuresAreNotCached(t *testing.T) {
	fake := kratosfake.Always(t, kratosfake.Response{Status: 401, Body: kratosfake.Unauthorized})
	a := newAuth(t, fake.URL)
	for range 3 {
		_, err := a.Authenticate(tokenRequest(token))
		require.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	}
	assert.Equal(t, 3, fake.Calls())

	// A session that becomes valid (the user logged in) is seen at once.
	fake.SetResponder(func(*http.Request) kratosfake.Response { return kratosfake.OK() })
	_, err := a.Authenticate(tokenRequest(token))
	require.NoError(t, err)
}

func TestInvalidateEvicts(t *testing.T) {
	fake := kratosfake.Always(t, kratosfake.OK())
	a := newAuth(t, fake.URL)
	_, err := a.Authenticate(tokenRequest(token))
	require.NoError(t, err)

	// The user logs out; Kratos now refuses the token.
	fake.SetResponder(func(*http.Request) kratosfake.Response {
		return kratosfake.Response{Status: 401, Body: kratosfake.Unauthorized}
	})
	_, err = a.Authenticate(tokenRequest(token))
	require.NoError(t, err, "still cached")

	a.Invalidate(tokenRequest(token))
	_, err = a.Authenticate(tokenRequest(token))
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	assert.Equal(t, 2, fake.Calls())
}

func TestCacheDisabled(t *testing.T) {
	for name, opt := range map[string]kratosauth.Option{
		"zero TTL": kratosauth.WithCacheTTL(0),
	} {
		t.Run(name, func(t *testing.T) {
			fake := kratosfake.Always(t, kratosfake.OK())
			a := newAuth(t, fake.URL, opt)
			for range 3 {
				_, err := a.Authenticate(tokenRequest(token))
				require.NoError(t, err)
			}
			assert.Equal(t, 3, fake.Calls())
			a.Invalidate(tokenRequest(token)) // no-op, no panic
		})
	}
}

func TestConcurrentMissesShareOneWhoami(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	fake := kratosfake.New(t, func(*http.Request) kratosfake.Response {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-release
		return kratosfake.OK()
	})
	a := newAuth(t, fake.URL)

	const n = 200
	var wg sync.WaitGroup
	var started sync.WaitGroup
	started.Add(n)
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := tokenRequest(token)
			started.Done()
			_, err := a.Authenticate(r)
			errs <- err
		}()
	}
	<-arrived
	started.Wait()
	// Every goroutine is about to join the in-flight call; give the last
	// ones time to get there. One that arrives after the call ends finds the
	// session in the cache instead, so this wait bounds nothing but speed.
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, fake.Calls())
}

func TestCanceledCallerDoesNotFailOthers(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{})
	fake := kratosfake.New(t, func(*http.Request) kratosfake.Response {
		close(arrived)
		<-release
		return kratosfake.OK()
	})
	a := newAuth(t, fake.URL)

	ctx, cancel := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := a.Authenticate(tokenRequest(token).WithContext(ctx))
		firstErr <- err
	}()
	<-arrived
	secondErr := make(chan error, 1)
	go func() {
		_, err := a.Authenticate(tokenRequest(token))
		secondErr <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	assert.ErrorIs(t, <-firstErr, context.Canceled, "the canceled caller leaves at once")
	close(release)
	assert.NoError(t, <-secondErr, "the others still get the answer")
	assert.Equal(t, 1, fake.Calls())
}

func TestRequireAAL(t *testing.T) {
	fake := kratosfake.Always(t, kratosfake.OK()) // an aal1 session
	a := newAuth(t, fake.URL)
	r, err := a.RequireAAL(kratosauth.AAL1).Check(httptest.NewRecorder(), tokenRequest(token))
	require.NoError(t, err)
	s, _ := kratosauth.SessionFromContext(r.Context())
	assert.True(t, s.SatisfiesAAL(kratosauth.AAL1))

	r = httptest.NewRequest(http.MethodGet, "https://evil.example/billing?x=1", nil)
	r.Header.Set("X-Session-Token", token)
	w := httptest.NewRecorder()
	_, err = a.RequireAAL(kratosauth.AAL2).Check(w, r)
	require.ErrorIs(t, err, kratosauth.ErrAAL2Required)
	assert.Equal(t, http.StatusForbidden, w.Code)
	var e *kratosauth.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, fake.URL+"/self-service/login/browser?aal=aal2&return_to=https%3A%2F%2Fapp.example.com%2Fbilling%3Fx%3D1", e.RedirectTo)
}

func TestStepUpTargetFromKratos(t *testing.T) {
	body := func(target string) []byte {
		return kratosfake.Modify(kratosfake.AAL2Required, func(m map[string]any) { m["redirect_browser_to"] = target })
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
			fake := kratosfake.Always(t, kratosfake.Response{Status: 403, Body: body(tc.kratosTarget)})
			a := newAuth(t, fake.URL, kratosauth.WithBrowserURL("http://kratos.example"))
			_, err := a.Authenticate(tokenRequest(token))
			var e *kratosauth.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.want, e.RedirectTo)
		})
	}
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
	fake := kratosfake.Always(t, kratosfake.Response{Status: 200, Body: []byte("{")})
	a := newAuth(t, fake.URL)
	_, err := a.Authenticate(tokenRequest(token))
	require.ErrorIs(t, err, kratosauth.ErrUnavailable)
	var e *kratosauth.Error
	require.ErrorAs(t, err, &e)
	require.Error(t, e.Cause)
	assert.Contains(t, err.Error(), "decoding session")
	assert.NotContains(t, err.Error(), token, "errors never carry the credential")
	assert.True(t, errors.Is(err, e.Cause))
}
