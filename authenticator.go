package kratosauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/internal/origin"
	"github.com/kratosauth/kratosauth/internal/settings"
	"github.com/kratosauth/kratosauth/internal/tier"
)

// Authenticator checks requests against Kratos. Build one with New when the
// app starts and share it: it holds the parsed configuration, the whoami
// client's connection pool and the session cache. It is safe for concurrent use.
type Authenticator struct {
	cfg        config
	whoamiURL  string
	namespace  string // sets this Authenticator's cache keys apart in a shared store
	ownsStore  bool
	inflight   singleflight.Group
	calls      atomic.Uint64 // names the calls of callers that may not share one (fetchShared)
	writeLocks writeLocks
	hot        *hotCache                      // nil unless the store is the default one
	readDigest func([32]byte) ([]byte, error) // the default store's Get by digest, or nil
	loginURL   string                         // browser URL + /self-service/login/browser
	warnings   warnLimiter
	ext        *extender // nil without WithSessionExtension
}

// New returns an Authenticator for the Kratos public API at kratosPublicURL
// (for example "http://127.0.0.1:4433"), the address this app uses to call
// GET /sessions/whoami. All configuration is checked here: New returns an
// error for a bad URL or option and the Authenticator never fails later for
// configuration reasons.
func New(kratosPublicURL string, opts ...Option) (*Authenticator, error) {
	pub, err := parseBaseURL("Kratos public URL", kratosPublicURL)
	if err != nil {
		return nil, err
	}
	c := config{
		publicURL:        pub,
		cookieName:       DefaultCookieName,
		cacheTTL:         DefaultCacheTTL,
		cacheSizeMB:      DefaultCacheSizeMB,
		timeout:          DefaultTimeout,
		maxResponseBytes: DefaultMaxResponseBytes,
		logger:           slog.Default(),
		errorHandler:     DefaultErrorHandler,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("kratosauth: nil Option")
		}
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.browserURL == nil {
		c.browserURL = c.publicURL
	}
	c.client = whoamiClient(c.client)

	a := &Authenticator{cfg: c}
	a.whoamiURL = c.publicURL.String() + "/sessions/whoami"
	if c.tokenizeAs != "" {
		a.whoamiURL += "?tokenize_as=" + url.QueryEscape(c.tokenizeAs)
	}
	// The whoami URL, tokenizer template included, is in the namespace: an
	// Authenticator asking for another template (or none) sharing the store
	// must never get these sessions, whose Tokenized it did not ask for.
	a.namespace = a.whoamiURL + "\x00" + c.cookieName
	a.loginURL = c.browserURL.String() + "/self-service/login/browser"
	if c.extension != nil {
		a.ext = newExtender()
	}

	if c.cacheTTL > 0 && !c.storeSet {
		store, err := cache.NewMemory(c.cacheSizeMB)
		if err != nil {
			return nil, fmt.Errorf("kratosauth: session cache: %w", err)
		}
		a.cfg.store = store
		a.ownsStore = true
		a.hot = newHotCache(min(int64(c.cacheSizeMB)<<20/hotTierShare, hotTierMaxBytes))
		tier.OnEvict(store, a.dropEvicted)
		a.readDigest = tier.DigestReader(store)
	}
	return a, nil
}

// whoamiClient returns a copy of client (or of the default) that never
// follows redirects and has no cookie jar: a redirect would hand the
// credential to another URL, and a jar would keep a cookie Kratos sets for
// one user and send it with every later user's whoami.
func whoamiClient(client *http.Client) *http.Client {
	var c http.Client
	if client != nil {
		c = *client
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// The default 2 idle connections per host means a new TCP connection
		// for most whoami calls under load.
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 256
		c.Transport = t
	}
	c.Jar = nil
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// Close releases the default session cache and its background goroutine,
// and closes the whoami client's idle connections. A store passed with
// WithCache is left open. Requests must not be authenticated after Close.
func (a *Authenticator) Close() error {
	if a.ext != nil {
		a.ext.close() // before the store closes: a finished extension writes to it
	}
	a.cfg.client.CloseIdleConnections() // their read/write goroutines would outlive Close
	if a.ownsStore && a.cfg.store != nil {
		return a.cfg.store.Close()
	}
	return nil
}

// Authenticate returns the Kratos session for the request's credential: a
// cached one while it is fresh, otherwise the answer of one whoami call
// (concurrent requests with the same credential share that call).
//
// On failure the error is an *Error matching one of ErrNoCredentials,
// ErrInvalidSession, ErrAAL2Required, ErrCanceled or ErrUnavailable (never
// ErrForbidden: rules are the Guard's).
//
// Authenticate cannot pass on the session cookie that Kratos re-issues
// when a session was extended; the middlewares (see Guard) do.
func (a *Authenticator) Authenticate(r *http.Request) (*Session, error) {
	res, err := a.authenticate(r)
	a.observe(r.Context(), res, err)
	return res.session, err
}

// authResult is a session and, when Kratos was asked, the Set-Cookie lines
// for the session cookie that Kratos sent with it; cache says where the
// answer came from, for the Observer, on failures too.
type authResult struct {
	session   *Session
	setCookie []string
	cache     CacheState
}

func (a *Authenticator) authenticate(r *http.Request) (authResult, error) {
	cred, err := a.cfg.extractCredential(r)
	if err != nil {
		return authResult{}, a.withRedirect(r, err)
	}
	key := cred.digest(a.namespace)
	cached, state, rev := a.lookup(&key, time.Now())
	switch state {
	case entryFresh:
		a.maybeExtend(&key, cached)
		return authResult{session: cached, cache: CacheHit}, nil
	case entryRefused:
		return authResult{cache: CacheNegative}, a.withRedirect(r, &Error{Kind: ErrInvalidSession, Cause: errRefusedRecently})
	}
	if !cred.sendable() {
		return authResult{}, a.withRedirect(r, &Error{Kind: ErrInvalidSession, Cause: errMalformedCredential})
	}
	res, err := a.fetchShared(r.Context(), key, rev, cred)
	if err != nil {
		// Only Kratos' own failure may fall back on the stale session: never
		// a refusal, and never a client that hung up.
		if state == entryStale && errors.Is(err, ErrUnavailable) {
			a.cfg.logger.LogAttrs(r.Context(), slog.LevelWarn, "kratosauth: Kratos unavailable, serving a stale cached session",
				slog.String("error", err.Error()), slog.String("path", r.URL.Path))
			return authResult{session: cached, cache: CacheStale}, nil
		}
		return authResult{cache: res.cache}, a.withRedirect(r, err)
	}
	a.maybeExtend(&key, res.session)
	return res, nil
}

var errRefusedRecently = errors.New("Kratos refused this credential recently (negative cache)")

// Invalidate revokes the cached session for the request's credential, in
// this process and, with a shared store, on every replica: the next request
// asks Kratos again. Call it on logout, before sending the browser to
// Kratos' logout URL. For the cache TTL that follows, no answer for this
// credential is cached, so a request racing the logout, on any replica,
// cannot put the session back.
//
// It returns nil when the revocation is recorded (or there is nothing to
// revoke: no credential, or no cache), and an error when the store could
// not record it (a shared store that is down): other replicas may then
// serve the session from their cache until its entry expires. Do not
// report the logout as done then: answer 503 and let the user try again.
func (a *Authenticator) Invalidate(r *http.Request) error {
	if a.cfg.store == nil {
		return nil
	}
	cred, err := a.cfg.extractCredential(r)
	if err != nil {
		return nil
	}
	key := cred.digest(a.namespace)
	if err := a.revoke(&key, refusedInvalidated, a.cfg.cacheTTL, a.cfg.cacheTTL); err != nil {
		return fmt.Errorf("kratosauth: Invalidate: %w", err)
	}
	return nil
}

// HandleError writes the response for err with the configured ErrorHandler,
// after logging Kratos' and the permission service's failures at WARN; a
// browser navigation refused with ErrForbidden gets the WithForbiddenHandler
// page when there is one. A caller's cancellation is not a failure and is
// not logged.
func (a *Authenticator) HandleError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrUnavailable) {
		msg := "kratosauth: session check failed: Kratos unavailable"
		if errors.Is(err, errPermissionService) {
			msg = "kratosauth: permission check failed: permission service unavailable"
		}
		a.cfg.logger.LogAttrs(r.Context(), slog.LevelWarn, msg,
			slog.String("error", err.Error()), slog.String("path", r.URL.Path))
	}
	if a.cfg.forbidden != nil && errors.Is(err, ErrForbidden) && IsBrowserNavigation(r) {
		w.Header().Set("Cache-Control", "no-store")
		fw := &forbiddenWriter{ResponseWriter: w}
		a.cfg.forbidden.ServeHTTP(fw, r)
		fw.WriteHeader(http.StatusForbidden) // a handler that wrote nothing
		return
	}
	a.cfg.errorHandler(w, r, err)
}

// fetchShared makes one whoami call per credential and revision (the
// revocation the caller saw in the cache) at a time. The call runs
// detached from any one caller's context, bounded by the configured timeout,
// so a client that goes away does not fail the others waiting on it; that
// client itself gets ErrCanceled.
//
// A caller that did not start the call gets its admission only when the
// store accepted it (or there is no store): the store refuses an answer
// when a revocation of the key came after its ticket, but a revocation the
// caller cannot see in its revision (an identity eviction, which marks
// only the keys already indexed; a marker it could not read) may still
// have come between the call's start and the caller's. The callers left in
// doubt by one call share a second call, which starts after each of them
// did (no one else can join it), so its answer is theirs whatever the
// store says: a credential costs Kratos one call at a time even while the
// store is down.
func (a *Authenticator) fetchShared(ctx context.Context, key digest, rev revision, cred credential) (authResult, error) {
	flight := string(key[:])
	if rev != (revision{}) {
		flight += string(rev[:])
	}
	res, shared, err := a.fetchFlight(ctx, key, flight, cred)
	if err != nil || !shared || res.trusted {
		return res.authResult, err
	}
	res, _, err = a.fetchFlight(ctx, key, flight+"\x00after\x00"+strconv.FormatUint(res.call, 10), cred)
	return res.authResult, err
}

// flightAnswer is a whoami call's answer; trusted: it was cached, or there
// is no store (see fetchShared); call numbers the call, for the second call
// of the callers it leaves in doubt.
type flightAnswer struct {
	authResult
	trusted bool
	call    uint64
}

// fetchFlight runs or joins the whoami call named flight; shared reports
// that the answer is another caller's call's.
func (a *Authenticator) fetchFlight(ctx context.Context, key digest, flight string, cred credential) (res flightAnswer, shared bool, err error) {
	cache := CacheShared // unless this request's own call runs
	ch := a.inflight.DoChan(flight, func() (any, error) {
		cache = CacheMiss // read after the result arrives: the channel orders it
		// The callers' cache read may predate a call that ended since and
		// cached the session (its flight is gone): read again rather than
		// ask Kratos twice. A fresh entry is one no revocation replaced.
		if s, state, _ := a.lookup(&key, time.Now()); state == entryFresh {
			cache = CacheHit
			return flightAnswer{authResult: authResult{session: s}, trusted: true, call: a.calls.Add(1)}, nil
		}
		// The ticket is taken before Kratos is asked: a revocation after
		// this point, on any replica, keeps the answer out of the cache.
		ticket, cacheable := a.begin(&key)
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.timeout)
		defer cancel()
		res, cacheFor, err := a.whoami(callCtx, cred)
		trusted := a.cfg.store == nil
		switch {
		case err == nil:
			if cacheable {
				trusted = a.store(&key, res.session, cacheFor, ticket)
			}
		case errors.Is(err, ErrInvalidSession), errors.Is(err, ErrAAL2Required):
			a.forget(&key, err)
		}
		return flightAnswer{authResult: res, trusted: trusted, call: a.calls.Add(1)}, err
	})
	select {
	case r := <-ch:
		// select picks at random when the answer and the hang-up are both
		// there: the hang-up wins, so a gone client's handler never runs.
		if ctx.Err() != nil {
			return flightAnswer{}, false, &Error{Kind: ErrCanceled, Cause: context.Cause(ctx)}
		}
		if r.Err != nil {
			return flightAnswer{authResult: authResult{cache: cache}}, false, r.Err
		}
		out := r.Val.(flightAnswer)
		out.cache = cache
		return out, cache == CacheShared, nil
	case <-ctx.Done():
		return flightAnswer{}, false, &Error{Kind: ErrCanceled, Cause: context.Cause(ctx)}
	}
}

// withRedirect fills in where a browser should go to recover from err.
func (a *Authenticator) withRedirect(r *http.Request, err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	// Errors may be shared by singleflight waiters: copy before changing.
	out := *e
	switch e.Kind {
	case ErrNoCredentials, ErrInvalidSession:
		out.RedirectTo = a.LoginURL(r)
	case ErrAAL2Required:
		out.RedirectTo = a.stepUpFromKratos(r, e.RedirectTo)
	}
	return &out
}

// LoginURL returns the URL of Kratos' browser login flow, with return_to set
// to the configured app URL plus r's path and query (never r's Host).
func (a *Authenticator) LoginURL(r *http.Request) string {
	rt := a.returnTo(r)
	if rt == "" {
		return a.loginURL
	}
	return a.loginURL + "?return_to=" + url.QueryEscape(rt)
}

// RedirectToLogin sends the browser to LoginURL(r) with 303 See Other and
// Cache-Control: no-store.
func (a *Authenticator) RedirectToLogin(w http.ResponseWriter, r *http.Request) {
	seeOther(w, r, a.LoginURL(r))
}

// stepUpURL is Kratos' login flow asking for a higher level, e.g. aal2.
func (a *Authenticator) stepUpURL(r *http.Request, aal string) string {
	u := a.loginURL + "?aal=" + url.QueryEscape(aal)
	if rt := a.returnTo(r); rt != "" {
		u += "&return_to=" + url.QueryEscape(rt)
	}
	return u
}

// stepUpFromKratos adds return_to to Kratos' redirect_browser_to. Kratos'
// target is used only when it is on the browser URL's origin (origin.Same,
// the check the self-service pages use too); anything else is replaced by
// our own step-up URL, so a whoami answer can never send users to another
// site.
func (a *Authenticator) stepUpFromKratos(r *http.Request, kratosTarget string) string {
	u, ok := origin.Same(kratosTarget, a.cfg.browserURL)
	if !ok {
		return a.stepUpURL(r, AAL2)
	}
	if rt := a.returnTo(r); rt != "" {
		q := u.Query()
		q.Set("return_to", rt)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// returnTo is the app URL plus the request's path and query; "" without an
// app URL. Only r.URL's path and query are used: they are appended to a fixed
// origin, so no request can choose the host users are sent back to.
func (a *Authenticator) returnTo(r *http.Request) string {
	app := a.cfg.appURL
	if app == nil {
		return ""
	}
	path := r.URL.EscapedPath()
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	rt := app.Scheme + "://" + app.Host + app.EscapedPath() + path
	if r.URL.RawQuery != "" {
		rt += "?" + strings.ReplaceAll(r.URL.RawQuery, "#", "%23") // a raw '#' would start a fragment
	}
	return rt
}

// retryAfter parses a Retry-After header in seconds or as an HTTP date.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if secs, err := strconv.Atoi(h); err == nil && secs > 0 {
		return min(time.Duration(secs), (1<<63-1)/time.Second) * time.Second // no overflow
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

func init() {
	settings.Of = func(auth any) settings.Settings {
		a := auth.(*Authenticator)
		out := settings.Settings{
			PublicURL:        *a.cfg.publicURL,
			BrowserURL:       *a.cfg.browserURL,
			Client:           a.cfg.client,
			Timeout:          a.cfg.timeout,
			MaxResponseBytes: a.cfg.maxResponseBytes,
			Logger:           a.cfg.logger,
			CookieName:       a.cfg.cookieName,
		}
		if a.cfg.appURL != nil {
			app := *a.cfg.appURL
			out.AppURL = &app
		}
		return out
	}
}
