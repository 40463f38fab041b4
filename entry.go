package kratosauth

import (
	"encoding/binary"
	"encoding/json"
	"time"
	"unsafe"
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

// Refusal entries: the deadline, entryRefusal, and why. They are much shorter
// than any session entry and cannot be mistaken for one (version byte).
const (
	entryRefusal       = 0xff
	refusedByKratos    = 'r' // Kratos said 401 (WithNegativeCacheTTL)
	refusedInvalidated = 'i' // Invalidate was called (logout)
	evictedExtended    = 'e' // Kratos extended the session: read its new expiry (already past: a miss)
)

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
