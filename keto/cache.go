package keto

import (
	"crypto/sha256"
	"sync"
	"time"
)

// maxCachedDecisions bounds the decision cache: about 100 bytes each, so a
// few MB at most. A full shard drops an arbitrary entry (expired ones are
// never served, and go the same way), which only costs a call to Keto.
const maxCachedDecisions = 1 << 16

// decisionCache holds recent decisions by tuple digest. Sharded, so that
// checks of different tuples rarely wait on one another's lock.
type decisionCache struct {
	shards [16]decisionShard
}

type decisionShard struct {
	mu sync.RWMutex
	m  map[[sha256.Size]byte]decision
}

type decision struct {
	allowed  bool
	deadline int64 // Unix nanoseconds
}

func (c *decisionCache) shard(d *[sha256.Size]byte) *decisionShard {
	return &c.shards[d[0]%byte(len(c.shards))]
}

// get returns the decision under d if it is fresh at now.
func (c *decisionCache) get(d *[sha256.Size]byte, now time.Time) (allowed, ok bool) {
	sh := c.shard(d)
	sh.mu.RLock()
	e, found := sh.m[*d]
	sh.mu.RUnlock()
	if !found || now.UnixNano() >= e.deadline {
		return false, false
	}
	return e.allowed, true
}

func (c *decisionCache) put(d *[sha256.Size]byte, allowed bool, deadline time.Time) {
	sh := c.shard(d)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = make(map[[sha256.Size]byte]decision)
	}
	if _, ok := sh.m[*d]; !ok && len(sh.m) >= maxCachedDecisions/len(c.shards) {
		for k := range sh.m { // map order is random enough for a cache
			delete(sh.m, k)
			break
		}
	}
	sh.m[*d] = decision{allowed: allowed, deadline: deadline.UnixNano()}
}
