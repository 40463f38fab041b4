package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// memIndex is an in-process IdentityIndex holding at most maxKeys keys.
// When it is full, adding a key evicts the oldest one (the one added or
// refreshed longest ago): the index never refuses a key for room. The
// caller gets the evicted keys back and must drop their entries from its
// store, since an entry whose key is no longer indexed could not be found
// by TakeIndex. Holds are kept apart: never evicted, and not counted
// against maxKeys (their number is bounded by the rate of TakeIndex calls
// times the hold).
//
// Its memory holds no pointers (keys and index names are kept as 32 bytes:
// kratosauth's are 64 hex digits; other keys are stored by digest, with the
// key itself on the side), so a million keys add nothing for the garbage
// collector to scan: about 200 bytes a key.
type memIndex struct {
	maxKeys int

	mu      sync.Mutex
	slots   []indexSlot     // slots[0] is unused: 0 is "none"
	free    int32           // first free slot, chained by next
	byKey   map[id32]int32  // key -> its slot
	idents  map[id32]int32  // index -> its newest key's slot
	holds   map[id32]int64  // index -> end of its hold (Unix nanoseconds)
	foreign map[id32]string // keys that are not 64 lower-case hex digits, by digest
	// The age list: every key, oldest first.
	oldest, newest int32
	lastSweep      int64
}

type id32 [32]byte

type indexSlot struct {
	key, index  id32
	exp         int64 // Unix nanoseconds
	prev, next  int32 // the index's keys (next also chains free slots)
	older, newr int32 // the age list
}

func newMemIndex(maxKeys int) *memIndex {
	return &memIndex{
		maxKeys: max(maxKeys, 1),
		slots:   make([]indexSlot, 1),
		byKey:   make(map[id32]int32),
		idents:  make(map[id32]int32),
		holds:   make(map[id32]int64),
		foreign: make(map[id32]string),
	}
}

// hexID reads s as 64 lower-case hex digits (the form kratosauth's keys
// and index names have, and the one TakeIndex gives back).
func hexID(s string) (id id32, ok bool) {
	if len(s) != 64 {
		return id, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return id, false
		}
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err == nil
}

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
	now := time.Now().UnixNano()
	exp := now + int64(ttl)
	ix := nameID(index)
	k, foreign := keyID(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	if end, ok := m.holds[ix]; ok {
		if now < end {
			return nil, ErrIndexHeld
		}
		delete(m.holds, ix)
	}
	if s, ok := m.byKey[k]; ok {
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
	for len(m.byKey) >= m.maxKeys {
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
	if head, ok := m.idents[ix]; ok {
		sl.next = head
		m.slots[head].prev = s
	}
	m.idents[ix] = s
	m.byKey[k] = s
	if foreign {
		m.foreign[k] = key
	}
	m.linkAge(s)
	return evicted, nil
}

// take removes index and returns its unexpired keys, and holds index for
// hold.
func (m *memIndex) take(index string, hold time.Duration) []string {
	now := time.Now().UnixNano()
	ix := nameID(index)
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for s := m.idents[ix]; s != 0; {
		next := m.slots[s].next
		if m.slots[s].exp > now {
			out = append(out, m.keyString(m.slots[s].key))
		}
		m.remove(s)
		s = next
	}
	if hold > 0 {
		m.holds[ix] = max(m.holds[ix], now+int64(hold))
	}
	if now-m.lastSweep >= int64(time.Minute) {
		m.lastSweep = now
		for name, end := range m.holds { // holds of identities never seen again
			if now >= end {
				delete(m.holds, name)
			}
		}
	}
	return out
}

func (m *memIndex) alloc() int32 {
	if s := m.free; s != 0 {
		m.free = m.slots[s].next
		return s
	}
	m.slots = append(m.slots, indexSlot{})
	return int32(len(m.slots) - 1)
}

// remove takes slot s out of its index, the age list and the key map, and
// frees it.
func (m *memIndex) remove(s int32) {
	sl := &m.slots[s]
	switch {
	case sl.prev != 0:
		m.slots[sl.prev].next = sl.next
	case sl.next != 0:
		m.idents[sl.index] = sl.next
	default:
		delete(m.idents, sl.index)
	}
	if sl.next != 0 {
		m.slots[sl.next].prev = sl.prev
	}
	m.unlinkAge(s)
	delete(m.byKey, sl.key)
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
	return len(m.byKey)
}
