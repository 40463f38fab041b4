package cache_test

import (
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
