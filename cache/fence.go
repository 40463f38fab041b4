package cache

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"hash/maphash"
	"sync"
	"time"
)

// fences is an in-process Store's record of revocations: for each revoked
// key, the time before which no ticket may write it (the fence) and how long
// the record is kept. It lives apart from the entries, which a full cache
// evicts to make room; a fence is never evicted before its time, or a late
// answer could be cached over a forgotten logout. Its size is bounded by
// the rate of revocations times their ttl.
type fences struct {
	epoch  string    // refuses another store's tickets
	origin time.Time // tickets are monotonic nanoseconds since origin
	seed   maphash.Seed
	shards [64]fenceShard
}

type fenceShard struct {
	mu      sync.Mutex
	m       map[string]fenceRecord
	sweepAt int64
}

type fenceRecord struct {
	at, until int64
	marker    []byte // the latest Revoke's, readable while the record lives
}

func newFences() *fences {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &fences{epoch: hex.EncodeToString(b[:]), origin: time.Now(), seed: maphash.MakeSeed()}
}

// now reads the monotonic clock: a wall clock step cannot reorder a ticket
// and a fence.
func (f *fences) now() int64 { return int64(time.Since(f.origin)) }

func (f *fences) ticket() Ticket { return Ticket{Epoch: f.epoch, At: f.now()} }

// lock locks key's shard and returns it with the time read under the lock.
func (f *fences) lock(key string) (*fenceShard, int64) {
	sh := &f.shards[maphash.String(f.seed, key)%uint64(len(f.shards))]
	sh.mu.Lock()
	return sh, f.now()
}

// admits reports whether a Put with ticket t may write key now; the caller
// holds sh's lock.
func (f *fences) admits(sh *fenceShard, key string, t Ticket, maxAge time.Duration, now int64) bool {
	if t.Epoch != f.epoch || t.At > now || now-t.At > int64(maxAge) {
		return false
	}
	fc, ok := sh.m[key]
	return !ok || now >= fc.until || t.At > fc.at
}

// marker returns the latest Revoke's marker of key while its fence record
// lives: a full cache may have evicted the marker itself.
func (f *fences) marker(key string) ([]byte, bool) {
	sh, now := f.lock(key)
	defer sh.mu.Unlock()
	fc, ok := sh.m[key]
	if !ok || now >= fc.until || fc.marker == nil { // nil: fenced for an eviction, never revoked
		return nil, false
	}
	return bytes.Clone(fc.marker), true
}

// raise moves key's fence to now+fence (or keeps a later one) and keeps the
// record, with marker, for ttl (or longer, if asked before); the caller
// holds sh's lock.
func (f *fences) raise(sh *fenceShard, key string, marker []byte, fence, ttl time.Duration, now int64) {
	if sh.m == nil {
		sh.m = make(map[string]fenceRecord)
	}
	if now >= sh.sweepAt {
		for k, fc := range sh.m {
			if now >= fc.until {
				delete(sh.m, k)
			}
		}
		sh.sweepAt = now + int64(time.Second)
	}
	fc := sh.m[key]
	if now >= fc.until {
		fc = fenceRecord{}
	}
	fc.at = max(fc.at, now+int64(fence))
	fc.until = max(fc.until, now+int64(max(ttl, fence)))
	fc.marker = bytes.Clone(marker)
	sh.m[key] = fc
}

// raiseNow fences key at now for a key evicted for room, keeping the
// marker of a revocation whose record lives; the caller holds sh's lock.
func (f *fences) raiseNow(sh *fenceShard, key string, ttl time.Duration, now int64) {
	var marker []byte
	if fc, ok := sh.m[key]; ok && now < fc.until {
		marker = fc.marker
	}
	f.raise(sh, key, marker, 0, ttl, now)
}

// since reports whether key was fenced at or after a ticket taken at
// ticketAt.
func (f *fences) since(key string, ticketAt int64) bool {
	sh, now := f.lock(key)
	defer sh.mu.Unlock()
	fc, ok := sh.m[key]
	return ok && now < fc.until && fc.at >= ticketAt
}
