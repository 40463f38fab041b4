package kratosauth

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/kratosauth/kratosauth/cache"
)

// An entry is the session's cache deadline (Unix nanoseconds, 8 bytes,
// big-endian) followed by the encoded session. The deadline lives in the
// entry because bigcache has a single lifetime for all entries, while each
// session needs its own: min(TTL, expires_at, Ory-Session-Cache-For).
const entryHeaderLen = 8

// cached returns the session stored under key if its deadline has not passed.
func (a *Authenticator) cached(key string) (*Session, bool) {
	if a.cfg.store == nil {
		return nil, false
	}
	e, err := a.cfg.store.Get(key)
	if err != nil {
		if !errors.Is(err, cache.ErrNotFound) {
			a.cfg.logger.Warn("kratosauth: session cache read failed", slog.String("error", err.Error()))
		}
		return nil, false
	}
	s, ok := decodeEntry(e, time.Now())
	return s, ok
}

// store caches s until the earliest of the configured TTL, the session's
// expiry and Kratos' Ory-Session-Cache-For (cacheFor < 0: not sent).
func (a *Authenticator) store(key string, s *Session, cacheFor time.Duration) {
	if a.cfg.store == nil {
		return
	}
	now := time.Now()
	ttl := a.cfg.cacheTTL
	if cacheFor >= 0 {
		ttl = min(ttl, cacheFor)
	}
	ttl = min(ttl, s.ExpiresAt.Sub(now))
	if ttl <= 0 {
		return
	}
	e, err := encodeEntry(s, now.Add(ttl))
	if err == nil {
		err = a.cfg.store.Set(key, e, ttl)
	}
	if err != nil {
		a.cfg.logger.Warn("kratosauth: session cache write failed", slog.String("error", err.Error()))
	}
}

func (a *Authenticator) delete(key string) {
	if err := a.cfg.store.Delete(key); err != nil {
		a.cfg.logger.Warn("kratosauth: session cache delete failed", slog.String("error", err.Error()))
	}
}

func encodeEntry(s *Session, deadline time.Time) ([]byte, error) {
	body, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	e := make([]byte, entryHeaderLen, entryHeaderLen+len(body))
	binary.BigEndian.PutUint64(e, uint64(deadline.UnixNano()))
	return append(e, body...), nil
}

// decodeEntry returns the entry's session, or false when the entry is
// past its deadline or unreadable (both are cache misses).
func decodeEntry(e []byte, now time.Time) (*Session, bool) {
	if len(e) < entryHeaderLen {
		return nil, false
	}
	deadline := int64(binary.BigEndian.Uint64(e))
	if now.UnixNano() >= deadline {
		return nil, false
	}
	var s Session
	if json.Unmarshal(e[entryHeaderLen:], &s) != nil || s.Identity == nil {
		return nil, false
	}
	return &s, true
}
