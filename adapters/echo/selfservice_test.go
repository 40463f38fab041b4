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
	"github.com/kratosauth/kratosauth/kratosauthtest"
	"github.com/kratosauth/kratosauth/selfservice"
)

func TestRegisterSelfService(t *testing.T) {
	// A Kratos that knows no flow and no session: pages redirect to fresh
	// flows, logout goes home.
	kratos := kratosauthtest.NewServer(t)
	kratos.Handle("GET /self-service/logout/browser", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"code":401,"id":"session_inactive"}}`))
	}))
	auth, err := kratosauth.New(kratos.URL, kratosauth.WithAppURL("https://app.example.com"))
	require.NoError(t, err)
	defer auth.Close()

	for _, basePath := range []string{"", "/auth"} {
		t.Run("base path "+basePath, func(t *testing.T) {
			ui, err := selfservice.New(auth, selfservice.WithBasePath(basePath))
			require.NoError(t, err)
			e := echo.New()
			kratosecho.RegisterSelfService(e, ui)

			for _, kind := range []selfservice.Kind{selfservice.Login, selfservice.Registration, selfservice.Settings, selfservice.Verification, selfservice.Recovery} {
				w := httptest.NewRecorder()
				e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, basePath+"/"+string(kind)+"?return_to=/x", nil))
				want := kratos.URL + "/self-service/" + string(kind) + "/browser?return_to=https%3A%2F%2Fapp.example.com%2Fx"
				assert.Equal(t, http.StatusSeeOther, w.Code, "GET %s", kind)
				assert.Equal(t, want, w.Header().Get("Location"), "GET %s", kind)
			}
			w := httptest.NewRecorder()
			e.ServeHTTP(w, httptest.NewRequest(http.MethodPost, basePath+"/logout", nil))
			assert.Equal(t, http.StatusSeeOther, w.Code, "POST logout")
			assert.Equal(t, "https://app.example.com/", w.Header().Get("Location"), "POST logout")
			w = httptest.NewRecorder()
			e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, basePath+"/error", nil))
			assert.Equal(t, http.StatusNotFound, w.Code, "GET error")
			assert.Contains(t, w.Body.String(), "<html", "GET error")
			w = httptest.NewRecorder()
			e.ServeHTTP(w, httptest.NewRequest(http.MethodPost, basePath+"/login", nil))
			assert.Equal(t, http.StatusMethodNotAllowed, w.Code, "POST login")
			w = httptest.NewRecorder()
			e.ServeHTTP(w, httptest.NewRequest(http.MethodHead, basePath+"/login", nil))
			assert.Equal(t, http.StatusSeeOther, w.Code, "HEAD login")
		})
	}
}
