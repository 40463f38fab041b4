package cache

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/allegro/bigcache/v3"
)

// BigCache is an in-process Store on github.com/allegro/bigcache/v3. Its
// entries live in a few large byte slices that the garbage collector does
// not scan, so a cache of 100,000 sessions does not lengthen GC pauses.
type BigCache struct {
	c         *bigcache.BigCache
	evictions atomic.Int64
	fences    *fences
	index     *memIndex
	onEvict   atomic.Pointer[func(key string)]
}

var (
	_ Store         = (*BigCache)(nil)
	_ IdentityIndex = (*BigCache)(nil)
	_ StatsReporter = (*BigCache)(nil)
)

// indexKeysPerMB bounds the identity index of a BigCache: two keys per KB
// of cache, more than the sessions the cache itself can hold (an entry
// takes at least 500 bytes with bigcache's own headers). Past it, the
// oldest key goes, and its entry with it.
const indexKeysPerMB = 2048

// maxTicketAge bounds the age of a ticket a BigCache accepts, whatever Put's
// maxAge says, and how long the fence of a key evicted from the identity
// index is kept: a Put under a ticket taken before the eviction is refused,
// as the key it would write is no longer indexed. (An answer that took
// Kratos over a minute is not cached.)
const maxTicketAge = time.Minute

// NewBigCache returns a store whose entries live at most lifeWindow (bigcache
// has one lifetime for all entries; shorter per-entry deadlines are checked
// by the reader) and that holds at most maxMB megabytes, dropping the oldest
// entries first when full. Its identity index (IdentityIndex, in process)
// holds at most maxMB × 1024 keys. Its cleanup goroutine runs until Close.
func NewBigCache(lifeWindow time.Duration, maxMB int) (*BigCache, error) {
	if lifeWindow <= 0 {
		return nil, fmt.Errorf("cache: life window must be positive, got %s", lifeWindow)
	}
	if maxMB <= 0 {
		return nil, fmt.Errorf("cache: size must be positive, got %d MB", maxMB)
	}
	cfg := bigcache.DefaultConfig(lifeWindow)
	cfg.CleanWindow = max(lifeWindow, time.Second)
	cfg.HardMaxCacheSize = maxMB
	// bigcache preallocates MaxEntriesInWindow × MaxEntrySize bytes and grows
	// up to HardMaxCacheSize: start at about 5 MB (8k sessions of ~600 bytes)
	// instead of its default ~300 MB, and let the cache grow with use.
	cfg.MaxEntrySize = 640
	cfg.MaxEntriesInWindow = 8192
	cfg.Verbose = false
	return NewBigCacheWithConfig(cfg)
}

// NewBigCacheWithConfig returns a store with a bigcache configuration of
// your own. Stats counts evictions only when cfg has no OnRemove callbacks
// of its own. Its identity index holds at most HardMaxCacheSize × 1024 keys
// (128k when HardMaxCacheSize is 0, unbounded).
func NewBigCacheWithConfig(cfg bigcache.Config) (*BigCache, error) {
	b := &BigCache{}
	if cfg.OnRemove == nil && cfg.OnRemoveWithMetadata == nil && cfg.OnRemoveWithReason == nil {
		cfg.OnRemoveWithReason = func(_ string, _ []byte, reason bigcache.RemoveReason) {
			if reason == bigcache.NoSpace {
				b.evictions.Add(1)
			}
		}
	}
	c, err := bigcache.New(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	mb := cfg.HardMaxCacheSize
	if mb <= 0 {
		mb = 128
	}
	b.c = c
	b.fences = newFences()
	b.index = newMemIndex(mb * indexKeysPerMB)
	return b, nil
}

// Get implements Store. bigcache returns a fresh copy of the entry. A
// revoked key whose marker was evicted for room still reads as its marker.
func (b *BigCache) Get(key string) ([]byte, error) {
	e, err := b.c.Get(key)
	if errors.Is(err, bigcache.ErrEntryNotFound) {
		if m, ok := b.fences.marker(key); ok {
			return m, nil
		}
		return nil, ErrNotFound
	}
	return e, err
}

// Begin implements Store: a ticket on this process's monotonic clock.
func (b *BigCache) Begin(string) (Ticket, error) { return b.fences.ticket(), nil }

// Put implements Store; bigcache copies entry and ignores ttl in favour of
// its life window.
func (b *BigCache) Put(key string, entry []byte, _ time.Duration, t Ticket, maxAge time.Duration) error {
	sh, now := b.fences.lock(key)
	defer sh.mu.Unlock()
	if !b.fences.admits(sh, key, t, min(maxAge, maxTicketAge), now) {
		return ErrFenced
	}
	return b.c.Set(key, entry)
}

// AddToIndex implements IdentityIndex. When the index is full, the oldest
// key goes to make room, and its entry with it (see evict).
func (b *BigCache) AddToIndex(index, key string, ttl time.Duration) error {
	evicted, err := b.index.add(index, key, ttl)
	for _, k := range evicted {
		b.evict(k)
	}
	return err
}

// TakeIndex implements IdentityIndex.
func (b *BigCache) TakeIndex(index string, hold time.Duration) ([]string, error) {
	return b.index.take(index, hold), nil
}

// evict drops the entry of a key that left the identity index for room,
// and fences the key, so that a Put under an earlier ticket (one that
// indexed the key before it left) cannot store an entry that no
// TakeIndex would find. Then the tier in front, if any, drops it too.
func (b *BigCache) evict(key string) {
	sh, now := b.fences.lock(key)
	b.fences.raiseNow(sh, key, maxTicketAge, now)
	if err := b.c.Delete(key); err == nil {
		b.evictions.Add(1)
	}
	sh.mu.Unlock()
	if f := b.onEvict.Load(); f != nil {
		(*f)(key)
	}
}

// Revoke implements Store. The fence is kept in process for ttl; the
// marker, like any entry, for the life window at most.
func (b *BigCache) Revoke(key string, marker []byte, ttl, fence time.Duration) error {
	sh, now := b.fences.lock(key)
	defer sh.mu.Unlock()
	b.fences.raise(sh, key, marker, fence, ttl, now)
	if err := b.c.Set(key, marker); err != nil {
		// The fence holds, but the old entry must not be read either.
		if derr := b.c.Delete(key); derr != nil && !errors.Is(derr, bigcache.ErrEntryNotFound) {
			return errors.Join(err, derr)
		}
	}
	return nil
}

// Stats implements StatsReporter: the number of entries (expired ones
// included until cleanup) and how many were evicted to make room.
func (b *BigCache) Stats() Stats {
	return Stats{Entries: int64(b.c.Len()), Evictions: b.evictions.Load()}
}

// Close implements Store: it stops the cleanup goroutine.
func (b *BigCache) Close() error {
	b.index.close()
	return b.c.Close()
}
