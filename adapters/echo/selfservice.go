package kratosecho

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/kratosauth/kratosauth/selfservice"
)

// RegisterSelfService registers the self-service pages of ui (login,
// registration, settings, verification, recovery, error and logout, at
// ui.Paths(), selfservice.WithBasePath included) on e, for GET, HEAD and
// POST (the pages answer 405 to what they do not serve):
//
//	ui, err := selfservice.New(auth)
//	...
//	kratosecho.RegisterSelfService(e, ui)
//
// It takes the Echo rather than a Group because an echo Group does not
// tell its prefix, so the pages could land on paths other than the ones
// they link to.
func RegisterSelfService(e *echo.Echo, ui *selfservice.Handler) {
	h := echo.WrapHandler(ui)
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost}
	for _, p := range ui.Paths() {
		e.Match(methods, p, h)
	}
}
