package kratosjwt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/strictjson"
)

// Verifier checks the tokens Kratos made of its sessions against the keys
// of a JWKS. Build one with New when the service starts and share it; it is
// safe for concurrent use.
type Verifier struct {
	cfg  config
	keys *keySource
}

// New returns a Verifier for the tokens signed with the keys of the JWKS at
// jwksURL: "file:///path/to/jwks.json" (read again on each refresh, so
// rewriting the file rotates keys) or an http or https URL. The JWKS is
// not read here but by the first request, so a service may start while the
// JWKS is unreachable (its requests get 503 until it is read). All
// configuration is checked here.
func New(jwksURL string, opts ...Option) (*Verifier, error) {
	u, err := url.Parse(jwksURL)
	if err != nil {
		return nil, fmt.Errorf("kratosjwt: invalid JWKS URL: %w", err)
	}
	switch {
	case u.Scheme == "file" && u.Path != "" && u.Host == "" && u.RawQuery == "":
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host != "":
	default:
		return nil, fmt.Errorf("kratosjwt: invalid JWKS URL %q: want file:///path, http:// or https://", jwksURL)
	}
	c := config{
		algorithms: asymmetric,
		leeway:     DefaultLeeway,
		refresh:    DefaultRefreshInterval,
		minRefresh: DefaultMinRefreshInterval,
		timeout:    DefaultTimeout,
		client:     http.DefaultClient,
		logger:     slog.Default(),
		// No error of this package has a RedirectTo: JSON, never a redirect.
		errorHandler: kratosauth.DefaultErrorHandler,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("kratosjwt: nil Option")
		}
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	if c.minRefresh > c.refresh {
		return nil, fmt.Errorf("kratosjwt: the minimum refresh interval (%s) exceeds the refresh interval (%s)", c.minRefresh, c.refresh)
	}
	v := &Verifier{cfg: c}
	v.keys = &keySource{url: u, cfg: &v.cfg}
	return v, nil
}

// JWKSReads is the number of reads of the JWKS so far, for metrics and tests.
func (v *Verifier) JWKSReads() int64 { return v.keys.reads.Load() }

// Verify checks token and returns its claims. On failure the error is a
// *kratosauth.Error matching ErrInvalidSession (a bad token),
// ErrUnavailable (its key cannot be known: the JWKS cannot be read, or
// has not been read since the token came, and RetryAfter says when it
// will be) or ErrCanceled (ctx ended while the JWKS was read). Its Cause
// says why, for logs; it never holds the token.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	return v.verify(ctx, token, time.Now())
}

func invalid(format string, args ...any) error {
	return &kratosauth.Error{Kind: kratosauth.ErrInvalidSession, Cause: fmt.Errorf("kratosjwt: "+format, args...)}
}

func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (*Claims, error) {
	if len(token) > MaxTokenBytes {
		return nil, invalid("token longer than %d bytes", MaxTokenBytes)
	}
	// Only the algorithms allowed parse: "none" and anything not listed
	// fail here, before a key is looked up.
	jws, err := jose.ParseSignedCompact(token, v.cfg.algorithms)
	if err != nil {
		return nil, invalid("parsing: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, invalid("want one signature, got %d", len(jws.Signatures))
	}
	h := jws.Signatures[0].Header
	key, err := v.keys.key(ctx, h.KeyID, jose.SignatureAlgorithm(h.Algorithm))
	var notYet *notReadYet
	switch {
	case err == nil:
	case errors.Is(err, errUnknownKey):
		return nil, invalid("kid %q, alg %s: %w", h.KeyID, h.Algorithm, err)
	case errors.As(err, &notYet):
		// The key may have been published since the last read: not a 401.
		return nil, &kratosauth.Error{Kind: kratosauth.ErrUnavailable, Cause: fmt.Errorf("kratosjwt: kid %q, alg %s: %w", h.KeyID, h.Algorithm, err),
			RetryAfter: max((notYet.retryAfter + time.Second - 1).Truncate(time.Second), time.Second)}
	case ctx.Err() != nil:
		return nil, &kratosauth.Error{Kind: kratosauth.ErrCanceled, Cause: err}
	default:
		return nil, &kratosauth.Error{Kind: kratosauth.ErrUnavailable, Cause: fmt.Errorf("kratosjwt: JWKS: %w", err)}
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, invalid("signature: %w", err)
	}
	return v.claims(payload, now)
}

// registered are the claims Kratos' tokenizer sets (session/tokenizer.go).
type registered struct {
	Issuer    string               `json:"iss"`
	Subject   string               `json:"sub"`
	Audience  josejwt.Audience     `json:"aud"`
	Expiry    *josejwt.NumericDate `json:"exp"`
	NotBefore *josejwt.NumericDate `json:"nbf"`
	IssuedAt  *josejwt.NumericDate `json:"iat"`
	ID        string               `json:"jti"`
	SessionID string               `json:"sid"`
}

func (v *Verifier) claims(payload []byte, now time.Time) (*Claims, error) {
	var r registered
	if err := json.Unmarshal(payload, &r); err != nil {
		return nil, invalid("claims: %w", err)
	}
	leeway := v.cfg.leeway
	switch {
	case r.Expiry == nil:
		return nil, invalid("no exp")
	case !now.Before(r.Expiry.Time().Add(leeway)):
		return nil, invalid("expired at %s", r.Expiry.Time().UTC().Format(time.RFC3339))
	case r.NotBefore != nil && now.Add(leeway).Before(r.NotBefore.Time()):
		return nil, invalid("not valid before %s", r.NotBefore.Time().UTC().Format(time.RFC3339))
	case r.IssuedAt != nil && now.Add(leeway).Before(r.IssuedAt.Time()):
		return nil, invalid("issued in the future (%s)", r.IssuedAt.Time().UTC().Format(time.RFC3339))
	case r.Subject == "":
		return nil, invalid("no sub")
	case v.cfg.issuer != "" && r.Issuer != v.cfg.issuer:
		return nil, invalid("issuer %q, want %q", r.Issuer, v.cfg.issuer)
	case v.cfg.audience != "" && !slices.Contains(r.Audience, v.cfg.audience):
		return nil, invalid("audience %q does not include %q", []string(r.Audience), v.cfg.audience)
	}
	identityID, externalID := r.Subject, ""
	if name := v.cfg.identityIDClaim; name != "" {
		var extra map[string]json.RawMessage
		var id string
		if err := json.Unmarshal(payload, &extra); err != nil || json.Unmarshal(extra[name], &id) != nil || id == "" {
			return nil, invalid("no identity ID in claim %q (the template's claims mapper must set it with subject_source: external_id)", name)
		}
		identityID, externalID = id, r.Subject
	}
	if l := v.cfg.revocations; l != nil {
		sid := r.SessionID
		if v.cfg.sidClaim != "" && v.cfg.sidClaim != "sid" {
			raw, err := strictjson.Lookup(payload, v.cfg.sidClaim)
			if err != nil || json.Unmarshal(raw, &sid) != nil {
				sid = ""
			}
		}
		if sid == "" {
			return nil, invalid("no session ID claim: the revocation list cannot be checked")
		}
		revoked, err := l.Revoked(sid)
		if err != nil {
			return nil, &kratosauth.Error{Kind: kratosauth.ErrUnavailable, Cause: fmt.Errorf("kratosjwt: revocation list: %w", err)}
		}
		if revoked {
			return nil, invalid("session revoked")
		}
	}
	return &Claims{
		Subject:    r.Subject,
		IdentityID: identityID,
		ExternalID: externalID,
		SessionID:  r.SessionID,
		Issuer:     r.Issuer,
		Audience:   r.Audience,
		ID:         r.ID,
		ExpiresAt:  r.Expiry.Time(),
		NotBefore:  r.NotBefore.Time(),
		IssuedAt:   r.IssuedAt.Time(),
		raw:        payload,
	}, nil
}

// Authenticate verifies the request's bearer token (Authorization: Bearer,
// as kratosauth.TokenTransport sends it). A request without one is
// ErrNoCredentials; otherwise the errors are Verify's.
func (v *Verifier) Authenticate(r *http.Request) (*Claims, error) {
	token, err := bearer(r.Header)
	if err != nil {
		return nil, err
	}
	return v.Verify(r.Context(), token)
}

// bearer returns the token of the one Authorization header, if it is a
// Bearer one.
func bearer(h http.Header) (string, error) {
	values := h.Values("Authorization")
	switch {
	case len(values) == 0:
		return "", &kratosauth.Error{Kind: kratosauth.ErrNoCredentials, Cause: errors.New("kratosjwt: no Authorization header")}
	case len(values) > 1:
		return "", invalid("%d Authorization headers", len(values))
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", &kratosauth.Error{Kind: kratosauth.ErrNoCredentials, Cause: errors.New("kratosjwt: Authorization is not a Bearer token")}
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", &kratosauth.Error{Kind: kratosauth.ErrNoCredentials, Cause: errors.New("kratosjwt: empty Bearer token")}
	}
	return token, nil
}

// Check verifies r's bearer token. When r may go on, it returns r with the
// claims in its context and a nil error. Otherwise the response has been
// written with the ErrorHandler and the error says why: the handler must
// not run. Adapters (gin) build on it.
func (v *Verifier) Check(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
	c, err := v.Authenticate(r)
	if err != nil {
		v.HandleError(w, r, err)
		return nil, err
	}
	return r.WithContext(NewContext(r.Context(), c)), nil
}

// HandleError writes the response for err with the configured ErrorHandler,
// after logging a JWKS failure at WARN. An unknown kid waiting for the
// next read is logged at DEBUG only: anyone can send such kids, and a WARN
// line each would be theirs to flood.
func (v *Verifier) HandleError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, kratosauth.ErrUnavailable) {
		level, msg := slog.LevelWarn, "kratosjwt: token check failed: JWKS unavailable"
		if notYet := (*notReadYet)(nil); errors.As(err, &notYet) {
			level, msg = slog.LevelDebug, "kratosjwt: token check deferred: unknown kid, JWKS read rate-limited"
		}
		v.cfg.logger.LogAttrs(r.Context(), level, msg, slog.String("error", err.Error()), slog.String("path", r.URL.Path))
	}
	v.cfg.errorHandler(w, r, err)
}

// Middleware is net/http (and chi: r.Use(v.Middleware)) middleware that
// lets a request through only with a valid token; its claims are in the
// request's context (FromContext).
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r, err := v.Check(w, r); err == nil {
			next.ServeHTTP(w, r)
		}
	})
}
