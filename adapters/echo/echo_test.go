package kratosecho_test

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/kratosauth/kratosauth"
	kratosecho "github.com/kratosauth/kratosauth/adapters/echo"
	"github.com/kratosauth/kratosauth/internal/testing/adaptertest"
)

func TestConformance(t *testing.T) {
	adaptertest.Run(t, func(a *kratosauth.Authenticator) http.Handler {
		e := echo.New()
		e.GET("/private", whoIs, kratosecho.RequireSession(a))
		e.GET("/aal2", whoIs, kratosecho.RequireAAL(a, kratosauth.AAL2))
		e.GET("/public", whoIs, kratosecho.LoadSession(a))
		return e
	})
}

func TestAuthzConformance(t *testing.T) {
	adaptertest.RunAuthz(t, func(a *kratosauth.Authenticator) http.Handler {
		e := echo.New()
		e.GET("/admin", whoIs, kratosecho.Require(a, kratosauth.HasRole("roles", "admin")))
		e.GET("/docs/:id", whoIs, kratosecho.RequirePermission(a, "Doc", "view", kratosecho.Param("id")))
		return e
	})
}

func whoIs(c echo.Context) error {
	if id, ok := kratosauth.IdentityFromContext(c.Request().Context()); ok {
		c.Response().Header().Set("X-Context-Identity", id.ID)
	}
	id, ok := kratosecho.Identity(c)
	if !ok {
		return c.String(http.StatusOK, "anonymous")
	}
	return c.String(http.StatusOK, id.ID)
}
