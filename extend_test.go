package kratosauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// fakeAdmin is Kratos' admin extend endpoint over a fake Kratos: it
// extends the session by lifespan in the fake and answers status.
type fakeAdmin struct {
	URL      string
	calls    atomic.Int64
	status   atomic.Int64
	mu       sync.Mutex
	sessions map[string]kratosauthtest.Credentials // by session ID
	auth     atomic.Value                          // last Authorization header
}

func newFakeAdmin(t *testing.T, kratos *kratosauthtest.Server, lifespan time.Duration) *fakeAdmin {
	a := &fakeAdmin{sessions: map[string]kratosauthtest.Credentials{}}
	a.status.Store(http.StatusNoContent)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.calls.Add(1)
		a.auth.Store(r.Header.Get("Authorization"))
		id, ok := strings.CutPrefix(r.URL.Path, "/admin/sessions/")
		id, ok2 := strings.CutSuffix(id, "/extend")
		a.mu.Lock()
		c, known := a.sessions[id]
		a.mu.Unlock()
		if r.Method != http.MethodPatch || !ok || !ok2 || !known {
			http.NotFound(w, r)
			return
		}
		status := int(a.status.Load())
		if status == http.StatusOK || status == http.StatusNoContent {
			kratos.Extend(c, lifespan)
		}
		w.WriteHeader(status)
		if status == http.StatusOK {
			_, _ = w.Write([]byte(`{"id":"` + id + `"}`))
		}
	}))
	t.Cleanup(srv.Close)
	a.URL = srv.URL
	return a
}

func (a *fakeAdmin) login(kratos *kratosauthtest.Server, opts ...kratosauthtest.SessionOption) kratosauthtest.Credentials {
	c := kratos.Login(opts...)
	a.mu.Lock()
	a.sessions[c.Session.ID] = c
	a.mu.Unlock()
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A session with less than earliestPossibleExtend left is extended once,
// in the background; the next request reads the new expiry from Kratos,
// and the browser gets the cookie Kratos re-issues with it.
func TestSessionExtension(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusNoContent} { // Kratos v1.3, and newer
		t.Run(http.StatusText(status), func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			admin := newFakeAdmin(t, kratos, time.Hour)
			admin.status.Store(int64(status))
			auth := newAuth(t, kratos.URL, kratosauth.WithCacheTTL(time.Minute),
				kratosauth.WithSessionExtension(admin.URL, 10*time.Second), kratosauth.WithKratosAdminAPIKey("ory_pat_k"))
			h := auth.RequireSession().Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s, _ := kratosauth.SessionFromContext(r.Context())
				_, _ = w.Write([]byte(s.ExpiresAt.Format(time.RFC3339Nano)))
			}))
			c := admin.login(kratos, kratosauthtest.WithExpiry(time.Now().Add(8*time.Second)))
			get := func() *httptest.ResponseRecorder {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("Accept", "application/json")
				r.AddCookie(c.Cookie)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				require.Equal(t, http.StatusOK, w.Code)
				return w
			}
			get()
			waitFor(t, "the extension", func() bool { return admin.calls.Load() == 1 })
			assert.Equal(t, "Bearer ory_pat_k", admin.auth.Load())
			var w *httptest.ResponseRecorder
			waitFor(t, "the new expiry", func() bool {
				w = get()
				exp, err := time.Parse(time.RFC3339Nano, w.Body.String())
				return err == nil && time.Until(exp) > 50*time.Minute
			})
			assert.Contains(t, w.Header().Get("Set-Cookie"), c.Cookie.Name+"=", "the re-issued cookie reaches the browser")
			for range 5 {
				get()
			}
			time.Sleep(50 * time.Millisecond)
			assert.Equal(t, int64(1), admin.calls.Load(), "a session far from its expiry is not extended")
		})
	}
}

// A failing extension never refuses a request nor ends the session, and
// is not retried on every request: once per window.
func TestSessionExtensionFailureIsHarmless(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	admin := newFakeAdmin(t, kratos, time.Hour)
	admin.status.Store(http.StatusInternalServerError)
	auth := newAuth(t, kratos.URL, kratosauth.WithSessionExtension(admin.URL, time.Minute))
	c := admin.login(kratos, kratosauthtest.WithExpiry(time.Now().Add(30*time.Second)))
	for range 20 {
		s, err := auth.Authenticate(tokenRequest(c.Token))
		require.NoError(t, err)
		assert.Equal(t, c.Session.ID, s.ID)
	}
	waitFor(t, "the extension", func() bool { return admin.calls.Load() == 1 })
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, int64(1), admin.calls.Load())
}

// Sessions are extended only when due: not far from their expiry, not so
// close to it that Kratos could bring an expired session back, and never
// from a stale copy served while Kratos is down.
func TestSessionExtensionOnlyWhenDue(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	admin := newFakeAdmin(t, kratos, time.Hour)
	auth := newAuth(t, kratos.URL, kratosauth.WithCacheTTL(100*time.Millisecond), kratosauth.WithStaleIfError(time.Minute),
		kratosauth.WithSessionExtension(admin.URL, time.Minute))
	for _, exp := range []time.Duration{2 * time.Minute, kratosauth.ExtendCallTimeout - 100*time.Millisecond} {
		c := admin.login(kratos, kratosauthtest.WithExpiry(time.Now().Add(exp)))
		_, err := auth.Authenticate(tokenRequest(c.Token))
		require.NoError(t, err)
	}
	stale := admin.login(kratos, kratosauthtest.WithExpiry(time.Now().Add(2*time.Minute)))
	_, err := auth.Authenticate(tokenRequest(stale.Token))
	require.NoError(t, err)
	kratos.Fail(kratosauthtest.Status(http.StatusBadGateway))
	kratos.Extend(stale, 30*time.Second) // what the stale copy says does not matter: it is 2 minutes
	time.Sleep(150 * time.Millisecond)
	_, err = auth.Authenticate(tokenRequest(stale.Token))
	require.NoError(t, err, "served stale")
	time.Sleep(50 * time.Millisecond)
	assert.Zero(t, admin.calls.Load())
}

// claimingStore is a store shared by replicas that is also a Claimer.
type claimingStore struct {
	cache.Store
	*cache.Claims
}

// Replicas sharing a Claimer store extend a session once between them.
func TestSessionExtensionOncePerFleet(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	admin := newFakeAdmin(t, kratos, time.Hour)
	inner, err := cache.NewBigCache(time.Minute, 16)
	require.NoError(t, err)
	t.Cleanup(func() { inner.Close() })
	store := claimingStore{inner, cache.NewClaims(100)}
	c := admin.login(kratos, kratosauthtest.WithExpiry(time.Now().Add(30*time.Second)))
	warm := newAuth(t, kratos.URL, kratosauth.WithCache(store)) // every replica's request is a hit
	_, err = warm.Authenticate(tokenRequest(c.Token))
	require.NoError(t, err)
	var fleet []*kratosauth.Authenticator
	for range 3 {
		fleet = append(fleet, newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithSessionExtension(admin.URL, time.Minute)))
	}
	var wg sync.WaitGroup
	for _, a := range fleet {
		wg.Go(func() {
			_, err := a.Authenticate(tokenRequest(c.Token))
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	waitFor(t, "the extension", func() bool { return admin.calls.Load() >= 1 })
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, int64(1), admin.calls.Load())
}

func TestSessionExtensionOptions(t *testing.T) {
	for name, opts := range map[string][]kratosauth.Option{
		"bad URL":           {kratosauth.WithSessionExtension("127.0.0.1:4434", time.Hour)},
		"URL with a query":  {kratosauth.WithSessionExtension("http://h/?x", time.Hour)},
		"threshold too low": {kratosauth.WithSessionExtension("http://h", kratosauth.ExtendCallTimeout)},
		"key alone":         {kratosauth.WithKratosAdminAPIKey("k")},
		"empty key":         {kratosauth.WithSessionExtension("http://h", time.Hour), kratosauth.WithKratosAdminAPIKey("")},
		"key with CRLF":     {kratosauth.WithSessionExtension("http://h", time.Hour), kratosauth.WithKratosAdminAPIKey("a\r\nb")},
	} {
		_, err := kratosauth.New("http://127.0.0.1:4433", opts...)
		assert.Error(t, err, name)
	}
}
