// Package exampletest holds the checks every example app (examples/nethttp,
// examples/chi, examples/gin, examples/echo) passes against a real Kratos,
// so they stay alike.
package exampletest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
	"github.com/kratosauth/kratosauth/internal/testing/redistest"
)

const password = "example-Test-Passw0rd-!42"

// NewApp builds an example app for a Kratos at kratosPublicURL, served at
// appURL; it returns the handler and a cleanup function.
type NewApp func(kratosPublicURL, appURL string) (http.Handler, func(), error)

// Run runs the examples' shared checks against a real Kratos (skipped when
// the binary is missing, unless KRATOSAUTH_E2E=1). name tags the e-mail
// addresses it registers.
func Run(t *testing.T, name string, newApp NewApp) {
	// The app listens first, so that Kratos' return URLs point at it.
	srv := httptest.NewUnstartedServer(nil)
	appURL := "http://" + srv.Listener.Addr().String()
	k := kratostest.Start(t, kratostest.Options{AppURL: appURL})

	handler, cleanup, err := newApp(k.PublicURL, appURL)
	require.NoError(t, err)
	t.Cleanup(cleanup)
	srv.Config.Handler = handler
	srv.Start()
	t.Cleanup(srv.Close)

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(t *testing.T, c *http.Client, path string, header map[string]string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(body)
	}
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

	t.Run("healthz", func(t *testing.T) {
		resp, _ := get(t, client, "/healthz", nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})

	t.Run("api/me with a session token", func(t *testing.T) {
		email := kratostest.UniqueEmail(name)
		token, sess := k.RegisterAPI(t, email, password)
		sessionID, identityID := kratostest.SessionIDs(t, sess)
		for name, h := range map[string]map[string]string{
			"X-Session-Token": {"X-Session-Token": token},
			"Bearer":          {"Authorization": "Bearer " + token},
		} {
			resp, body := get(t, client, "/api/me", h)
			require.Equal(t, http.StatusOK, resp.StatusCode, name+": "+body)
			assert.JSONEq(t, `{"identity_id":"`+identityID+`","email":"`+email+`","session_id":"`+sessionID+`","aal":"aal1"}`, body, name)
		}
	})

	t.Run("api/me without credentials", func(t *testing.T) {
		resp, body := get(t, client, "/api/me", nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("Content-Type"), "application/json")
		var e struct{ Error struct{ Code int } }
		require.NoError(t, json.Unmarshal([]byte(body), &e), body)
		assert.Equal(t, 401, e.Error.Code)
	})

	t.Run("home without a session", func(t *testing.T) {
		resp, body := get(t, client, "/", map[string]string{"Accept": browser})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, body, "not signed in")
	})

	t.Run("dashboard without a session redirects to login", func(t *testing.T) {
		resp, _ := get(t, client, "/dashboard", map[string]string{"Accept": browser})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		assert.Equal(t, k.PublicURL+"/self-service/login/browser?return_to="+url.QueryEscape(appURL+"/dashboard"), resp.Header.Get("Location"))
	})

	t.Run("browser session, then logout", func(t *testing.T) {
		email := kratostest.UniqueEmail(name + "-browser")
		// The jar holds Kratos' cookies for 127.0.0.1; cookies ignore ports,
		// so the app receives them too, as in the demo.
		jar, sessionCookie := k.RegisterBrowser(t, email, password)
		browserClient := &http.Client{Jar: jar, CheckRedirect: client.CheckRedirect}
		accept := map[string]string{"Accept": browser}

		resp, body := get(t, browserClient, "/dashboard", accept)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, body, email)
		_, body = get(t, browserClient, "/", accept)
		assert.Contains(t, body, email)

		resp, _ = get(t, browserClient, "/logout", accept)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		logoutURL := resp.Header.Get("Location")
		require.Contains(t, logoutURL, k.PublicURL+"/self-service/logout?token=")
		resp, err := browserClient.Get(logoutURL) // Kratos ends the session
		require.NoError(t, err)
		resp.Body.Close()

		// Kratos deleted the browser's cookie; a copy of it is refused too.
		// The session was cached for a minute: only the eviction on /logout
		// makes the app notice at once.
		for _, c := range []*http.Client{browserClient, client} {
			resp, _ = get(t, c, "/dashboard", map[string]string{"Accept": browser, "Cookie": sessionCookie.Name + "=" + sessionCookie.Value})
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
			assert.Contains(t, resp.Header.Get("Location"), "/self-service/login/browser")
		}
	})
}

// NewSharedApp builds an example app whose sessions are cached in the
// Redis at redisURL (REDIS_URL).
type NewSharedApp func(kratosPublicURL, appURL, redisURL string) (http.Handler, func(), error)

// RunShared runs three instances of an example app on one real Redis, as
// replicas behind a load balancer: a session is served by all of them, a
// logout on one is refused by the others, and once every instance is
// closed no goroutine of theirs is left (rueidis' connections, the
// breaker's probe, the whoami client's).
func RunShared(t *testing.T, name string, newApp NewSharedApp) {
	rds := redistest.Start(t)
	srv := httptest.NewUnstartedServer(nil)
	appURL := "http://" + srv.Listener.Addr().String()
	k := kratostest.Start(t, kratostest.Options{AppURL: appURL})
	leaks := goleak.IgnoreCurrent() // Kratos' and Redis' processes are waited on by the harness

	var urls []string
	var closers []func()
	for i := range 3 {
		handler, cleanup, err := newApp(k.PublicURL, appURL, rds.URL)
		require.NoError(t, err)
		closers = append(closers, cleanup)
		s := srv
		if i > 0 {
			s = httptest.NewUnstartedServer(nil)
		}
		s.Config.Handler = handler
		s.Start()
		closers = append(closers, s.Close)
		urls = append(urls, s.URL)
	}
	jar, c := k.RegisterBrowser(t, kratostest.UniqueEmail(name+"-shared"), password)
	noFollow := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	plain := &http.Client{CheckRedirect: noFollow}
	status := func(u string) int {
		req, err := http.NewRequest(http.MethodGet, u+"/api/me", nil)
		require.NoError(t, err)
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		resp, err := plain.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, u := range urls {
		require.Equal(t, http.StatusOK, status(u))
	}
	browserClient := &http.Client{Jar: jar, CheckRedirect: noFollow}
	resp, err := browserClient.Get(urls[0] + "/logout")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, err = browserClient.Get(resp.Header.Get("Location")) // Kratos ends the session
	require.NoError(t, err)
	resp.Body.Close()
	for _, u := range urls {
		assert.Equal(t, http.StatusUnauthorized, status(u), "logged out on the first instance")
	}

	for _, f := range closers {
		f()
	}
	plain.CloseIdleConnections()
	browserClient.CloseIdleConnections()
	goleak.VerifyNone(t, leaks)
}
