// Package cache holds the session cache used by kratosauth: the Store
// interface, the optional IdentityIndex interface (for
// InvalidateIdentity), and the in-process Stores, which implement both:
// Memory (the default, on fastcache, its entries outside the Go heap) and
// BigCache (on bigcache). A Store shared by an app's replicas, in Redis, is
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

// Store keeps encoded session entries, and orders their writes against
// revocations. Implementations must be safe for concurrent use. Keys are
// namespaced by the caller: a Store must not add or drop anything that
// would make two keys equal.
//
// # Fencing
//
// An answer Kratos gave before a session was revoked must never be cached
// after the revocation, whatever the order in which writes, replies and
// timeouts reach the store. kratosauth therefore takes a Ticket (Begin)
// before it asks Kratos, and caches the answer with Put, which the store
// refuses when the key was revoked (Revoke) at or after the ticket was
// issued, or the ticket is older than maxAge. A store implements this with
// one clock and one atomic step per call: a mutex in process, a Lua script
// in Redis. Each key's fence (the latest revocation time) is kept at least
// as long as the ttl given to Revoke, which kratosauth makes longer than
// any ticket it would still use, so a ticket can never outlive the record
// of a revocation that came after it.
type Store interface {
	// Get returns the entry stored under key, by Put or Revoke. A store may
	// drop an entry early, but not a Revoke's marker before its ttl unless
	// a Put replaced it: kratosauth reads it to know of the revocation. The
	// caller may keep and modify the returned slice. It returns ErrNotFound
	// when there is no entry; any other error means the store failed, and
	// the caller treats it as a miss.
	Get(key string) ([]byte, error)
	// Begin returns a ticket for an answer about to be fetched for key.
	Begin(key string) (Ticket, error)
	// Put stores entry under key for at least ttl, in one atomic step with
	// its checks: when key was revoked at or after t was issued, when t was
	// issued more than maxAge ago, or by another epoch of the store, it
	// stores nothing and returns ErrFenced. It keeps key's fence.
	Put(key string, entry []byte, ttl time.Duration, t Ticket, maxAge time.Duration) error
	// Revoke replaces key's entry with marker, and moves key's fence to
	// fence from now (or keeps a later one): every Put whose ticket was
	// issued before then fails. Marker and fence are kept for at least
	// ttl (and at least as long as an earlier Revoke asked). A nil error
	// means both are stored; an error means they may not be.
	Revoke(key string, marker []byte, ttl, fence time.Duration) error
	// Close releases the store's resources, including background goroutines.
	Close() error
}

// A Ticket is a store's record of when an answer began to be fetched, on
// the store's own clock. Only the store that issued it reads it.
type Ticket struct {
	// Epoch names the store's instance: a store that may have lost its
	// fences (a Redis that restarted or failed over) has a new epoch, and
	// refuses tickets of the old one.
	Epoch string
	// At is when the ticket was issued, in nanoseconds on the store's clock.
	At int64
}

// ErrFenced is returned by Store.Put when a revocation came after its
// ticket was issued, or the ticket is too old: the answer may predate a
// logout, and is not cached.
var ErrFenced = errors.New("cache: write refused: the key was revoked after the ticket, or the ticket is too old")

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
