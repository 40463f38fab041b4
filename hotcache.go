package kratosauth

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// hotCache is a tier of decoded sessions in front of the default in-process
// Store, keyed by the credential's digest. A hit there costs a hash, a
// counter's load and a map lookup: no Store copy, no decoding, no
// allocation. Its entries carry the same deadline as the Store's, and
// every write, logout or refusal updates both tiers under the same write
// lock, so it never answers what the Store would not; a key the Store
// drops from its identity index for room leaves this tier too
// (dropEvicted).
//
// It is bounded by memory (an estimate of each decoded session's bytes),
// not by a number of sessions. One Store read in hotSampleEvery is
// considered for it; when a shard is full, such a session comes in only
// if it was asked for more often lately than the least asked-for of a few
// sessions sampled from the shard, which then goes (TinyLFU: a frequency
// sketch decides admission). Under a skewed load the popular sessions
// stay; under a uniform one the tier stops churning, and a session outside
// it costs one Store read and one decode.
//
// Sessions in it are shared by every request that hits them: they are
// read-only (see SessionFromContext).
//
// It is used only with the default Store, which this process alone writes:
// a shared Store (WithCache) may be changed by other processes, whose
// logouts a local tier would not see.
type hotCache struct {
	shards     [64]hotShard
	held       hotFilter
	shardBytes int64 // memory bound of one shard
	freq       freqSketch
	admitAll   bool // the policy TinyLFU is measured against: admit every session, evict at random
}

type hotShard struct {
	mu    sync.RWMutex
	m     map[digest]hotEntry
	bytes int64
	// floor is what a session must have been asked for more than to come
	// into this shard when it is full: the least count among the entries
	// sampled by the last put that found it full. admits reads it
	// without the lock; put decides.
	floor atomic.Uint32
}

type hotEntry struct {
	session  *Session
	deadline int64 // Unix nanoseconds, the Store entry's own
	size     int32
}

// The hot tier takes an eighth of the default store's size
// (WithCacheSizeMB), on top of it, and at most 2 MB: the 1,500 or so
// sessions asked for most. A bigger tier serves more hits but costs more
// than it saves: the collector marks every decoded session it holds on
// every cycle, and under a load spread over many sessions the tier's hits
// are few (BENCHMARKS.md, "Many sessions on one replica").
const (
	hotTierShare    = 8
	hotTierMaxBytes = 2 << 20
)

// hotVictims is how many entries are sampled to pick the one that makes
// room.
const hotVictims = 5

// hotSampleEvery: one request in this many, hit or store read, is counted
// in the frequency sketch and only those store reads are considered for
// the tier: enough for a popular session to come in after a few dozen
// requests and keep its standing, while under a load spread over many
// sessions, most store reads pay nothing for the tier (no sketch update,
// no promotion).
const hotSampleEvery = 16

// newHotCache returns a tier of at most maxBytes.
func newHotCache(maxBytes int64) *hotCache {
	h := &hotCache{shardBytes: max(maxBytes/64, 16<<10)}
	// The sketch counts about ten times as many sessions as the tier
	// holds (a decoded session takes 1 to 2 KB), so that it can tell
	// which sessions outside the tier are asked for often.
	h.freq.init(int(maxBytes / 200))
	return h
}

// sessionBytes estimates what a decoded session keeps in memory: the block
// of structs it is allocated in and the entry itself (its strings and raw
// JSON fields share it), and the tier's own entry.
func sessionBytes(entryLen int) int32 {
	return int32(unsafe.Sizeof(sessionBlock{})) + int32(entryLen) + 64
}

func (h *hotCache) shard(d *digest) *hotShard { return &h.shards[d[0]%byte(len(h.shards))] }

// get returns the fresh session under d, if any.
func (h *hotCache) get(d *digest, now time.Time) (*Session, bool) {
	if !h.held.mayHold(d) {
		return nil, false
	}
	sh := h.shard(d)
	sh.mu.RLock()
	e, ok := sh.m[*d]
	sh.mu.RUnlock()
	if !ok || now.UnixNano() >= e.deadline {
		return nil, false
	}
	if h.sampled() {
		h.freq.add(d, hotSampleEvery)
	}
	return e.session, true
}

// sampled reports whether this request is one of those the tier counts.
func (*hotCache) sampled() bool { return rand.Uint32N(hotSampleEvery) == 0 }

// admits reports whether d's session would come in now, cheaply (put
// decides); it also counts requests for d: this one, standing for
// hotSampleEvery when it was sampled.
func (h *hotCache) admits(d *digest, size int32, requests uint32) bool {
	h.freq.add(d, requests)
	if h.admitAll {
		return true
	}
	sh := h.shard(d)
	sh.mu.RLock()
	room := sh.bytes+int64(size) <= h.shardBytes
	sh.mu.RUnlock()
	return room || h.freq.estimate(d) > sh.floor.Load()
}

// victim returns an expired entry of sh, or the least asked-for of a few
// when it was asked for less than want, and records in sh.floor the least
// count it saw; the caller holds sh's lock.
func (h *hotCache) victim(sh *hotShard, want uint32, now int64) (digest, bool) {
	var v digest
	found := false
	low, least, n := want, ^uint32(0), 0
	for k, e := range sh.m { // map order is random enough for sampling
		if e.deadline <= now {
			return k, true
		}
		f := h.freq.estimate(&k)
		least = min(least, f)
		if f < low {
			low, v, found = f, k, true
		}
		if n++; n >= hotVictims {
			break
		}
	}
	sh.floor.Store(least)
	return v, found
}

// put stores s under d until deadline when it is admitted (see
// hotCache), and keeps a later deadline already there.
func (h *hotCache) put(d *digest, s *Session, deadline time.Time, size int32) {
	sh := h.shard(d)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = make(map[digest]hotEntry)
	}
	if old, ok := sh.m[*d]; ok {
		if old.deadline > deadline.UnixNano() {
			return
		}
		h.remove(sh, d)
	}
	want, now := h.freq.estimate(d), time.Now().UnixNano()
	if h.admitAll {
		want = ^uint32(0)
	}
	for sh.bytes+int64(size) > h.shardBytes {
		v, ok := h.victim(sh, want, now)
		if !ok {
			return // not asked for more than what is there: not admitted
		}
		h.remove(sh, &v)
	}
	sh.m[*d] = hotEntry{session: s, deadline: deadline.UnixNano(), size: size}
	sh.bytes += int64(size)
	h.held.add(d, 1)
}

func (h *hotCache) delete(d *digest) {
	sh := h.shard(d)
	sh.mu.Lock()
	h.remove(sh, d)
	sh.mu.Unlock()
}

// remove drops d from sh, whose lock the caller holds.
func (h *hotCache) remove(sh *hotShard, d *digest) {
	if e, ok := sh.m[*d]; ok {
		sh.bytes -= int64(e.size)
		delete(sh.m, *d)
		h.held.add(d, -1)
	}
}

// hotFilter spares the requests the tier cannot answer (all but a few
// under a load spread over many sessions) its shard's lock and map: it
// counts the sessions held under each of 16,384 slots of the digest, so a
// slot at zero holds none. It decides nothing else: a count read during a
// put or a delete only sends a request to the map, or to the Store, for
// an answer either gives.
type hotFilter [1 << 14]atomic.Int32

func (f *hotFilter) slot(d *digest) *atomic.Int32 {
	return &f[binary.LittleEndian.Uint32(d[16:])%uint32(len(f))]
}

func (f *hotFilter) add(d *digest, n int32) { f.slot(d).Add(n) }

func (f *hotFilter) mayHold(d *digest) bool { return f.slot(d).Load() != 0 }

// len is the number of sessions held.
func (h *hotCache) len() int {
	n := 0
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// freqSketch estimates how often each digest was counted lately: a
// count-min sketch of four rows (each indexed by 32 bits of the digest,
// already a SHA-256), whose counters are halved every resetEvery counts so
// that old popularity fades. Counts race without locks (atomics): a lost
// count only blurs an estimate.
type freqSketch struct {
	counters   []atomic.Uint32 // 4 rows of mask+1
	mask       uint32
	count      atomic.Uint64
	resetEvery uint64
}

func (f *freqSketch) init(sessions int) {
	width := uint32(1) << bits.Len32(uint32(max(sessions, 1024)-1))
	f.counters = make([]atomic.Uint32, 4*width)
	f.mask = width - 1
	f.resetEvery = 10 * uint64(width)
}

func (f *freqSketch) add(d *digest, n uint32) {
	w := f.mask + 1
	for i := range uint32(4) {
		f.counters[i*w+binary.LittleEndian.Uint32(d[4*i:])&f.mask].Add(n)
	}
	if f.count.Add(uint64(n))%f.resetEvery < uint64(n) {
		for i := range f.counters {
			f.counters[i].Store(f.counters[i].Load() / 2)
		}
	}
}

func (f *freqSketch) estimate(d *digest) uint32 {
	w := f.mask + 1
	est := ^uint32(0)
	for i := range uint32(4) {
		est = min(est, f.counters[i*w+binary.LittleEndian.Uint32(d[4*i:])&f.mask].Load())
	}
	return est
}
