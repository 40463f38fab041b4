package kratosauth_test

import (
	"context"
	"math"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// Requests that start after a revocation and would be answered by a whoami
// call that began before it, through the singleflight, in ways the
// revision (the marker a request reads) does not see.

// joinLate starts a check of c on a after the revocation and gives it time
// to reach the whoami flight of the held call, then delivers the held answer
// and returns both results: the held one and the later one.
func joinLate(t *testing.T, a *kratosauth.Authenticator, c kratosauthtest.Credentials, deliver func() string) (held, later string) {
	t.Helper()
	after := make(chan string, 1)
	go func() { after <- check(a, c) }()
	time.Sleep(200 * time.Millisecond) // the later request waits on the held call, if it may
	held = deliver()
	select {
	case later = <-after:
	case <-time.After(5 * time.Second):
		t.Fatal("the later request never finished")
	}
	return held, later
}

// InvalidateIdentity revokes only the keys in the identity's index; a key
// whose first whoami call is under way is not indexed yet, so it gets no
// marker, and a request that starts after the eviction reads the same
// (empty) revision as that call and shares its answer from before the
// eviction.
func TestRequestAfterIdentityEvictionDoesNotJoinEarlierCall(t *testing.T) {
	for name, shared := range map[string]bool{"same replica": false, "other replica": true} {
		t.Run(name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			store := newBigCache(t)
			held := newHeldAnswers()
			opts := []kratosauth.Option{kratosauth.WithCache(store), kratosauth.WithLogger(discard)}
			r2 := newAuth(t, kratos.URL, append(opts, kratosauth.WithHTTPClient(&http.Client{Transport: held}))...)
			r1 := r2
			if shared {
				r1 = newAuth(t, kratos.URL, opts...)
			}
			const id = "6a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
			bob := kratos.Login(kratosauthtest.WithIdentityID(id))

			deliver := startHeld(t, r2, held, bob) // a miss: Kratos admits Bob, the answer is on its way
			kratos.DisableIdentity(id)             // revoke_active_sessions, then the webhook:
			require.NoError(t, r1.InvalidateIdentity(context.Background(), id))

			heldAnswer, later := joinLate(t, r2, bob, deliver)
			assert.Equal(t, "ok", heldAnswer, "the request from before the eviction is answered")
			assert.Equal(t, "invalid", later, "a request that started after the eviction got an answer from before it")
		})
	}
}

// failingReads is a shared store whose reads fail on demand (a Redis read
// that timed out, a breaker that opened), while its writes succeed.
type failingReads struct {
	*cache.BigCache
	fail atomic.Bool
}

func (s *failingReads) Get(k string) ([]byte, error) {
	if s.fail.Load() {
		return nil, errTimeout
	}
	return s.BigCache.Get(k)
}

// A request whose store read fails cannot know of a revocation that was
// recorded: it must not take the answer of a call that began before it.
func TestRequestWithFailedReadDoesNotJoinEarlierCall(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	store := &failingReads{BigCache: newBigCache(t)}
	held := newHeldAnswers()
	opts := []kratosauth.Option{kratosauth.WithCache(store), kratosauth.WithLogger(discard)}
	r2 := newAuth(t, kratos.URL, append(opts, kratosauth.WithHTTPClient(&http.Client{Transport: held}))...)
	r1 := newAuth(t, kratos.URL, opts...)
	alice := kratos.Login()

	deliver := startHeld(t, r2, held, alice)
	require.NoError(t, invalidate(r1, alice), "the logout is recorded")
	kratos.Revoke(alice)
	store.fail.Store(true) // from now on r2's reads time out

	heldAnswer, later := joinLate(t, r2, alice, deliver)
	assert.Equal(t, "ok", heldAnswer)
	assert.Equal(t, "invalid", later, "a request that started after the logout got an answer from before it")
}

// failingRevokes is a shared store whose revocations fail on demand (Redis
// down, or refusing writes), before anything is written.
type failingRevokes struct {
	*cache.BigCache
	fail atomic.Bool
}

func (s *failingRevokes) Revoke(k string, m []byte, ttl, fence time.Duration) error {
	if s.fail.Load() {
		return errTimeout
	}
	return s.BigCache.Revoke(k, m, ttl, fence)
}

// An identity eviction whose revocations failed returned the error, and
// Kratos (or the app) tries again: the retry must evict what the failed
// one could not, not find an index already emptied and report success.
func TestRetriedIdentityEvictionEvictsWhatTheFailedOneMissed(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	store := &failingRevokes{BigCache: newBigCache(t)}
	r1 := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithLogger(discard))
	r2 := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithLogger(discard))
	const id = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9"
	bob := kratos.Login(kratosauthtest.WithIdentityID(id))
	require.Equal(t, "ok", check(r1, bob))

	kratos.DisableIdentity(id)
	store.fail.Store(true)
	require.Error(t, r1.InvalidateIdentity(context.Background(), id), "the store failed: the eviction says so")
	store.fail.Store(false)
	require.NoError(t, r1.InvalidateIdentity(context.Background(), id), "the retry succeeds")
	assert.Equal(t, "invalid", check(r2, bob), "the retry reported success; the session is still served from the cache")
}

// Replicas of one app sharing a store may not share every option (a
// rolling deploy that changes WithTimeout): the record of a revocation
// must outlive the tickets of every replica, not only of the one that
// revoked.
func TestRefusalFencesAReplicaWithALongerTimeout(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	store := newBigCache(t)
	held := newHeldAnswers()
	r1 := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithLogger(discard),
		kratosauth.WithTimeout(200*time.Millisecond))
	r2 := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithLogger(discard),
		kratosauth.WithTimeout(5*time.Second), kratosauth.WithHTTPClient(&http.Client{Transport: held}))
	alice := kratos.Login()

	deliver := startHeld(t, r2, held, alice) // Kratos admits Alice; the answer is on its way
	kratos.Revoke(alice)
	require.Equal(t, "invalid", check(r1, alice), "Kratos refuses; r1 records it")
	time.Sleep(1500 * time.Millisecond) // past r1's ticket age (200 ms + 1 s), within r2's
	assert.Equal(t, "ok", deliver())
	assert.Equal(t, "invalid", check(r1, alice), "the admission from before the refusal was cached")
}

// A cache TTL so long that the revocation's arithmetic overflows (a
// "forever" of math.MaxInt64) turned a logout's fence into one that had
// already passed. New refuses it; the longest durations it accepts fence.
func TestCacheDurationsNeverOverflowAFence(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	for _, o := range []kratosauth.Option{kratosauth.WithCacheTTL(math.MaxInt64),
		kratosauth.WithStaleIfError(math.MaxInt64), kratosauth.WithNegativeCacheTTL(math.MaxInt64)} {
		_, err := kratosauth.New(kratos.URL, o)
		assert.Error(t, err)
	}

	const year = 365 * 24 * time.Hour
	store := newBigCache(t)
	held := newHeldAnswers()
	opts := []kratosauth.Option{kratosauth.WithCache(store), kratosauth.WithLogger(discard),
		kratosauth.WithCacheTTL(year), kratosauth.WithStaleIfError(year), kratosauth.WithNegativeCacheTTL(year)}
	r1 := newAuth(t, kratos.URL, opts...)
	r2 := newAuth(t, kratos.URL, append(opts, kratosauth.WithHTTPClient(&http.Client{Transport: held}))...)
	alice := kratos.Login()

	deliver := startHeld(t, r2, held, alice)
	require.NoError(t, invalidate(r1, alice))
	kratos.Revoke(alice)
	assert.Equal(t, "ok", deliver())
	assert.Equal(t, "invalid", check(r1, alice), "the answer from before the logout was cached")
}
