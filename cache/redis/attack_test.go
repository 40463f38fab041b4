package rediscache_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/cache"
	rediscache "github.com/kratosauth/kratosauth/cache/redis"
	"github.com/kratosauth/kratosauth/internal/testing/redistest"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// A Redis that restarts from a snapshot taken before a logout (a crash of
// a Redis with RDB snapshots, which Debian's redis.conf enables, or AOF
// without appendfsync always; a failover to a replica that had not yet
// received the logout) has the session's entry back and not the logout's
// marker: a logout that returned success is undone.
func TestLogoutSurvivesRestartFromSnapshot(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	srv := redistest.Start(t)
	replicas := fleet(t, kratos.URL, srv.URL, 2, false)
	alice := kratos.Login()
	require.Equal(t, "ok", status(replicas[0], alice))

	_, err := srv.Do("SAVE") // a periodic snapshot
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Session-Token", alice.Token)
	require.NoError(t, replicas[0].Invalidate(r), "the logout is recorded")
	kratos.Revoke(alice)

	srv.Kill()
	srv.Restart(t) // loads the snapshot
	require.Eventually(t, func() bool {
		c := kratos.Login()
		calls := kratos.Calls()
		ok := status(replicas[0], c) == "ok" && status(replicas[1], c) == "ok"
		return ok && kratos.Calls() == calls+1
	}, 15*time.Second, 50*time.Millisecond, "the store is shared again")
	for i, a := range replicas {
		assert.Equal(t, "invalid", status(a, alice), "replica %d admitted a session logged out before the restart", i)
	}
}

// heldAnswers is a whoami transport whose next call, once armed, reaches
// Kratos (which answers then) but whose answer is held until released.
type heldAnswers struct {
	armed   atomic.Bool
	arrived chan struct{}
	release chan struct{}
}

func (h *heldAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if h.armed.CompareAndSwap(true, false) {
		h.arrived <- struct{}{}
		<-h.release
	}
	return resp, err
}

// A Redis that restarts empty loses the logout's marker with everything
// else: a request after the logout then reads what a request before it
// read (nothing), and must still not share the earlier request's answer.
func TestRequestAfterRestartDoesNotJoinEarlierCall(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	srv := redistest.Start(t)
	held := &heldAnswers{arrived: make(chan struct{}, 1), release: make(chan struct{})}
	r2 := fleet(t, kratos.URL, srv.URL, 1, false, kratosauth.WithHTTPClient(&http.Client{Transport: held}))[0]
	r1 := fleet(t, kratos.URL, srv.URL, 1, false)[0]
	alice := kratos.Login()

	held.armed.Store(true)
	before := make(chan string, 1)
	go func() { before <- status(r2, alice) }()
	<-held.arrived // Kratos admitted Alice; the answer is on its way
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Session-Token", alice.Token)
	require.NoError(t, r1.Invalidate(r), "the logout is recorded")
	kratos.Revoke(alice)
	srv.Kill()
	srv.Restart(t) // empty

	after := make(chan string, 1)
	go func() { after <- status(r2, alice) }()
	time.Sleep(200 * time.Millisecond) // the later request waits on the held call, if it may
	close(held.release)
	assert.Equal(t, "ok", <-before)
	assert.Equal(t, "invalid", <-after, "a request that started after the logout got an answer from before it")
}

// Without any other call to show the new instance, a value of the old one
// is read for epochFresh (250 ms) at most.
func TestValueOfAnEarlierInstanceIsNotRead(t *testing.T) {
	srv := redistest.Start(t)
	for _, local := range []bool{false, true} {
		var opts []rediscache.Option
		if !local {
			opts = append(opts, rediscache.WithLocalCacheMB(0))
		}
		s := newStore(t, srv.URL, opts...)
		put(t, s, "k", "session", time.Minute)
		_, err := srv.Do("SAVE")
		require.NoError(t, err)
		got, err := s.Get("k")
		require.NoError(t, err)
		require.Equal(t, "session", string(got))

		srv.Kill()
		srv.Restart(t) // from the snapshot
		time.Sleep(300 * time.Millisecond)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			_, err := s.Get("k")
			require.Error(t, err, "local cache %v: the value of the instance before the restart was read", local)
			if errors.Is(err, cache.ErrNotFound) {
				break
			}
			require.True(t, time.Now().Before(deadline), "Redis never answered: %v", err)
		}
	}
}
