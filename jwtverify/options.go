package kratosjwt

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/kratosauth/kratosauth"
)

const (
	// DefaultLeeway is the clock skew allowed when checking exp, nbf and iat.
	DefaultLeeway = 5 * time.Second
	// DefaultRefreshInterval is how often the JWKS is read again, so that a
	// key removed from it stops being trusted.
	DefaultRefreshInterval = 5 * time.Minute
	// DefaultMinRefreshInterval is the least time between two reads of the
	// JWKS that tokens with an unknown kid cause.
	DefaultMinRefreshInterval = 10 * time.Second
	// DefaultTimeout bounds one read of the JWKS.
	DefaultTimeout = 5 * time.Second
	// MaxTokenBytes is the longest token accepted; a longer one is
	// ErrInvalidSession, not parsed.
	MaxTokenBytes = 64 << 10
	// MaxJWKSBytes is the largest JWKS document read; a larger one is an
	// error of the read.
	MaxJWKSBytes = 1 << 20
)

// Option configures a Verifier. Options are applied, and validated, by New:
// an invalid value or a nil argument is an error from New.
type Option func(*config) error

type config struct {
	algorithms   []jose.SignatureAlgorithm
	issuer       string
	audience     string
	leeway       time.Duration
	refresh      time.Duration
	minRefresh   time.Duration
	timeout      time.Duration
	client       *http.Client
	logger       *slog.Logger
	errorHandler kratosauth.ErrorHandler
	// identityIDClaim is where the identity's ID is when sub holds the
	// external_id (WithExternalIDSubject); "" when sub is the identity's ID.
	identityIDClaim string
	revocations     RevocationList
	sidClaim        string // "": Kratos' sid
}

// asymmetric are the algorithms Kratos can sign with using a public-key
// JWKS; the default of WithAlgorithms.
var asymmetric = []jose.SignatureAlgorithm{
	jose.ES256, jose.ES384, jose.ES512,
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.EdDSA,
}

var hmac = []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512}

// WithAlgorithms sets the signature algorithms a token may use: JWS names
// such as "ES256", "RS256", "EdDSA", or "HS256" for a JWKS of shared
// secrets (oct keys). A token with any other "alg" header is refused
// before its key is looked up; "none" is never allowed, and a name that is
// not a JWS signature algorithm is an error from New.
// Default: ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512
// and EdDSA (every asymmetric algorithm; HMAC only when listed here).
func WithAlgorithms(algs ...string) Option {
	return func(c *config) error {
		if len(algs) == 0 {
			return errors.New("kratosjwt: WithAlgorithms: no algorithm")
		}
		c.algorithms = c.algorithms[:0:0]
		for _, a := range algs {
			alg := jose.SignatureAlgorithm(a)
			if !slices.Contains(asymmetric, alg) && !slices.Contains(hmac, alg) {
				return fmt.Errorf("kratosjwt: WithAlgorithms: %q is not an allowed signature algorithm", a)
			}
			if !slices.Contains(c.algorithms, alg) {
				c.algorithms = append(c.algorithms, alg)
			}
		}
		return nil
	}
}

// WithIssuer requires the token's iss claim to be exactly iss. Kratos sets
// it to its public base URL (serve.public.base_url), with its trailing
// slash: "https://auth.example.com/". Default: iss is not checked.
func WithIssuer(iss string) Option {
	return func(c *config) error {
		if iss == "" {
			return errors.New("kratosjwt: WithIssuer: empty issuer")
		}
		c.issuer = iss
		return nil
	}
}

// WithAudience requires the token's aud claim (a string or a list) to hold
// aud. Kratos sets no aud itself: the template's claims mapper must add it
// (claims: claims { aud: ["orders"] }). Default: aud is not checked.
func WithAudience(aud string) Option {
	return func(c *config) error {
		if aud == "" {
			return errors.New("kratosjwt: WithAudience: empty audience")
		}
		c.audience = aud
		return nil
	}
}

// WithLeeway sets the clock skew allowed between Kratos and this service
// when checking exp, nbf and iat. Default: DefaultLeeway (5 seconds).
func WithLeeway(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("kratosjwt: WithLeeway: negative duration %s", d)
		}
		c.leeway = d
		return nil
	}
}

// WithRefreshInterval sets how often the JWKS is read again, in the
// background of the first request after the interval: a key removed from
// the JWKS is trusted at most this long afterwards. When the read fails,
// the keys read last stay in use. Default: DefaultRefreshInterval (5 minutes).
func WithRefreshInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("kratosjwt: WithRefreshInterval: duration must be positive, got %s", d)
		}
		c.refresh = d
		return nil
	}
}

// WithMinRefreshInterval sets the least time between two reads of the JWKS
// caused by tokens whose kid it does not list: one such token makes one
// read (concurrent ones share it), and during the following d the others
// are answered without reading it. A kid that a read made after it was
// asked for does not list is refused (401); one the JWKS may have listed
// since the last read (a key rotated in right after it) is unavailable
// (503, Retry-After the rest of d), as when the last read failed, and the
// next read settles it. It cannot exceed the refresh interval.
// Default: DefaultMinRefreshInterval (10 seconds).
func WithMinRefreshInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("kratosjwt: WithMinRefreshInterval: duration must be positive, got %s", d)
		}
		c.minRefresh = d
		return nil
	}
}

// WithTimeout bounds one read of the JWKS. Default: DefaultTimeout (5 seconds).
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("kratosjwt: WithTimeout: duration must be positive, got %s", d)
		}
		c.timeout = d
		return nil
	}
}

// WithHTTPClient sets the client that reads an http or https JWKS URL
// (WithTimeout bounds each read whatever the client's own timeout).
// Default: http.DefaultClient.
func WithHTTPClient(client *http.Client) Option {
	return func(c *config) error {
		if client == nil {
			return errors.New("kratosjwt: WithHTTPClient: nil client")
		}
		c.client = client
		return nil
	}
}

// WithLogger sets the logger for JWKS read failures and refused requests'
// causes at 503 (never a token; an unknown kid that waits for the next
// JWKS read at DEBUG only, since anyone can send one); to discard them, pass
// slog.New(slog.DiscardHandler). Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("kratosjwt: WithLogger: nil logger (slog.New(slog.DiscardHandler) discards logs)")
		}
		c.logger = l
		return nil
	}
}

// WithExternalIDSubject declares that the tokenizer template has
// subject_source: external_id (Kratos v25.4.0 and later), so sub is the
// identity's external_id (Claims.ExternalID) and the identity's ID is in the
// claim identityIDClaim, which the template's claims mapper must set:
//
//	local session = std.extVar('session');
//	{ claims: { identity_id: session.identity.id } }
//
// A token without that claim as a non-empty string is ErrInvalidSession: the
// identity's ID is never guessed from sub. identityIDClaim cannot be a
// registered claim (sub, sid, iss, aud, jti, exp, nbf, iat).
// Default: sub is the identity's ID (subject_source id, Kratos' default).
func WithExternalIDSubject(identityIDClaim string) Option {
	return func(c *config) error {
		switch identityIDClaim {
		case "", "sub", "sid", "iss", "aud", "jti", "exp", "nbf", "iat":
			return fmt.Errorf("kratosjwt: WithExternalIDSubject: %q cannot hold the identity's ID", identityIDClaim)
		}
		c.identityIDClaim = identityIDClaim
		return nil
	}
}

// WithErrorHandler sets what Middleware and Check write for a refused
// request; err is a *kratosauth.Error. Default: kratosauth.DefaultErrorHandler
// (Kratos-shaped JSON: 401, or 503 when the JWKS cannot be read; the errors
// of this package carry no redirect, so browsers are not redirected either).
func WithErrorHandler(h kratosauth.ErrorHandler) Option {
	return func(c *config) error {
		if h == nil {
			return errors.New("kratosjwt: WithErrorHandler: nil handler")
		}
		c.errorHandler = h
		return nil
	}
}

// RevocationList tells whether a session was revoked before its tokens
// expire; rediscache.RevocationList (github.com/kratosauth/kratosauth/cache/redis)
// follows the revocations an edge records with kratosauth.WithRevocationSink.
// Revoked is called on every verification: it must be local (a map, not a
// network call).
type RevocationList interface {
	// Revoked reports whether the session was revoked; an error means the
	// list cannot tell (its feed is too far behind).
	Revoked(sessionID string) (bool, error)
}

// WithRevocationList refuses tokens whose session (the sid claim Kratos'
// tokenizer sets, or WithSessionIDClaim's) the list says was revoked, as ErrInvalidSession (401),
// and a token without sid. When the list cannot tell, the token is
// refused as ErrUnavailable (503): never accepted unchecked.
// Default: none; a token is valid until its exp.
func WithRevocationList(l RevocationList) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("kratosjwt: WithRevocationList: nil list")
		}
		c.revocations = l
		return nil
	}
}

// WithSessionIDClaim names the claim that holds the session ID, for a
// claims mapper that moves it; the claim must be a string, else the token
// is refused when a revocation list is set. Default: "sid", where Kratos'
// tokenizer puts it.
func WithSessionIDClaim(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("kratosjwt: WithSessionIDClaim: empty name")
		}
		c.sidClaim = name
		return nil
	}
}
