package cache_test

import (
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
