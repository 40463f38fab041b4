package selfservice

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kratosauth/kratosauth"
)

// Page names besides the flow kinds.
const (
	ErrorPage  = "error"
	LogoutPage = "logout"
)

// restartCookie counts consecutive fresh-flow redirects, so that a
// misconfiguration (Kratos' cookies not reaching the app) ends on an error
// page instead of a redirect loop.
const (
	restartCookie = "kratosauth_flow_restarts"
	maxRestarts   = 3
)

// Handler serves the self-service pages: /login, /registration,
// /settings, /verification, /recovery, /error and /logout (below the base
// path). Build it with New. It is safe for concurrent use.
type Handler struct {
	cfg    config
	auth   *kratosauth.Authenticator
	client *Client
	prefix string // app URL (if any) + base path, for links
	home   string
	secure bool // set the restart cookie with Secure
	// formAction is the CSP form-action source list, built once by New;
	// formOrigins are its WithFormActionOrigins entries, parsed.
	formAction  string
	formOrigins []*url.URL
	// catalogs are the built-in catalogs with the app's (WithCatalog)
	// merged in, by language.
	catalogs map[string]Catalog
}

// New returns a Handler for the Kratos and app URLs configured in auth.
// Configure auth with kratosauth.WithAppURL, or return_to is always dropped,
// and with kratosauth.WithBrowserURL when browsers reach Kratos at another
// address than the app does. New checks every option and never fails later
// for configuration reasons.
func New(auth *kratosauth.Authenticator, opts ...Option) (*Handler, error) {
	if auth == nil {
		return nil, errors.New("selfservice: nil Authenticator")
	}
	c := config{siteName: "Account"}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("selfservice: nil Option")
		}
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	if c.tmpl == nil {
		// A clone: the shared set must never execute, or it could not be
		// cloned by DefaultTemplates any more.
		c.tmpl = DefaultTemplates()
	}
	client, err := NewClient(auth)
	if err != nil {
		return nil, err
	}
	kratos, err := cspOrigin(client.browser)
	if err != nil {
		return nil, fmt.Errorf("selfservice: Kratos browser URL: %w", err)
	}
	// 'self': Kratos answers a form post with a redirect back to the app
	// (the flow's page, return_to), and Chromium applies form-action to
	// the redirects that follow a form submission.
	catalogs := map[string]Catalog{}
	for lang, cat := range builtinCatalogs {
		catalogs[lang] = cat
	}
	for lang, cat := range c.catalogs {
		merged := Catalog{}
		for k, v := range catalogs[lang] {
			merged[k] = v
		}
		for k, v := range cat {
			merged[k] = v // the app's entries win
		}
		catalogs[lang] = merged
	}
	if c.language != "" && catalogs[c.language] == nil {
		return nil, fmt.Errorf("selfservice: WithLanguage(%q): no catalog for it (built in: %v)", c.language, Languages())
	}
	h := &Handler{cfg: c, auth: auth, client: client, prefix: c.basePath, home: "/", catalogs: catalogs,
		formAction: strings.Join(append([]string{"'self'", kratos}, c.formOrigins...), " ")}
	for _, o := range c.formOrigins {
		u, err := url.Parse(o) // checked by WithFormActionOrigins
		if err != nil {
			return nil, fmt.Errorf("selfservice: form action origin %q: %w", o, err)
		}
		h.formOrigins = append(h.formOrigins, u)
	}
	if app := client.app; app != nil {
		h.prefix = app.String() + c.basePath
		h.home = app.String() + "/"
		h.secure = app.Scheme == "https"
	}
	return h, nil
}

// logger is the Authenticator's (kratosauth.WithLogger).
func (h *Handler) logger() *slog.Logger { return h.client.cfg.Logger }

// Client returns the Client the pages use, for calls of your own.
func (h *Handler) Client() *Client { return h.client }

// Paths returns the paths the pages are served at: the base path plus
// /login, /registration, /settings, /verification, /recovery, /error and
// /logout.
func (h *Handler) Paths() []string {
	out := make([]string, 0, len(allKinds)+2)
	for _, k := range allKinds {
		out = append(out, h.cfg.basePath+"/"+string(k))
	}
	return append(out, h.cfg.basePath+"/"+ErrorPage, h.cfg.basePath+"/"+LogoutPage)
}

// Mux is what Register registers on: *http.ServeMux, chi.Router, ...
type Mux interface {
	Handle(pattern string, handler http.Handler)
}

// Register registers h on mux at each of Paths().
func (h *Handler) Register(mux Mux) {
	for _, p := range h.Paths() {
		mux.Handle(p, h)
	}
}

// ServeHTTP serves the page at r.URL.Path, or 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.setSecurityHeaders(w, "")
	rest, ok := strings.CutPrefix(r.URL.Path, h.cfg.basePath+"/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch k := Kind(rest); {
	case k.valid():
		h.serveFlow(w, r, k)
	case rest == ErrorPage:
		h.serveError(w, r)
	case rest == LogoutPage:
		h.serveLogout(w, r)
	default:
		http.NotFound(w, r)
	}
}

// FlowHandler returns the handler of one flow's page, for routers that
// register pages one by one. It serves that page whatever the path.
func (h *Handler) FlowHandler(kind Kind) http.Handler {
	if !kind.valid() {
		panic("selfservice: unknown flow kind " + strconv.Quote(string(kind)))
	}
	return h.withHeaders(func(w http.ResponseWriter, r *http.Request) { h.serveFlow(w, r, kind) })
}

// ErrorHandler returns the handler of the /error page.
func (h *Handler) ErrorHandler() http.Handler { return h.withHeaders(h.serveError) }

// LogoutHandler returns the handler of the /logout page. GET or POST
// /logout[?return_to=] asks Kratos for the browser's logout URL (Kratos
// guards it with a per-session logout token), drops the session from the
// Authenticator's cache and 303-redirects to it; Kratos then revokes the
// session and redirects to return_to or its logout default. Without a
// session it redirects to the app's home. A cross-site top-level GET can
// log a user out (as with most logout links); link to it with a POST form
// if that matters to you.
func (h *Handler) LogoutHandler() http.Handler { return h.withHeaders(h.serveLogout) }

// withHeaders is f with the security headers every response carries.
func (h *Handler) withHeaders(f http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.setSecurityHeaders(w, "")
		f(w, r)
	})
}

// URL returns the URL of a page: a Kind or ErrorPage or LogoutPage.
// It is absolute when the Authenticator has an app URL.
func (h *Handler) URL(page string) string { return h.prefix + "/" + page }

func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
	return false
}
