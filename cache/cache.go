// Package cache holds the session cache used by kratosauth: the Store
// interface, the optional IdentityIndex interface (for
// InvalidateIdentity), and the default in-process Store built on bigcache,
// which implements both. A Store shared by an app's replicas, in Redis, is
// github.com/kratosauth/kratosauth/cache/redis, a module of its own.
//
// Entries are opaque bytes under opaque keys. kratosauth's keys are hex
// SHA-256 digests of credentials, never the credentials themselves, and each
// entry carries its own deadline, which kratosauth checks on every read: a
// Store may keep an entry longer than asked, never serve it as fresh.
//
// One Store may serve many Authenticators, even of different Kratos
// instances or cookie names: each Authenticator hashes its namespace (the
// whoami URL and the cookie name) into its keys, so none reads another's
// entries.
package cache

import (
	"errors"
	"time"
)

// ErrNotFound is returned by Store.Get when there is no entry for the key,
// including when it expired or was evicted.
var ErrNotFound = errors.New("cache: entry not found")

// Store keeps encoded session entries. Implementations must be safe for
// concurrent use. Keys are namespaced by the caller: a Store must not add
// or drop anything that would make two keys equal.
type Store interface {
	// Get returns the entry stored under key. The caller may keep and modify
	// the returned slice. It returns ErrNotFound when there is no entry; any
	// other error means the store failed, and the caller treats it as a miss.
	Get(key string) ([]byte, error)
	// Set stores entry under key, replacing any entry there. The store may
	// copy entry; the caller does not modify it afterwards. ttl says how long
	// the entry is useful; a store may drop it earlier or keep it longer.
	Set(key string, entry []byte, ttl time.Duration) error
	// Delete removes the entry under key. Deleting a missing key is not an error.
	Delete(key string) error
	// Close releases the store's resources, including background goroutines.
	Close() error
}

// StatsReporter is implemented by stores that can tell their size, for
// metrics (Authenticator.CacheStats).
type StatsReporter interface {
	// Stats returns the store's current figures; it must be cheap enough to
	// call every few seconds.
	Stats() Stats
}

// Stats are a store's figures.
type Stats struct {
	Entries   int64 // entries held now
	Evictions int64 // entries dropped for room since the store was made
}
