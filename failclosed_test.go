package kratosauth_test

// Regression tests for an adversarial review: each pins one way
// the library failed open, and failed before its fix.

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// okHandler counts the requests it serves.
func okHandler(ran *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran.Add(1)
		w.WriteHeader(http.StatusOK)
	})
}

// 1. A level the library does not know is refused when the route is built,
// and never satisfied by a session.
func TestUnknownAALFailsClosed(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL)
	for _, level := range []string{"AAL2", "aal2 ", "2", "mfa", "", "aal3", "aal0"} {
		t.Run(level, func(t *testing.T) {
			s := &kratosauth.Session{AuthenticatorAssuranceLevel: kratosauth.AAL1}
			assert.False(t, s.SatisfiesAAL(level), "an unknown level is never satisfied")
			assert.PanicsWithValue(t, `kratosauth: unknown assurance level "`+level+`" (want "aal1" or "aal2")`,
				func() { kratoshttp.RequireAAL(a, level) })
		})
	}
	s := &kratosauth.Session{AuthenticatorAssuranceLevel: "AAL2"}
	assert.False(t, s.SatisfiesAAL(kratosauth.AAL1), "a session at an unknown level satisfies nothing")
}

// 2a. A client that hangs up while Kratos is asked is its own outcome: not
// "Kratos unavailable", so stale-if-error never serves a session for it.
func TestClientHangUpNeverServesStale(t *testing.T) {
	const ttl = 50 * time.Millisecond
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	var logs bytes.Buffer
	a := newAuth(t, kratos.URL, kratosauth.WithCacheTTL(ttl), kratosauth.WithStaleIfError(time.Hour),
		kratosauth.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	_, err := a.Authenticate(tokenRequest(c.Token))
	require.NoError(t, err)
	time.Sleep(2 * ttl) // past the cache deadline, within the grace

	// The session is revoked; Kratos is slow to say so.
	kratos.Revoke(c)
	kratos.Fail(kratosauthtest.Slow(200 * time.Millisecond))
	var ran atomic.Int64
	h := kratoshttp.RequireSession(a)(okHandler(&ran))
	for range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		r := tokenRequest(c.Token).WithContext(ctx)
		go func() { time.Sleep(5 * time.Millisecond); cancel() }()
		h.ServeHTTP(httptest.NewRecorder(), r)
		cancel()
	}
	assert.Zero(t, ran.Load(), "the handler ran for a client that hung up, with a revoked session")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = a.Authenticate(tokenRequest(c.Token).WithContext(ctx))
	assert.ErrorIs(t, err, kratosauth.ErrCanceled)
	assert.NotErrorIs(t, err, kratosauth.ErrUnavailable)
	assert.ErrorIs(t, err, context.Canceled)
	// 7. A hang-up is not an outage: nothing at WARN.
	assert.NotContains(t, logs.String(), "level=WARN")
}

// 2b. Kratos refusing a credential ends its stale entry at once, even with
// the negative cache off: a later outage must not bring it back.
func TestRefusalEndsStaleEntry(t *testing.T) {
	const ttl = 50 * time.Millisecond
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	a := newAuth(t, kratos.URL, kratosauth.WithCacheTTL(ttl), kratosauth.WithStaleIfError(time.Hour))
	_, err := a.Authenticate(tokenRequest(c.Token))
	require.NoError(t, err)
	time.Sleep(2 * ttl)

	kratos.Revoke(c)
	_, err = a.Authenticate(tokenRequest(c.Token))
	require.ErrorIs(t, err, kratosauth.ErrInvalidSession)

	kratos.Fail(kratosauthtest.Status(http.StatusServiceUnavailable))
	_, err = a.Authenticate(tokenRequest(c.Token))
	assert.ErrorIs(t, err, kratosauth.ErrUnavailable, "a session Kratos refused was served from the stale cache")
}

// 3. A cookie jar on the user's client never stores Kratos' Set-Cookie, nor
// adds a cookie to a later whoami call.
func TestUserClientJarIsNeverUsed(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	victim := kratos.Login()
	kratos.Extend(victim, 48*time.Hour) // Kratos re-issues the victim's cookie with the next whoami
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	a := newAuth(t, kratos.URL, kratosauth.WithHTTPClient(&http.Client{Jar: jar}), kratosauth.WithCacheTTL(0))

	_, err = a.Authenticate(cookieRequest(victim.Cookie.Value))
	require.NoError(t, err)
	require.NotEmpty(t, kratos.LastRequest().Header.Values("Cookie"), "the victim's whoami, with the cookie Kratos refreshes")
	_, err = a.Authenticate(tokenRequest("attacker-token"))
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	assert.Empty(t, kratos.LastRequest().Header.Values("Cookie"), "the attacker's whoami carried the victim's cookie")
}

// 5. One store shared by Authenticators of two Kratos instances never
// answers one with the other's session.
func TestSharedStoreIsNamespacedByKratos(t *testing.T) {
	store, err := cache.NewBigCache(time.Minute, 1)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	tenantA, tenantB := kratosauthtest.NewServer(t), kratosauthtest.NewServer(t)
	tenantA.SetCookieName("one")
	tenantB.SetCookieName("one")
	user := tenantA.Login() // tenant B does not know them
	a := newAuth(t, tenantA.URL, kratosauth.WithCache(store))
	b := newAuth(t, tenantB.URL, kratosauth.WithCache(store))

	_, err = a.Authenticate(tokenRequest(user.Token))
	require.NoError(t, err)
	_, err = b.Authenticate(tokenRequest(user.Token))
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession, "tenant B admitted tenant A's token")
	assert.Equal(t, 1, tenantB.Calls(), "tenant B never asked its own Kratos")

	// The same holds for two cookie names on one Kratos.
	c1 := newAuth(t, tenantA.URL, kratosauth.WithCache(store), kratosauth.WithCookieName("one"))
	c2 := newAuth(t, tenantB.URL, kratosauth.WithCache(store), kratosauth.WithCookieName("one"))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(user.Cookie)
	_, err = c1.Authenticate(r)
	require.NoError(t, err)
	_, err = c2.Authenticate(r)
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
}

// 6. The zero value of the error type prints.
func TestZeroErrorPrints(t *testing.T) {
	assert.NotPanics(t, func() { _ = (&kratosauth.Error{}).Error() })
	assert.NotEmpty(t, (&kratosauth.Error{}).Error())
}

// 10. Kratos' refreshed session cookie reaches the browser on the requests
// that asked Kratos, and never on cache hits.
func TestSessionCookieRefreshIsRelayed(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	setCookie := []string{
		"ory_kratos_session=NEW; Path=/; Expires=Wed, 01 Jan 2031 00:00:00 GMT; HttpOnly; SameSite=Lax",
		"csrf_token_abc=nope; Path=/",
	}
	kratos.Fail(kratosauthtest.Raw(http.StatusOK, http.Header{"Set-Cookie": setCookie}, kratosauthtest.WhoamiBody(c.Session)))
	a := newAuth(t, kratos.URL)
	var ran atomic.Int64
	h := kratoshttp.RequireSession(a)(okHandler(&ran))

	serve := func(cookie string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", "ory_kratos_session="+cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	first := serve(c.Cookie.Value)
	require.Equal(t, http.StatusOK, first.Code)
	assert.Equal(t, setCookie[:1], first.Header().Values("Set-Cookie"), "the session cookie is relayed, and only it")
	second := serve(c.Cookie.Value) // a cache hit
	assert.Empty(t, second.Header().Values("Set-Cookie"))
	assert.Equal(t, 1, kratos.Calls())

	// As the fake Kratos re-issues an extended session's cookie.
	kratos.Recover()
	d := kratos.Login()
	kratos.Extend(d, 48*time.Hour)
	first = serve(d.Cookie.Value)
	require.Equal(t, http.StatusOK, first.Code)
	relayed := first.Result().Cookies()
	require.Len(t, relayed, 1)
	assert.Equal(t, d.Cookie.Name, relayed[0].Name)
	assert.NotEqual(t, d.Cookie.Value, relayed[0].Value)
	assert.Equal(t, http.StatusOK, serve(relayed[0].Value).Code, "the relayed cookie is the session's")
	assert.Equal(t, 3, kratos.Calls())
}

// hookStore is a recordingStore that runs beforePut before a Put.
type hookStore struct {
	*recordingStore
	beforePut func()
}

func (s *hookStore) Put(key string, e []byte, ttl time.Duration, t cache.Ticket, maxAge time.Duration) error {
	if f := s.beforePut; f != nil {
		s.beforePut = nil
		f()
	}
	return s.recordingStore.Put(key, e, ttl, t, maxAge)
}

// A logout that lands while a whoami answer is being cached wins: the
// session is not put back in the cache (found by reading the request path
// again: the check for the logout marker and the write were not atomic).
func TestLogoutRacingACacheWriteWins(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	store := &hookStore{recordingStore: newRecordingStore()}
	a := newAuth(t, kratos.URL, kratosauth.WithCache(store))
	store.beforePut = func() {
		done := make(chan struct{})
		go func() { a.Invalidate(tokenRequest(c.Token)); close(done) }()
		select { // the logout lands now, or waits for the write to finish
		case <-done:
		case <-time.After(100 * time.Millisecond):
		}
	}
	_, err := a.Authenticate(tokenRequest(c.Token))
	require.NoError(t, err)
	time.Sleep(150 * time.Millisecond)

	_, err = a.Authenticate(tokenRequest(c.Token))
	require.NoError(t, err)
	assert.Equal(t, 2, kratos.Calls(), "the session was served from the cache after the logout")
}
