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
	assert.ElementsMatch(t, []string{"k1", "k2"}, keys, "the keys stay, and nothing was added while held")
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

	m = newMemIndex(2)
	require.NoError(t, m.AddToIndex("a", "1", time.Minute))
	keys, _ := m.TakeIndex("a", 50*time.Millisecond)
	assert.Equal(t, []string{"1"}, keys)
	assert.ErrorIs(t, m.AddToIndex("b", "2", time.Minute), ErrIndexFull, "a hold takes room, and the keys it returned stay")
	time.Sleep(sweepEveryForTest())
	require.NoError(t, m.AddToIndex("b", "2", time.Minute), "an ended hold makes room")
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

// stepWallClock moves the wall clock the index reads by d until the test ends.
func stepWallClock(t *testing.T, d time.Duration) {
	orig := wallNow
	wallNow = func() time.Time { return orig().Add(d) }
	t.Cleanup(func() { wallNow = orig })
}

// A step of the wall clock (NTP correcting it, a VM resumed) must not end
// an eviction's hold early: an answer fetched before the eviction has a
// ticket on the monotonic clock, still young, and a key the eviction never
// saw; indexed after the hold, it would be cached.
func TestHoldOutlastsAWallClockStep(t *testing.T) {
	b, err := NewBigCache(time.Minute, 1)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	const maxAge = 3 * time.Second
	ticket, err := b.Begin("k") // a whoami call starts
	require.NoError(t, err)
	keys, err := b.TakeIndex("alice", time.Minute+maxAge) // the eviction, before k is indexed
	require.NoError(t, err)
	require.Empty(t, keys)

	stepWallClock(t, 2*time.Minute)
	err = b.AddToIndex("alice", "k", time.Minute)
	assert.ErrorIs(t, err, ErrIndexHeld, "the wall clock step ended the hold")
	if err == nil {
		assert.ErrorIs(t, b.Put("k", []byte("session"), time.Minute, ticket, maxAge), ErrFenced,
			"the answer from before the eviction was cached")
	}
}
