package kratosjwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// verifyKey is a public key (or an HMAC secret) of the JWKS, with the one
// algorithm it may verify.
type verifyKey struct {
	alg jose.SignatureAlgorithm
	key any // *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey or []byte
}

// keySet is one successful read of the JWKS; it never changes.
type keySet struct {
	byKID map[string][]verifyKey
	read  time.Time
	// absent are the keys this read proves missing: asked for before it
	// started, so their tokens existed when the JWKS was read.
	absent map[keyID]struct{}
}

// keyID names a (kid, alg) pair by a digest, so that a remembered kid
// takes the same room whatever its length.
type keyID [sha256.Size]byte

func idOf(kid string, alg jose.SignatureAlgorithm) keyID {
	return sha256.Sum256([]byte(string(alg) + "\x00" + kid))
}

// maxAskedKeys bounds the unknown keys remembered, in keySource.asked and
// in keySet.absent (32 bytes each). An attacker's kids beyond it are not
// remembered: they, and anything else unknown, are unavailable (503)
// until the next read.
const maxAskedKeys = 4096

func (s *keySet) provenAbsent(id keyID) bool {
	if s == nil {
		return false
	}
	_, ok := s.absent[id]
	return ok
}

func (s *keySet) find(kid string, alg jose.SignatureAlgorithm) (any, bool) {
	if s == nil {
		return nil, false
	}
	for _, k := range s.byKID[kid] {
		if k.alg == alg {
			return k.key, true
		}
	}
	return nil, false
}

// keySource reads the JWKS and keeps the keys of its last successful read.
// At most one read runs at a time; requests that need it wait for it.
//
// A kid the keys do not list is refused as invalid only when a read that
// started after it was asked for does not list it either: the token (and
// so its key, had Kratos published it) existed when that read was made.
// Otherwise the key may have been published since the last read, which
// the rate limit keeps from being repeated: the answer is "unavailable"
// (503) until the next read settles it. An attacker's unknown kids thus
// never make a genuine token of a key rotated in right after them a 401,
// and still cause at most one read per minimum refresh interval.
type keySource struct {
	url        *url.URL
	cfg        *config
	keys       atomic.Pointer[keySet]
	reads      atomic.Int64 // reads started, for tests and metrics
	background atomic.Bool  // a periodic read is running

	mu       sync.Mutex
	running  chan struct{} // closed when the read in progress ends; nil if none
	lastRead time.Time     // when the last read started
	lastErr  error         // the last read's error
	// asked are the unknown keys asked for since the last read started;
	// the next read proves them absent or finds them.
	asked map[keyID]struct{}
}

// errUnknownKey: a read made after the token was asked about does not
// list its kid and alg.
var errUnknownKey = errors.New("no key in the JWKS for the token's kid and alg")

// notReadYet: the JWKS read last does not list the token's kid and alg,
// but was read before the token was asked about, and the rate limit allows
// no read before retryAfter.
type notReadYet struct{ retryAfter time.Duration }

func (e *notReadYet) Error() string {
	return fmt.Sprintf("kid and alg not in the JWKS as read before the token came; the next read is in %s (WithMinRefreshInterval)", e.retryAfter)
}

// key returns the key for kid and alg. A kid the keys do not list makes one
// read of the JWKS (unless one started less than minRefresh ago); the error
// is errUnknownKey when a read started after the kid was asked for does
// not list it, a *notReadYet when no such read has been made yet, the
// read's error when it could not be read, or ctx's when ctx ended first.
func (s *keySource) key(ctx context.Context, kid string, alg jose.SignatureAlgorithm) (any, error) {
	ks := s.keys.Load()
	if k, ok := ks.find(kid, alg); ok {
		if time.Since(ks.read) >= s.cfg.refresh {
			s.refreshInBackground()
		}
		return k, nil
	}
	id := idOf(kid, alg)
	ks, err := s.refresh(ctx, id)
	if k, ok := ks.find(kid, alg); ok {
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	if ks.provenAbsent(id) {
		return nil, errUnknownKey
	}
	s.mu.Lock()
	wait := s.cfg.minRefresh - time.Since(s.lastRead)
	s.mu.Unlock()
	return nil, &notReadYet{retryAfter: max(wait, 0)}
}

// refresh records id as asked for, starts a read unless one is running
// (then it waits for it) or one started less than minRefresh ago, and
// returns the keys and the last read's error.
func (s *keySource) refresh(ctx context.Context, id keyID) (*keySet, error) {
	s.mu.Lock()
	if s.asked == nil {
		s.asked = make(map[keyID]struct{})
	}
	if len(s.asked) < maxAskedKeys {
		s.asked[id] = struct{}{}
	}
	done := s.running
	if done == nil && (s.lastRead.IsZero() || time.Since(s.lastRead) >= s.cfg.minRefresh) {
		done = s.start()
	}
	s.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return s.keys.Load(), context.Cause(ctx)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys.Load(), s.lastErr
}

// refreshInBackground starts a periodic read without waiting for it.
func (s *keySource) refreshInBackground() {
	if !s.background.CompareAndSwap(false, true) {
		return
	}
	s.mu.Lock()
	var done chan struct{}
	if s.running == nil && time.Since(s.lastRead) >= s.cfg.minRefresh {
		done = s.start()
	}
	s.mu.Unlock()
	if done == nil {
		s.background.Store(false)
		return
	}
	go func() {
		<-done
		s.background.Store(false)
	}()
}

// start begins a read, detached from any request (bounded by the timeout)
// so that a client going away does not fail the others waiting on it.
// s.mu is held.
func (s *keySource) start() chan struct{} {
	done := make(chan struct{})
	s.running = done
	s.lastRead = time.Now()
	s.reads.Add(1)
	asked := s.asked // asked before this read: it settles them
	s.asked = nil
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
		defer cancel()
		ks, err := s.read(ctx)
		if err != nil {
			s.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "kratosjwt: reading the JWKS failed; the keys read before stay in use",
				slog.String("jwks", s.redactedURL()), slog.String("error", err.Error()))
		}
		s.mu.Lock()
		if err != nil {
			s.asked = union(s.asked, asked, nil) // for the next read
		} else {
			// Keys proven absent by an earlier read were asked for before
			// this one too.
			ks.absent = union(asked, s.keys.Load().absentKeys(), ks)
			s.keys.Store(ks)
		}
		s.lastErr = err
		s.running = nil
		s.mu.Unlock()
		close(done)
	}()
	return done
}

func (s *keySet) absentKeys() map[keyID]struct{} {
	if s == nil {
		return nil
	}
	return s.absent
}

// union returns a ∪ b (a is reused), without the keys that present lists,
// bounded by maxAskedKeys.
func union(a, b map[keyID]struct{}, present *keySet) map[keyID]struct{} {
	if a == nil {
		a = make(map[keyID]struct{}, len(b))
	}
	for id := range b {
		if len(a) >= maxAskedKeys {
			break
		}
		a[id] = struct{}{}
	}
	if present != nil {
		for kid, keys := range present.byKID {
			for _, k := range keys {
				delete(a, idOf(kid, k.alg))
			}
		}
	}
	return a
}

// redactedURL is the JWKS URL without userinfo or query, for logs.
func (s *keySource) redactedURL() string {
	u := *s.url
	u.User, u.RawQuery = nil, ""
	return u.String()
}

// read fetches and parses the JWKS.
func (s *keySource) read(ctx context.Context) (*keySet, error) {
	var doc []byte
	var err error
	if s.url.Scheme == "file" {
		doc, err = readFile(s.url.Path)
	} else {
		doc, err = s.get(ctx)
	}
	if err != nil {
		return nil, err
	}
	return parseJWKS(doc, s.cfg.algorithms, s.cfg.logger)
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readCapped(f)
}

func (s *keySource) get(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.cfg.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS answered %d", resp.StatusCode)
	}
	return readCapped(resp.Body)
}

func readCapped(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxJWKSBytes {
		return nil, fmt.Errorf("JWKS larger than %d bytes", MaxJWKSBytes)
	}
	return b, nil
}

// parseJWKS keeps the keys of doc that can verify one of algs. A key that
// cannot (unknown type, a use other than "sig", an alg not allowed, an EC
// curve that matches no allowed alg) is skipped, so that one odd key does
// not take the others down; a document with no usable key is an error (a
// misconfiguration, not a reason to refuse every token as invalid).
// Private keys count by their public part: the downstream should have the
// public JWKS only, but a private one does not make it trust anything else.
func parseJWKS(doc []byte, algs []jose.SignatureAlgorithm, logger *slog.Logger) (*keySet, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	ks := &keySet{byKID: map[string][]verifyKey{}, read: time.Now()}
	private := 0
	for i, raw := range set.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			logger.Warn("kratosjwt: JWKS key skipped", slog.Int("index", i), slog.String("error", err.Error()))
			continue
		}
		if jwk.Use != "" && jwk.Use != "sig" {
			continue
		}
		if !jwk.IsPublic() {
			if _, secret := jwk.Key.([]byte); !secret {
				jwk = jwk.Public()
				private++
			}
		}
		n := 0
		for _, alg := range algs {
			if jwk.Algorithm != "" && jwk.Algorithm != string(alg) {
				continue
			}
			if fits(jwk.Key, alg) {
				ks.byKID[jwk.KeyID] = append(ks.byKID[jwk.KeyID], verifyKey{alg: alg, key: jwk.Key})
				n++
			}
		}
		if n == 0 {
			logger.Warn("kratosjwt: JWKS key skipped: fits no allowed algorithm",
				slog.String("kid", jwk.KeyID), slog.String("alg", jwk.Algorithm))
		}
	}
	if private > 0 {
		logger.Warn("kratosjwt: the JWKS holds private keys; only their public parts are used (give services the public JWKS)",
			slog.Int("keys", private))
	}
	if len(ks.byKID) == 0 {
		return nil, fmt.Errorf("JWKS has no key usable with the allowed algorithms (%d keys)", len(set.Keys))
	}
	return ks, nil
}

// fits reports whether key can verify alg: the key type of the algorithm's
// family, and for ECDSA the algorithm's own curve. This is what keeps a
// public key from serving as an HMAC secret.
func fits(key any, alg jose.SignatureAlgorithm) bool {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		switch alg {
		case jose.ES256:
			return k.Curve == elliptic.P256()
		case jose.ES384:
			return k.Curve == elliptic.P384()
		case jose.ES512:
			return k.Curve == elliptic.P521()
		}
	case *rsa.PublicKey:
		return strings.HasPrefix(string(alg), "RS") || strings.HasPrefix(string(alg), "PS")
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	case []byte:
		// RFC 7518 3.2: a key at least as long as the hash.
		switch alg {
		case jose.HS256:
			return len(k) >= 32
		case jose.HS384:
			return len(k) >= 48
		case jose.HS512:
			return len(k) >= 64
		}
	}
	return false
}
