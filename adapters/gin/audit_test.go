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
	"github.com/kratosauth/kratosauth/keto"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// Auth redirects are 303 with Cache-Control: no-store, as the
// ErrorHandler's login redirect is.
func TestAuditRedirectToLoginNoStore(t *testing.T) {
	a, err := kratosauth.New("http://kratos.example", kratosauth.WithAppURL("https://app.example.com"))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	r := gin.New()
	r.GET("/x", func(c *gin.Context) { kratosgin.RedirectToLogin(a, c) })
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	assert.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
}

// The same request must name the same permission object on every
// framework: for "/files/a/b" kratoshttp.PathValue ("{path...}"),
// kratoschi.URLParam ("*") and kratosecho.Param ("*") all give "a/b", but
// kratosgin.Param of "/files/*path" gives gin's raw catch-all value
// "/a/b", so Keto is asked about another object and the user is refused.
func TestAuditParamCatchAllObject(t *testing.T) {
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
