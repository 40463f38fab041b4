package kratosgin_test

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/adapters/gin"
	"github.com/kratosauth/kratosauth/internal/testing/adaptertest"
)

func init() { gin.SetMode(gin.TestMode) }

func TestConformance(t *testing.T) {
	adaptertest.Run(t, func(a *kratosauth.Authenticator) http.Handler {
		r := gin.New()
		r.GET("/private", kratosgin.RequireSession(a), whoIs)
		r.GET("/aal2", kratosgin.RequireAAL(a, kratosauth.AAL2), whoIs)
		r.GET("/public", kratosgin.LoadSession(a), whoIs)
		return r
	})
}

func whoIs(c *gin.Context) {
	if id, ok := kratosauth.IdentityFromContext(c.Request.Context()); ok {
		c.Header("X-Context-Identity", id.ID)
	}
	id, ok := kratosgin.Identity(c)
	if !ok {
		c.String(http.StatusOK, "anonymous")
		return
	}
	c.String(http.StatusOK, id.ID)
}
