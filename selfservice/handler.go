package selfservice

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/origin"
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

// serveFlow shows the flow in ?flow=, or starts one.
//
//	no ?flow=                   303 to Kratos' /self-service/<kind>/browser
//	flow fetched                200 with the rendered flow
//	expired, unknown, CSRF      303 to a fresh flow (at most maxRestarts in a row)
//	no session (settings)       303 to login, returning to this page
//	Kratos asks for a redirect  303 there (if on Kratos' or the app's origin)
//	Kratos unavailable          503 page
func (h *Handler) serveFlow(w http.ResponseWriter, r *http.Request, kind Kind) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	q := r.URL.Query()
	params := InitParams{ReturnTo: q.Get("return_to"), AAL: q.Get("aal"), Refresh: q.Get("refresh") == "true"}
	id := q.Get("flow")
	if id == "" {
		h.client.RedirectToBrowserFlow(w, r, kind, params)
		return
	}
	f, err := h.client.GetFlow(r.Context(), r, kind, id)
	if err != nil {
		h.flowError(w, r, kind, params, err)
		return
	}
	if c, err := r.Cookie(restartCookie); err == nil && c.Value != "" {
		h.setRestarts(w, -1)
	}
	p, err := h.flowPage(kind, f)
	if err != nil {
		h.logger().LogAttrs(r.Context(), slog.LevelError, "selfservice: flow not rendered",
			slog.String("flow", string(kind)), slog.String("error", err.Error()))
		h.renderError(w, r, http.StatusInternalServerError, tooLargeError)
		return
	}
	if submittable(p.Forms) && !h.formActionAllowed(r, f.UI.Action) {
		h.logger().LogAttrs(r.Context(), slog.LevelWarn,
			"selfservice: the flow's form action is on an origin the pages' Content-Security-Policy (form-action) does not allow, so browsers will not post its forms; set kratosauth.WithBrowserURL to Kratos' serve.public.base_url",
			slog.String("flow", string(kind)), slog.String("action_origin", actionOrigin(f.UI.Action)))
	}
	p.Scripts = h.scripts(r, f)
	if kind == Login && (f.Refresh || f.RequestedAAL == kratosauth.AAL2) {
		p.SignOutURL = h.signOutURL(r, f)
	}
	h.render(w, r, http.StatusOK, p)
}

// formActionAllowed reports whether the pages' form-action lets a form
// post to action: Kratos' browser URL, the app ('self') or an origin of
// WithFormActionOrigins. Without an app URL, 'self' is the request's own
// origin; the answer only decides whether to log.
func (h *Handler) formActionAllowed(r *http.Request, action string) bool {
	self := h.client.app
	if self == nil {
		self = &url.URL{Scheme: "http", Host: r.Host}
		if r.TLS != nil {
			self.Scheme = "https"
		}
	}
	for _, o := range append([]*url.URL{h.client.browser, self}, h.formOrigins...) {
		if _, ok := origin.Same(action, o); ok {
			return true
		}
	}
	return false
}

// submittable reports whether a form has a button: a flow that only
// links on (a verification that succeeded has the return address as its
// action and a "Continue" link) posts nothing, wherever its action is.
func submittable(forms []Form) bool {
	for _, f := range forms {
		for _, fd := range f.Fields {
			if fd.IsSubmit() || fd.Type == "input" && fd.Attributes.Type == "button" {
				return true
			}
		}
	}
	return false
}

// actionOrigin is the origin of a form action, for logs (the flow id in
// its query stays out of them), or "invalid".
func actionOrigin(action string) string {
	u, err := url.Parse(action)
	if err != nil || u.Host == "" {
		return "invalid"
	}
	return u.Scheme + "://" + u.Host
}

// webauthnScriptPath is where Kratos serves webauthn.js.
const webauthnScriptPath = "/.well-known/ory/webauthn.js"

// scripts returns the flow's script nodes the page may load: Kratos'
// webauthn.js on Kratos' browser URL, with an integrity hash (Kratos
// always gives one). Any other script is dropped and logged: the page
// then runs no script, and its WebAuthn buttons do nothing.
func (h *Handler) scripts(r *http.Request, f *Flow) []Script {
	var out []Script
	for i := range f.UI.Nodes {
		n := &f.UI.Nodes[i]
		if n.Type != "script" {
			continue
		}
		a := &n.Attributes
		u, ok := origin.Same(a.Src, h.client.browser)
		if !ok || !strings.HasSuffix(u.Path, webauthnScriptPath) || u.RawQuery != "" || !sriHash(a.Integrity) {
			h.logger().LogAttrs(r.Context(), slog.LevelWarn, "selfservice: script node dropped: not Kratos' webauthn.js on the browser URL, with an integrity hash",
				slog.String("id", a.ID))
			continue
		}
		s := Script{Src: u.String(), Integrity: a.Integrity, CrossOrigin: "anonymous", ReferrerPolicy: "no-referrer"}
		if len(out) == 0 || out[0] != s {
			out = append(out, s)
		}
	}
	return out
}

// sriHash accepts a Subresource Integrity value of one SHA-2 hash.
func sriHash(v string) bool {
	for _, p := range []string{"sha256-", "sha384-", "sha512-"} {
		if b64, ok := strings.CutPrefix(v, p); ok {
			_, err := base64.StdEncoding.DecodeString(b64)
			return err == nil && b64 != ""
		}
	}
	return false
}

// signOutURL returns a fresh logout URL for the "Not you? Sign out" link
// of a second-factor or refresh login, returning to a new login (with
// the flow's return_to), or "" when Kratos gives none: the link is then
// left out, and the page still works.
func (h *Handler) signOutURL(r *http.Request, f *Flow) string {
	back := h.URL(string(Login))
	if rt, ok := h.client.SafeReturnTo(f.ReturnTo); ok {
		back += "?return_to=" + url.QueryEscape(rt)
	}
	u, err := h.client.LogoutURL(r.Context(), r, back)
	if err != nil {
		if !errors.Is(err, ErrNoSession) {
			h.logger().LogAttrs(r.Context(), slog.LevelWarn, "selfservice: no logout URL for the sign-out link",
				slog.String("error", err.Error()))
		}
		return ""
	}
	return u
}

func (h *Handler) flowError(w http.ResponseWriter, r *http.Request, kind Kind, params InitParams, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Kind: ErrUnavailable, Cause: err}
	}
	switch e.Kind {
	case ErrUnavailable:
		h.unavailable(w, r, err)
	case ErrFlowExpired:
		if e.ReturnTo != "" {
			params.ReturnTo = e.ReturnTo
		}
		h.restart(w, r, kind, params)
	case ErrNoSession:
		// Settings without a session: sign in first, then come back here.
		rt := h.URL(string(kind))
		if v, ok := h.client.SafeReturnTo(params.ReturnTo); ok {
			rt += "?return_to=" + url.QueryEscape(v)
		}
		h.restart(w, r, Login, InitParams{ReturnTo: rt})
	case ErrRedirect:
		if to, ok := h.client.SafeReturnTo(e.RedirectTo); ok {
			redirect(w, r, to)
			return
		}
		if u, ok := origin.Same(e.RedirectTo, h.client.browser); ok {
			redirect(w, r, u.String())
			return
		}
		h.logger().LogAttrs(r.Context(), slog.LevelWarn, "selfservice: ignoring Kratos redirect to a foreign origin",
			slog.String("flow", string(kind)))
		h.restart(w, r, kind, params)
	default:
		h.logger().LogAttrs(r.Context(), slog.LevelError, "selfservice: fetching flow failed",
			slog.String("flow", string(kind)), slog.String("error", err.Error()))
		h.renderError(w, r, http.StatusInternalServerError, genericError)
	}
}

// restart sends the browser to a fresh flow, unless it has been sent to
// fresh flows maxRestarts times in a row without a flow being shown.
func (h *Handler) restart(w http.ResponseWriter, r *http.Request, kind Kind, params InitParams) {
	n := 0
	if c, err := r.Cookie(restartCookie); err == nil {
		n, _ = strconv.Atoi(c.Value)
	}
	if n >= maxRestarts {
		h.logger().LogAttrs(r.Context(), slog.LevelWarn,
			"selfservice: flow restarted too often; do Kratos' cookies reach the app (same domain, Secure over http)?",
			slog.String("flow", string(kind)))
		h.setRestarts(w, -1)
		h.renderError(w, r, http.StatusInternalServerError, restartError)
		return
	}
	h.setRestarts(w, n+1)
	h.client.RedirectToBrowserFlow(w, r, kind, params)
}

// setRestarts sets the restart counter, or deletes it when n < 0.
func (h *Handler) setRestarts(w http.ResponseWriter, n int) {
	c := &http.Cookie{Name: restartCookie, Path: "/", HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode}
	if n < 0 {
		c.MaxAge = -1
	} else {
		c.Value, c.MaxAge = strconv.Itoa(n), 60
	}
	http.SetCookie(w, c)
}

// serveError shows the Kratos error in ?id=.
func (h *Handler) serveError(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	id := r.URL.Query().Get("id")
	if id == "" {
		h.renderError(w, r, http.StatusNotFound, notFoundError)
		return
	}
	c, err := h.client.GetError(r.Context(), id)
	switch {
	case err == nil:
		status := c.Error.Code
		if status < 400 || status > 599 {
			status = http.StatusInternalServerError
		}
		h.logKratosError(r, &c.Error)
		h.renderError(w, r, status, friendlyError(&c.Error))
	case errors.Is(err, ErrUnavailable):
		h.unavailable(w, r, err)
	default:
		h.renderError(w, r, http.StatusNotFound, notFoundError)
	}
}

// logKratosError logs the error the /error page shows: users of a server
// error only read "Something went wrong", while Kratos' reason (a relying
// party origin that is not the app's, say) is what the operator needs.
// Server errors are logged at ERROR, the others at INFO.
func (h *Handler) logKratosError(r *http.Request, e *KratosError) {
	level := slog.LevelInfo
	if e.Code < 400 || e.Code >= 500 {
		level = slog.LevelError
	}
	h.logger().LogAttrs(r.Context(), level, "selfservice: Kratos reported an error",
		slog.String("id", e.ID), slog.Int("code", e.Code),
		slog.String("reason", truncate(e.Reason, 1000)), slog.String("message", truncate(e.Message, 1000)))
}

// truncate cuts s to at most n bytes, at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// serveLogout ends the browser's session: it asks Kratos for the logout
// URL, drops the session from the Authenticator's cache and redirects to
// it. Without a session it redirects home.
func (h *Handler) serveLogout(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	u, err := h.client.LogoutURL(r.Context(), r, r.URL.Query().Get("return_to"))
	switch {
	case err == nil:
		if h.invalidate(w, r) {
			redirect(w, r, u)
		}
	case errors.Is(err, ErrNoSession):
		if h.invalidate(w, r) {
			redirect(w, r, h.home)
		}
	case errors.Is(err, ErrUnavailable):
		h.unavailable(w, r, err)
	default:
		h.logger().LogAttrs(r.Context(), slog.LevelError, "selfservice: logout failed", slog.String("error", err.Error()))
		h.renderError(w, r, http.StatusInternalServerError, genericError)
	}
}

// invalidate revokes the session in the Authenticator's cache before the
// browser goes to Kratos' logout. When the cache cannot record it, other
// replicas may go on serving the session: the user gets a 503 and tries
// again, rather than a logout that looks done and is not.
func (h *Handler) invalidate(w http.ResponseWriter, r *http.Request) bool {
	err := h.auth.Invalidate(r)
	if err == nil {
		return true
	}
	h.logger().LogAttrs(r.Context(), slog.LevelWarn, "selfservice: logout not recorded in the session cache",
		slog.String("error", err.Error()))
	h.renderError(w, r, http.StatusServiceUnavailable, logoutFailedError)
	return false
}

func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	h.logger().LogAttrs(r.Context(), slog.LevelWarn, "selfservice: Kratos unavailable",
		slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	h.renderError(w, r, http.StatusServiceUnavailable, unavailableError)
}

var titles = map[Kind]string{
	Login:        "Sign in",
	Registration: "Create an account",
	Settings:     "Account settings",
	Verification: "Verify your account",
	Recovery:     "Recover your account",
}

func (h *Handler) flowPage(kind Kind, f *Flow) (*Page, error) {
	title, key := titles[kind], "title."+string(kind)
	switch {
	case kind == Login && f.Refresh:
		title, key = "Confirm it's you", "title.refresh"
	case kind == Login && f.RequestedAAL == kratosauth.AAL2:
		title, key = "Second factor", "title.aal2"
	}
	forms, err := f.Forms()
	if err != nil {
		return nil, err
	}
	p := h.page(title, http.StatusOK, f.ReturnTo)
	p.Kind, p.Flow, p.Forms, p.titleKey = kind, f, forms, key
	return p, nil
}

func (h *Handler) page(title string, status int, returnTo string) *Page {
	suffix := ""
	if rt, ok := h.client.SafeReturnTo(returnTo); ok {
		suffix = "?return_to=" + url.QueryEscape(rt)
	}
	return &Page{
		SiteName: h.cfg.siteName,
		Title:    title,
		Status:   status,
		Style:    defaultStyle,
		URLs: URLs{
			Home:         h.home,
			Login:        h.URL(string(Login)) + suffix,
			Registration: h.URL(string(Registration)) + suffix,
			Settings:     h.URL(string(Settings)),
			Verification: h.URL(string(Verification)),
			Recovery:     h.URL(string(Recovery)),
			Logout:       h.URL(LogoutPage),
		},
	}
}

func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, status int, pe PageError) {
	p := h.page(pe.Title, status, "")
	p.Error = &pe
	h.render(w, r, status, p)
}

// render executes the "page" template into a buffer, so that a template
// error becomes a plain 500 rather than half a page, and a page past
// maxPageBytes the "too large" error page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, p *Page) {
	p.Nonce = newNonce()
	h.translate(r, p)
	h.setPageHeaders(w, p.Nonce, len(p.Scripts) > 0)
	buf := cappedBuffer{max: maxPageBytes}
	err := h.cfg.tmpl.ExecuteTemplate(&buf, "page", p)
	if errors.Is(err, errPageTooLarge) && p.Error == nil {
		h.logger().LogAttrs(r.Context(), slog.LevelError, "selfservice: page not rendered",
			slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		status = http.StatusInternalServerError
		nonce, pe := p.Nonce, tooLargeError // a copy: templates get no pointer to the shared text
		h.setPageHeaders(w, nonce, false)   // the error page runs no script
		p = h.page(pe.Title, status, "")
		p.Error, p.Nonce = &pe, nonce
		h.translate(r, p)
		buf.buf.Reset()
		err = h.cfg.tmpl.ExecuteTemplate(&buf, "page", p)
	}
	if err != nil {
		h.logger().LogAttrs(r.Context(), slog.LevelError, "selfservice: template failed", slog.String("error", err.Error()))
		h.setSecurityHeaders(w, "") // no page: no style either
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.buf.Bytes())
}

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

// translate puts the page in the request's language (WithLanguage, or
// the best match of its Accept-Language): its title, error, the flow's
// Kratos messages and labels, and the settings sections' headings.
func (h *Handler) translate(r *http.Request, p *Page) {
	lang := h.cfg.language
	if lang == "" {
		lang = negotiate(r.Header.Get("Accept-Language"), h.catalogs)
	}
	p.Lang = lang
	p.tr = translator{lang: lang, cat: h.catalogs[lang], en: h.catalogs["en"]}
	if p.titleKey != "" {
		p.Title = p.tr.ui(p.titleKey)
	}
	if e := p.Error; e != nil && e.key != "" {
		e.Title = p.tr.ui("error." + e.key + ".title")
		if !e.kratosMessage {
			e.Message = p.tr.ui("error." + e.key + ".message")
		}
		p.Title = e.Title
	}
	if p.Flow != nil {
		p.tr.translateFlow(p.Flow)
	}
	for i := range p.Forms {
		if _, ok := groupTitles[p.Forms[i].Group]; ok {
			p.Forms[i].Heading = p.tr.ui("group." + p.Forms[i].Group)
		}
	}
}

var (
	genericError = PageError{
		key:     "generic",
		Title:   "Something went wrong",
		Message: "An unexpected error occurred. Please try again later.",
	}
	unavailableError = PageError{
		key:     "unavailable",
		Title:   "Service unavailable",
		Message: "We cannot reach the sign-in service right now. Please try again in a moment.",
	}
	logoutFailedError = PageError{
		key:     "logout_failed",
		Title:   "You are still signed in",
		Message: "We could not sign you out just now. Please try again in a moment.",
	}
	notFoundError = PageError{
		key:     "not_found",
		Title:   "Error not found",
		Message: "This error does not exist or is no longer available.",
	}
	tooLargeError = PageError{
		key:     "too_large",
		Title:   "This page cannot be shown",
		Message: "The sign-in service sent a form larger than this site can display. Please try again later.",
	}
	restartError = PageError{
		key:     "restart",
		Title:   "We could not start this form",
		Message: "Please make sure cookies are enabled for this site, then try again.",
	}
)

// friendlyError words a Kratos error for users. Kratos' reason is shown
// for client errors only; server errors get a generic text.
func friendlyError(k *KratosError) PageError {
	pe := PageError{Kratos: k}
	switch k.ID {
	case "security_csrf_violation":
		pe.key = "csrf"
		pe.Title, pe.Message = "Your request could not be verified", "The form was open for too long or your cookies were cleared. Please try again."
	case "self_service_flow_expired":
		pe.key = "expired"
		pe.Title, pe.Message = "This page has expired", "Please start again."
	case "session_already_available":
		pe.key = "signed_in"
		pe.Title, pe.Message = "You are already signed in", "Sign out first to use another account."
	case "self_service_flow_return_to_forbidden":
		pe.key = "return_to"
		pe.Title, pe.Message = "Invalid return address", "The address to return to after this step is not allowed."
	case "security_identity_mismatch":
		pe.key = "identity_mismatch"
		pe.Title, pe.Message = "This link belongs to someone else", "Please start again from your own account."
	default:
		pe.key = "generic"
		pe.Title, pe.Message = genericError.Title, genericError.Message
		if k.Code >= 400 && k.Code < 500 {
			switch {
			case k.Reason != "" && len(k.Reason) <= 300:
				pe.Message, pe.kratosMessage = k.Reason, true
			case k.Message != "" && len(k.Message) <= 300:
				pe.Message, pe.kratosMessage = k.Message, true
			}
		}
	}
	return pe
}

// errPageTooLarge stops a template whose page passes maxPageBytes.
var errPageTooLarge = errors.New("selfservice: page larger than the limit")

// cappedBuffer collects a page and refuses to grow past max bytes. It has
// only Write (no embedded bytes.Buffer), so no other method can bypass the
// cap.
type cappedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.max {
		return 0, errPageTooLarge
	}
	return b.buf.Write(p)
}

// setSecurityHeaders sets the headers of every response of the pages,
// redirects and errors included. The Content-Security-Policy allows no
// script (but see setPageHeaders), no connection and no frame: styles
// only from an element
// carrying nonce (the inline <style> of the "style" template), images
// only as data: URLs (Kratos' only image is the TOTP QR code), forms
// only to Kratos' browser URL and the app ('self'), no <base>, and no
// framing (frame-ancestors, and X-Frame-Options for old browsers). With
// no nonce (a response without a page) no style is allowed either.
// Referrer-Policy: no-referrer keeps flow ids, which are in the pages'
// URLs, out of the Referer of everything the pages lead to.
func (h *Handler) setSecurityHeaders(w http.ResponseWriter, nonce string) {
	h.setPageHeaders(w, nonce, false)
}

// setPageHeaders is setSecurityHeaders for a page that may run script:
// with scripts (and a nonce), the policy also has script-src with that
// nonce alone. Only pages with security keys or passkeys have scripts:
// Kratos' webauthn.js, on its browser URL, and the default templates'
// inline script that binds its functions to the buttons. Kratos'
// onclickTrigger names (not its inline onclick handlers) make this
// possible without 'unsafe-inline' or 'unsafe-hashes': a handler
// attribute can only be allowed by hash, for every page, while a nonce
// allows exactly the scripts this response carries, and no injected
// markup can carry it.
func (h *Handler) setPageHeaders(w http.ResponseWriter, nonce string, scripts bool) {
	csp := "default-src 'none'; "
	if nonce != "" {
		if scripts {
			csp += "script-src 'nonce-" + nonce + "'; "
		}
		csp += "style-src 'nonce-" + nonce + "'; img-src data:; "
	}
	csp += "form-action " + h.formAction + "; frame-ancestors 'none'; base-uri 'none'"
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
}

// newNonce returns a fresh CSP nonce: 128 random bits, base64.
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails (it crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// cspOrigin returns u's origin as a CSP source expression, e.g.
// "https://auth.example.com" or "http://127.0.0.1:4433", or an error when
// it is not an http(s) origin or its host has a character that could end
// the source (";", ",", a space, a quote...): a URL must never be able to
// widen the policy.
func cspOrigin(u *url.URL) (string, error) {
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("%q is not an http(s) origin", u.Redacted())
	}
	for i := 0; i < len(u.Host); i++ {
		b := u.Host[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte(".-:[]", b) >= 0) {
			return "", fmt.Errorf("host %q cannot be put in a Content-Security-Policy", u.Host)
		}
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}
