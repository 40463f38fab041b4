// Package tier connects the default in-process store (cache.Memory, or a cache.BigCache) with
// the Authenticator's tier of decoded sessions in front of it, without
// adding either to the other's public API.
package tier

// Hooks set by package cache (cache/memory.go, in its init) for its
// in-process stores.
var (
	// OnEvict registers f to be called with every key whose entry the
	// store drops for room in its identity index, after the key is fenced
	// and its entry deleted. It reports false for any other store.
	OnEvict func(store any, f func(key string)) bool
	// FencedSince reports whether key was fenced (revoked, refused or
	// evicted for room) at or after a ticket taken at ticketAt.
	FencedSince func(store any, key string, ticketAt int64) bool
	// DigestReader returns the store's Get by the 32 bytes a key is the
	// hex of, which spares the hex on every read; nil for any store but a
	// *cache.Memory.
	DigestReader func(store any) func(key [32]byte) ([]byte, error)
)
