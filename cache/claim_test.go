package cache_test

import (
	"errors"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/cache/storetest"
)

func TestClaimsContract(t *testing.T) {
	storetest.RunClaimer(t, func(*testing.T) cache.Claimer { return cache.NewClaims(1000) })
}

// A full Claims sweeps expired claims, and refuses (with an error, not a
// false "held") when none has expired.
func TestClaimsBound(t *testing.T) {
	c := cache.NewClaims(2)
	for _, k := range []string{"a", "b"} {
		ok, err := c.Claim(k, 50*time.Millisecond)
		if !ok || err != nil {
			t.Fatal(k, ok, err)
		}
	}
	if ok, err := c.Claim("c", time.Minute); ok || !errors.Is(err, cache.ErrClaimsFull) {
		t.Fatalf("full: %v %v", ok, err)
	}
	time.Sleep(60 * time.Millisecond)
	if ok, err := c.Claim("c", time.Minute); !ok || err != nil {
		t.Fatalf("after the sweep: %v %v", ok, err)
	}
}
