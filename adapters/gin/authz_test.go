package kratosgin_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	kratosgin "github.com/kratosauth/kratosauth/adapters/gin"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/internal/testing/adaptertest"
	"github.com/kratosauth/kratosauth/keto"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

func TestAuthzConformance(t *testing.T) {
	adaptertest.RunAuthz(t, func(a *kratosauth.Authenticator) http.Handler {
		r := gin.New()
		r.GET("/admin", kratosgin.Require(a, kratosauth.HasRole("roles", "admin")), whoIs)
		r.GET("/docs/:id", kratosgin.RequirePermission(a, "Doc", "view", kratosgin.Param("id")), whoIs)
		return r
	})
}

// The same request must name the same permission object on every
// framework: for "/files/a/b" kratoshttp.PathValue ("{path...}"),
// kratoschi.URLParam ("*") and kratosecho.Param ("*") all give "a/b", but
// kratosgin.Param of "/files/*path" gives gin's raw catch-all value
// "/a/b", so Keto is asked about another object and the user is refused.
func TestParamOfACatchAllNamesTheSameObject(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	user := kratos.Login()
	ketoFake := kratosauthtest.NewKeto(t)
	ketoFake.Grant("File", "a/b", "view", user.Session.Identity.ID)
	perms, err := keto.New(ketoFake.URL, keto.WithAllowTTL(0))
	require.NoError(t, err)
	t.Cleanup(perms.Close)
	a, err := kratosauth.New(kratos.URL, kratosauth.WithCacheTTL(0), kratosauth.WithPermissions(perms))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })

	// The reference: net/http's wildcard on the same request.
	mux := http.NewServeMux()
	mux.Handle("GET /files/{path...}", kratoshttp.RequirePermission(a, "File", "view", kratoshttp.PathValue("path"))(
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })))
	r := gin.New()
	r.GET("/files/*path", kratosgin.RequirePermission(a, "File", "view", kratosgin.Param("path")), func(c *gin.Context) { c.Status(http.StatusOK) })

	for name, h := range map[string]http.Handler{"nethttp": mux, "gin": r} {
		req := httptest.NewRequest(http.MethodGet, "/files/a/b", nil)
		req.Header.Set("X-Session-Token", user.Token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusOK, rec.Code, "%s asked Keto about %q", name, ketoFake.LastRequest().URL.Query().Get("object"))
	}
}
