package kratosauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kratosauth/kratosauth/cache"
)

// ErrIdentityIndexUnsupported is returned by InvalidateIdentity when the
// store set with WithCache does not implement cache.IdentityIndex, so the
// sessions of an identity cannot be found. The default store and
// github.com/kratosauth/kratosauth/cache/redis implement it.
var ErrIdentityIndexUnsupported = errors.New("kratosauth: the session cache has no identity index (cache.IdentityIndex)")

// InvalidateIdentity evicts every cached session of the identity, in this
// process and, with a shared store, in every process using that store. Call
// it when an identity's sessions must stop working at once: after a
// password change or a recovery (NewWebhookHandler does, when Kratos calls
// it), when an admin disables the identity, for "log out everywhere". It
// evicts only what the cache holds: revoke the sessions in Kratos too
// (Kratos' revoke_active_sessions hook, or its admin API), or the next
// whoami accepts them again.
//
// It works through the store's identity index (cache.IdentityIndex), never
// a scan. For the cache TTL that follows, no session of the identity is
// cached: a whoami call already under way, on any replica, cannot put an
// answer fetched before the eviction back. Identity IDs are UUIDs, compared
// without regard to ASCII case, as Kratos compares them.
//
// With the cache disabled it does nothing. It fails with
// ErrIdentityIndexUnsupported when the store has no index, and with the
// store's error when the index or an eviction could not be written: then
// some sessions may be served from the cache until their entries expire (at
// most the cache TTL after they were cached). It continues past a failed
// eviction and returns every error, joined.
func (a *Authenticator) InvalidateIdentity(ctx context.Context, identityID string) error {
	if identityID == "" {
		return errors.New("kratosauth: InvalidateIdentity: empty identity ID")
	}
	if a.cfg.store == nil {
		return nil
	}
	idx, ok := a.cfg.store.(cache.IdentityIndex)
	if !ok {
		return ErrIdentityIndexUnsupported
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	keys, err := idx.TakeIndex(a.identityIndex(identityID), a.cfg.cacheTTL+ticketMaxAge)
	if err != nil {
		a.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "kratosauth: identity eviction failed: index unavailable",
			slog.String("identity_id", identityID), slog.String("error", err.Error()))
		return fmt.Errorf("kratosauth: InvalidateIdentity: %w", err)
	}
	var errs []error
	for _, k := range keys {
		var d digest
		if n, err := hex.Decode(d[:], []byte(k)); err != nil || n != len(d) {
			continue // not a key of ours: nothing to evict
		}
		if err := a.revoke(&d, refusedInvalidated, a.cfg.cacheTTL, a.cfg.cacheTTL); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		a.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "kratosauth: identity eviction incomplete: some sessions may be served from the cache until their entries expire",
			slog.String("identity_id", identityID), slog.Int("failed", len(errs)), slog.Int("sessions", len(keys)))
		return fmt.Errorf("kratosauth: InvalidateIdentity: %w", errors.Join(errs...))
	}
	a.cfg.logger.LogAttrs(ctx, slog.LevelInfo, "kratosauth: evicted the cached sessions of an identity",
		slog.String("identity_id", identityID), slog.Int("sessions", len(keys)))
	return nil
}

// identityIndex names the index of an identity's sessions: a digest like the
// cache keys (same length, namespaced by Kratos URL and cookie name), whose
// preimage cannot be a credential's (those start with a 4-byte length). The
// ID's ASCII letters are lower-cased: Kratos' IDs are UUIDs, which it
// writes in lower case and reads in any.
func (a *Authenticator) identityIndex(identityID string) string {
	h := sha256.New()
	h.Write([]byte("kratosauth identity index\x00"))
	h.Write([]byte(a.namespace))
	h.Write([]byte{0})
	for i := 0; i < len(identityID); i++ {
		c := identityID[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h.Write([]byte{c})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// indexSession adds key, whose entry for s is about to be stored, to the
// index of s's identity, and reports whether it may be stored. Adding first
// means an entry in the store is always in its index, even one whose Put
// reply is lost: an InvalidateIdentity that takes the index after this add
// finds the key and revokes it, which fences the Put wherever it lands; one
// that took it before holds the index, so this add fails. When the add
// fails (held, full or the store failing) the entry is not stored. The
// caller holds key's write lock.
func (a *Authenticator) indexSession(key *digest, s *Session, ttl time.Duration) bool {
	idx, ok := a.cfg.store.(cache.IdentityIndex)
	if !ok {
		return true
	}
	err := idx.AddToIndex(a.identityIndex(s.Identity.ID), key.storeKey(), ttl)
	if err != nil && !errors.Is(err, cache.ErrIndexHeld) {
		a.warn("kratosauth: session cache index write failed; the session is not cached", err)
	}
	return err == nil
}
