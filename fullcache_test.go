package kratosauth

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/cache"
)

// fillSession is a session of identity n, as the Authenticator caches it.
func fillSession(n int) *Session {
	now := time.Now()
	return &Session{
		ID: fmt.Sprintf("5e5510n0-0000-4000-8000-%012d", n), Active: true,
		ExpiresAt: now.Add(time.Hour), AuthenticatedAt: now, IssuedAt: now,
		AuthenticatorAssuranceLevel: AAL1,
		AuthenticationMethods:       []AuthenticationMethod{{Method: "password", AAL: AAL1, CompletedAt: now}},
		Identity: &Identity{
			ID: fmt.Sprintf("1d000000-0000-4000-8000-%012d", n), SchemaID: "default", State: "active",
			Traits: []byte(fmt.Sprintf(`{"email":"user%d@example.com"}`, n)),
		},
	}
}

// cacheFilled is an Authenticator with the smallest default store (1 MB:
// 1,536 index keys, a 128 KB hot tier) into which n
// sessions of the given number of identities were cached, as answers of
// Kratos are; sessions cached a little earlier are asked for again in
// between, so that the hot tier holds some whose keys the store evicts
// later.
func cacheFilled(t *testing.T, n, identities int) (*Authenticator, []digest) {
	a, err := New("http://127.0.0.1:1", WithCacheSizeMB(1), WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	keys := make([]digest, n)
	for i := range n {
		keys[i] = credential{token: fmt.Sprintf("ory_st_%d", i)}.digest(a.namespace)
		tk, ok := a.begin(&keys[i])
		require.True(t, ok)
		a.store(&keys[i], fillSession(i%identities), -1, tk)
		_, state, _ := a.lookup(&keys[i], time.Now())
		require.Equal(t, entryFresh, state, "session %d was not cached", i)
		if i >= 300 {
			for range 3 {
				a.lookup(&keys[i-300], time.Now())
			}
		}
	}
	return a, keys
}

// Filling the default cache far past every bound (its bytes, its identity
// index, the hot tier) never stops it from caching the next session: it
// evicts instead.
func TestFullCacheKeepsCaching(t *testing.T) {
	a, keys := cacheFilled(t, 20_000, 20_000)
	_, state, _ := a.lookup(&keys[0], time.Now())
	assert.Equal(t, entryNone, state, "the oldest went to make room")
	assert.Positive(t, a.hot.len())
}

// After evictions for room, InvalidateIdentity still ends every session of
// the identity that the cache would serve, in both tiers: a key that left
// the identity index left the store and the hot tier with it.
func TestInvalidateIdentityAfterEvictions(t *testing.T) {
	const identities = 40
	a, keys := cacheFilled(t, 10_000, identities)
	served := 0
	for i := range keys {
		if _, state, _ := a.lookup(&keys[i], time.Now()); state == entryFresh {
			served++
		}
	}
	require.Greater(t, served, 500)
	for i := range identities {
		require.NoError(t, a.InvalidateIdentity(context.Background(), fillSession(i).Identity.ID))
	}
	for i := range keys {
		_, state, _ := a.lookup(&keys[i], time.Now())
		assert.NotEqual(t, entryFresh, state, "session %d of identity %d is still served", i, i%identities)
	}
}

// A session read from the store before its key was evicted for room, and
// put into the hot tier after the eviction dropped the key from it, does
// not stay there: the eviction fenced the key.
func TestPromotionAfterEvictionDoesNotStay(t *testing.T) {
	a, err := New("http://127.0.0.1:1", WithCacheSizeMB(1), WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	defer a.Close()
	idx := a.cfg.store.(cache.IdentityIndex)
	key := credential{token: "ory_st_late"}.digest(a.namespace)
	tk, _ := a.begin(&key)
	require.NoError(t, idx.AddToIndex("alice", key.storeKey(), time.Minute))
	for i := range 1536 { // the index's bound: the key goes
		require.NoError(t, idx.AddToIndex("bob", fmt.Sprintf("%064x", i), time.Minute))
	}
	a.promote(&key, fillSession(1), time.Now().Add(time.Minute), 100, tk)
	_, ok := a.hot.get(&key, time.Now())
	assert.False(t, ok, "the hot tier serves a session no index holds")
}

// A session that is read from the store again and again comes into the hot
// tier (one read in hotSampleEvery is considered): a popular session is
// served without a copy or a decode soon after it left the tier.
func TestPopularSessionComesBackIntoTheHotTier(t *testing.T) {
	a, reqs := cachedRequests(t, 1, DefaultCacheSizeMB)
	key := credential{token: reqs[0].Header.Get("X-Session-Token")}.digest(a.namespace)
	a.hot.delete(&key)
	for range 400 { // never sampled in 400 reads: (15/16)^400, about 6e-12
		_, err := a.Authenticate(reqs[0])
		require.NoError(t, err)
	}
	_, ok := a.hot.get(&key, time.Now())
	require.True(t, ok, "a session read 400 times is still outside the hot tier")
}

// A session read from the default store costs two allocations: the
// entry's copy and the session decoded from it (no key string).
func TestStoreHitAllocations(t *testing.T) {
	a, reqs := cachedRequests(t, 1, 32)
	key := credential{token: reqs[0].Header.Get("X-Session-Token")}.digest(a.namespace)
	allocs := testing.AllocsPerRun(100, func() {
		if _, state, _, _, _ := a.lookupStore(&key, time.Now()); state != entryFresh {
			t.Fatalf("state %v, want a hit", state)
		}
	})
	assert.LessOrEqual(t, allocs, 2.0)
}
