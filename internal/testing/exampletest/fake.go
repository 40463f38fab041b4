package exampletest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// RunFake runs the examples' quick checks against the public test kit's
// fake Kratos: what an app developer's own tests of a protected handler
// look like, with no Kratos to run. newApp gets the fake's URL as both
// Kratos URLs, and appURL "http://app.test".
func RunFake(t *testing.T, newApp NewApp) {
	kratos := kratosauthtest.NewServer(t)
	app, cleanup, err := newApp(kratos.URL, "http://app.test")
	require.NoError(t, err)
	t.Cleanup(cleanup)
	get := func(path, accept string, c *kratosauthtest.Credentials) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Accept", accept)
		if c != nil {
			r.AddCookie(c.Cookie)
		}
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		return w
	}
	ada := kratos.Login(kratosauthtest.WithTraits(map[string]string{"email": "ada@example.com"}))

	t.Run("signed in", func(t *testing.T) {
		w := get("/api/me", "application/json", &ada)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		var me map[string]string
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &me))
		assert.Equal(t, "ada@example.com", me["email"])
		assert.Equal(t, ada.Session.Identity.ID, me["identity_id"])
	})
	t.Run("signed out", func(t *testing.T) {
		assert.Equal(t, http.StatusUnauthorized, get("/api/me", "application/json", nil).Code)
		w := get("/dashboard", "text/html", nil)
		assert.Equal(t, http.StatusSeeOther, w.Code)
		assert.Equal(t, kratos.URL+"/self-service/login/browser?return_to=http%3A%2F%2Fapp.test%2Fdashboard", w.Header().Get("Location"))
	})
	t.Run("logged out elsewhere", func(t *testing.T) {
		bob := kratos.Login()
		kratos.Revoke(bob)
		assert.Equal(t, http.StatusUnauthorized, get("/api/me", "application/json", &bob).Code)
	})
	t.Run("Kratos down", func(t *testing.T) {
		dave := kratos.Login()
		kratos.Fail(kratosauthtest.Status(http.StatusInternalServerError))
		defer kratos.Recover()
		assert.Equal(t, http.StatusServiceUnavailable, get("/api/me", "application/json", &dave).Code)
		assert.Equal(t, http.StatusServiceUnavailable, get("/dashboard", "text/html", &dave).Code, "never a login redirect")
	})
}
