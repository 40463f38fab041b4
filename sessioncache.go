package kratosauth

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/internal/tier"
)

// entryState is what the cache holds for a credential (what a request
// gets is CacheState, which the Observer sees).
type entryState int

const (
	entryNone        entryState = iota
	entryFresh                  // a session, fresh: serve it
	entryStale                  // a session past its deadline, within the stale-if-error grace
	entryRefused                // Kratos refused the credential recently (negative cache)
	entryInvalidated            // invalidated: ask Kratos (the store fences the answer out)
)

// A revision is the refusal marker a lookup saw (zero: none): which
// revocation of the key, if any, a request knows of. A request that saw
// one never shares a whoami call with one that saw another (fetchShared),
// so no request that starts after a revocation gets an answer fetched
// before it.
type revision [entryHeaderLen + 2]byte

// lookup returns the state of key's entry and, for entryFresh and entryStale,
// its session, and the revision it saw.
func (a *Authenticator) lookup(key *digest, now time.Time) (*Session, entryState, revision) {
	if a.hot == nil {
		s, state, _, _, rev := a.lookupStore(key, now)
		return s, state, rev
	}
	if s, ok := a.hot.get(key, now); ok {
		return s, entryFresh, revision{}
	}
	// A read the tier may take a session from needs a ticket taken before
	// it (the default store's: a clock read), for promote.
	sampled := a.hot.sampled()
	var t cache.Ticket
	if sampled {
		t, _ = a.cfg.store.Begin(key.storeKey())
	}
	s, state, deadline, size, rev := a.lookupStore(key, now)
	if state == entryFresh && sampled && a.hot.admits(key, size, hotSampleEvery) {
		a.promote(key, s, deadline, size, t)
	}
	return s, state, rev
}

// lookupStore is lookup in the Store alone; deadline is a hit's, size the
// estimated memory of its decoded session.
func (a *Authenticator) lookupStore(key *digest, now time.Time) (s *Session, state entryState, deadline time.Time, size int32, rev revision) {
	var e []byte
	var err error
	switch {
	case a.cfg.store == nil:
		return nil, entryNone, deadline, 0, rev
	case a.readDigest != nil:
		e, err = a.readDigest(*key)
	default:
		e, err = a.cfg.store.Get(key.storeKey())
	}
	if err != nil {
		if !errors.Is(err, cache.ErrNotFound) {
			a.warn("kratosauth: session cache read failed", err)
		}
		return nil, entryNone, deadline, 0, rev
	}
	if len(e) == entryHeaderLen+2 && e[entryHeaderLen] == entryRefusal {
		copy(rev[:], e)
		if now.UnixNano() >= int64(binary.BigEndian.Uint64(e)) {
			return nil, entryNone, deadline, 0, rev
		}
		if e[entryHeaderLen+1] == refusedInvalidated {
			return nil, entryInvalidated, deadline, 0, rev
		}
		return nil, entryRefused, deadline, 0, rev
	}
	if s, ok := decodeEntry(e, now); ok {
		return s, entryFresh, time.Unix(0, int64(binary.BigEndian.Uint64(e))), sessionBytes(len(e)), rev
	}
	if a.cfg.staleGrace > 0 {
		// Past the deadline: usable only while Kratos is down, for at most
		// the grace period and never past the session's own expiry, nor its
		// token's (WithTokenizeAs).
		if s, ok := decodeEntry(e, now.Add(-a.cfg.staleGrace)); ok && now.Before(s.ExpiresAt) && tokenUsable(s.Tokenized, now) {
			return s, entryStale, deadline, 0, rev
		}
	}
	return nil, entryNone, deadline, 0, rev
}

// writeLocks make "check the Store, then write both tiers" atomic against a
// logout or refusal for the same key in this process; the key picks one of
// them. Only cache writes take them, never reads.
type writeLocks [64]sync.Mutex

func (l *writeLocks) lock(key *digest) func() {
	m := &l[key[0]%byte(len(l))]
	m.Lock()
	return m.Unlock
}

// promote puts s, read from the Store under ticket t (after the hot tier
// dropped it or before it came in), into the hot tier. Whatever revoked
// the key since t fenced it: a logout or refusal (both under the key's
// write lock, held here) or the Store's eviction of the key for room
// (which then drops it from the hot tier, maybe before this put: hence
// the check after it).
func (a *Authenticator) promote(key *digest, s *Session, deadline time.Time, size int32, t cache.Ticket) {
	defer a.writeLocks.lock(key)()
	a.putHot(key, s, deadline, size, t)
}

// putHot is promote for a caller that holds key's write lock.
func (a *Authenticator) putHot(key *digest, s *Session, deadline time.Time, size int32, t cache.Ticket) {
	s.traits = new(traitsMemo) // not shared yet: this request alone has it
	a.hot.put(key, s, deadline, size)
	if tier.FencedSince(a.cfg.store, key.storeKey(), t.At) {
		a.hot.delete(key)
	}
}

// dropEvicted is called by the default Store for a key it dropped from its
// identity index, and its entry with it, to make room: the hot tier must
// not keep a session that InvalidateIdentity could no longer find.
func (a *Authenticator) dropEvicted(storeKey string) {
	var d digest
	if n, err := hex.Decode(d[:], []byte(storeKey)); err == nil && n == len(d) {
		a.hot.delete(&d)
	}
}

// ticketMaxAge bounds how old a ticket may be when its answer is cached,
// and so how long a revocation's record must outlive its fence. It is one
// constant, not this Authenticator's timeout: replicas sharing a store may
// differ in options (a rolling deploy), and every replica's tickets must
// end before any replica's records do. It leaves the default timeout a
// second for the index and cache writes; a slower answer is served, not
// cached (cache.ErrFenced is only a miss).
const ticketMaxAge = DefaultTimeout + time.Second

// begin takes the store's ticket for an answer about to be fetched for key;
// false when there is no store or it failed (the answer is then not cached).
func (a *Authenticator) begin(key *digest) (cache.Ticket, bool) {
	if a.cfg.store == nil {
		return cache.Ticket{}, false
	}
	t, err := a.cfg.store.Begin(key.storeKey())
	if err != nil {
		a.warn("kratosauth: session cache unavailable; the answer is not cached", err)
		return cache.Ticket{}, false
	}
	return t, true
}

// store caches s, fetched under ticket t, until the earliest of the
// configured TTL, the session's expiry and Kratos' Ory-Session-Cache-For
// (cacheFor < 0: not sent). The store refuses it when the key was revoked
// after t was issued: then s may predate a logout, and is not cached. It
// reports whether the store accepted s.
func (a *Authenticator) store(key *digest, s *Session, cacheFor time.Duration, t cache.Ticket) bool {
	defer a.writeLocks.lock(key)()
	now := time.Now()
	ttl := a.cfg.cacheTTL
	if cacheFor >= 0 {
		ttl = min(ttl, cacheFor)
	}
	ttl = min(ttl, s.ExpiresAt.Sub(now))
	if ttl <= 0 {
		return false
	}
	e, err := encodeEntry(s, now.Add(ttl))
	if err != nil {
		a.warn("kratosauth: session cache write failed", err)
		return false
	}
	// Indexed first: an entry that is in the store, even one whose reply
	// was lost, is always in its identity's index.
	if !a.indexSession(key, s, ttl+a.cfg.staleGrace) {
		return false
	}
	// The store keeps it through the grace period, for stale-if-error.
	switch err := a.cfg.store.Put(key.storeKey(), e, ttl+a.cfg.staleGrace, t, ticketMaxAge); {
	case errors.Is(err, cache.ErrFenced):
		return false // revoked after the ticket: on this process or another
	case err != nil:
		a.warn("kratosauth: session cache write failed", err)
		return false
	}
	if size := sessionBytes(len(e)); a.hot != nil && a.hot.admits(key, size, 1) {
		a.putHot(key, s, now.Add(ttl), size, t)
	}
	return true
}

// forget ends what the cache holds for key after Kratos refused its
// credential (err), its stale copy included, so that no later outage can
// serve it, and fences the key: an admission fetched before this refusal,
// on any replica, is not cached after it. The fence reaches ticketMaxAge
// ahead: a shared store's clock that steps back by less than that cannot
// put the refusal before a ticket issued earlier (no answer for the key is
// cached for those seconds). With the negative cache on, a 401 is
// remembered too.
func (a *Authenticator) forget(key *digest, err error) {
	if a.cfg.store == nil {
		return
	}
	ttl := time.Duration(0) // a marker that is already past: a miss
	if a.cfg.negativeTTL > 0 && errors.Is(err, ErrInvalidSession) {
		ttl = a.cfg.negativeTTL
	}
	_ = a.revoke(key, refusedByKratos, ttl, ticketMaxAge) // a failure is logged
}

// revoke replaces key's entry with a refusal marker (reason) that readers
// honour for ttl, and fences key for fence from now: until then no answer
// fetched before is cached. Fence and marker are kept while a ticket issued
// before the fence could still be used. An error means the revocation may
// not have reached a shared store: other processes may go on serving the
// session until its entry expires; the warning says so.
//
// Every revocation but an extension's refresh is also told to the
// revocation sink (WithRevocationSink), with the session ID read from the
// entry before it is replaced: this is the one place that knows both.
func (a *Authenticator) revoke(key *digest, reason byte, ttl, fence time.Duration) error {
	defer a.writeLocks.lock(key)()
	var revoked *Session
	if a.cfg.revocationSink != nil && reason != evictedExtended {
		revoked = a.cachedSession(key)
	}
	if a.hot != nil {
		a.hot.delete(key)
	}
	e := binary.BigEndian.AppendUint64(make([]byte, 0, entryHeaderLen+2), uint64(time.Now().Add(ttl).UnixNano()))
	e = append(e, entryRefusal, reason)
	err := a.cfg.store.Revoke(key.storeKey(), e, max(ttl, fence)+ticketMaxAge, fence)
	if err != nil {
		a.warn("kratosauth: session cache revocation failed; the session may be served from the cache until its entry expires", err)
	}
	if revoked != nil {
		err = errors.Join(err, a.recordRevocation(revoked))
	}
	return err
}
