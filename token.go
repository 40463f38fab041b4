package kratosauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kratosauth/kratosauth/internal/origin"
)

// TokenExpiryMargin is how long before its token's exp a tokenized session
// stops being served from the cache (WithTokenizeAs): a token the edge sends
// downstream has at least this long to live, for the downstream call and
// the clocks' skew. Make the tokenizer template's ttl well above it, or
// every request calls whoami.
const TokenExpiryMargin = 5 * time.Second

// The cache and the token.
//
// Session.Tokenized is a credential: anyone holding it is the user at every
// downstream service until its exp. It is cached inside the session's entry
// all the same, because it is exactly what whoami returned for the
// credential that keys the entry: a cache hit gives the holder of that
// credential the token Kratos would give them again, nobody else. The
// entry never outlives the token (tokenCacheFor), so the cache never serves
// an expired token, and a logout (Invalidate) drops both. The token is
// never logged and never part of a cache key.

// tokenCacheFor bounds how long a tokenized session may be cached: until
// TokenExpiryMargin before the token's exp, and within cacheFor (Kratos'
// Ory-Session-Cache-For, which it does not send when it tokenizes: -1).
// A token whose exp cannot be read is not cached at all (0).
func tokenCacheFor(token string, cacheFor time.Duration, now time.Time) time.Duration {
	exp, ok := tokenExpiry(token)
	if !ok {
		return 0
	}
	d := exp.Sub(now) - TokenExpiryMargin
	if d <= 0 {
		return 0
	}
	if cacheFor >= 0 {
		d = min(d, cacheFor)
	}
	return d
}

// tokenUsable reports whether a cached session's token (if it has one) may
// still be served at now: a stale session (WithStaleIfError) must not hand
// out a token that downstream services would refuse.
func tokenUsable(token string, now time.Time) bool {
	if token == "" {
		return true
	}
	exp, ok := tokenExpiry(token)
	return ok && now.Before(exp.Add(-TokenExpiryMargin))
}

// maxTokenLen bounds the tokens whose exp is read: Kratos' tokens are a
// few KB, with every trait the claims mapper adds.
const maxTokenLen = 64 << 10

// tokenExpiry reads the exp claim of a compact JWS without verifying its
// signature. The edge does not need to verify: the token came from Kratos
// in whoami's answer, over the connection the edge trusts for the session
// itself; verifying is the downstream services' job. false when the token
// is not a JWS or has no positive, finite numeric exp.
func tokenExpiry(token string) (time.Time, bool) {
	if len(token) > maxTokenLen {
		return time.Time{}, false
	}
	_, rest, ok := strings.Cut(token, ".")
	if !ok {
		return time.Time{}, false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return time.Time{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&claims); err != nil || claims.Exp == "" {
		return time.Time{}, false
	}
	f, err := claims.Exp.Float64()
	if err != nil || math.IsNaN(f) || f <= 0 || f >= 1<<62/1e9 { // 1<<62 ns: year 2116
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// TokenTransport is an http.RoundTripper for the edge's calls to its
// downstream services: it sends the session's token (Session.Tokenized,
// WithTokenizeAs) as "Authorization: Bearer <token>", so that they verify
// the user without calling Kratos. Build it with NewTokenTransport.
//
// The session comes from the outgoing request's context: the middlewares
// put it in the incoming request's context, so build the outgoing request
// with http.NewRequestWithContext(r.Context(), ...). A request gets the
// header only when
//
//   - it goes to one of the downstream origins given to NewTokenTransport
//     (scheme, host and port), so the token never reaches any other host,
//     a redirect's target included; hosts are compared in ASCII only, so
//     a non-ASCII host (net/http dials its IDNA form) never gets it;
//   - it has no Authorization header already: one the caller set is never
//     overwritten;
//   - its context has a session with a token.
//
// Otherwise it is sent as it is. The token is never logged.
type TokenTransport struct {
	base    http.RoundTripper
	origins map[string]bool // origin.Key of each downstream origin
}

// NewTokenTransport returns a TokenTransport that sends requests with base
// (http.DefaultTransport when nil) and adds the session's token to those for
// the given downstream origins, each "scheme://host[:port]" (http or https;
// a path of "/" at most; an internationalised host in its ASCII xn-- form).
// At least one origin is required.
func NewTokenTransport(base http.RoundTripper, downstreamOrigins ...string) (*TokenTransport, error) {
	if base == nil {
		base = http.DefaultTransport
	}
	if len(downstreamOrigins) == 0 {
		return nil, errors.New("kratosauth: NewTokenTransport: no downstream origin (the token is sent to these alone)")
	}
	t := &TokenTransport{base: base, origins: make(map[string]bool, len(downstreamOrigins))}
	for _, o := range downstreamOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("kratosauth: NewTokenTransport: invalid downstream origin %q: want scheme://host[:port]", o)
		}
		key, ok := origin.Key(u.Scheme, u.Host)
		if !ok {
			return nil, fmt.Errorf("kratosauth: NewTokenTransport: invalid downstream origin %q: want an ASCII host (an internationalised name in its xn-- form) and a port, if any", o)
		}
		t.origins[key] = true
	}
	return t, nil
}

// RoundTrip implements http.RoundTripper. It does not modify req: a request
// that gets the token is a clone.
func (t *TokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || len(req.Header["Authorization"]) > 0 || !t.listed(req.URL) {
		return t.base.RoundTrip(req)
	}
	s, ok := SessionFromContext(req.Context())
	if !ok || s.Tokenized == "" {
		return t.base.RoundTrip(req)
	}
	out := req.Clone(req.Context())
	out.Header.Set("Authorization", "Bearer "+s.Tokenized)
	return t.base.RoundTrip(out)
}

func (t *TokenTransport) listed(u *url.URL) bool {
	key, ok := origin.Key(u.Scheme, u.Host)
	return ok && t.origins[key]
}

// CloseIdleConnections closes the idle connections of the base transport,
// when it has such a method (http.Client.CloseIdleConnections calls it).
func (t *TokenTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
