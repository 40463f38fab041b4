package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

// TestKratosOutage stops Kratos mid-test. Requests that need Kratos get a
// 503 (never a 401 or a login redirect) within the whoami timeout, cached
// sessions are served until their cache deadline, and after the restart
// the same sessions work again. It has a Kratos of its own.
func TestKratosOutage(t *testing.T) {
	t.Parallel()
	const (
		timeout = 500 * time.Millisecond
		ttl     = 10 * time.Second // covers warming up, Stop and the checks
		bound   = 3 * time.Second  // a bound on a hang, not a performance goal
	)
	k := kratostest.Start(t, kratostest.Options{})

	type env struct {
		app               *app
		cached, uncached  string // session tokens of one identity
		identityID, email string
	}
	envs := map[string]*env{}
	for _, ad := range adapters {
		e := &env{app: newApp(t, ad, k, k.PublicURL, kratosauth.WithTimeout(timeout), kratosauth.WithCacheTTL(ttl))}
		e.email = kratostest.UniqueEmail("outage-" + ad.name)
		var sess []byte
		e.cached, sess = k.RegisterAPI(t, e.email, password)
		_, e.identityID = kratostest.SessionIDs(t, sess)
		e.uncached = k.LoginAPI(t, e.email, password)
		envs[ad.name] = e
	}
	// Cache deadlines are between warmStart+ttl and warmEnd+ttl.
	warmStart := time.Now()
	for _, e := range envs {
		assertMe(t, e.app.get(t, "/private", token(e.cached)), e.identityID)
	}
	warmEnd := time.Now()

	k.Stop()
	t.Logf("Kratos stopped %v after warming the caches", time.Since(warmEnd).Round(time.Millisecond))

	unavailable := func(t *testing.T, r response) {
		t.Helper()
		assertJSONError(t, r, http.StatusServiceUnavailable)
		assert.Empty(t, r.Header.Get("Location"))
		assert.Less(t, r.Took, bound)
	}
	t.Run("down", func(t *testing.T) {
		forEachAdapter(t, func(t *testing.T, ad adapter) {
			e := envs[ad.name]
			unavailable(t, e.app.get(t, "/private", token(e.uncached)))
			unavailable(t, e.app.get(t, "/private", token(e.uncached), browser))
			unavailable(t, e.app.get(t, "/aal2", token(e.uncached), browser))
			// LoadSession cannot tell a visitor from a user: 503, not anonymous.
			unavailable(t, e.app.get(t, "/public", token(e.uncached)))
			unavailable(t, e.app.get(t, "/public", token(e.uncached), browser))

			m := assertMe(t, e.app.get(t, "/private", token(e.cached)), e.identityID)
			assert.Equal(t, e.email, m.Email)
			assertMe(t, e.app.get(t, "/public", token(e.cached), browser), e.identityID)
			require.Less(t, time.Since(warmStart), ttl, "too slow: the cache deadline passed before the checks")
		})
	})

	time.Sleep(time.Until(warmEnd.Add(ttl + 100*time.Millisecond)))
	t.Run("down, cache expired", func(t *testing.T) {
		forEachAdapter(t, func(t *testing.T, ad adapter) {
			e := envs[ad.name]
			unavailable(t, e.app.get(t, "/private", token(e.cached)))
			unavailable(t, e.app.get(t, "/private", token(e.cached), browser))
		})
	})

	k.Restart(t)
	t.Run("restarted", func(t *testing.T) {
		forEachAdapter(t, func(t *testing.T, ad adapter) {
			e := envs[ad.name]
			assertMe(t, e.app.get(t, "/private", token(e.cached)), e.identityID)
			assertMe(t, e.app.get(t, "/private", token(e.uncached), browser), e.identityID)
			assertMe(t, e.app.get(t, "/public", token(e.uncached)), e.identityID)
		})
	})
}
