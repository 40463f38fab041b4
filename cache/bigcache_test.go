package cache_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/cache/storetest"
)

func TestBigCacheStore(t *testing.T) {
	s, err := cache.NewBigCache(time.Minute, 1)
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Get("k")
	assert.ErrorIs(t, err, cache.ErrNotFound)
	_, err = cache.NewBigCache(0, 1)
	assert.Error(t, err)
	_, err = cache.NewBigCache(time.Minute, 0)
	assert.Error(t, err)
}

func TestBigCacheContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) cache.Store {
		s, err := cache.NewBigCache(time.Minute, 1)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// A full cache evicts entries, never fences: a late answer is refused
// after its key's marker was pushed out.
func TestBigCacheFencesOutliveEvictions(t *testing.T) {
	s, err := cache.NewBigCache(time.Minute, 1)
	require.NoError(t, err)
	defer s.Close()
	old, err := s.Begin("alice")
	require.NoError(t, err)
	require.NoError(t, s.Revoke("alice", []byte("logout"), time.Minute, 0))
	filler := make([]byte, 400)
	for i := range 20000 { // 8 MB through 1 MB
		k := strconv.Itoa(i)
		tk, _ := s.Begin(k)
		require.NoError(t, s.Put(k, filler, time.Minute, tk, time.Minute))
	}
	assert.ErrorIs(t, s.Put("alice", []byte("old answer"), time.Minute, old, time.Minute), cache.ErrFenced)
	got, err := s.Get("alice")
	require.NoError(t, err)
	assert.Equal(t, "logout", string(got), "the marker is still read after an eviction")
}

func TestBigCacheStats(t *testing.T) {
	s, err := cache.NewBigCache(time.Minute, 1) // 1 MB
	require.NoError(t, err)
	defer s.Close()
	entry := make([]byte, 400)
	const n = 20000 // 8 MB into 1 MB: the oldest go
	for i := range n {
		k := strconv.Itoa(i)
		tk, err := s.Begin(k)
		require.NoError(t, err)
		require.NoError(t, s.Put(k, entry, time.Minute, tk, time.Minute))
	}
	st := s.Stats()
	assert.Positive(t, st.Entries)
	assert.Less(t, st.Entries, int64(n))
	assert.Positive(t, st.Evictions, "entries dropped for room are counted")
	assert.Equal(t, int64(n), st.Entries+st.Evictions)
}

// Filling the store past every bound (entries' bytes, the identity index)
// never stops it from caching a new key, and never leaves an entry that
// its index has lost: TakeIndex then finds every entry still stored.
func TestFullStoreEvictsNeverRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		store     func() (indexedStore, error)
		n, length int
	}{
		"bigcache, index full":   {func() (indexedStore, error) { return cache.NewBigCache(time.Minute, 1) }, 10_000, 60},
		"memory, index full":     {func() (indexedStore, error) { return cache.NewMemory(1) }, 10_000, 60},
		"memory, entries full":   {func() (indexedStore, error) { return cache.NewMemory(1) }, 20_000, 3000},
		"bigcache, entries full": {func() (indexedStore, error) { return cache.NewBigCache(time.Minute, 1) }, 10_000, 600},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := tc.store()
			require.NoError(t, err)
			defer s.Close()
			fillPastBounds(t, s, tc.n, tc.length)
		})
	}
}

type indexedStore interface {
	cache.Store
	cache.IdentityIndex
	cache.StatsReporter
}

func fillPastBounds(t *testing.T, s indexedStore, n, length int) {
	const identities = 50
	keyOf := func(i int) string { return fmt.Sprintf("%064x", i) } // kratosauth's form
	indexOf := func(i int) string { return fmt.Sprintf("%064x", 1<<40+i%identities) }
	entry := make([]byte, length)
	for i := range n {
		k := keyOf(i)
		tk, err := s.Begin(k)
		require.NoError(t, err)
		require.NoError(t, s.AddToIndex(indexOf(i), k, time.Minute), "key %d", i)
		require.NoError(t, s.Put(k, entry, time.Minute, tk, time.Minute), "key %d", i)
		_, err = s.Get(k)
		require.NoError(t, err, "key %d is cached", i)
	}
	assert.Positive(t, s.Stats().Evictions)
	_, err := s.Get(keyOf(0))
	assert.ErrorIs(t, err, cache.ErrNotFound, "the oldest went to make room")

	indexed := map[string]bool{}
	for i := range identities {
		keys, err := s.TakeIndex(indexOf(i), time.Minute)
		require.NoError(t, err)
		for _, k := range keys {
			indexed[k] = true
		}
	}
	stored := 0
	for i := range n {
		if _, err := s.Get(keyOf(i)); err == nil {
			stored++
			assert.True(t, indexed[keyOf(i)], "key %d is stored but in no index", i)
		}
	}
	assert.Greater(t, stored, 500)
}

// A key evicted from the index between its add and its Put is not stored:
// no TakeIndex would find it.
func TestEvictedKeyIsFenced(t *testing.T) {
	b, err := cache.NewBigCache(time.Minute, 1)
	require.NoError(t, err)
	defer b.Close()
	m, err := cache.NewMemory(1)
	require.NoError(t, err)
	defer m.Close()
	for _, s := range []indexedStore{b, m} {
		evictedKeyIsFenced(t, s)
	}
}

func evictedKeyIsFenced(t *testing.T, s indexedStore) {
	tk, _ := s.Begin("late")
	require.NoError(t, s.AddToIndex("alice", "late", time.Minute))
	for i := range 2048 { // pushes "late" out
		require.NoError(t, s.AddToIndex("bob", strconv.Itoa(i), time.Minute))
	}
	assert.ErrorIs(t, s.Put("late", []byte("answer"), time.Minute, tk, time.Minute), cache.ErrFenced)
	keys, _ := s.TakeIndex("alice", 0)
	assert.Empty(t, keys)
	tk, _ = s.Begin("late")
	require.NoError(t, s.AddToIndex("alice", "late", time.Minute))
	assert.NoError(t, s.Put("late", []byte("answer"), time.Minute, tk, time.Minute), "a ticket after the eviction writes")
}

func TestMemoryContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) cache.Store {
		s, err := cache.NewMemory(1)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestMemoryStore(t *testing.T) {
	s, err := cache.NewMemory(1)
	require.NoError(t, err)
	defer s.Close()
	_, err = cache.NewMemory(0)
	assert.Error(t, err)
	_, err = s.Get("k")
	assert.ErrorIs(t, err, cache.ErrNotFound)
	tk, _ := s.Begin("k")
	require.NoError(t, s.Put("k", []byte{}, time.Minute, tk, time.Minute))
	e, err := s.Get("k")
	assert.NoError(t, err, "an empty entry is an entry")
	assert.Empty(t, e)

	// An entry too large for memory is not stored, and the older one goes.
	require.NoError(t, s.Put("k", []byte("old"), time.Minute, tk, time.Minute))
	assert.Error(t, s.Put("k", make([]byte, 64<<10), time.Minute, tk, time.Minute))
	_, err = s.Get("k")
	assert.ErrorIs(t, err, cache.ErrNotFound)

	// kratosauth's keys and others never share an entry.
	hexKey := fmt.Sprintf("%064x", 0xabc)
	tk, _ = s.Begin(hexKey)
	require.NoError(t, s.Put(hexKey, []byte("hex"), time.Minute, tk, time.Minute))
	require.NoError(t, s.Put(hexKey[:63], []byte("other"), time.Minute, tk, time.Minute))
	e, _ = s.Get(hexKey)
	assert.Equal(t, "hex", string(e))
	_, err = s.Get(fmt.Sprintf("%064X", 0xabc))
	assert.ErrorIs(t, err, cache.ErrNotFound, "upper-case hex is another key")

	tk, _ = s.Begin("m")
	require.NoError(t, s.Put("m", []byte("session"), time.Minute, tk, time.Minute))
	require.NoError(t, s.Revoke("m", []byte("marker"), time.Minute, time.Minute))
	e, _ = s.Get("m")
	assert.Equal(t, "marker", string(e))
	assert.Equal(t, int64(3), s.Stats().Entries, "k went with its entry too large")
}
