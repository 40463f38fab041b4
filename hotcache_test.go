package kratosauth

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The filter in front of the tier's shards counts exactly what they hold,
// through admissions, replacements, evictions for room and deletions: it
// never turns away a request for a session the tier holds.
func TestHotFilterCountsWhatTheTierHolds(t *testing.T) {
	h := newHotCache(128 << 10)
	rng := rand.New(rand.NewPCG(3, 4))
	key := func(i int) digest {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(i))
		return digest(sha256.Sum256(b[:]))
	}
	for range 20_000 {
		d := key(rng.IntN(3000))
		switch rng.IntN(4) {
		case 0:
			h.delete(&d)
		default:
			h.freq.add(&d, uint32(rng.IntN(20)))
			h.put(&d, &Session{}, time.Now().Add(time.Duration(1+rng.IntN(60))*time.Minute), int32(500+rng.IntN(1500)))
		}
	}
	var counted int32
	for i := range h.held {
		counted += h.held[i].Load()
	}
	require.Positive(t, h.len())
	assert.Equal(t, int32(h.len()), counted, "the filter counts other than what the tier holds")
	for i := range h.shards {
		for d := range h.shards[i].m {
			_, ok := h.get(&d, time.Now())
			assert.True(t, ok, "a session the tier holds is not found")
		}
	}
}
