package cache

import (
	"errors"
	"time"
)

// Errors of IdentityIndex.AddToIndex.
var (
	// ErrIndexHeld: the index was taken (TakeIndex) less than its hold ago;
	// nothing was added. kratosauth then does not cache the entry: it may
	// be an answer fetched before the eviction.
	ErrIndexHeld = errors.New("cache: index held after an eviction")
	// ErrIndexFull: the index, or the store's room for indexes, is full;
	// nothing was added. kratosauth then does not cache the entry, since an
	// eviction could not find it.
	ErrIndexFull = errors.New("cache: index full")
)

// IdentityIndex is implemented by Stores that can find every entry of one
// identity, for kratosauth's (*Authenticator).InvalidateIdentity: an index
// is a named set of keys, each with its own expiry. kratosauth names an
// index by a digest of its namespace and the identity's ID, and adds to it
// the key of every session it caches for that identity before it Puts the
// entry, so that no cached entry is ever missing from its index, even when
// a Put's reply is lost after the store ran it. A TakeIndex that comes
// after the add finds the key, and kratosauth revokes it (which fences the
// Put, wherever it lands); one that comes before holds the index, so the
// add fails and the entry is not cached.
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
	// TakeIndex returns index's keys that have not expired (in any order),
	// and holds index for hold: until hold has passed, AddToIndex(index,
	// ...) fails with ErrIndexHeld. The keys stay in the index until they
	// expire, so that a caller whose revocations failed finds them again
	// when it tries again. Taking an index that does not exist returns no
	// keys and holds it all the same. A store must not drop a hold before
	// it ends to make room.
	TakeIndex(index string, hold time.Duration) ([]string, error)
}
