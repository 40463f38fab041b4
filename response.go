package kratosauth

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// DefaultErrorHandler is the ErrorHandler used unless WithErrorHandler says
// otherwise:
//
//   - a browser navigation (GET or HEAD preferring text/html) with no
//     session, an invalid one, or too low an assurance level gets
//     303 See Other to err's RedirectTo (login or step-up, with return_to);
//   - a browser navigation refused by a route's rules (ErrForbidden) gets a
//     plain 403 page, never a redirect: the user is signed in, and login
//     would send them straight back;
//   - every other request gets a JSON error in Kratos' own shape, with 401
//     (no or invalid session), 403 (second factor required, id
//     session_aal2_required, the body's redirect_browser_to says where to
//     get it; or refused by the route's rules, id forbidden) or 503 (Kratos
//     or the permission service unavailable, with Retry-After when Kratos
//     sent one);
//   - Kratos being unavailable is never answered with a redirect or a 401,
//     so an outage does not log anybody out;
//   - a request canceled by its client (ErrCanceled) gets 499, nginx's
//     "client closed request", with no body: nobody is left to read it.
//
// The body never contains err's cause.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Kind: ErrUnavailable, Cause: err}
	}
	if e.Kind == ErrCanceled {
		w.WriteHeader(statusClientClosedRequest)
		return
	}
	if e.Kind == ErrForbidden && IsBrowserNavigation(r) {
		writeForbiddenPage(w, r)
		return
	}
	if e.Kind != ErrUnavailable && e.Kind != ErrForbidden && e.RedirectTo != "" && IsBrowserNavigation(r) {
		seeOther(w, r, e.RedirectTo)
		return
	}
	if e.Kind == ErrUnavailable && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds()+0.5)))
	}
	WriteJSONError(w, e)
}

// seeOther is every redirect of authentication: 303 (not 301/308) with
// Cache-Control: no-store, since neither the browser nor a proxy may keep
// an answer that depends on who is signed in.
func seeOther(w http.ResponseWriter, r *http.Request, url string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, url, http.StatusSeeOther)
}

// statusClientClosedRequest is nginx's status for a client that hung up; it
// keeps canceled requests apart from outages in access logs and metrics.
const statusClientClosedRequest = 499

// apiError is Kratos' error body: {"error": {...}} plus, for aal2,
// redirect_browser_to at the top level as Kratos writes it.
type apiError struct {
	Error             apiErrorBody `json:"error"`
	RedirectBrowserTo string       `json:"redirect_browser_to,omitempty"`
}

type apiErrorBody struct {
	ID      string           `json:"id,omitempty"`
	Code    int              `json:"code"`
	Status  string           `json:"status"`
	Reason  string           `json:"reason,omitempty"`
	Details *apiErrorDetails `json:"details,omitempty"`
	Message string           `json:"message"`
}

type apiErrorDetails struct {
	RedirectBrowserTo string `json:"redirect_browser_to"`
}

// WriteJSONError writes err (an *Error) as a Kratos-shaped JSON error with
// the matching status code. Fixed texts only: the cause is never written.
func WriteJSONError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Kind: ErrUnavailable}
	}
	var body apiError
	switch e.Kind {
	case ErrNoCredentials, ErrInvalidSession:
		body.Error = apiErrorBody{Code: http.StatusUnauthorized,
			Reason:  "No valid session credentials found in the request.",
			Message: "The request could not be authorized"}
	case ErrAAL2Required:
		body.Error = apiErrorBody{ID: "session_aal2_required", Code: http.StatusForbidden,
			Reason:  "An active session was found but it does not fulfill the requested Authenticator Assurance Level. Please verify yourself with a second factor to resolve this issue.",
			Details: &apiErrorDetails{RedirectBrowserTo: e.RedirectTo},
			Message: "Session does not fulfill the requested Authenticator Assurance Level"}
		body.RedirectBrowserTo = e.RedirectTo
	case ErrForbidden:
		body.Error = apiErrorBody{ID: "forbidden", Code: http.StatusForbidden,
			Reason:  "The session is valid but may not access this resource.",
			Message: "The requested action was forbidden"}
	default:
		if errors.Is(e.Cause, errPermissionService) {
			body.Error = apiErrorBody{ID: "permission_check_unavailable", Code: http.StatusServiceUnavailable,
				Reason:  "The permission service could not be reached. Please try again later.",
				Message: "permission service unavailable"}
			break
		}
		body.Error = apiErrorBody{ID: "session_check_unavailable", Code: http.StatusServiceUnavailable,
			Reason:  "The identity service could not be reached. Please try again later.",
			Message: "identity service unavailable"}
	}
	body.Error.Status = http.StatusText(body.Error.Code)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(body.Error.Code)
	_ = json.NewEncoder(w).Encode(body)
}

// forbiddenPage is DefaultErrorHandler's answer to a browser refused by a
// route's rules: no link to login, which would only bring the user back.
const forbiddenPage = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>403 Forbidden</title>
<h1>Forbidden</h1>
<p>You are signed in, but your account may not open this page.</p>
</html>
`

func writeForbiddenPage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(http.StatusForbidden)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, forbiddenPage)
	}
}

// forbiddenWriter makes a WithForbiddenHandler page a 403 without Location
// whatever the handler writes: no cache or client takes it for the page
// asked for, and it cannot become a redirect (to login, and back: a loop).
type forbiddenWriter struct {
	http.ResponseWriter
	wrote bool
}

func (f *forbiddenWriter) WriteHeader(int) {
	if !f.wrote {
		f.wrote = true
		f.Header().Del("Location")
		f.ResponseWriter.WriteHeader(http.StatusForbidden)
	}
}

func (f *forbiddenWriter) Write(p []byte) (int, error) {
	f.WriteHeader(http.StatusForbidden)
	return f.ResponseWriter.Write(p)
}

// IsBrowserNavigation reports whether r looks like a page load by a browser:
// a GET or HEAD whose Accept header prefers text/html to application/json.
// Such requests are redirected to login; API calls get JSON errors.
func IsBrowserNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	htmlQ, jsonQ := acceptQuality(r.Header.Values("Accept"))
	return htmlQ > 0 && htmlQ >= jsonQ
}

// acceptQuality returns the q-values the Accept header gives text/html (or
// application/xhtml+xml) and application/json, counting only explicit media
// types for HTML so that "*/*" (curl, fetch) is not taken for a browser.
func acceptQuality(values []string) (htmlQ, jsonQ float64) {
	var wildcardQ float64
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if qs, ok := params["q"]; ok {
				f, err := strconv.ParseFloat(qs, 64)
				if err != nil || f < 0 || f > 1 {
					continue
				}
				q = f
			}
			switch mt {
			case "text/html", "application/xhtml+xml":
				htmlQ = max(htmlQ, q)
			case "application/json":
				jsonQ = max(jsonQ, q)
			case "*/*", "application/*":
				wildcardQ = max(wildcardQ, q)
			}
		}
	}
	if jsonQ == 0 {
		jsonQ = wildcardQ
	}
	return htmlQ, jsonQ
}
