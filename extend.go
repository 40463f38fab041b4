package kratosauth

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kratosauth/kratosauth/cache"
)

const (
	// ExtendCallTimeout bounds one call to Kratos' extend endpoint. A
	// session with less than this left is not extended: the call could
	// reach Kratos after the session expired, and Kratos' extend endpoint
	// would bring an expired session back.
	ExtendCallTimeout = 2 * time.Second
	// maxExtendsInFlight bounds the extension calls running at once; a
	// session that finds them all busy is extended on a later request.
	maxExtendsInFlight = 16
	// maxExtendClaims bounds the sessions this process remembers having
	// extended (about 100 bytes each).
	maxExtendClaims = 1 << 18
)

// sessionExtension is the configuration of WithSessionExtension.
type sessionExtension struct {
	adminURL string // Kratos' admin API, no trailing slash
	below    time.Duration
	auth     []string // Authorization header, WithKratosAdminAPIKey
}

// WithSessionExtension keeps sessions alive while they are used: when a
// request comes with a session that has less than earliestPossibleExtend
// left, the Authenticator asks Kratos' admin API at kratosAdminURL
// (PATCH /admin/sessions/{id}/extend; Kratos then sets the session's
// expiry to now + session.lifespan) and drops the request's cache entry,
// so that the next request reads the new expiry from whoami and the
// middlewares relay the session cookie Kratos re-issues with it.
//
// Pass Kratos' own session.earliest_possible_extend (its default is
// session.lifespan: any session may be extended at any time, so every
// active session would be extended once per cache TTL); Kratos ignores a
// call made earlier than that. Extension runs in the background: a request
// never waits for it, and its failure (logged at WARN) never refuses a
// request nor ends a session. It happens at most once per session and
// expiry per window (the cache TTL plus 6 seconds, the longest a whoami
// answer may take to be cached), in this process, and across a fleet when
// the store is a cache.Claimer (the Redis store is). A session with less than ExtendCallTimeout left,
// inactive, or served stale during an outage is never extended.
// Default: off; sessions last session.lifespan from their login.
func WithSessionExtension(kratosAdminURL string, earliestPossibleExtend time.Duration) Option {
	return func(c *config) error {
		u, err := parseBaseURL("Kratos admin URL", kratosAdminURL)
		if err != nil {
			return err
		}
		if earliestPossibleExtend <= ExtendCallTimeout {
			return fmt.Errorf("kratosauth: WithSessionExtension: earliestPossibleExtend %s must be longer than ExtendCallTimeout (%s)", earliestPossibleExtend, ExtendCallTimeout)
		}
		if c.extension == nil {
			c.extension = new(sessionExtension)
		}
		c.extension.adminURL = u.String()
		c.extension.below = earliestPossibleExtend
		return nil
	}
}

// WithKratosAdminAPIKey sends key as a Bearer token with the calls to
// Kratos' admin API (an Ory Network project API key); it needs
// WithSessionExtension. The key goes only to the admin URL: redirects are
// never followed. Default: no Authorization header (a self-hosted admin
// API, reachable only from the app's network).
func WithKratosAdminAPIKey(key string) Option {
	return func(c *config) error {
		if key == "" || strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			return errors.New("kratosauth: WithKratosAdminAPIKey: empty key, or one with spaces or characters a header cannot carry")
		}
		if c.extension == nil {
			c.extension = new(sessionExtension)
		}
		c.extension.auth = []string{"Bearer " + key}
		return nil
	}
}

// extender runs the extension calls of one Authenticator.
type extender struct {
	claims *cache.Claims // this process's; the store's Claimer dedupes the fleet
	slots  chan struct{}
	ctx    context.Context // ends with Close
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

func newExtender() *extender {
	ctx, stop := context.WithCancel(context.Background())
	return &extender{claims: cache.NewClaims(maxExtendClaims), slots: make(chan struct{}, maxExtendsInFlight), ctx: ctx, stop: stop}
}

// close stops new extensions, cancels the calls in flight and waits for them.
func (x *extender) close() {
	x.stop()
	x.wg.Wait()
}

// maybeExtend starts the extension of s, served for key, when it is due
// and no one (here or, through the store, on another replica) has started
// it for this expiry within the window. It never blocks.
func (a *Authenticator) maybeExtend(key *digest, s *Session) {
	x := a.cfg.extension
	if x == nil || s == nil || !s.Active || s.ID == "" {
		return
	}
	left := time.Until(s.ExpiresAt)
	if left >= x.below || left <= ExtendCallTimeout {
		return
	}
	select {
	case a.ext.slots <- struct{}{}:
	default:
		return // busy: a later request extends it
	}
	claim := a.extendClaim(s)
	window := min(left, a.cfg.cacheTTL+ticketMaxAge)
	if ok, _ := a.ext.claims.Claim(claim, window); !ok || a.ext.ctx.Err() != nil {
		<-a.ext.slots
		return
	}
	k := *key
	a.ext.wg.Add(1)
	go func() {
		defer func() { <-a.ext.slots; a.ext.wg.Done() }()
		a.extend(&k, s.ID, claim, window)
	}()
}

// extendClaim names one extension: of this session, at this expiry, by
// Authenticators of this namespace. Once Kratos has extended the session,
// its new expiry is another claim.
func (a *Authenticator) extendClaim(s *Session) string {
	h := sha256.New()
	h.Write([]byte(a.namespace))
	h.Write([]byte{0})
	h.Write([]byte(s.ID))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(s.ExpiresAt.UnixNano())))
	return "extend:" + hex.EncodeToString(h.Sum(nil))
}

// extend claims the extension in a shared store, asks Kratos, and on
// success drops key's entry so that the next request reads the new expiry.
func (a *Authenticator) extend(key *digest, sessionID, claim string, window time.Duration) {
	if cl, ok := a.cfg.store.(cache.Claimer); ok && !a.ownsStore {
		won, err := cl.Claim(claim, window)
		if err != nil {
			// Extend anyway: a second extension is harmless, a missed one
			// ends an active user's session.
			a.warn("kratosauth: session extension: the store could not dedupe; extending anyway", err)
		} else if !won {
			return // another replica does it
		}
	}
	if err := a.callExtend(sessionID); err != nil {
		if a.ext.ctx.Err() == nil {
			a.warn("kratosauth: session extension failed; the session keeps its expiry", err)
		}
		return
	}
	if a.cfg.store != nil {
		_ = a.revoke(key, evictedExtended, 0, 0) // a failure is logged; the entry then ends by its deadline
	}
}

// callExtend makes one PATCH /admin/sessions/{id}/extend. Kratos v1.3
// answers 200 with the session, newer versions 204; either is success.
func (a *Authenticator) callExtend(sessionID string) error {
	x := a.cfg.extension
	ctx, cancel := context.WithTimeout(a.ext.ctx, ExtendCallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, x.adminURL+"/admin/sessions/"+url.PathEscape(sessionID)+"/extend", nil)
	if err != nil {
		return err
	}
	req.Header["Accept"] = []string{"application/json"}
	if x.auth != nil {
		req.Header["Authorization"] = x.auth
	}
	resp, err := a.cfg.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, a.cfg.maxResponseBytes)) // keeps the connection
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNoContent:
		return nil
	}
	return fmt.Errorf("kratosauth: PATCH /admin/sessions/{id}/extend: status %d", resp.StatusCode)
}
