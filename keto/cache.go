package keto

import (
	"crypto/sha256"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// maxCachedDecisions bounds the decision cache: about 100 bytes each, so a
// few MB at most. A full shard drops an arbitrary entry (expired ones are
// never served, and go the same way), which only costs a call to Keto.
const maxCachedDecisions = 1 << 16

// decisionCache holds recent decisions by tuple digest. Sharded, so that
// checks of different tuples rarely wait on one another's lock.
//
// Forgetting is fenced by generation: forget bumps gen before it sweeps the
// shards, and put stores only under the shard's lock and only if gen is
// still the one its question started with. So a decision Keto made before a
// forget (a call still in flight) is never stored after the sweep passed.
type decisionCache struct {
	shards [16]decisionShard
	gen    atomic.Uint64
	seed   maphash.Seed
}

type decisionShard struct {
	mu sync.RWMutex
	m  map[[sha256.Size]byte]decision
}

type decision struct {
	allowed  bool
	deadline int64 // Unix nanoseconds
	// object and subject are short hashes of (namespace, object) and of
	// the subject, for forget; a collision only forgets more.
	object, subject uint64
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

// put stores a decision whose question started at generation gen, unless a
// forget came since.
func (c *decisionCache) put(d *[sha256.Size]byte, t *Tuple, gen uint64, allowed bool, deadline time.Time) {
	sh := c.shard(d)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if sh.m == nil {
		sh.m = make(map[[sha256.Size]byte]decision)
	}
	if _, ok := sh.m[*d]; !ok && len(sh.m) >= maxCachedDecisions/len(c.shards) {
		for k := range sh.m { // map order is random enough for a cache
			delete(sh.m, k)
			break
		}
	}
	sh.m[*d] = decision{allowed: allowed, deadline: deadline.UnixNano(),
		object: c.objectKey(t.Namespace, t.Object), subject: c.subjectKey(t.SubjectID)}
}

// forget drops every decision for which drop is true, and fences off the
// questions in flight (see decisionCache).
func (c *decisionCache) forget(drop func(*decision) bool) {
	c.gen.Add(1)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if drop(&e) {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}

func (c *decisionCache) objectKey(namespace, object string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(namespace)
	h.WriteByte(0) // namespaces cannot contain NUL in Keto's OPL; either way a collision only forgets more
	h.WriteString(object)
	return h.Sum64()
}

func (c *decisionCache) subjectKey(subjectID string) uint64 {
	return maphash.String(c.seed, subjectID)
}
