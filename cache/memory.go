package cache

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/kratosauth/kratosauth/internal/tier"
)

// Memory is the default in-process Store. Its entries live in rings of
// records outside the Go heap (in huge pages where the kernel gives them),
// overwritten oldest first when full, found through open-addressing
// tables beside them: a read is one probe and one copy, and neither the
// garbage collector's work nor its heap target grows with the cache, so a
// million cached sessions cost their bytes and little more (see the
// README's "Sizing the cache").
//
// It keeps its fences (Revoke) apart from the entries, which a full cache
// overwrites, and its identity index (IdentityIndex) bounded: when the
// entries' bytes, their table or the index is full, the oldest go first;
// it never stops caching. An entry of 64 KB or more (a session with very
// large traits) is not stored: Put returns an error, and the session is
// asked for each time.
type Memory struct {
	entries *entryRing
	fences  *fences
	index   *memIndex
	onEvict atomic.Pointer[func(key string)]
	// For Stats: keys written that were not there, and entries deleted.
	added, deleted, indexEvictions atomic.Int64
}

var (
	_ Store         = (*Memory)(nil)
	_ IdentityIndex = (*Memory)(nil)
	_ StatsReporter = (*Memory)(nil)
)

// memoryKeysPerMB bounds a Memory's identity index: about the sessions
// its entries can hold (a session's entry takes 500 to 1,000 bytes), so
// that the index rarely evicts an entry the rings still hold.
const memoryKeysPerMB = 1536

// maxEntryLen bounds an entry's length.
const maxEntryLen = 64<<10 - 1

// NewMemory returns a store of at most maxMB megabytes of entries (at
// least 4 MB; pages are taken as they are first written) with tables for
// at least maxMB × 2,048 of them (8 bytes each), and an identity index of
// at most maxMB × 1,536 keys (about 100 bytes each); all of it outside the
// Go heap.
func NewMemory(maxMB int) (*Memory, error) {
	if maxMB <= 0 {
		return nil, fmt.Errorf("cache: size must be positive, got %d MB", maxMB)
	}
	return &Memory{
		entries: newEntryRing(maxMB << 20),
		fences:  newFences(),
		index:   newMemIndex(maxMB * memoryKeysPerMB),
	}, nil
}

// ringKeyOf is key as stored (see ringKey).
func ringKeyOf(key string) (k ringKey) {
	if id, ok := hexID(key); ok {
		copy(k[1:], id[:])
		return k
	}
	sum := sha256.Sum256([]byte(key))
	k[0] = 1
	copy(k[1:], sum[:])
	return k
}

// Get implements Store; the entry is a fresh copy. A revoked key whose
// marker the rings overwrote still reads as its marker.
func (m *Memory) Get(key string) ([]byte, error) {
	k := ringKeyOf(key)
	e, ok := m.entries.get(nil, &k)
	if !ok {
		if mk, ok := m.fences.marker(key); ok {
			return mk, nil
		}
		return nil, ErrNotFound
	}
	if e == nil {
		e = []byte{}
	}
	return e, nil
}

// Begin implements Store: a ticket on this process's monotonic clock.
func (m *Memory) Begin(string) (Ticket, error) { return m.fences.ticket(), nil }

// errTooLarge: the bound on one entry (maxEntryLen).
var errTooLarge = errors.New("cache: entry of 64 KB or more: not stored in memory")

// Put implements Store; ttl is left to the entry's own deadline (the rings
// keep an entry until they overwrite it). Tickets older than a minute are
// refused whatever maxAge says (see maxTicketAge).
func (m *Memory) Put(key string, entry []byte, _ time.Duration, t Ticket, maxAge time.Duration) error {
	k := ringKeyOf(key)
	sh, now := m.fences.lock(key)
	defer sh.mu.Unlock()
	if !m.fences.admits(sh, key, t, min(maxAge, maxTicketAge), now) {
		return ErrFenced
	}
	if len(entry) > maxEntryLen {
		m.del(&k) // an older answer must not outlive a newer one that did not fit
		return errTooLarge
	}
	m.set(&k, entry)
	return nil
}

// Revoke implements Store. The fence, and a copy of the marker (read when
// the rings have overwritten the entry), are kept in process for ttl.
func (m *Memory) Revoke(key string, marker []byte, ttl, fence time.Duration) error {
	k := ringKeyOf(key)
	sh, now := m.fences.lock(key)
	defer sh.mu.Unlock()
	m.fences.raise(sh, key, marker, fence, ttl, now)
	if len(marker) > maxEntryLen {
		m.del(&k)
		return errTooLarge
	}
	m.set(&k, marker)
	return nil
}

func (m *Memory) set(k *ringKey, v []byte) {
	if !m.entries.has(k) {
		m.added.Add(1)
	}
	m.entries.set(k, v)
}

func (m *Memory) del(k *ringKey) {
	if m.entries.has(k) {
		m.deleted.Add(1)
	}
	m.entries.del(k)
}

// AddToIndex implements IdentityIndex. When the index is full, the oldest
// key goes to make room, and its entry with it (see evict).
func (m *Memory) AddToIndex(index, key string, ttl time.Duration) error {
	evicted, err := m.index.add(index, key, ttl)
	for _, k := range evicted {
		m.evict(k)
	}
	return err
}

// TakeIndex implements IdentityIndex.
func (m *Memory) TakeIndex(index string, hold time.Duration) ([]string, error) {
	return m.index.take(index, hold), nil
}

// evict drops the entry of a key that left the identity index for room,
// and fences the key, so that a Put under an earlier ticket (one that
// indexed the key before it left) cannot store an entry that no TakeIndex
// would find. Then the tier in front, if any, drops it too.
func (m *Memory) evict(key string) {
	k := ringKeyOf(key)
	sh, now := m.fences.lock(key)
	m.fences.raiseNow(sh, key, maxTicketAge, now)
	if m.entries.has(&k) {
		m.entries.del(&k)
		m.deleted.Add(1)
		m.indexEvictions.Add(1)
	}
	sh.mu.Unlock()
	if f := m.onEvict.Load(); f != nil {
		(*f)(key)
	}
}

// Stats implements StatsReporter: the entries held, and the entries
// dropped for room (overwritten by the rings or evicted with their index
// key).
func (m *Memory) Stats() Stats {
	entries := int64(m.entries.len())
	return Stats{Entries: entries, Evictions: max(m.added.Load()-m.deleted.Load()-entries, 0) + m.indexEvictions.Load()}
}

// Close implements Store: it releases the entries' memory; the store is
// empty from then on.
func (m *Memory) Close() error {
	m.entries.close()
	m.index.close()
	return nil
}

func init() {
	tier.OnEvict = func(store any, f func(string)) bool {
		switch s := store.(type) {
		case *Memory:
			s.onEvict.Store(&f)
		case *BigCache:
			s.onEvict.Store(&f)
		default:
			return false
		}
		return true
	}
	tier.FencedSince = func(store any, key string, ticketAt int64) bool {
		var f *fences
		switch s := store.(type) {
		case *Memory:
			f = s.fences
		case *BigCache:
			f = s.fences
		default:
			return false
		}
		return f.since(key, ticketAt)
	}
}
