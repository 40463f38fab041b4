package cache

import (
	"errors"
	"sync"
	"time"
)

// Claimer is implemented by stores that can give a key to one caller for a
// while, across every process that shares the store. kratosauth uses it so
// that a fleet extends a session once (WithSessionExtension); a store
// without it dedupes within each process only.
type Claimer interface {
	// Claim reports whether key was free: true means this call now holds
	// it for ttl, and no other Claim of key returns true until ttl has
	// passed; false means another call holds it. An error means the store
	// could not tell.
	Claim(key string, ttl time.Duration) (bool, error)
}

// ErrClaimsFull is returned by Claims.Claim when the bound is reached and
// no claim has expired.
var ErrClaimsFull = errors.New("cache: too many claims held")

// Claims is an in-process Claimer holding at most a fixed number of claims;
// expired ones are swept when the bound is reached.
type Claims struct {
	mu  sync.Mutex
	m   map[string]int64 // key -> deadline, Unix nanoseconds
	max int
}

// NewClaims returns an empty Claims that holds at most max claims (at
// least one).
func NewClaims(max int) *Claims {
	return &Claims{m: make(map[string]int64), max: max}
}

// Claim implements Claimer.
func (c *Claims) Claim(key string, ttl time.Duration) (bool, error) {
	now := time.Now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.m[key]; ok && now < d {
		return false, nil
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= max(c.max, 1) {
		for k, d := range c.m {
			if now >= d {
				delete(c.m, k)
			}
		}
		if len(c.m) >= max(c.max, 1) {
			return false, ErrClaimsFull
		}
	}
	c.m[key] = now + int64(ttl)
	return true, nil
}
