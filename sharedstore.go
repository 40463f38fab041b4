package kratosauth

import (
	"encoding/binary"
	"time"

	"github.com/kratosauth/kratosauth/cache"
)

// writeEntry stores a session entry under key, and reports false when a
// logout marker written meanwhile by another process was in its way: the
// marker is then put back, and the session is not cached. The caller
// holds key's write lock, which orders this process's own writes; another
// process's are ordered only by the store's Swap (cache.Swapper). For a
// moment the entry stood in the store; a read in that moment, on any
// replica, is as if it came before the logout.
func (a *Authenticator) writeEntry(key *digest, e []byte, ttl time.Duration) (bool, error) {
	sw, ok := a.cfg.store.(cache.Swapper)
	if !ok {
		return true, a.cfg.store.Set(key.storeKey(), e, ttl)
	}
	old, err := sw.Swap(key.storeKey(), e, ttl)
	if err != nil {
		return false, err
	}
	until, ok := noStoreUntil(old)
	if !ok {
		return true, nil
	}
	if left := time.Until(until); left > 0 {
		if err := a.cfg.store.Set(key.storeKey(), old, left); err != nil {
			// The marker is lost: at least the session goes.
			_ = a.cfg.store.Delete(key.storeKey())
			return false, err
		}
	}
	return false, nil
}

// noStoreUntil tells a logout marker (written by Invalidate or
// InvalidateIdentity) from any other entry, and returns its deadline.
func noStoreUntil(e []byte) (time.Time, bool) {
	if len(e) != entryHeaderLen+2 || e[entryHeaderLen] != entryRefusal || e[entryHeaderLen+1] != refusedInvalidated {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(e))), true
}
