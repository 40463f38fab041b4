package exampletest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
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
	kratos, app := startFake(t, newApp)
	get := func(path, accept string, c *kratosauthtest.Credentials) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Accept", accept)
		if c != nil {
			r.AddCookie(c.Cookie)
		}
		return serve(app, r)
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

// WebhookKey is the key RunWebhook's app must be built with
// (KRATOS_WEBHOOK_KEY).
const WebhookKey = "example-webhook-key"

// RunWebhook checks an example app built with KRATOS_WEBHOOK_KEY set to
// WebhookKey and no REDIS_URL (one replica, the in-process cache) against
// the test kit's fake Kratos: it starts, POST /hooks/kratos refuses a wrong
// key, and Kratos' call evicts the identity's cached sessions, so a
// session Kratos no longer knows is refused at once rather than when its
// cache entry expires.
func RunWebhook(t *testing.T, newApp NewApp) {
	kratos, app := startFake(t, newApp) // fails the test when the app does not start
	me := func(c kratosauthtest.Credentials) int {
		r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
		r.Header.Set("Accept", "application/json")
		r.AddCookie(c.Cookie)
		return serve(app, r).Code
	}
	hook := func(key, identityID string) int {
		r := httptest.NewRequest(http.MethodPost, "/hooks/kratos", strings.NewReader(`{"identity_id":"`+identityID+`"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Kratos-Webhook-Key", key)
		return serve(app, r).Code
	}

	ada := kratos.Login()
	require.Equal(t, http.StatusOK, me(ada))
	kratos.Revoke(ada) // as Kratos' revoke_active_sessions hook does
	require.Equal(t, http.StatusOK, me(ada), "cached: the app has not asked Kratos again")
	assert.Equal(t, http.StatusUnauthorized, hook("wrong-key", ada.Session.Identity.ID))
	assert.Equal(t, http.StatusOK, me(ada), "a refused call evicts nothing")
	assert.Equal(t, http.StatusNoContent, hook(WebhookKey, ada.Session.Identity.ID))
	assert.Equal(t, http.StatusUnauthorized, me(ada), "evicted: Kratos is asked again")
}

// startFake starts the test kit's fake Kratos and the app newApp builds on
// it (at "http://app.test"), which must start.
func startFake(t *testing.T, newApp NewApp) (*kratosauthtest.Server, http.Handler) {
	kratos := kratosauthtest.NewServer(t)
	app, cleanup, err := newApp(kratos.URL, "http://app.test")
	require.NoError(t, err, "the app starts")
	t.Cleanup(cleanup)
	return kratos, app
}

// serve is h's answer to r.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
