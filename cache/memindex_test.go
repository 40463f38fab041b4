package cache

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemIndex(t *testing.T) {
	m := newMemIndex(4)
	require.NoError(t, m.AddToIndex("alice", "k1", time.Minute))
	require.NoError(t, m.AddToIndex("alice", "k2", time.Minute))
	require.NoError(t, m.AddToIndex("alice", "k1", time.Millisecond), "a shorter add keeps the later expiry")
	require.NoError(t, m.AddToIndex("alice", "gone", time.Millisecond))
	require.NoError(t, m.AddToIndex("bob", "k3", time.Minute))
	time.Sleep(5 * time.Millisecond)

	keys, err := m.TakeIndex("alice", 50*time.Millisecond)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"k1", "k2"}, keys, "expired keys are not returned")
	assert.ErrorIs(t, m.AddToIndex("alice", "k4", time.Minute), ErrIndexHeld)
	keys, _ = m.TakeIndex("alice", 0)
	assert.Empty(t, keys, "taken: empty, and nothing was added while held")
	time.Sleep(60 * time.Millisecond)
	require.NoError(t, m.AddToIndex("alice", "k4", time.Minute), "the hold ended")

	keys, _ = m.TakeIndex("nobody", time.Minute)
	assert.Empty(t, keys)
	assert.ErrorIs(t, m.AddToIndex("nobody", "k", time.Minute), ErrIndexHeld, "an index that did not exist is held too")
}

func TestMemIndexBound(t *testing.T) {
	m := newMemIndex(3)
	require.NoError(t, m.AddToIndex("a", "1", time.Minute))
	require.NoError(t, m.AddToIndex("b", "2", time.Minute))
	require.NoError(t, m.AddToIndex("c", "3", 10*time.Millisecond))
	assert.ErrorIs(t, m.AddToIndex("d", "4", time.Minute), ErrIndexFull)
	require.NoError(t, m.AddToIndex("a", "1", time.Minute), "a key already there is no new key")
	time.Sleep(sweepEveryForTest())
	require.NoError(t, m.AddToIndex("d", "4", time.Minute), "expired keys make room")
	keys, _ := m.TakeIndex("a", 50*time.Millisecond)
	assert.Equal(t, []string{"1"}, keys)
	assert.ErrorIs(t, m.AddToIndex("e", "5", time.Minute), ErrIndexFull, "a hold takes the room of the key it took")
	time.Sleep(sweepEveryForTest())
	require.NoError(t, m.AddToIndex("e", "5", time.Minute), "an ended hold makes room")
}

// sweepEveryForTest waits out both the short entry and the sweep interval.
func sweepEveryForTest() time.Duration { return time.Duration(sweepEvery) + 20*time.Millisecond }

func TestBigCacheIsAnIdentityIndex(t *testing.T) {
	s, err := NewBigCache(time.Minute, 1)
	require.NoError(t, err)
	defer s.Close()
	var store Store = s
	idx, ok := store.(IdentityIndex)
	require.True(t, ok)
	require.NoError(t, idx.AddToIndex("i", "k", time.Minute))
	keys, err := idx.TakeIndex("i", time.Second)
	require.NoError(t, err)
	assert.Equal(t, []string{"k"}, keys)
}
