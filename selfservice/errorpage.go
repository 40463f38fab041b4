// Error pages: Kratos' errors, outages, and what users are told.

package selfservice

import (
	"errors"
	"log/slog"
	"net/http"
	"unicode/utf8"
)

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

func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	h.logger().LogAttrs(r.Context(), slog.LevelWarn, "selfservice: Kratos unavailable",
		slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	h.renderError(w, r, http.StatusServiceUnavailable, unavailableError)
}

func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, status int, pe PageError) {
	p := h.page(pe.Title, status, "")
	p.Error = &pe
	h.render(w, r, status, p)
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
	unsupportedError = PageError{
		key:     "unsupported",
		Title:   "This page cannot be shown",
		Message: "The sign-in service asked for a step this site cannot display, such as a captcha. Please contact the site's support.",
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
