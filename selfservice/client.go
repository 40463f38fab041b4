package selfservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/httpbody"
	"github.com/kratosauth/kratosauth/internal/origin"
	"github.com/kratosauth/kratosauth/internal/settings"
)

// Sentinel errors. Every error the Client returns is an *Error whose Kind
// is one of them; match with errors.Is.
var (
	// ErrFlowExpired: the flow is expired (410), unknown (404), or not this
	// browser's (403: CSRF cookie missing or not matching, or a settings
	// flow of another identity). Start a new flow.
	ErrFlowExpired = errors.New("selfservice: flow expired, unknown or not started by this browser")

	// ErrNoSession: the request has no valid Kratos session (401).
	ErrNoSession = errors.New("selfservice: no active session")

	// ErrRedirect: Kratos asks to send the browser to Error.RedirectTo,
	// e.g. a step-up login when settings need a second factor (403
	// session_aal2_required) or 422 browser_location_change_required.
	ErrRedirect = errors.New("selfservice: browser must be redirected")

	// ErrNotFound: the error or schema does not exist (404).
	ErrNotFound = errors.New("selfservice: not found")

	// ErrRejected: Kratos refused the request with another 4xx status.
	ErrRejected = errors.New("selfservice: request rejected by Kratos")

	// ErrUnavailable: Kratos did not answer usefully (network error,
	// timeout, 429, 5xx, an unexpected status or an unreadable body). It is
	// kratosauth.ErrUnavailable, so one errors.Is check covers both packages.
	ErrUnavailable = kratosauth.ErrUnavailable
)

// Error is the error type of the Client's methods.
type Error struct {
	// Kind is one of the sentinel errors above.
	Kind error
	// Status is Kratos' HTTP status code, 0 when there was no answer.
	Status int
	// Kratos is the error Kratos returned, if it returned one. Its texts
	// are Kratos' and may be shown to users; Cause must not be.
	Kratos *KratosError
	// RedirectTo is, for ErrRedirect, where Kratos wants the browser to go
	// (redirect_browser_to), unvalidated.
	RedirectTo string
	// ReturnTo is, for an expired flow, the return_to it was started with.
	ReturnTo string
	// Cause is the underlying error, if any (internal; never show it).
	Cause error
}

func (e *Error) Error() string {
	if e == nil {
		return "selfservice: <nil>"
	}
	var b strings.Builder
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	} else {
		b.WriteString("selfservice: error") // a zero Error must still print
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.Status)
		if e.Kratos != nil && e.Kratos.ID != "" {
			b.WriteString(", " + e.Kratos.ID)
		}
		b.WriteString(")")
	}
	if e.Cause != nil {
		b.WriteString(": " + e.Cause.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is and errors.As see both the kind and the cause.
func (e *Error) Unwrap() []error {
	if e == nil {
		return nil
	}
	var errs []error
	for _, err := range []error{e.Kind, e.Cause} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Client calls Kratos' public self-service endpoints on behalf of browser
// requests. Get one from Handler.Client or NewClient. It is safe for
// concurrent use.
type Client struct {
	// The Authenticator's configuration (kratosauth.New checked it): its
	// URLs, HTTP client (which never follows redirects), timeout, response
	// body cap, logger and session cookie name.
	cfg     settings.Settings
	public  string   // Kratos public URL (server-to-server calls)
	browser *url.URL // Kratos URL for browsers
	app     *url.URL // the app's URL (return_to), nil if unset
}

// NewClient returns a Client for the Kratos and app URLs configured in auth,
// with auth's HTTP client, timeout and response body cap.
func NewClient(auth *kratosauth.Authenticator) (*Client, error) {
	if auth == nil {
		return nil, errors.New("selfservice: nil Authenticator")
	}
	st := settings.Of(auth)
	return &Client{cfg: st, public: st.PublicURL.String(), browser: &st.BrowserURL, app: st.AppURL}, nil
}

// InitParams are the query parameters of a browser flow's init URL. Invalid
// values are dropped, never passed to Kratos.
type InitParams struct {
	// ReturnTo is where Kratos sends the browser when the flow completes:
	// an absolute URL on the app's URL (kratosauth.WithAppURL) or a path
	// such as "/dashboard". Anything else is dropped.
	ReturnTo string
	// AAL ("aal1" or "aal2") requests a login at that level (login only).
	AAL string
	// Refresh asks for the credentials again although there is a session
	// (login only).
	Refresh bool
}

// SafeReturnTo returns raw as an absolute URL on the app's origin, and
// whether it is acceptable as return_to. Relative paths are resolved
// against the app's URL; "//host", "https:host", backslashes, userinfo,
// control characters, other hosts and schemes are refused, as is anything
// when no app URL is configured. The request's Host header is never used.
func (c *Client) SafeReturnTo(raw string) (string, bool) {
	return safeReturnTo(c.app, raw)
}

// BrowserFlowURL returns the URL of Kratos' GET /self-service/<kind>/browser
// on the browser URL, with the valid parameters of p.
func (c *Client) BrowserFlowURL(kind Kind, p InitParams) string {
	q := url.Values{}
	if rt, ok := c.SafeReturnTo(p.ReturnTo); ok {
		q.Set("return_to", rt)
	}
	if kind == Login {
		if p.AAL == kratosauth.AAL1 || p.AAL == kratosauth.AAL2 {
			q.Set("aal", p.AAL)
		}
		if p.Refresh {
			q.Set("refresh", "true")
		}
	}
	u := c.browser.String() + "/self-service/" + string(kind) + "/browser"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// RedirectToBrowserFlow sends the browser to BrowserFlowURL(kind, p) with
// 303 See Other.
func (c *Client) RedirectToBrowserFlow(w http.ResponseWriter, r *http.Request, kind Kind, p InitParams) {
	redirect(w, r, c.BrowserFlowURL(kind, p))
}

// GetFlow fetches the flow id of the given kind with GET
// /self-service/<kind>/flows?id=, forwarding the browser's Kratos cookies
// (Kratos checks the flow's CSRF cookie, and settings need the session; see
// kratosCookies). No other cookie or header of r is forwarded.
func (c *Client) GetFlow(ctx context.Context, r *http.Request, kind Kind, id string) (*Flow, error) {
	if !kind.valid() {
		return nil, fmt.Errorf("selfservice: unknown flow kind %q", kind)
	}
	if !validID(id) {
		return nil, &Error{Kind: ErrFlowExpired, Cause: errors.New("malformed flow id")}
	}
	var f Flow
	err := c.get(ctx, r, "/self-service/"+string(kind)+"/flows?id="+url.QueryEscape(id), true, &f)
	if err != nil {
		return nil, err
	}
	if f.ID == "" {
		return nil, &Error{Kind: ErrUnavailable, Status: http.StatusOK, Cause: errors.New("response has no flow id")}
	}
	return &f, nil
}

// GetError fetches a user-facing error with GET /self-service/errors?id=.
func (c *Client) GetError(ctx context.Context, id string) (*ErrorContainer, error) {
	if id == "" || len(id) > 64 {
		return nil, &Error{Kind: ErrNotFound, Cause: errors.New("malformed error id")}
	}
	var e ErrorContainer
	if err := c.get(ctx, nil, "/self-service/errors?id="+url.QueryEscape(id), false, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// LogoutURL asks Kratos (GET /self-service/logout/browser, forwarding the
// browser's cookies) for the URL that ends the browser's session. returnTo
// is passed on when SafeReturnTo accepts it. Without a session the error
// is ErrNoSession. The URL returned is always on the Kratos browser URL.
func (c *Client) LogoutURL(ctx context.Context, r *http.Request, returnTo string) (string, error) {
	path := "/self-service/logout/browser"
	if rt, ok := c.SafeReturnTo(returnTo); ok {
		path += "?return_to=" + url.QueryEscape(rt)
	}
	var lf struct {
		LogoutURL   string `json:"logout_url"`
		LogoutToken string `json:"logout_token"`
	}
	if err := c.get(ctx, r, path, false, &lf); err != nil {
		return "", err
	}
	if u, ok := origin.Same(lf.LogoutURL, c.browser); ok {
		return u.String(), nil
	}
	if lf.LogoutToken == "" {
		return "", &Error{Kind: ErrUnavailable, Status: http.StatusOK, Cause: errors.New("response has no logout URL")}
	}
	// Kratos' base_url differs from the browser URL: build the URL on the
	// browser URL rather than send users to an address they cannot reach.
	q := url.Values{"token": {lf.LogoutToken}}
	if u, err := url.Parse(lf.LogoutURL); err == nil && u.Query().Get("return_to") != "" {
		q.Set("return_to", u.Query().Get("return_to"))
	}
	return c.browser.String() + "/self-service/logout?" + q.Encode(), nil
}

// get calls Kratos' public API and decodes a 200 answer into v. Only
// Kratos' cookies from r (when r is not nil) are forwarded.
func (c *Client) get(ctx context.Context, r *http.Request, path string, flowGet bool, v any) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.public+path, nil)
	if err != nil {
		return &Error{Kind: ErrUnavailable, Cause: err}
	}
	req.Header.Set("Accept", "application/json")
	if r != nil {
		if cookies := c.kratosCookies(r); cookies != "" {
			req.Header.Set("Cookie", cookies)
		}
	}
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		return &Error{Kind: ErrUnavailable, Cause: err}
	}
	defer resp.Body.Close()
	body, err := httpbody.ReadCapped(resp.Body, c.cfg.MaxResponseBytes)
	if err != nil {
		return &Error{Kind: ErrUnavailable, Status: resp.StatusCode, Cause: err}
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			return &Error{Kind: ErrUnavailable, Status: resp.StatusCode, Cause: fmt.Errorf("decode response: %w", err)}
		}
		return nil
	}
	return classify(resp.StatusCode, body, flowGet)
}

// kratosCookies returns the Cookie header for Kratos: the session cookie,
// Kratos' CSRF cookie (csrf_token_<sha256 of its base URL>) and its other
// cookies (ory_kratos_continuity, Ory Network's ory_*), and none of the
// app's or third parties' cookies, which Kratos has no use for.
func (c *Client) kratosCookies(r *http.Request) string {
	var b strings.Builder
	for _, ck := range r.Cookies() {
		if ck.Name != c.cfg.CookieName && !strings.HasPrefix(ck.Name, "csrf_token_") && !strings.HasPrefix(ck.Name, "ory_") {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(ck.Name)
		b.WriteByte('=')
		b.WriteString(ck.Value)
	}
	return b.String()
}

// classify turns a non-200 Kratos answer into an *Error.
func classify(status int, body []byte, flowGet bool) error {
	e := &Error{Status: status}
	var eb struct {
		Error             *KratosError `json:"error"`
		RedirectBrowserTo string       `json:"redirect_browser_to"`
	}
	if json.Unmarshal(body, &eb) == nil && eb.Error != nil {
		e.Kratos = eb.Error
	}
	switch {
	case status == http.StatusTooManyRequests || status >= 500 || status < 400:
		e.Kind = ErrUnavailable
		e.Cause = fmt.Errorf("unexpected status %d", status)
	case eb.RedirectBrowserTo != "" && (status == http.StatusUnprocessableEntity || status == http.StatusForbidden):
		e.Kind = ErrRedirect
		e.RedirectTo = eb.RedirectBrowserTo
	case status == http.StatusUnauthorized:
		e.Kind = ErrNoSession
	case flowGet && (status == http.StatusForbidden || status == http.StatusNotFound || status == http.StatusGone):
		e.Kind = ErrFlowExpired
		if e.Kratos != nil {
			e.ReturnTo, _ = e.Kratos.Details["return_to"].(string)
		}
	case status == http.StatusNotFound:
		e.Kind = ErrNotFound
	default:
		e.Kind = ErrRejected
	}
	return e
}

// validID accepts Kratos' UUIDs (and little else).
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !('0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F' || b == '-') {
			return false
		}
	}
	return true
}

// redirect answers with 303 See Other and Cache-Control: no-store.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusSeeOther)
}
