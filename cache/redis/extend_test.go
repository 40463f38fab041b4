package rediscache_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
	"github.com/kratosauth/kratosauth/internal/testing/redistest"
)

// extendCalls records Kratos' admin extend calls that pass through it.
type extendCalls struct {
	mu sync.Mutex
	at []time.Time
}

func (e *extendCalls) times() []time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]time.Time(nil), e.at...)
}

// TestSessionExtensionFleet runs WithSessionExtension against the real
// Kratos v1.3.1 (session.lifespan 10s, earliest_possible_extend 5s) and a
// real Redis shared by three replicas: a browser user who asks all three
// replicas at once every 2 seconds stays signed in for a minute, six
// lifespans, on the cookies the replicas relay; an idle user's session
// expires on time; and the fleet extends the active session once per
// window, never twice for one expiry.
func TestSessionExtensionFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for a minute")
	}
	t.Parallel()
	const lifespan, earliest = 10 * time.Second, 5 * time.Second
	rds := redistest.Start(t)
	k := kratostest.Start(t, kratostest.Options{SessionLifespan: lifespan, EarliestPossibleExtend: earliest})
	calls := new(extendCalls)
	adminURL, err := url.Parse(k.AdminURL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(adminURL)
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && strings.HasSuffix(r.URL.Path, "/extend") {
			calls.mu.Lock()
			calls.at = append(calls.at, time.Now())
			calls.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(admin.Close)

	var fleet []http.Handler
	for range 3 {
		store := newStore(t, rds.URL)
		auth, err := kratosauth.New(k.PublicURL, kratosauth.WithCache(store), kratosauth.WithSessionExtension(admin.URL, earliest))
		require.NoError(t, err)
		t.Cleanup(func() { auth.Close() })
		fleet = append(fleet, auth.RequireSession().Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	}
	get := func(replica int, c *http.Cookie) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/private", nil)
		r.Header.Set("Accept", "application/json")
		r.AddCookie(c)
		w := httptest.NewRecorder()
		fleet[replica].ServeHTTP(w, r)
		return w
	}

	_, active := k.LoginBrowser(t, registered(t, k, "active"), "kratosauth-e2e-Pa55word!")
	_, idle := k.LoginBrowser(t, registered(t, k, "idle"), "kratosauth-e2e-Pa55word!")
	start := time.Now()
	require.Equal(t, http.StatusOK, get(0, idle).Code)

	var idleChecked bool
	for i := 0; time.Since(start) < time.Minute; i++ {
		// The user's tabs ask all three replicas at once.
		var ws [3]*httptest.ResponseRecorder
		var wg sync.WaitGroup
		for r := range ws {
			wg.Go(func() { ws[r] = get(r, active) })
		}
		wg.Wait()
		for _, w := range ws {
			require.Equal(t, http.StatusOK, w.Code, "the active user was signed out after %s", time.Since(start).Round(time.Millisecond))
			for _, c := range (&http.Response{Header: w.Header()}).Cookies() {
				if c.Name == kratostest.SessionCookieName {
					active = c // the browser keeps the cookie a replica relayed
				}
			}
		}
		if !idleChecked && time.Since(start) > lifespan+500*time.Millisecond {
			assert.Equal(t, http.StatusUnauthorized, get(i%3, idle).Code, "the idle session outlived its lifespan")
			idleChecked = true
		}
		time.Sleep(2 * time.Second)
	}
	require.True(t, idleChecked)

	at := calls.times()
	var gaps []time.Duration
	for i := 1; i < len(at); i++ {
		gaps = append(gaps, at[i].Sub(at[i-1]).Round(time.Millisecond))
	}
	t.Logf("%d extend calls in %s for one session on 3 replicas; gaps %v", len(at), time.Since(start).Round(time.Second), gaps)
	// An expiry is due for extension during (lifespan - earliest): a second
	// replica's call for the same expiry would come within milliseconds.
	for _, g := range gaps {
		assert.Greater(t, g, earliest/2, "two extend calls for one expiry")
	}
	assert.GreaterOrEqual(t, len(at), int(time.Minute/lifespan), "fewer extensions than lifespans")
	assert.LessOrEqual(t, len(at), int(time.Minute/(lifespan-earliest))+1)
}

func registered(t *testing.T, k *kratostest.Server, prefix string) string {
	t.Helper()
	email := kratostest.UniqueEmail(prefix)
	k.RegisterAPI(t, email, "kratosauth-e2e-Pa55word!")
	return email
}
