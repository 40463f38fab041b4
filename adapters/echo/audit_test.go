package kratosecho_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	kratosecho "github.com/kratosauth/kratosauth/adapters/echo"
)

// Auth redirects are 303 with Cache-Control: no-store, as the
// ErrorHandler's login redirect is.
func TestAuditRedirectToLoginNoStore(t *testing.T) {
	a, err := kratosauth.New("http://kratos.example", kratosauth.WithAppURL("https://app.example.com"))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	e := echo.New()
	e.GET("/x", func(c echo.Context) error { return kratosecho.RedirectToLogin(a, c) })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	assert.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
}
