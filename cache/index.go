package cache

import (
	"errors"
	"time"
)

// Errors of IdentityIndex.AddToIndex.
var (
	// ErrIndexHeld: the index was taken (TakeIndex) less than its hold ago;
	// nothing was added. kratosauth then drops the entry it just stored: it
	// may be an answer fetched before the eviction.
	ErrIndexHeld = errors.New("cache: index held after an eviction")
	// ErrIndexFull: the index, or the store's room for indexes, is full;
	// nothing was added. kratosauth then drops the entry it just stored,
	// since an eviction could not find it.
	ErrIndexFull = errors.New("cache: index full")
)

// IdentityIndex is implemented by Stores that can find every entry of one
// identity, for kratosauth's (*Authenticator).InvalidateIdentity: an index
// is a named set of keys, each with its own expiry. kratosauth names an
// index by a digest of its namespace and the identity's ID, and adds to it
// the key of every session it stores for that identity, right after the
// Set (in that order: see TakeIndex).
//
// Both methods must be atomic, and linearizable for one index: in a store
// shared by several processes, an AddToIndex that completes before a
// TakeIndex starts is in the keys TakeIndex returns, and one that starts
// after TakeIndex completed fails with ErrIndexHeld. An index must work
// without reading any other key (in a Redis Cluster, an index and its keys
// live on different nodes).
type IdentityIndex interface {
	// AddToIndex adds key to index until ttl has passed (a later add of
	// the same key keeps the later expiry). While index is held (see
	// TakeIndex) it adds nothing and returns ErrIndexHeld; when the store
	// cannot hold more keys for index it adds nothing and returns
	// ErrIndexFull. Expired keys never count against a bound.
	AddToIndex(index, key string, ttl time.Duration) error
	// TakeIndex removes index and returns its keys that have not expired
	// (in any order), and holds index for hold: until hold has passed,
	// AddToIndex(index, ...) fails with ErrIndexHeld. Taking an index that
	// does not exist returns no keys and holds it all the same. A store
	// must not drop a hold before it ends to make room.
	TakeIndex(index string, hold time.Duration) ([]string, error)
}

// Swapper is implemented by Stores that can store an entry and return the
// one it replaced in one atomic step (Redis: SET ... GET). kratosauth checks
// for a logout marker before it caches a session, and in a Store shared by
// several processes a logout on another process can land between that
// check and the write; with Swap, kratosauth sees the marker it replaced
// and puts it back. Without it, the write lock of one process is all that
// orders the two.
type Swapper interface {
	// Swap stores entry under key for ttl, as Set does, and returns the
	// entry it replaced, nil if there was none.
	Swap(key string, entry []byte, ttl time.Duration) (old []byte, err error)
}
