package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/fastcache"

	"github.com/kratosauth/kratosauth/internal/tier"
)

// Memory is the default in-process Store, on
// github.com/VictoriaMetrics/fastcache: entries live in 64 KB chunks mapped
// outside the Go heap, taken as the cache fills, in 512 rings that
// overwrite their oldest entries when full. fastcache's index of them is
// on the heap (about 45 bytes an entry) but holds no pointers, so the
// garbage collector's work does not grow with the cache, and a million
// cached sessions cost their bytes and little more (see the README's
// "Sizing the in-process cache").
//
// It keeps its fences (Revoke) apart from the entries, which a full cache
// overwrites, and its identity index (IdentityIndex) bounded: when either
// the entries' bytes or the index is full, the oldest go first; it never
// stops caching. An entry of 64 KB or more (a session with very large
// traits) is not stored: Put returns an error, and the session is asked
// for each time.
type Memory struct {
	c       *fastcache.Cache
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

// memoryKeysPerMB bounds a Memory's identity index: slightly more keys
// than the sessions its entries can hold (the README's "Sizing the
// in-process cache"), so that the index rarely evicts an entry the rings
// still hold.
const memoryKeysPerMB = 1536

// maxEntryLen is the longest key plus entry fastcache stores.
const maxEntryLen = 64<<10 - 4 - 1

// NewMemory returns a store of at most maxMB megabytes of entries (taken
// as they are written, in 64 KB chunks; at least 32 MB once full) and an
// identity index of at most maxMB × 1,536 keys (about 100 bytes each,
// outside the Go heap).
func NewMemory(maxMB int) (*Memory, error) {
	if maxMB <= 0 {
		return nil, fmt.Errorf("cache: size must be positive, got %d MB", maxMB)
	}
	return &Memory{
		c:      fastcache.New(maxMB << 20),
		fences: newFences(),
		index:  newMemIndex(maxMB * memoryKeysPerMB),
	}, nil
}

// rawKey is key as stored: kratosauth's keys (64 hex digits) as their 32
// bytes, any other as 0xff and its SHA-256 (33 bytes, so never equal to
// the former).
func rawKey(key string, buf *[33]byte) []byte {
	if id, ok := hexID(key); ok {
		copy(buf[:], id[:])
		return buf[:32]
	}
	sum := sha256.Sum256([]byte(key))
	buf[0] = 0xff
	copy(buf[1:], sum[:])
	return buf[:]
}

// Get implements Store; the entry is a fresh copy. A revoked key whose
// marker the rings overwrote still reads as its marker.
func (m *Memory) Get(key string) ([]byte, error) {
	var buf [33]byte
	if e, ok := m.c.HasGet(nil, rawKey(key, &buf)); ok {
		return nonNil(e), nil
	}
	return m.marker(key)
}

// getDigest is Get of the key that is id's hex (kratosauth's keys).
func (m *Memory) getDigest(id [32]byte) ([]byte, error) {
	if e, ok := m.c.HasGet(nil, id[:]); ok {
		return nonNil(e), nil
	}
	return m.marker(hex.EncodeToString(id[:]))
}

// marker is Get of a key the rings do not hold.
func (m *Memory) marker(key string) ([]byte, error) {
	if mk, ok := m.fences.marker(key); ok {
		return mk, nil
	}
	return nil, ErrNotFound
}

// nonNil: an empty entry is found, not absent.
func nonNil(e []byte) []byte {
	if e == nil {
		return []byte{}
	}
	return e
}

// Begin implements Store: a ticket on this process's monotonic clock.
func (m *Memory) Begin(string) (Ticket, error) { return m.fences.ticket(), nil }

// errTooLarge: fastcache's bound on one entry.
var errTooLarge = errors.New("cache: entry of 64 KB or more: not stored in memory")

// Put implements Store; ttl is left to the entry's own deadline (the rings
// keep an entry until they overwrite it). Tickets older than a minute are
// refused whatever maxAge says (see maxTicketAge).
func (m *Memory) Put(key string, entry []byte, _ time.Duration, t Ticket, maxAge time.Duration) error {
	var buf [33]byte
	k := rawKey(key, &buf)
	sh, now := m.fences.lock(key)
	defer sh.mu.Unlock()
	if !m.fences.admits(sh, key, t, min(maxAge, maxTicketAge), now) {
		return ErrFenced
	}
	if len(k)+len(entry) > maxEntryLen {
		m.del(k) // an older answer must not outlive a newer one that did not fit
		return errTooLarge
	}
	m.set(k, entry)
	return nil
}

// Revoke implements Store. The fence, and a copy of the marker (read when
// the rings have overwritten the entry), are kept in process for ttl.
func (m *Memory) Revoke(key string, marker []byte, ttl, fence time.Duration) error {
	var buf [33]byte
	k := rawKey(key, &buf)
	sh, now := m.fences.lock(key)
	defer sh.mu.Unlock()
	m.fences.raise(sh, key, marker, fence, ttl, now)
	if len(k)+len(marker) > maxEntryLen {
		m.del(k)
		return errTooLarge
	}
	m.set(k, marker)
	return nil
}

func (m *Memory) set(k, v []byte) {
	if !m.c.Has(k) {
		m.added.Add(1)
	}
	m.c.Set(k, v)
}

func (m *Memory) del(k []byte) {
	if m.c.Has(k) {
		m.deleted.Add(1)
	}
	m.c.Del(k)
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
	var buf [33]byte
	sh, now := m.fences.lock(key)
	m.fences.raiseNow(sh, key, maxTicketAge, now)
	if k := rawKey(key, &buf); m.c.Has(k) {
		m.c.Del(k)
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
	var s fastcache.Stats
	m.c.UpdateStats(&s)
	entries := int64(s.EntriesCount)
	return Stats{Entries: entries, Evictions: max(m.added.Load()-m.deleted.Load()-entries, 0) + m.indexEvictions.Load()}
}

// Close implements Store: it releases the entries' memory (to the
// process's pool of chunks).
func (m *Memory) Close() error {
	m.c.Reset()
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
	tier.DigestReader = func(store any) func([32]byte) ([]byte, error) {
		if m, ok := store.(*Memory); ok {
			return m.getDigest
		}
		return nil
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
