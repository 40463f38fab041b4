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
