package kratosauth

import (
	"sync"
	"time"
)

// hotCacheEntries bounds the hot tier: about 2 KB a session, so a few MB.
const hotCacheEntries = 4096

// hotCache is a small tier of decoded sessions in front of the default
// in-process Store, keyed by the credential's digest. A hit there costs a
// hash and a map lookup: no Store copy, no decoding, no allocation. Its
// entries carry the same deadline as the Store's, and every write, logout
// or refusal updates both tiers under the same write lock, so it never
// answers what the Store would not.
//
// Sessions in it are shared by every request that hits them: they are
// read-only (see SessionFromContext).
//
// It is used only with the default Store, which this process alone writes:
// a shared Store (WithCache) may be changed by other processes, whose
// logouts a local tier would not see.
type hotCache struct {
	shards [16]hotShard
}

type hotShard struct {
	mu sync.RWMutex
	m  map[digest]hotEntry
}

type hotEntry struct {
	session  *Session
	deadline int64 // Unix nanoseconds, the Store entry's own
}

func (h *hotCache) shard(d *digest) *hotShard { return &h.shards[d[0]%byte(len(h.shards))] }

// get returns the fresh session under d, if any.
func (h *hotCache) get(d *digest, now time.Time) (*Session, bool) {
	sh := h.shard(d)
	sh.mu.RLock()
	e, ok := sh.m[*d]
	sh.mu.RUnlock()
	if !ok || now.UnixNano() >= e.deadline {
		return nil, false
	}
	return e.session, true
}

// put stores s under d until deadline, dropping an arbitrary entry when the
// shard is full (map iteration order is random enough for a cache).
func (h *hotCache) put(d *digest, s *Session, deadline time.Time) {
	sh := h.shard(d)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = make(map[digest]hotEntry)
	}
	if _, ok := sh.m[*d]; !ok && len(sh.m) >= hotCacheEntries/len(h.shards) {
		for k := range sh.m {
			delete(sh.m, k)
			break
		}
	}
	sh.m[*d] = hotEntry{session: s, deadline: deadline.UnixNano()}
}

func (h *hotCache) delete(d *digest) {
	sh := h.shard(d)
	sh.mu.Lock()
	delete(sh.m, *d)
	sh.mu.Unlock()
}
