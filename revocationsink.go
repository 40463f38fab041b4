package kratosauth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RevocationSink learns of every session an Authenticator revokes:
// Invalidate (logout), InvalidateIdentity (and so the webhook), and a
// session Kratos refuses after having admitted it. Downstream services that
// verify the session's JWT locally (kratosjwt) read what it records, so a
// token stops working before its exp. rediscache.RevocationFeed records
// into Redis.
type RevocationSink interface {
	// RevokeSession records that sessionID was revoked, to be remembered
	// at least until until (the later of the session's expiry and its
	// token's exp, as cached). An error means it may not be recorded.
	RevokeSession(ctx context.Context, sessionID string, until time.Time) error
}

// sinkTimeout bounds one RevokeSession call.
const sinkTimeout = 2 * time.Second

// WithRevocationSink tells sink the ID of every session the Authenticator
// revokes. The ID is read from the credential's cache entry, so a session
// that was never cached (or whose entry was evicted for room) is not
// recorded: its tokens, if any were minted, last until their exp. It needs
// the cache. A sink that fails makes Invalidate and InvalidateIdentity
// return an error, as a store that fails does. Default: none.
func WithRevocationSink(sink RevocationSink) Option {
	return func(c *config) error {
		if sink == nil {
			return errors.New("kratosauth: WithRevocationSink: nil sink")
		}
		c.revocationSink = sink
		return nil
	}
}

// cachedSession reads key's cached session (fresh or not) for the sink;
// nil when there is none.
func (a *Authenticator) cachedSession(key *digest) *Session {
	e, err := a.cfg.store.Get(key.storeKey())
	if err != nil {
		return nil
	}
	s, ok := decodeEntry(e, time.Unix(0, 0)) // any deadline: a stale entry's session may have live tokens
	if !ok {
		return nil
	}
	return s
}

// recordRevocation tells the sink about s.
func (a *Authenticator) recordRevocation(s *Session) error {
	until := s.ExpiresAt
	if exp, ok := tokenExpiry(s.Tokenized); ok && exp.After(until) {
		until = exp
	}
	ctx, cancel := context.WithTimeout(context.Background(), sinkTimeout)
	defer cancel()
	if err := a.cfg.revocationSink.RevokeSession(ctx, s.ID, until); err != nil {
		a.warn("kratosauth: revocation sink failed; the session's tokens stay valid downstream until their exp", err)
		return fmt.Errorf("kratosauth: revocation sink: %w", err)
	}
	return nil
}
