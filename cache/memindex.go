package cache

import (
	"sync"
	"time"
)

// memIndex is an in-process IdentityIndex: a map of indexes, each a map of
// keys to their expiry (Unix nanoseconds), and the holds of taken indexes.
// Keys expire on the wall clock, as the entries they name do; holds end on
// the monotonic clock, as the tickets they must outlast do, so that a step
// of the wall clock cannot end a hold before the tickets it guards.
// It is bounded by maxKeys: unexpired keys across all indexes plus holds.
// A hold is never refused or dropped to make room (an eviction must always
// block what it evicted from coming back), so holds may fill the bound, and
// then no key is added, and no session cached, until they end.
type memIndex struct {
	maxKeys int
	origin  time.Time // holds are monotonic nanoseconds since origin

	mu        sync.Mutex
	indexes   map[string]map[string]int64
	holds     map[string]int64 // index -> end of hold (monotonic)
	keys      int              // keys in indexes, expired ones included until pruned
	lastSweep int64
}

// sweepEvery bounds how often a full index refuses a key after a sweep of
// every index for expired keys, so that a full index does not cost a full
// sweep per add.
const sweepEvery = int64(time.Second)

// wallNow is the wall clock; tests step it.
var wallNow = time.Now

func newMemIndex(maxKeys int) *memIndex {
	return &memIndex{
		maxKeys: maxKeys,
		origin:  time.Now(),
		indexes: make(map[string]map[string]int64),
		holds:   make(map[string]int64),
	}
}

func (m *memIndex) AddToIndex(index, key string, ttl time.Duration) error {
	now, mono := wallNow().UnixNano(), m.mono()
	exp := now + int64(ttl)
	m.mu.Lock()
	defer m.mu.Unlock()
	if end, ok := m.holds[index]; ok {
		if mono < end {
			return ErrIndexHeld
		}
		delete(m.holds, index)
	}
	keys := m.indexes[index]
	if old, ok := keys[key]; ok {
		keys[key] = max(old, exp)
		return nil
	}
	if len(keys) >= 8 {
		m.prune(keys, now) // an identity's expired sessions, without a full sweep
	}
	if m.keys+len(m.holds) >= m.maxKeys && now-m.lastSweep >= sweepEvery {
		m.sweep(now, mono)
	}
	if m.keys+len(m.holds) >= m.maxKeys {
		return ErrIndexFull
	}
	if keys == nil {
		keys = make(map[string]int64)
		m.indexes[index] = keys
	}
	keys[key] = exp
	m.keys++
	return nil
}

func (m *memIndex) TakeIndex(index string, hold time.Duration) ([]string, error) {
	now, mono := wallNow().UnixNano(), m.mono()
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := m.indexes[index]
	m.prune(keys, now)
	if hold > 0 {
		m.holds[index] = max(m.holds[index], mono+int64(hold))
	}
	if now-m.lastSweep >= int64(time.Minute) {
		m.sweep(now, mono) // holds of identities never seen again
	}
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	return out, nil
}

func (m *memIndex) mono() int64 { return int64(time.Since(m.origin)) }

// prune drops the expired keys of one index.
func (m *memIndex) prune(keys map[string]int64, now int64) {
	for k, exp := range keys {
		if now >= exp {
			delete(keys, k)
			m.keys--
		}
	}
}

// sweep drops every expired key and hold.
func (m *memIndex) sweep(now, mono int64) {
	m.lastSweep = now
	for name, keys := range m.indexes {
		m.prune(keys, now)
		if len(keys) == 0 {
			delete(m.indexes, name)
		}
	}
	for name, end := range m.holds {
		if mono >= end {
			delete(m.holds, name)
		}
	}
}
