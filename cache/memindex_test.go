package cache

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemIndex(t *testing.T) {
	m := newMemIndex(100)
	add := func(index, key string, ttl time.Duration) error {
		ev, err := m.add(index, key, ttl)
		require.Empty(t, ev)
		return err
	}
	require.NoError(t, add("alice", "k1", time.Minute))
	require.NoError(t, add("alice", "k2", time.Minute))
	require.NoError(t, add("alice", "k1", time.Millisecond), "a shorter add keeps the later expiry")
	require.NoError(t, add("alice", "gone", time.Millisecond))
	require.NoError(t, add("bob", "k3", time.Minute))
	time.Sleep(5 * time.Millisecond)

	assert.ElementsMatch(t, []string{"k1", "k2"}, m.take("alice", 50*time.Millisecond), "expired keys are not returned")
	assert.ErrorIs(t, add("alice", "k4", time.Minute), ErrIndexHeld)
	assert.ElementsMatch(t, []string{"k1", "k2"}, m.take("alice", 0), "the keys stay, and nothing was added while held")
	time.Sleep(60 * time.Millisecond)
	require.NoError(t, add("alice", "k4", time.Minute), "the hold ended")

	assert.Empty(t, m.take("nobody", time.Minute))
	assert.ErrorIs(t, add("nobody", "k", time.Minute), ErrIndexHeld, "an index that did not exist is held too")
	assert.Equal(t, []string{"k3"}, m.take("bob", 0))
	assert.Equal(t, 4, m.len(), "k1, k2, k3, k4")
}

// Keys and names in kratosauth's form (64 hex digits) are kept as 32 bytes
// and given back as they came; others are kept on the side.
func TestMemIndexKeyForms(t *testing.T) {
	m := newMemIndex(10)
	hexKey := "00ff" + fmt.Sprintf("%060x", 12345)
	upper := "00FF" + fmt.Sprintf("%060x", 12345)
	for _, k := range []string{hexKey, upper, "short", ""} {
		_, err := m.add("i", k, time.Minute)
		require.NoError(t, err)
	}
	assert.ElementsMatch(t, []string{hexKey, upper, "short", ""}, m.take("i", 0))
	m.close()
	m = newMemIndex(1)
	for _, k := range []string{"a", "b", hexKey} {
		_, err := m.add("i", k, time.Minute)
		require.NoError(t, err)
	}
	assert.Empty(t, m.foreign, "keys on the side go with their slots")
}

// A full index evicts its oldest key (added or refreshed longest ago),
// never refuses one; holds are neither evicted nor counted.
func TestMemIndexEvictsOldest(t *testing.T) {
	m := newMemIndex(3)
	for _, k := range []string{"1", "2", "3"} {
		ev, err := m.add("i"+k, k, time.Minute)
		require.NoError(t, err)
		require.Empty(t, ev)
	}
	_, _ = m.add("i1", "1", time.Minute) // refreshed: now the newest
	ev, err := m.add("i4", "4", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"2"}, ev)
	assert.Empty(t, m.take("i2", time.Minute))
	ev, err = m.add("i5", "5", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"3"}, ev, "i2's hold takes no room")
	_, err = m.add("i2", "2", time.Minute)
	assert.ErrorIs(t, err, ErrIndexHeld, "a full index keeps its holds")
	assert.Equal(t, []string{"1"}, m.take("i1", 0))

	// Expired keys make room without being reported: their entries are
	// past use already.
	m = newMemIndex(2)
	_, _ = m.add("a", "old", time.Millisecond)
	_, _ = m.add("b", "live", time.Minute)
	time.Sleep(5 * time.Millisecond)
	ev, err = m.add("c", "new", time.Minute)
	require.NoError(t, err)
	assert.Empty(t, ev)
	assert.Equal(t, 2, m.len())

	// A key indexed under another index leaves the first one, as if evicted.
	m = newMemIndex(10)
	_, _ = m.add("a", "k", time.Minute)
	ev, err = m.add("b", "k", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"k"}, ev)
	assert.Empty(t, m.take("a", 0))
	assert.Equal(t, []string{"k"}, m.take("b", 0))
}

// Taking an index leaves its keys in it (until they expire or are evicted),
// so that a caller whose revocations failed finds them again.
func TestMemIndexTakeKeepsKeys(t *testing.T) {
	m := newMemIndex(10)
	_, _ = m.add("a", "1", time.Minute)
	_, _ = m.add("a", "2", time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	assert.Equal(t, []string{"1"}, m.take("a", 0))
	assert.Equal(t, []string{"1"}, m.take("a", 0))
	assert.Equal(t, 1, m.len(), "the expired key went")
}

// The index stays consistent through many adds, evictions and takes.
func TestMemIndexChurn(t *testing.T) {
	m := newMemIndex(50)
	live := map[string]string{} // key -> index, as the model says
	for i := range 5000 {
		k, ix := strconv.Itoa(i%300), "i"+strconv.Itoa(i%7)
		if old, ok := live[k]; ok && old != ix {
			delete(live, k)
		}
		ev, err := m.add(ix, k, time.Minute)
		require.NoError(t, err)
		for _, e := range ev {
			delete(live, e)
		}
		live[k] = ix
		if i%97 == 0 {
			got := m.take("i3", 0)
			var want []string
			for k, ix := range live {
				if ix == "i3" {
					want = append(want, k)
				}
			}
			require.ElementsMatch(t, want, got, "step %d", i)
		}
		require.LessOrEqual(t, m.len(), 50)
		require.Equal(t, len(live), m.len(), "step %d", i)
	}
}

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
	m, err := NewMemory(1)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	stepped := false
	for _, s := range []interface {
		Store
		IdentityIndex
	}{b, m} {
		const maxAge = 3 * time.Second
		ticket, err := s.Begin("k") // a whoami call starts
		require.NoError(t, err)
		keys, err := s.TakeIndex("alice", time.Minute+maxAge) // the eviction, before k is indexed
		require.NoError(t, err)
		require.Empty(t, keys)

		if !stepped {
			stepWallClock(t, 2*time.Minute)
			stepped = true
		}
		err = s.AddToIndex("alice", "k", time.Minute)
		assert.ErrorIs(t, err, ErrIndexHeld, "the wall clock step ended the hold")
		if err == nil {
			assert.ErrorIs(t, s.Put("k", []byte("session"), time.Minute, ticket, maxAge), ErrFenced,
				"the answer from before the eviction was cached")
		}
	}
}
