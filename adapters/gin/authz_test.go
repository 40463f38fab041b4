package kratosgin_test

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/adapters/gin"
	"github.com/kratosauth/kratosauth/internal/testing/adaptertest"
)

func TestAuthzConformance(t *testing.T) {
	adaptertest.RunAuthz(t, func(a *kratosauth.Authenticator) http.Handler {
		r := gin.New()
		r.GET("/admin", kratosgin.Require(a, kratosauth.HasRole("roles", "admin")), whoIs)
		r.GET("/docs/:id", kratosgin.RequirePermission(a, "Doc", "view", kratosgin.Param("id")), whoIs)
		return r
	})
}
