package kratosauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/internal/origin"
)

const (
	// DefaultCookieName is the session cookie of a self-hosted Kratos.
	DefaultCookieName = "ory_kratos_session"

	// DefaultCacheTTL bounds how long a session is served from the cache
	// without asking Kratos again, and so how late a revocation is noticed.
	DefaultCacheTTL = time.Minute
	// DefaultTimeout bounds one whoami call, including reading the body.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxResponseBytes caps a whoami body; a larger one is an error.
	DefaultMaxResponseBytes = 1 << 20
	// DefaultCacheSizeMB bounds the memory of the default cache; see WithCacheSizeMB.
	DefaultCacheSizeMB = 128
)

// ErrorHandler writes the response for a request that a middleware refuses.
// err is an *Error (match it with errors.Is against the sentinel errors).
type ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

// Option configures an Authenticator. Options are applied, and validated, by
// New; an invalid value, a nil argument or a combination that cannot work
// is an error from New, never a silent default.
type Option func(*config) error

type config struct {
	publicURL  *url.URL // where whoami is called
	browserURL *url.URL // where browsers are sent
	appURL     *url.URL // the app's own external base URL, for return_to

	cookieName string // the one session cookie name Kratos reads

	cacheTTL     time.Duration
	store        cache.Store
	storeSet     bool
	cacheSizeMB  int
	cacheSizeSet bool
	staleGrace   time.Duration
	negativeTTL  time.Duration

	client           *http.Client
	timeout          time.Duration
	maxResponseBytes int64

	logger       *slog.Logger
	errorHandler ErrorHandler
	forbidden    http.Handler // nil: the ErrorHandler answers browsers too
	observer     Observer

	tokenizeAs  string // Kratos tokenizer template, "" for none
	permissions PermissionChecker

	extension      *sessionExtension // nil: sessions are not extended
	revocationSink RevocationSink
}

// WithBrowserURL sets the URL browsers use to reach Kratos' public API,
// used for login and step-up redirects. Use it when the app calls Kratos on
// an internal address. Its host is ASCII (an internationalised name in its
// xn-- form), as for every URL given to kratosauth. Default: the public URL
// given to New.
func WithBrowserURL(rawURL string) Option {
	return func(c *config) error {
		u, err := parseBaseURL("browser URL", rawURL)
		c.browserURL = u
		return err
	}
}

// WithAppURL sets the app's own external base URL (scheme, host and an
// optional path prefix). Redirects to login carry return_to = this URL plus
// the request's path and query, so users come back where they were; the
// Host header is never used. Kratos must list this URL in
// selfservice.allowed_return_urls. Default: none, so redirects carry no
// return_to and Kratos sends users to its default_browser_return_url.
func WithAppURL(rawURL string) Option {
	return func(c *config) error {
		u, err := parseBaseURL("app URL", rawURL)
		c.appURL = u
		return err
	}
}

// WithCookieName sets the session cookie's name, as Kratos reads it: its
// session.cookie.name for a self-hosted Kratos, or ory_session_<slug> for
// an Ory Network project (the slug of the project's own domain). Cookies of
// any other name are never sent to Kratos, so a cookie of another project
// on a parent domain cannot shadow the real one.
// Default: DefaultCookieName (ory_kratos_session).
func WithCookieName(name string) Option {
	return func(c *config) error {
		if name == "" || !isCookieName(name) {
			return fmt.Errorf("kratosauth: WithCookieName: invalid cookie name %q", name)
		}
		c.cookieName = name
		return nil
	}
}

// maxCacheDuration bounds the cache's durations, so that no deadline or
// fence computed from them overflows (nanoseconds since 1970, or
// microseconds in a 16-digit Redis fence).
const maxCacheDuration = 365 * 24 * time.Hour

// WithCacheTTL sets how long a valid session is served from the cache. An
// entry never outlives the session's expires_at or Kratos'
// Ory-Session-Cache-For header. Zero disables the cache (and cannot be
// combined with the other cache options). A revoked session is still
// accepted for up to this long unless Invalidate is called. At most a year.
// Default: DefaultCacheTTL (1 minute).
func WithCacheTTL(ttl time.Duration) Option {
	return func(c *config) error {
		if ttl < 0 || ttl > maxCacheDuration {
			return fmt.Errorf("kratosauth: WithCacheTTL: duration must be between 0 and %s, got %s", maxCacheDuration, ttl)
		}
		c.cacheTTL = ttl
		return nil
	}
}

// WithCache sets the store for cached sessions, for example one shared
// between authenticators or a store of your own (keys are namespaced by the
// Kratos URL and cookie name, see cache.Store). The Authenticator does not
// close a store it did not create. To disable caching, use WithCacheTTL(0).
// Default: an in-process store (cache.NewMemory) sized by WithCacheSizeMB
// and closed by Close.
func WithCache(store cache.Store) Option {
	return func(c *config) error {
		if store == nil {
			return errors.New("kratosauth: WithCache: nil store (use WithCacheTTL(0) to disable caching)")
		}
		c.store = store
		c.storeSet = true
		return nil
	}
}

// WithCacheSizeMB bounds the memory of the default in-process cache, in
// megabytes; when it is full the oldest entries are dropped first. Size it
// by the README's rule ("Sizing the in-process cache"). It cannot be
// combined with WithCache (size that store yourself). Default:
// DefaultCacheSizeMB (128).
func WithCacheSizeMB(mb int) Option {
	return func(c *config) error {
		if mb <= 0 {
			return fmt.Errorf("kratosauth: WithCacheSizeMB: size must be positive, got %d MB", mb)
		}
		c.cacheSizeMB = mb
		c.cacheSizeSet = true
		return nil
	}
}

// WithStaleIfError lets a cached session be served for up to grace past its
// cache deadline when Kratos is unavailable, instead of answering 503.
// Within the deadline nothing changes; past it Kratos is asked first, and
// the stale session is used only if that fails with ErrUnavailable. It is
// never used past the session's expires_at. The trade-off: during an outage,
// a session revoked up to TTL + grace ago is still accepted. At most a
// year. Default: 0 (off).
func WithStaleIfError(grace time.Duration) Option {
	return func(c *config) error {
		if grace < 0 || grace > maxCacheDuration {
			return fmt.Errorf("kratosauth: WithStaleIfError: duration must be between 0 and %s, got %s", maxCacheDuration, grace)
		}
		c.staleGrace = grace
		return nil
	}
}

// WithNegativeCacheTTL remembers for ttl that Kratos refused a credential
// (401, or an inactive or expired session), and refuses it again without
// calling Kratos, so a client repeating a bad token or cookie cannot make
// every request a whoami call. Kratos never turns a refused credential
// into a valid one (a login issues a new cookie or token), so the trade-off
// is only memory: one small entry per refused credential. It does not help
// against floods of distinct garbage credentials; rate-limit those in front.
// At most a year. Default: 0 (off).
func WithNegativeCacheTTL(ttl time.Duration) Option {
	return func(c *config) error {
		if ttl < 0 || ttl > maxCacheDuration {
			return fmt.Errorf("kratosauth: WithNegativeCacheTTL: duration must be between 0 and %s, got %s", maxCacheDuration, ttl)
		}
		c.negativeTTL = ttl
		return nil
	}
}

// WithHTTPClient sets the client used for whoami. Redirects are never
// followed, whatever the client's CheckRedirect says, so the credential
// cannot be sent to another host. Default: a client whose transport keeps
// up to 256 idle connections to Kratos.
func WithHTTPClient(client *http.Client) Option {
	return func(c *config) error {
		if client == nil {
			return errors.New("kratosauth: WithHTTPClient: nil client")
		}
		c.client = client
		return nil
	}
}

// WithTimeout bounds each whoami call; when it passes, the request fails
// with ErrUnavailable. An answer that takes longer than DefaultTimeout is
// served but not cached (so that the cache's revocations never depend on
// each replica's timeout). Default: DefaultTimeout (5 seconds).
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("kratosauth: WithTimeout: duration must be positive, got %s", d)
		}
		c.timeout = d
		return nil
	}
}

// WithMaxResponseBytes caps the size of a whoami response body; a larger one
// fails with ErrUnavailable. Default: DefaultMaxResponseBytes (1 MiB).
func WithMaxResponseBytes(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("kratosauth: WithMaxResponseBytes: size must be positive, got %d", n)
		}
		c.maxResponseBytes = n
		return nil
	}
}

// WithLogger sets the logger for Kratos failures (never credentials); to
// discard them, pass slog.New(slog.DiscardHandler). Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("kratosauth: WithLogger: nil logger (slog.New(slog.DiscardHandler) discards logs)")
		}
		c.logger = l
		return nil
	}
}

// WithErrorHandler sets what the middlewares write when they refuse a
// request. Default: DefaultErrorHandler.
func WithErrorHandler(h ErrorHandler) Option {
	return func(c *config) error {
		if h == nil {
			return errors.New("kratosauth: WithErrorHandler: nil handler")
		}
		c.errorHandler = h
		return nil
	}
}

// WithTokenizeAs asks whoami for the session as a JSON Web Token made with
// Kratos' tokenizer template of that name (session.whoami.tokenizer.templates
// in Kratos' config; whoami?tokenize_as=template). The token is in
// Session.Tokenized, and TokenTransport sends it to downstream services,
// which verify it without calling Kratos (package kratosjwt of the
// jwtverify module).
//
// A cached session never outlives its token: the entry's deadline is also
// bounded by the token's exp claim (less TokenExpiryMargin), and a session
// whose token has no readable exp is not cached. Kratos sends no
// Ory-Session-Cache-For when it tokenizes; the other bounds (WithCacheTTL,
// expires_at) apply as always. A template Kratos does not know makes every
// whoami fail, and so every request a 503.
// Default: none (whoami answers without a token).
func WithTokenizeAs(template string) Option {
	return func(c *config) error {
		if !isTemplateName(template) {
			return fmt.Errorf("kratosauth: WithTokenizeAs: invalid template name %q (want letters, digits, '-', '_' or '.')", template)
		}
		c.tokenizeAs = template
		return nil
	}
}

// WithForbiddenHandler sets the page a browser navigation gets when a
// signed-in user is refused by a route's rules (ErrForbidden: a predicate,
// or the permission service said no). h runs with the session in the
// request's context, so the page can say who is signed in; the status is
// 403 whatever h writes, and Cache-Control is no-store. It should not
// redirect to login: the user is signed in, and would come straight back.
// API clients still get the ErrorHandler's answer (a JSON 403).
// Default: none, the ErrorHandler answers (DefaultErrorHandler: a plain
// 403 page).
func WithForbiddenHandler(h http.Handler) Option {
	return func(c *config) error {
		if h == nil {
			return errors.New("kratosauth: WithForbiddenHandler: nil handler")
		}
		c.forbidden = h
		return nil
	}
}

// isTemplateName accepts the names Kratos' config schema allows for
// tokenizer templates: [a-zA-Z0-9-_.]+.
func isTemplateName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '-', b == '_', b == '.':
		default:
			return false
		}
	}
	return true
}

// WithPermissions sets the permission service of RequirePermission and
// Guard.WherePermitted, for example a *keto.Client
// (github.com/kratosauth/kratosauth/keto) for Ory Keto or Ory Network.
// Default: none; RequirePermission panics without it.
func WithPermissions(p PermissionChecker) Option {
	return func(c *config) error {
		if p == nil {
			return errors.New("kratosauth: WithPermissions: nil PermissionChecker")
		}
		c.permissions = p
		return nil
	}
}

func parseBaseURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("kratosauth: invalid %s: %w", what, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("kratosauth: invalid %s %q: scheme must be http or https", what, raw)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("kratosauth: invalid %s %q: want scheme://host[:port][/path]", what, raw)
	}
	if _, port, err := net.SplitHostPort(u.Host); err == nil && port == "" {
		return nil, fmt.Errorf("kratosauth: invalid %s %q: empty port", what, raw)
	}
	if _, ok := origin.Key(u.Scheme, u.Host); !ok {
		return nil, fmt.Errorf("kratosauth: invalid %s %q: want an ASCII host (an internationalised name in its xn-- form)", what, raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// isCookieName accepts RFC 7230 token characters.
func isCookieName(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, b) >= 0 {
			return false
		}
	}
	return true
}

// validate rejects combinations of options that cannot work together.
func (c *config) validate() error {
	if c.extension != nil && c.extension.adminURL == "" {
		return errors.New("kratosauth: WithKratosAdminAPIKey needs WithSessionExtension")
	}
	if c.revocationSink != nil && c.cacheTTL <= 0 {
		return errors.New("kratosauth: WithRevocationSink needs the cache (session IDs are read from it), which WithCacheTTL(0) disables")
	}
	if c.cacheTTL > 0 {
		if c.storeSet && c.cacheSizeSet {
			return errors.New("kratosauth: WithCacheSizeMB sizes the default cache; it cannot be combined with WithCache")
		}
		return nil
	}
	for _, o := range []struct {
		set  bool
		name string
	}{
		{c.storeSet, "WithCache"}, {c.cacheSizeSet, "WithCacheSizeMB"},
		{c.staleGrace > 0, "WithStaleIfError"}, {c.negativeTTL > 0, "WithNegativeCacheTTL"},
	} {
		if o.set {
			return fmt.Errorf("kratosauth: %s needs the cache, which WithCacheTTL(0) disables", o.name)
		}
	}
	return nil
}
