package kratoshttp_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	kratoschi "github.com/kratosauth/kratosauth/adapters/chi"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
)

// Auth redirects are 303 with Cache-Control: no-store (as the
// ErrorHandler's login redirect is): a cached redirect to login would send
// a signed-in user back to login.
func TestAuditRedirectToLoginNoStore(t *testing.T) {
	a, err := kratosauth.New("http://kratos.example", kratosauth.WithAppURL("https://app.example.com"))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	for name, redirect := range map[string]func(http.ResponseWriter, *http.Request){
		"nethttp": func(w http.ResponseWriter, r *http.Request) { kratoshttp.RedirectToLogin(a, w, r) },
		"chi":     func(w http.ResponseWriter, r *http.Request) { kratoschi.RedirectToLogin(a, w, r) },
	} {
		rec := httptest.NewRecorder()
		redirect(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
		assert.Equal(t, http.StatusSeeOther, rec.Code, name)
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"), name)
	}
}
