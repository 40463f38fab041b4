package kratosauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// recordingObserver keeps what it is told.
type recordingObserver struct {
	mu      sync.Mutex
	checks  []kratosauth.SessionCheck
	whoamis []int // status codes
	headers []http.Header
}

func (o *recordingObserver) WhoamiStarted(ctx context.Context, req *http.Request) (context.Context, func(int, error)) {
	o.mu.Lock()
	o.headers = append(o.headers, req.Header.Clone())
	o.mu.Unlock()
	return ctx, func(status int, _ error) {
		o.mu.Lock()
		o.whoamis = append(o.whoamis, status)
		o.mu.Unlock()
	}
}

func (o *recordingObserver) SessionChecked(_ context.Context, c kratosauth.SessionCheck) {
	o.mu.Lock()
	o.checks = append(o.checks, c)
	o.mu.Unlock()
}

func (o *recordingObserver) last(t *testing.T) kratosauth.SessionCheck {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	require.NotEmpty(t, o.checks)
	return o.checks[len(o.checks)-1]
}

func TestObserverSeesEveryOutcome(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	obs := &recordingObserver{}
	a := newAuth(t, kratos.URL, kratosauth.WithObserver(obs), kratosauth.WithStaleIfError(time.Hour),
		kratosauth.WithNegativeCacheTTL(time.Minute), kratosauth.WithCacheTTL(100*time.Millisecond))
	user := kratos.Login()
	guard := a.RequireSession()
	check := func(r *http.Request) kratosauth.SessionCheck {
		_, _ = guard.Check(httptest.NewRecorder(), r)
		return obs.last(t)
	}

	c := check(tokenRequest(user.Token))
	assert.Equal(t, kratosauth.CacheMiss, c.Cache)
	assert.NoError(t, c.Err)
	assert.Equal(t, user.Session.ID, c.Session.ID)
	assert.Equal(t, kratosauth.CacheHit, check(tokenRequest(user.Token)).Cache)

	c = check(httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, kratosauth.CacheNone, c.Cache)
	assert.ErrorIs(t, c.Err, kratosauth.ErrNoCredentials)

	assert.ErrorIs(t, check(tokenRequest("garbage")).Err, kratosauth.ErrInvalidSession)
	c = check(tokenRequest("garbage"))
	assert.Equal(t, kratosauth.CacheNegative, c.Cache)
	assert.ErrorIs(t, c.Err, kratosauth.ErrInvalidSession)

	time.Sleep(200 * time.Millisecond) // past the cache deadline
	kratos.Fail(kratosauthtest.Status(http.StatusBadGateway))
	c = check(tokenRequest(user.Token))
	assert.Equal(t, kratosauth.CacheStale, c.Cache)
	assert.NoError(t, c.Err)
	kratos.Recover()

	// Concurrent misses: one asks Kratos, the others share its call.
	other := kratos.Login()
	kratos.Fail(kratosauthtest.Slow(200 * time.Millisecond))
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = guard.Check(httptest.NewRecorder(), tokenRequest(other.Token)) }()
	}
	wg.Wait()
	byState := map[kratosauth.CacheState]int{}
	obs.mu.Lock()
	for _, c := range obs.checks[len(obs.checks)-5:] {
		byState[c.Cache]++
	}
	obs.mu.Unlock()
	assert.Equal(t, map[kratosauth.CacheState]int{kratosauth.CacheMiss: 1, kratosauth.CacheShared: 4}, byState)

	obs.mu.Lock()
	defer obs.mu.Unlock()
	assert.Equal(t, []int{200, 401, 502, 200}, obs.whoamis, "one whoami per call, with its status")
	for _, h := range obs.headers {
		assert.NotEmpty(t, h.Get("X-Session-Token"), "the Observer sees the outgoing request")
	}
}

// A LoadSession request that goes on without a session is admitted, with
// no session; an AAL refusal is reported as the refusal.
func TestObserverSeesGuardDecisions(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	obs := &recordingObserver{}
	a := newAuth(t, kratos.URL, kratosauth.WithObserver(obs))
	_, err := a.LoadSession().Check(httptest.NewRecorder(), tokenRequest("garbage"))
	require.NoError(t, err)
	c := obs.last(t)
	assert.NoError(t, c.Err)
	assert.Nil(t, c.Session)

	user := kratos.Login()
	_, err = a.RequireAAL(kratosauth.AAL2).Check(httptest.NewRecorder(), tokenRequest(user.Token))
	require.ErrorIs(t, err, kratosauth.ErrAAL2Required)
	c = obs.last(t)
	assert.ErrorIs(t, c.Err, kratosauth.ErrAAL2Required)
	assert.Nil(t, c.Session)
}
