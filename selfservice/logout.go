// The /logout page.

package selfservice

import (
	"errors"
	"log/slog"
	"net/http"
)

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
