package cache

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"sync"
	"unsafe"
)

// entryRing holds Memory's entries outside the Go heap: shards, each a
// ring of records overwritten oldest first and an open-addressing table of
// the records' positions. A read costs one probe of the table and one read
// of the record, in memory the garbage collector never scans nor counts
// toward its heap target, asked of the kernel in huge pages where it gives
// them (at a million entries, a random read's cost is its TLB misses).
//
// Every slot of a table points at a record of its ring that has not been
// overwritten: a write first evicts the records it will overwrite, and
// their slots with them. A shard also evicts its oldest records when its
// table is half full (many small entries), so that a probe stays short.
type entryRing struct {
	shards [ringShards]ringShard
	mem    [2][]byte // the mappings behind every shard's ring and table
}

const (
	ringShardBits = 6
	ringShards    = 1 << ringShardBits
)

type ringShard struct {
	mu    sync.RWMutex
	seed  maphash.Seed // the same in every shard
	data  []byte       // the ring; nil once closed
	slots []uint64     // see slot
	mask  uint64       // len(slots) - 1
	live  int          // slots in use
	// Absolute byte positions: the next write, and the oldest record not
	// yet evicted. head - tail <= len(data).
	head, tail uint64
	_          [64]byte // keeps neighbouring shards' locks off one cache line
}

// A record is the value's length (4 bytes, little-endian), the key (see
// ringKey) and the value. It never straddles the ring's end: the rest of a
// lap too short for it is skipped, marked by ringPad when there is room.
const (
	ringKeyLen = 33
	ringHdrLen = 4 + ringKeyLen
	ringPad    = ^uint32(0)
)

// ringKey is a key as stored: kratosauth's keys (64 hex digits) as 0 and
// their 32 bytes, any other as 1 and its SHA-256.
type ringKey [ringKeyLen]byte

// hash is seeded: keys chosen to collide (a credential is anyone's to
// choose, and its refusal is stored) cannot be made to share a slot's
// neighbourhood. The top bits pick the shard, the low bits the slot.
func hash(seed maphash.Seed, k *ringKey) uint64 { return maphash.Bytes(seed, k[:]) }

// A slot is 0 (empty) or 1<<63 | the low 24 bits of its key's hash << 39
// | the record's position mod 2^39. The hash bits give the slot's home (a
// table has at most 2^24 slots) and filter a probe; the position is read
// back against head, which is less than a ring's length (< 2^38) ahead.
const (
	slotUsed    = 1 << 63
	slotPosBits = 39
	slotPosMask = 1<<slotPosBits - 1
	slotHashLen = 24
	slotHashMsk = 1<<slotHashLen - 1
)

func makeSlot(h, pos uint64) uint64 {
	return slotUsed | (h&slotHashMsk)<<slotPosBits | pos&slotPosMask
}

// newEntryRing returns a ring of about maxBytes (at least 64 times the
// longest record), with table room for at least maxBytes/512 entries
// (a session's entry takes 500 to 1,000 bytes).
func newEntryRing(maxBytes int) *entryRing {
	shardBytes := max(maxBytes/ringShards, ringHdrLen+maxEntryLen)
	slotsPerShard := 1 << bits.Len(uint(max(2*maxBytes/512/ringShards, 64)-1))
	slotsPerShard = min(slotsPerShard, 1<<slotHashLen)
	r := &entryRing{}
	seed := maphash.MakeSeed()
	r.mem[0] = offHeapHuge(shardBytes * ringShards)
	r.mem[1] = offHeapHuge(slotsPerShard * ringShards * 8)
	for i := range r.shards {
		sh := &r.shards[i]
		sh.seed = seed
		sh.data = r.mem[0][i*shardBytes : (i+1)*shardBytes : (i+1)*shardBytes]
		table := r.mem[1][i*slotsPerShard*8 : (i+1)*slotsPerShard*8]
		sh.slots = unsafe.Slice((*uint64)(unsafe.Pointer(&table[0])), slotsPerShard)
		sh.mask = uint64(slotsPerShard - 1)
	}
	return r
}

// shard returns key's shard and hash.
func (r *entryRing) shard(k *ringKey) (*ringShard, uint64) {
	h := hash(r.shards[0].seed, k)
	return &r.shards[h>>(64-ringShardBits)], h // the slot takes the low bits
}

// get appends key's value to dst.
func (r *entryRing) get(dst []byte, k *ringKey) ([]byte, bool) {
	sh, h := r.shard(k)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if sh.data == nil {
		return dst, false
	}
	_, off, ok := sh.find(k, h)
	if !ok {
		return dst, false
	}
	n := binary.LittleEndian.Uint32(sh.data[off:])
	return append(dst, sh.data[off+ringHdrLen:off+ringHdrLen+uint64(n)]...), true
}

// has reports whether key has an entry.
func (r *entryRing) has(k *ringKey) bool {
	sh, h := r.shard(k)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if sh.data == nil {
		return false
	}
	_, _, ok := sh.find(k, h)
	return ok
}

// set stores v under key (len(v) <= maxEntryLen), replacing any value there.
func (r *entryRing) set(k *ringKey, v []byte) {
	sh, h := r.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.data == nil {
		return
	}
	if i, _, ok := sh.find(k, h); ok {
		sh.remove(i)
	}
	size, ringLen := uint64(ringHdrLen+len(v)), uint64(len(sh.data))
	pos := sh.head
	if rest := ringLen - pos%ringLen; rest < size {
		pos += rest // the rest of this lap is skipped
	}
	// The records starting before need are overwritten.
	need := pos + size - min(pos+size, ringLen)
	for sh.tail < need || sh.live >= len(sh.slots)/2 {
		if sh.tail >= sh.head { // all of them: start the lap afresh
			sh.reset()
			sh.head, sh.tail = pos, pos
			break
		}
		sh.evictOldest()
	}
	if pos != sh.head && ringLen-sh.head%ringLen >= 4 {
		binary.LittleEndian.PutUint32(sh.data[sh.head%ringLen:], ringPad)
	}
	off := pos % ringLen
	binary.LittleEndian.PutUint32(sh.data[off:], uint32(len(v)))
	copy(sh.data[off+4:], k[:])
	copy(sh.data[off+ringHdrLen:], v)
	sh.head = pos + size
	sh.insert(h, pos)
}

// del removes key's entry, if any (its record stays until overwritten).
func (r *entryRing) del(k *ringKey) {
	sh, h := r.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.data == nil {
		return
	}
	if i, _, ok := sh.find(k, h); ok {
		sh.remove(i)
	}
}

// len is the number of entries.
func (r *entryRing) len() int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		n += sh.live
		sh.mu.RUnlock()
	}
	return n
}

// close releases the memory; the ring is empty from then on.
func (r *entryRing) close() {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		sh.data, sh.slots, sh.live = nil, nil, 0
	}
	for _, m := range r.mem {
		freeOffHeap(m)
	}
	r.mem = [2][]byte{}
	for i := range r.shards {
		r.shards[i].mu.Unlock()
	}
}

// find returns key's slot and its record's offset in the ring.
func (sh *ringShard) find(k *ringKey, h uint64) (slot, off uint64, ok bool) {
	want := makeSlot(h, 0) &^ slotPosMask
	ringLen := uint64(len(sh.data))
	for i := h & sh.mask; ; i = (i + 1) & sh.mask {
		s := sh.slots[i]
		if s == 0 {
			return 0, 0, false
		}
		if s&^slotPosMask != want {
			continue
		}
		off := sh.position(s) % ringLen
		if [ringKeyLen]byte(sh.data[off+4:off+ringHdrLen]) == *k {
			return i, off, true
		}
	}
}

// position is a slot's absolute record position.
func (sh *ringShard) position(s uint64) uint64 {
	return sh.head - (sh.head-s)&slotPosMask
}

func (sh *ringShard) insert(h, pos uint64) {
	i := h & sh.mask
	for sh.slots[i] != 0 {
		i = (i + 1) & sh.mask
	}
	sh.slots[i] = makeSlot(h, pos)
	sh.live++
}

// remove empties slot i, moving back the slots after it that could not
// sit in their home slot (linear probing's deletion: no tombstones, so
// probes stay as short as the table is full).
func (sh *ringShard) remove(i uint64) {
	sh.slots[i] = 0
	sh.live--
	for j := (i + 1) & sh.mask; sh.slots[j] != 0; j = (j + 1) & sh.mask {
		home := (sh.slots[j] >> slotPosBits) & slotHashMsk & sh.mask
		// Slot j may move to the hole at i when its home is not in (i, j].
		if (j-home)&sh.mask >= (j-i)&sh.mask {
			sh.slots[i], sh.slots[j] = sh.slots[j], 0
			i = j
		}
	}
}

// evictOldest drops the record at tail (its slot, if it still points at
// it) or skips the rest of the lap.
func (sh *ringShard) evictOldest() {
	ringLen := uint64(len(sh.data))
	if sh.tail >= sh.head {
		sh.reset() // nothing left to evict: no slot can be in use
		return
	}
	off := sh.tail % ringLen
	rest := ringLen - off
	if rest < ringHdrLen || binary.LittleEndian.Uint32(sh.data[off:]) == ringPad {
		sh.tail += min(rest, sh.head-sh.tail)
		return
	}
	n := uint64(binary.LittleEndian.Uint32(sh.data[off:]))
	if ringHdrLen+n > rest {
		sh.reset() // not a record we wrote: start afresh rather than misread
		return
	}
	var k ringKey
	copy(k[:], sh.data[off+4:])
	h := hash(sh.seed, &k)
	want := makeSlot(h, sh.tail)
	for i := h & sh.mask; sh.slots[i] != 0; i = (i + 1) & sh.mask {
		if sh.slots[i] == want {
			sh.remove(i)
			break
		}
	}
	sh.tail += ringHdrLen + n
}

// reset empties the shard.
func (sh *ringShard) reset() {
	clear(sh.slots)
	sh.live = 0
	sh.tail = sh.head
}
