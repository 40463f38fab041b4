package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/maphash"
	"math/bits"
	"sync"
	"time"
	"unsafe"
)

// memIndex is an in-process IdentityIndex holding at most maxKeys keys.
// When it is full, adding a key evicts the oldest one (the one added or
// refreshed longest ago): the index never refuses a key for room. The
// caller gets the evicted keys back and must drop their entries from its
// store, since an entry whose key is no longer indexed could not be found
// by TakeIndex. Holds are kept apart: never evicted, and not counted
// against maxKeys (their number is bounded by the rate of TakeIndex calls
// times the hold). Keys expire on the wall clock, as the entries they name
// do; holds end on the monotonic clock, as the tickets they must outlast
// do, so that a step of the wall clock cannot end a hold before the
// tickets it guards.
//
// Keys and index names are kept as 32 bytes (kratosauth's are 64 hex
// digits; other keys are kept by digest, with the key itself on the side),
// in a table of slots and two open-addressing hash tables of slot numbers,
// all three outside the Go heap and sized for maxKeys up front (pages
// never written take no memory): about 100 bytes a key, none of them for
// the garbage collector to scan or to count toward its heap target.
type memIndex struct {
	maxKeys int
	seed    maphash.Seed
	origin  time.Time // holds are monotonic nanoseconds since origin

	mu      sync.Mutex
	closed  bool
	mem     [3][]byte       // the mappings behind slots, keys and names
	slots   []indexSlot     // slots[0] is unused: 0 is "none"
	used    int32           // slots handed out so far
	free    int32           // first free slot, chained by next
	keys    []int32         // key -> its slot (linear probing, at most half full)
	names   []int32         // index -> the slot of its newest key
	count   int             // keys held
	holds   map[id32]int64  // index -> end of its hold (monotonic)
	foreign map[id32]string // keys that are not 64 lower-case hex digits, by digest
	// The age list: every key, oldest first.
	oldest, newest int32
	lastSweep      int64
}

type id32 [32]byte

type indexSlot struct {
	key, index  id32
	exp         int64 // Unix nanoseconds
	prev, next  int32 // the index's keys, newest first (next also chains free slots)
	older, newr int32 // the age list
}

func newMemIndex(maxKeys int) *memIndex {
	maxKeys = min(max(maxKeys, 1), 1<<29)
	tab := 1 << bits.Len(uint(2*maxKeys-1)) // a power of two, at least twice maxKeys
	m := &memIndex{
		maxKeys: maxKeys,
		seed:    maphash.MakeSeed(),
		origin:  time.Now(),
		holds:   make(map[id32]int64),
		foreign: make(map[id32]string),
	}
	m.mem[0] = offHeap((maxKeys + 1) * int(unsafe.Sizeof(indexSlot{})))
	m.mem[1] = offHeap(tab * 4)
	m.mem[2] = offHeap(tab * 4)
	m.slots = unsafe.Slice((*indexSlot)(unsafe.Pointer(&m.mem[0][0])), maxKeys+1)
	m.keys = unsafe.Slice((*int32)(unsafe.Pointer(&m.mem[1][0])), tab)
	m.names = unsafe.Slice((*int32)(unsafe.Pointer(&m.mem[2][0])), tab)
	return m
}

// close releases the index's memory; it holds nothing afterwards.
func (m *memIndex) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed = true
	m.slots, m.keys, m.names = nil, nil, nil
	for _, b := range m.mem {
		freeOffHeap(b)
	}
}

var errClosed = errors.New("cache: store closed")

func (m *memIndex) hash(id *id32) uint64 { return maphash.Comparable(m.seed, *id) }

// find returns where id is in tab (at the slot field of), or the empty
// place where it would go, and its slot (0: absent).
func (m *memIndex) find(tab []int32, id *id32, field func(*indexSlot) *id32) (uint64, int32) {
	mask := uint64(len(tab) - 1)
	for p := m.hash(id) & mask; ; p = (p + 1) & mask {
		s := tab[p]
		if s == 0 || *field(&m.slots[s]) == *id {
			return p, s
		}
	}
}

// erase empties place p of tab, moving later entries of the same probe
// run back so that every entry stays reachable from its hash.
func (m *memIndex) erase(tab []int32, p uint64, field func(*indexSlot) *id32) {
	mask := uint64(len(tab) - 1)
	for {
		tab[p] = 0
		q := p
		for {
			q = (q + 1) & mask
			s := tab[q]
			if s == 0 {
				return
			}
			h := m.hash(field(&m.slots[s])) & mask
			if (p < q && p < h && h <= q) || (p > q && (p < h || h <= q)) {
				continue // its home lies after the hole: it stays
			}
			tab[p] = s
			p = q
			break
		}
	}
}

func keyOf(s *indexSlot) *id32   { return &s.key }
func indexOf(s *indexSlot) *id32 { return &s.index }

// hexID reads s as 64 lower-case hex digits (the form kratosauth's keys
// and index names have, and the one TakeIndex gives back).
func hexID(s string) (id id32, ok bool) {
	if len(s) != 64 {
		return id, false
	}
	for i := range id {
		hi, lo := hexValue[s[2*i]], hexValue[s[2*i+1]]
		if hi|lo > 0xf {
			return id, false
		}
		id[i] = hi<<4 | lo
	}
	return id, true
}

// hexValue is the value of each lower-case hex digit, 0xff for any other
// byte.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
	}
	return t
}()

// nameID is an index name's id; names are never given back, so any other
// form is hashed.
func nameID(s string) id32 {
	if id, ok := hexID(s); ok {
		return id
	}
	return sha256.Sum256([]byte("kratosauth memIndex name\x00" + s))
}

// keyID is a key's id, and whether the key must be kept on the side.
func keyID(s string) (id32, bool) {
	if id, ok := hexID(s); ok {
		return id, false
	}
	return sha256.Sum256([]byte("kratosauth memIndex key\x00" + s)), true
}

func (m *memIndex) keyString(k id32) string {
	if s, ok := m.foreign[k]; ok {
		return s
	}
	return hex.EncodeToString(k[:])
}

// add adds key to index until ttl has passed. It returns the keys it
// evicted for room (unexpired ones only): their entries must go too.
func (m *memIndex) add(index, key string, ttl time.Duration) (evicted []string, err error) {
	now, mono := wallNow().UnixNano(), m.mono()
	exp := now + int64(ttl)
	ix := nameID(index)
	k, foreign := keyID(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	if end, ok := m.holds[ix]; ok {
		if mono < end {
			return nil, ErrIndexHeld
		}
		delete(m.holds, ix)
	}
	if _, s := m.find(m.keys, &k, keyOf); s != 0 {
		sl := &m.slots[s]
		if sl.index == ix {
			sl.exp = max(sl.exp, exp)
			m.unlinkAge(s)
			m.linkAge(s)
			return nil, nil
		}
		// The key is in another index: it leaves that one as if evicted
		// (its entry goes, and the write that follows is refused), rather
		// than letting that index lose track of an entry.
		if sl.exp > now {
			evicted = append(evicted, m.keyString(k))
		}
		m.remove(s)
	}
	for m.count >= m.maxKeys {
		o := m.oldest
		if m.slots[o].exp > now {
			evicted = append(evicted, m.keyString(m.slots[o].key))
		}
		m.remove(o)
	}
	// Keys past their expiry at the old end go without waiting for room.
	for range 2 {
		if o := m.oldest; o != 0 && m.slots[o].exp <= now {
			m.remove(o)
		}
	}
	s := m.alloc()
	sl := &m.slots[s]
	*sl = indexSlot{key: k, index: ix, exp: exp}
	p, head := m.find(m.names, &ix, indexOf)
	if head != 0 {
		sl.next = head
		m.slots[head].prev = s
	}
	m.names[p] = s
	p, _ = m.find(m.keys, &k, keyOf)
	m.keys[p] = s
	m.count++
	if foreign {
		m.foreign[k] = key
	}
	m.linkAge(s)
	return evicted, nil
}

// take returns index's unexpired keys, which stay in it until they expire
// (a caller whose revocations failed finds them again), and holds index
// for hold.
func (m *memIndex) take(index string, hold time.Duration) []string {
	now, mono := wallNow().UnixNano(), m.mono()
	ix := nameID(index)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	var out []string
	_, head := m.find(m.names, &ix, indexOf)
	for s := head; s != 0; {
		next := m.slots[s].next
		if m.slots[s].exp > now {
			out = append(out, m.keyString(m.slots[s].key))
		} else {
			m.remove(s)
		}
		s = next
	}
	if hold > 0 {
		m.holds[ix] = max(m.holds[ix], mono+int64(hold))
	}
	if mono-m.lastSweep >= int64(time.Minute) {
		m.lastSweep = mono
		for name, end := range m.holds { // holds of identities never seen again
			if mono >= end {
				delete(m.holds, name)
			}
		}
	}
	return out
}

func (m *memIndex) mono() int64 { return int64(time.Since(m.origin)) }

// wallNow is the wall clock; tests step it.
var wallNow = time.Now

func (m *memIndex) alloc() int32 {
	if s := m.free; s != 0 {
		m.free = m.slots[s].next
		return s
	}
	m.used++ // count < maxKeys, so a free slot or an unused one is left
	return m.used
}

// remove takes slot s out of its index, the age list and the key table,
// and frees it.
func (m *memIndex) remove(s int32) {
	sl := &m.slots[s]
	if sl.prev != 0 {
		m.slots[sl.prev].next = sl.next
	} else { // the index's newest key
		p, _ := m.find(m.names, &sl.index, indexOf)
		if sl.next != 0 {
			m.names[p] = sl.next
		} else {
			m.erase(m.names, p, indexOf)
		}
	}
	if sl.next != 0 {
		m.slots[sl.next].prev = sl.prev
	}
	m.unlinkAge(s)
	p, _ := m.find(m.keys, &sl.key, keyOf)
	m.erase(m.keys, p, keyOf)
	m.count--
	if len(m.foreign) > 0 {
		delete(m.foreign, sl.key)
	}
	*sl = indexSlot{next: m.free}
	m.free = s
}

func (m *memIndex) linkAge(s int32) {
	sl := &m.slots[s]
	sl.older, sl.newr = m.newest, 0
	if m.newest != 0 {
		m.slots[m.newest].newr = s
	} else {
		m.oldest = s
	}
	m.newest = s
}

func (m *memIndex) unlinkAge(s int32) {
	sl := &m.slots[s]
	if sl.older != 0 {
		m.slots[sl.older].newr = sl.newr
	} else {
		m.oldest = sl.newr
	}
	if sl.newr != 0 {
		m.slots[sl.newr].older = sl.older
	} else {
		m.newest = sl.older
	}
	sl.older, sl.newr = 0, 0
}

// len is the number of keys held, expired ones included until they go.
func (m *memIndex) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.count
}
