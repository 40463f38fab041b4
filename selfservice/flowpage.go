// Flow pages: showing, restarting and checking a Kratos flow.

package selfservice

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/origin"
)

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
		pe := tooLargeError
		if errors.Is(err, ErrUnsupportedNode) {
			pe = unsupportedError
		}
		h.renderError(w, r, http.StatusInternalServerError, pe)
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
