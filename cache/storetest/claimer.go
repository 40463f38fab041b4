package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth/cache"
)

// RunClaimer checks the cache.Claimer contract: one holder per key at a
// time, among concurrent callers too, and a key free again after its ttl.
func RunClaimer(t *testing.T, newClaimer func(t *testing.T) cache.Claimer) {
	claim := func(t *testing.T, c cache.Claimer, k string, ttl time.Duration) bool {
		t.Helper()
		ok, err := c.Claim(k, ttl)
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		return ok
	}
	t.Run("OneHolderUntilTTL", func(t *testing.T) {
		c := newClaimer(t)
		k, other := key(t), key(t)
		if !claim(t, c, k, 300*time.Millisecond) {
			t.Fatal("a free key was not claimed")
		}
		if claim(t, c, k, time.Minute) {
			t.Fatal("a held key was claimed again")
		}
		if !claim(t, c, other, time.Minute) {
			t.Fatal("another key was not claimed: keys must be independent")
		}
		time.Sleep(400 * time.Millisecond)
		if !claim(t, c, k, time.Minute) {
			t.Fatal("the key was not free after its ttl")
		}
	})
	t.Run("ConcurrentClaimsOneWins", func(t *testing.T) {
		c := newClaimer(t)
		k := key(t)
		var won atomic.Int64
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				if ok, err := c.Claim(k, time.Minute); err == nil && ok {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d concurrent claims of one key won, want 1", won.Load())
		}
	})
}
