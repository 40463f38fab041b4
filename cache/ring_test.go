package cache

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// check verifies a shard's invariants: every used slot points at a record
// between tail and head that holds the slot's key, can be found from its
// home, and live counts them.
func (sh *ringShard) check(t *testing.T) {
	t.Helper()
	used := 0
	ringLen := uint64(len(sh.data))
	if sh.head-sh.tail > ringLen {
		t.Fatalf("head %d - tail %d is more than the ring (%d)", sh.head, sh.tail, ringLen)
	}
	for i, s := range sh.slots {
		if s == 0 {
			continue
		}
		used++
		pos := sh.position(s)
		if pos < sh.tail || pos >= sh.head {
			t.Fatalf("slot %d points at %d, outside [%d, %d)", i, pos, sh.tail, sh.head)
		}
		off := pos % ringLen
		var k ringKey
		copy(k[:], sh.data[off+4:])
		if got, _, ok := sh.find(&k, hash(sh.seed, &k)); !ok || got != uint64(i) {
			t.Fatalf("slot %d: its key is not found there (found %v at %d)", i, ok, got)
		}
		if n := uint64(binary.LittleEndian.Uint32(sh.data[off:])); off+ringHdrLen+n > ringLen {
			t.Fatalf("slot %d: record of %d bytes at %d runs past the ring", i, n, off)
		}
	}
	if used != sh.live {
		t.Fatalf("%d slots used, live says %d", used, sh.live)
	}
}

func testKey(i int) ringKey {
	var k ringKey
	binary.BigEndian.PutUint64(k[25:], uint64(i)) // low-entropy keys, as a test would write them
	return k
}

// A ring never answers a value other than the last one set for its key,
// never one deleted, always keeps what was written last, and keeps its
// invariants, whatever the sizes and order of writes (seeded random runs;
// a failing seed is printed).
func TestRingAgreesWithAMap(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			r := newEntryRing(1 << 20) // shards of the smallest size: they wrap often
			defer r.close()
			model := map[int][]byte{}
			keys := 200 + rng.IntN(5000)
			var last []int // keys in the order last written
			for op := range 20_000 {
				i := rng.IntN(keys)
				k := testKey(i)
				switch x := rng.IntN(10); {
				case x < 6:
					n := rng.IntN(600)
					if rng.IntN(50) == 0 {
						n = maxEntryLen - rng.IntN(10)
					}
					v := make([]byte, n)
					for j := range v {
						v[j] = byte(rng.Uint32())
					}
					if n >= 8 {
						binary.LittleEndian.PutUint64(v, uint64(op)) // no two values alike
					}
					r.set(&k, v)
					model[i] = v
					last = append(last, i)
				case x < 7:
					r.del(&k)
					delete(model, i)
				default:
					got, ok := r.get(nil, &k)
					if want, in := model[i]; ok && (!in || !bytes.Equal(got, want)) {
						t.Fatalf("op %d: key %d read %d bytes, want the last value set (held: %v)", op, i, len(got), in)
					}
				}
			}
			// The last writes fit in the ring: the newest record of each shard
			// is always there.
			k := testKey(last[len(last)-1])
			if got, ok := r.get(nil, &k); !ok || !bytes.Equal(got, model[last[len(last)-1]]) {
				t.Fatalf("the last write is not read back")
			}
			n := 0
			for i := range r.shards {
				r.shards[i].check(t)
				n += r.shards[i].live
			}
			if n != r.len() {
				t.Fatalf("len %d, want %d", r.len(), n)
			}
		})
	}
}

// A shard whose table is half full evicts its oldest records even when its
// ring has room: many small entries keep probes short.
func TestRingBoundsItsTable(t *testing.T) {
	r := newEntryRing(1 << 20)
	defer r.close()
	for i := range 100_000 {
		k := testKey(i)
		r.set(&k, []byte{1})
	}
	for i := range r.shards {
		sh := &r.shards[i]
		sh.check(t)
		if sh.live > len(sh.slots)/2 {
			t.Fatalf("shard %d: %d of %d slots used", i, sh.live, len(sh.slots))
		}
	}
	k := testKey(99_999)
	if _, ok := r.get(nil, &k); !ok {
		t.Fatal("the newest entry was evicted")
	}
}

// Reads, writes and a close may race: no torn value, no crash after close.
func TestRingConcurrent(t *testing.T) {
	r := newEntryRing(4 << 20)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for range 20_000 {
				i := rng.IntN(3000)
				k := testKey(i)
				if rng.IntN(2) == 0 {
					r.set(&k, bytes.Repeat([]byte{byte(i)}, 100+i%400))
					continue
				}
				if v, ok := r.get(nil, &k); ok && (len(v) != 100+i%400 || v[0] != byte(i) || v[len(v)-1] != byte(i)) {
					t.Errorf("key %d: read a value that was never written", i)
					return
				}
			}
		})
	}
	wg.Wait()
	r.close()
	k := testKey(1)
	if _, ok := r.get(nil, &k); ok {
		t.Fatal("a closed ring still answers")
	}
	r.set(&k, []byte("x")) // no effect, no crash
	r.del(&k)
}
