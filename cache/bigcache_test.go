package cache_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/cache"
)

func TestBigCacheStore(t *testing.T) {
	s, err := cache.NewBigCache(time.Minute, 1)
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Get("k")
	assert.ErrorIs(t, err, cache.ErrNotFound)
	require.NoError(t, s.Set("k", []byte("v"), time.Minute))
	got, err := s.Get("k")
	require.NoError(t, err)
	assert.Equal(t, "v", string(got))
	got[0] = 'x' // the caller owns the copy
	again, _ := s.Get("k")
	assert.Equal(t, "v", string(again))
	require.NoError(t, s.Delete("k"))
	require.NoError(t, s.Delete("k"), "deleting a missing key is fine")
	_, err = s.Get("k")
	assert.ErrorIs(t, err, cache.ErrNotFound)

	_, err = cache.NewBigCache(0, 1)
	assert.Error(t, err)
	_, err = cache.NewBigCache(time.Minute, 0)
	assert.Error(t, err)
}

func TestBigCacheStats(t *testing.T) {
	s, err := cache.NewBigCache(time.Minute, 1) // 1 MB
	require.NoError(t, err)
	defer s.Close()
	entry := make([]byte, 400)
	const n = 20000 // 8 MB into 1 MB: the oldest go
	for i := range n {
		require.NoError(t, s.Set(strconv.Itoa(i), entry, time.Minute))
	}
	st := s.Stats()
	assert.Positive(t, st.Entries)
	assert.Less(t, st.Entries, int64(n))
	assert.Positive(t, st.Evictions, "entries dropped for room are counted")
	assert.Equal(t, int64(n), st.Entries+st.Evictions)
}
