package kratosauth

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"
	"time"
	"unsafe"

	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/internal/tier"
)

// An entry is the session's cache deadline (Unix nanoseconds, 8 bytes,
// big-endian), a format version byte and the session in a compact binary
// form. The deadline lives in the entry because the in-process stores keep
// entries until they need the room, while each session needs its own:
// min(TTL, expires_at, Ory-Session-Cache-For).
//
// The session is not stored as JSON: decoding JSON on every cache hit cost
// far more than everything else a hit does. After the version byte:
//
//	uvarint len(fields) | uvarint len(strs) | fields | strs | raws
//
// fields holds, in the fixed order of entryWriter.session, every bool (1 byte),
// time (1 length byte + time.Time.AppendBinary), slice length (uvarint
// n+1; 0 is nil), raw JSON length (uvarint n+1; 0 is nil) and string length
// (uvarint); the bytes of all strings follow one another in strs, and the
// raw JSON values (traits, metadata_public) in raws. A hit thus converts
// strs to a string once and slices every field out of it, keeps raw JSON as
// sub-slices of the entry (which the Store gives the caller to keep), and
// allocates the session, its identity and short lists in one block.
//
// Decoding checks every length against what is left, so a truncated,
// corrupt or foreign entry (including an old JSON entry) is a miss.
const (
	entryHeaderLen = 8
	entryVersion   = 3 // 2: Session.Tokenized after Devices; 3: Identity.ExternalID after ID
)

// cacheState is what the cache knows about a credential.
type cacheState int

const (
	cacheMiss    cacheState = iota
	cacheHit                // a session, fresh: serve it
	cacheStale              // a session past its deadline, within the stale-if-error grace
	cacheRefused            // Kratos refused the credential recently (negative cache)
	cacheNoStore            // invalidated: ask Kratos (the store fences the answer out)
)

// Refusal entries: the deadline, entryRefusal, and why. They are much shorter
// than any session entry and cannot be mistaken for one (version byte).
const (
	entryRefusal       = 0xff
	refusedByKratos    = 'r' // Kratos said 401 (WithNegativeCacheTTL)
	refusedInvalidated = 'i' // Invalidate was called (logout)
	evictedExtended    = 'e' // Kratos extended the session: read its new expiry (already past: a miss)
)

// A revision is the refusal marker a lookup saw (zero: none): which
// revocation of the key, if any, a request knows of. A request that saw
// one never shares a whoami call with one that saw another (fetchShared),
// so no request that starts after a revocation gets an answer fetched
// before it.
type revision [entryHeaderLen + 2]byte

// lookup returns the state of key's entry and, for cacheHit and cacheStale,
// its session, and the revision it saw.
func (a *Authenticator) lookup(key *digest, now time.Time) (*Session, cacheState, revision) {
	if a.hot == nil {
		s, state, _, _, rev := a.lookupStore(key, now)
		return s, state, rev
	}
	if s, ok := a.hot.get(key, now); ok {
		return s, cacheHit, revision{}
	}
	// A read the tier may take a session from needs a ticket taken before
	// it (the default store's: a clock read), for promote.
	sampled := a.hot.sampled()
	var t cache.Ticket
	if sampled {
		t, _ = a.cfg.store.Begin(key.storeKey())
	}
	s, state, deadline, size, rev := a.lookupStore(key, now)
	if state == cacheHit && sampled && a.hot.admits(key, size, hotSampleEvery) {
		a.promote(key, s, deadline, size, t)
	}
	return s, state, rev
}

// lookupStore is lookup in the Store alone; deadline is a hit's, size the
// estimated memory of its decoded session.
func (a *Authenticator) lookupStore(key *digest, now time.Time) (s *Session, state cacheState, deadline time.Time, size int32, rev revision) {
	var e []byte
	var err error
	switch {
	case a.cfg.store == nil:
		return nil, cacheMiss, deadline, 0, rev
	case a.readDigest != nil:
		e, err = a.readDigest(*key)
	default:
		e, err = a.cfg.store.Get(key.storeKey())
	}
	if err != nil {
		if !errors.Is(err, cache.ErrNotFound) {
			a.warn("kratosauth: session cache read failed", err)
		}
		return nil, cacheMiss, deadline, 0, rev
	}
	if len(e) == entryHeaderLen+2 && e[entryHeaderLen] == entryRefusal {
		copy(rev[:], e)
		if now.UnixNano() >= int64(binary.BigEndian.Uint64(e)) {
			return nil, cacheMiss, deadline, 0, rev
		}
		if e[entryHeaderLen+1] == refusedInvalidated {
			return nil, cacheNoStore, deadline, 0, rev
		}
		return nil, cacheRefused, deadline, 0, rev
	}
	if s, ok := decodeEntry(e, now); ok {
		return s, cacheHit, time.Unix(0, int64(binary.BigEndian.Uint64(e))), sessionBytes(len(e)), rev
	}
	if a.cfg.staleGrace > 0 {
		// Past the deadline: usable only while Kratos is down, for at most
		// the grace period and never past the session's own expiry, nor its
		// token's (WithTokenizeAs).
		if s, ok := decodeEntry(e, now.Add(-a.cfg.staleGrace)); ok && now.Before(s.ExpiresAt) && tokenUsable(s.Tokenized, now) {
			return s, cacheStale, deadline, 0, rev
		}
	}
	return nil, cacheMiss, deadline, 0, rev
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

func encodeEntry(s *Session, deadline time.Time) ([]byte, error) {
	var w entryWriter
	w.session(s)
	if w.err != nil {
		return nil, w.err
	}
	e := make([]byte, 0, entryHeaderLen+1+2*binary.MaxVarintLen64+len(w.fields)+len(w.strs)+len(w.raws))
	e = binary.BigEndian.AppendUint64(e, uint64(deadline.UnixNano()))
	e = append(e, entryVersion)
	e = binary.AppendUvarint(e, uint64(len(w.fields)))
	e = binary.AppendUvarint(e, uint64(len(w.strs)))
	e = append(e, w.fields...)
	e = append(e, w.strs...)
	return append(e, w.raws...), nil
}

// decodeEntry returns the entry's session, or false when the entry is past
// its deadline or unreadable (both are cache misses). The session's strings
// and raw JSON fields share e's memory: e must never be modified afterwards.
func decodeEntry(e []byte, now time.Time) (*Session, bool) {
	if len(e) < entryHeaderLen+1 {
		return nil, false
	}
	deadline := int64(binary.BigEndian.Uint64(e))
	if now.UnixNano() >= deadline || e[entryHeaderLen] != entryVersion {
		return nil, false
	}
	rest := e[entryHeaderLen+1:]
	nFields, n := binary.Uvarint(rest)
	if n <= 0 {
		return nil, false
	}
	rest = rest[n:]
	nStrs, n := binary.Uvarint(rest)
	if n <= 0 {
		return nil, false
	}
	rest = rest[n:]
	if nFields > uint64(len(rest)) || nStrs > uint64(len(rest))-nFields {
		return nil, false
	}
	r := entryReader{
		fields: rest[:nFields],
		raws:   rest[nFields+nStrs:],
	}
	if nStrs > 0 {
		// The strings share e's memory, as the raw JSON fields do: e is
		// never written again (the Store gave it to us to keep).
		r.strs = unsafe.String(&rest[nFields], nStrs)
	}
	s := r.session()
	if r.bad || len(r.fields) != 0 || len(r.strs) != 0 || len(r.raws) != 0 || s.Identity == nil {
		return nil, false
	}
	return s, true
}

// entryWriter builds the three parts of an encoded session.
type entryWriter struct {
	fields, strs, raws []byte
	err                error
}

func (w *entryWriter) uvarint(v uint64) { w.fields = binary.AppendUvarint(w.fields, v) }

func (w *entryWriter) str(s string) {
	w.uvarint(uint64(len(s)))
	w.strs = append(w.strs, s...)
}

func (w *entryWriter) bool(b bool) {
	var v byte
	if b {
		v = 1
	}
	w.fields = append(w.fields, v)
}

func (w *entryWriter) time(t time.Time) {
	at := len(w.fields)
	w.fields = append(w.fields, 0)
	var err error
	if w.fields, err = t.AppendBinary(w.fields); err != nil {
		w.err = err
		return
	}
	w.fields[at] = byte(len(w.fields) - at - 1) // at most 16
}

func (w *entryWriter) raw(m json.RawMessage) {
	if m == nil {
		w.uvarint(0)
		return
	}
	w.uvarint(uint64(len(m)) + 1)
	w.raws = append(w.raws, m...)
}

// count writes a slice's length, keeping nil apart from empty.
func (w *entryWriter) count(n int, isNil bool) {
	if isNil {
		w.uvarint(0)
		return
	}
	w.uvarint(uint64(n) + 1)
}

// session writes every field of s; entryReader.session reads them back in
// the same order.
func (w *entryWriter) session(s *Session) {
	w.str(s.ID)
	w.bool(s.Active)
	w.time(s.ExpiresAt)
	w.time(s.AuthenticatedAt)
	w.time(s.IssuedAt)
	w.str(s.AuthenticatorAssuranceLevel)
	w.count(len(s.AuthenticationMethods), s.AuthenticationMethods == nil)
	for _, m := range s.AuthenticationMethods {
		w.str(m.Method)
		w.str(m.AAL)
		w.time(m.CompletedAt)
		w.str(m.Provider)
	}
	w.count(len(s.Devices), s.Devices == nil)
	for _, d := range s.Devices {
		w.str(d.ID)
		w.str(d.IPAddress)
		w.str(d.UserAgent)
		w.str(d.Location)
	}
	w.str(s.Tokenized)
	id := s.Identity
	w.bool(id != nil)
	if id == nil {
		return
	}
	w.str(id.ID)
	w.str(id.ExternalID)
	w.str(id.SchemaID)
	w.str(id.SchemaURL)
	w.str(id.State)
	w.raw(id.Traits)
	w.count(len(id.VerifiableAddresses), id.VerifiableAddresses == nil)
	for _, v := range id.VerifiableAddresses {
		w.str(v.ID)
		w.str(v.Value)
		w.bool(v.Verified)
		w.str(v.Via)
		w.str(v.Status)
	}
	w.count(len(id.RecoveryAddresses), id.RecoveryAddresses == nil)
	for _, v := range id.RecoveryAddresses {
		w.str(v.ID)
		w.str(v.Value)
		w.str(v.Via)
	}
	w.raw(id.MetadataPublic)
	w.time(id.CreatedAt)
	w.time(id.UpdatedAt)
}

// entryReader reads what entryWriter wrote. The first inconsistency sets
// bad; from then on every read returns a zero value without looking.
type entryReader struct {
	fields []byte
	strs   string
	raws   []byte
	bad    bool
}

func (r *entryReader) fail() { r.bad, r.fields, r.strs, r.raws = true, nil, "", nil }

func (r *entryReader) uvarint() uint64 {
	if len(r.fields) > 0 && r.fields[0] < 0x80 { // one byte: nearly every length
		v := uint64(r.fields[0])
		r.fields = r.fields[1:]
		return v
	}
	v, n := binary.Uvarint(r.fields)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.fields = r.fields[n:]
	return v
}

func (r *entryReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.strs)) {
		r.fail()
		return ""
	}
	s := r.strs[:n]
	r.strs = r.strs[n:]
	return s
}

func (r *entryReader) bool() bool {
	if len(r.fields) == 0 || r.fields[0] > 1 {
		r.fail()
		return false
	}
	v := r.fields[0] == 1
	r.fields = r.fields[1:]
	return v
}

func (r *entryReader) time(t *time.Time) {
	if len(r.fields) == 0 || int(r.fields[0]) >= len(r.fields) {
		r.fail()
		return
	}
	n := int(r.fields[0]) + 1
	if t.UnmarshalBinary(r.fields[1:n]) != nil {
		r.fail()
		return
	}
	r.fields = r.fields[n:]
}

func (r *entryReader) raw() json.RawMessage {
	n := r.uvarint()
	if n == 0 {
		return nil
	}
	n--
	if n > uint64(len(r.raws)) {
		r.fail()
		return nil
	}
	m := r.raws[:n:n]
	r.raws = r.raws[n:]
	return m
}

// count reads a slice length: -1 for nil. Every element takes at least one
// byte of fields, which bounds what a corrupt entry can make us allocate.
func (r *entryReader) count() int {
	n := r.uvarint()
	if n == 0 {
		return -1
	}
	n--
	if n > uint64(len(r.fields)) {
		r.fail()
		return -1
	}
	return int(n)
}

// sessionBlock is everything a typical decoded session points to, in one
// allocation: the session, its identity and short lists (a session usually
// has one or two authentication methods and one device and address).
type sessionBlock struct {
	s   Session
	id  Identity
	am  [2]AuthenticationMethod
	dev [1]Device
	va  [1]VerifiableAddress
	ra  [1]RecoveryAddress
}

// list returns a slice of n elements (nil for n < 0), in small's storage
// when it fits. Its capacity is n, so an append never writes into the block.
func list[T any](n int, small []T) []T {
	switch {
	case n < 0:
		return nil
	case n <= len(small):
		return small[:n:n]
	}
	return make([]T, n)
}

func (r *entryReader) session() *Session {
	b := new(sessionBlock)
	s := &b.s
	s.ID = r.str()
	s.Active = r.bool()
	r.time(&s.ExpiresAt)
	r.time(&s.AuthenticatedAt)
	r.time(&s.IssuedAt)
	s.AuthenticatorAssuranceLevel = r.str()
	s.AuthenticationMethods = list(r.count(), b.am[:])
	for i := range s.AuthenticationMethods {
		m := &s.AuthenticationMethods[i]
		m.Method = r.str()
		m.AAL = r.str()
		r.time(&m.CompletedAt)
		m.Provider = r.str()
	}
	s.Devices = list(r.count(), b.dev[:])
	for i := range s.Devices {
		d := &s.Devices[i]
		d.ID = r.str()
		d.IPAddress = r.str()
		d.UserAgent = r.str()
		d.Location = r.str()
	}
	s.Tokenized = r.str()
	if !r.bool() {
		return s
	}
	id := &b.id
	s.Identity = id
	id.ID = r.str()
	id.ExternalID = r.str()
	id.SchemaID = r.str()
	id.SchemaURL = r.str()
	id.State = r.str()
	id.Traits = r.raw()
	id.VerifiableAddresses = list(r.count(), b.va[:])
	for i := range id.VerifiableAddresses {
		v := &id.VerifiableAddresses[i]
		v.ID = r.str()
		v.Value = r.str()
		v.Verified = r.bool()
		v.Via = r.str()
		v.Status = r.str()
	}
	id.RecoveryAddresses = list(r.count(), b.ra[:])
	for i := range id.RecoveryAddresses {
		v := &id.RecoveryAddresses[i]
		v.ID = r.str()
		v.Value = r.str()
		v.Via = r.str()
	}
	id.MetadataPublic = r.raw()
	r.time(&id.CreatedAt)
	r.time(&id.UpdatedAt)
	return s
}
