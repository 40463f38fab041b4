package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

// TestKratos runs the tests that can share one Kratos with the default
// configuration (session.whoami.required_aal: aal1).
func TestKratos(t *testing.T) {
	t.Parallel()
	k := kratostest.Start(t, kratostest.Options{})
	t.Run("Credentials", func(t *testing.T) { testCredentials(t, k) })
	t.Run("Cookies", func(t *testing.T) { testCookies(t, k) })
	t.Run("CookieRefresh", func(t *testing.T) { testCookieRefresh(t, k) })
	t.Run("Revocation", func(t *testing.T) { testRevocation(t, k) })
	t.Run("RequireAAL", func(t *testing.T) { testRequireAAL(t, k) })
	t.Run("Timeout", func(t *testing.T) { testTimeout(t, k) })
	t.Run("Cache", func(t *testing.T) { testCache(t, k) })
	t.Run("Herd", func(t *testing.T) { testHerd(t, k) })
}

// testCredentials: session tokens from the API flows are accepted in
// X-Session-Token and Authorization: Bearer, and only the header carrying
// the token reaches Kratos, verbatim.
func testCredentials(t *testing.T, k *kratostest.Server) {
	forEachAdapter(t, func(t *testing.T, ad adapter) {
		p := newProxy(t, k.PublicURL)
		a := newApp(t, ad, k, p.URL)
		email := kratostest.UniqueEmail("cred-" + ad.name)
		regToken, sess := k.RegisterAPI(t, email, password)
		regSessionID, identityID := kratostest.SessionIDs(t, sess)
		loginToken := k.LoginAPI(t, email, password)

		m := assertMe(t, a.get(t, "/private", token(regToken)), identityID)
		assert.Equal(t, me{IdentityID: identityID, Email: email, SessionID: regSessionID, AAL: kratosauth.AAL1}, m)

		m = assertMe(t, a.get(t, "/private", bearer(loginToken)), identityID)
		assert.NotEqual(t, regSessionID, m.SessionID, "the login token is another session")
		assert.Equal(t, email, m.Email)

		assertMe(t, a.get(t, "/public", token(regToken)), identityID)
		anon := a.get(t, "/public")
		require.Equal(t, http.StatusOK, anon.Status)
		assert.JSONEq(t, `{}`, anon.Body)

		assertJSONError(t, a.get(t, "/private"), http.StatusUnauthorized)
		assertJSONError(t, a.get(t, "/private", token("ory_st_notatoken0123456789abcdef")), http.StatusUnauthorized)
		assertRedirect(t, a.get(t, "/private?tab=1", browser), a.loginURL(k, "/private?tab=1"))

		// What Kratos saw: one whoami per token (and the unknown one), each
		// carrying the header the token came in, and nothing else of ours.
		var sent []string
		for _, r := range p.Requests() {
			require.Equal(t, "/sessions/whoami", r.Path)
			sent = append(sent, r.Header.Get("X-Session-Token")+"|"+r.Header.Get("Authorization"))
			assert.Empty(t, r.Header.Values("Cookie"))
		}
		assert.Equal(t, []string{regToken + "|", "|Bearer " + loginToken, "ory_st_notatoken0123456789abcdef|"}, sent)
	})
}

// testCookies: the browser flow's session cookie is accepted among unrelated
// cookies, and only the session cookie reaches Kratos.
func testCookies(t *testing.T, k *kratostest.Server) {
	forEachAdapter(t, func(t *testing.T, ad adapter) {
		p := newProxy(t, k.PublicURL)
		a := newApp(t, ad, k, p.URL)
		email := kratostest.UniqueEmail("cookie-" + ad.name)
		_, ck := k.RegisterBrowser(t, email, password)
		resp, body := k.Whoami(t, "", ck)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		_, identityID := kratostest.SessionIDs(t, body)

		cookies := func(r *http.Request) {
			r.Header.Set("Cookie", "_ga=GA1.2.3; "+kratostest.SessionCookieName+"="+ck.Value+"; theme=dark")
			r.Header.Set("X-Request-Id", "private-to-the-app")
		}
		m := assertMe(t, a.get(t, "/private", cookies, browser), identityID)
		assert.Equal(t, email, m.Email)
		// Served from the cache: Kratos is asked once.
		assertMe(t, a.get(t, "/private", cookies), identityID)

		reqs := p.Requests()
		require.Len(t, reqs, 1)
		assert.Equal(t, "/sessions/whoami", reqs[0].Path)
		assert.Equal(t, []string{kratostest.SessionCookieName + "=" + ck.Value}, reqs[0].Header.Values("Cookie"))
		for name, values := range reqs[0].Header {
			for _, v := range values {
				for _, leak := range []string{"GA1.2.3", "theme", "dark", "private-to-the-app", "text/html"} {
					assert.NotContains(t, v, leak, "header %s reached Kratos", name)
				}
			}
		}
	})
}

// testCookieRefresh: after an admin extends a session, Kratos' whoami
// re-issues the session cookie with the new expiry; the middleware passes it
// on to the browser on the request that asked Kratos, and the new cookie
// works.
func testCookieRefresh(t *testing.T, k *kratostest.Server) {
	forEachAdapter(t, func(t *testing.T, ad adapter) {
		a := newApp(t, ad, k, k.PublicURL)
		_, old := k.LoginBrowser(t, registered(t, k, "refresh-"+ad.name), password)
		resp, body := k.Whoami(t, "", old)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		sessionID, identityID := kratostest.SessionIDs(t, body)
		require.Empty(t, resp.Header.Values("Set-Cookie"), "an unchanged session's cookie is not re-issued")

		time.Sleep(1100 * time.Millisecond) // the cookie's expiry has a resolution of a second
		k.ExtendSession(t, sessionID)
		got := a.get(t, "/private", cookie(old))
		assertMe(t, got, identityID)
		var fresh *http.Cookie
		for _, c := range (&http.Response{Header: got.Header}).Cookies() {
			require.Equal(t, kratostest.SessionCookieName, c.Name, "only the session cookie is passed on")
			fresh = c
		}
		require.NotNil(t, fresh, "Kratos' re-issued session cookie did not reach the browser")
		assert.True(t, fresh.Expires.After(old.Expires), "new expiry %v, old %v", fresh.Expires, old.Expires)
		assert.True(t, fresh.HttpOnly)

		assertMe(t, a.get(t, "/private", cookie(fresh)), identityID)
		assert.Empty(t, a.get(t, "/private", cookie(old)).Header.Values("Set-Cookie"), "a cache hit relays nothing")
	})
}

// registered returns the email of a new identity with the e2e password.
func registered(t *testing.T, k *kratostest.Server, prefix string) string {
	email := kratostest.UniqueEmail(prefix)
	k.RegisterAPI(t, email, password)
	return email
}

// testRevocation: a session ended in Kratos (browser or API logout, admin
// revocation, disabled identity) is refused right after Invalidate, or once
// the cache TTL has passed.
func testRevocation(t *testing.T, k *kratostest.Server) {
	type session struct {
		cred       cred
		sessionID  string
		identityID string
		jar        http.CookieJar
		token      string
	}
	apiSession := func(t *testing.T, prefix string) session {
		tok, sess := k.RegisterAPI(t, kratostest.UniqueEmail(prefix), password)
		sid, iid := kratostest.SessionIDs(t, sess)
		return session{cred: token(tok), sessionID: sid, identityID: iid, token: tok}
	}
	browserSession := func(t *testing.T, prefix string) session {
		jar, ck := k.RegisterBrowser(t, kratostest.UniqueEmail(prefix), password)
		resp, body := k.Whoami(t, "", ck)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		sid, iid := kratostest.SessionIDs(t, body)
		return session{cred: cookie(ck), sessionID: sid, identityID: iid, jar: jar}
	}
	ends := []struct {
		name  string
		start func(t *testing.T, prefix string) session
		end   func(t *testing.T, s session)
	}{
		{"API logout", apiSession, func(t *testing.T, s session) { k.LogoutAPI(t, s.token) }},
		{"browser logout", browserSession, func(t *testing.T, s session) { k.LogoutBrowser(t, s.jar) }},
		{"admin revocation", browserSession, func(t *testing.T, s session) { k.RevokeSession(t, s.sessionID) }},
		{"disabled identity", apiSession, func(t *testing.T, s session) { k.DisableIdentity(t, s.identityID) }},
	}
	forEachAdapter(t, func(t *testing.T, ad adapter) {
		for _, e := range ends {
			t.Run(e.name+"/Invalidate", func(t *testing.T) {
				a := newApp(t, ad, k, k.PublicURL, kratosauth.WithCacheTTL(time.Minute))
				s := e.start(t, "revoke-"+ad.name)
				assertMe(t, a.get(t, "/private", s.cred), s.identityID)
				e.end(t, s)
				// Still cached: this is what Invalidate is for.
				assertMe(t, a.get(t, "/private", s.cred), s.identityID)
				require.Equal(t, http.StatusNoContent, a.get(t, "/logout", s.cred).Status)
				assertJSONError(t, a.get(t, "/private", s.cred), http.StatusUnauthorized)
				assertRedirect(t, a.get(t, "/private", s.cred, browser), a.loginURL(k, "/private"))
			})
			t.Run(e.name+"/TTL", func(t *testing.T) {
				const ttl = 300 * time.Millisecond
				a := newApp(t, ad, k, k.PublicURL, kratosauth.WithCacheTTL(ttl))
				s := e.start(t, "revoke-ttl-"+ad.name)
				assertMe(t, a.get(t, "/private", s.cred), s.identityID)
				e.end(t, s)
				time.Sleep(ttl + 50*time.Millisecond)
				assertJSONError(t, a.get(t, "/private", s.cred), http.StatusUnauthorized)
				assertRedirect(t, a.get(t, "/private", s.cred, browser), a.loginURL(k, "/private"))
			})
		}
	})
}

// testRequireAAL: with Kratos' default required_aal aal1, an aal1 session
// passes RequireSession but is sent to the step-up login by RequireAAL(aal2).
func testRequireAAL(t *testing.T, k *kratostest.Server) {
	forEachAdapter(t, func(t *testing.T, ad adapter) {
		a := newApp(t, ad, k, k.PublicURL)
		tok, sess := k.RegisterAPI(t, kratostest.UniqueEmail("aal-"+ad.name), password)
		_, identityID := kratostest.SessionIDs(t, sess)

		assertMe(t, a.get(t, "/private", token(tok)), identityID)
		stepUp := k.PublicURL + "/self-service/login/browser?aal=aal2&return_to=" + url.QueryEscape(k.Options.AppURL+"/aal2?next=1")
		e := assertJSONError(t, a.get(t, "/aal2?next=1", token(tok)), http.StatusForbidden)
		assert.Equal(t, "session_aal2_required", e.Error.ID)
		assert.Equal(t, stepUp, e.RedirectBrowserTo)
		assert.Equal(t, stepUp, e.Error.Details.RedirectBrowserTo)
		assertRedirect(t, a.get(t, "/aal2?next=1", token(tok), browser), stepUp)
	})
}

// testTimeout: a Kratos that does not answer is a 503 (for browsers too)
// once WithTimeout has passed, not a hang and not a login redirect.
func testTimeout(t *testing.T, k *kratostest.Server) {
	const timeout = 500 * time.Millisecond
	forEachAdapter(t, func(t *testing.T, ad adapter) {
		p := newProxy(t, k.PublicURL)
		p.delay.Store(int64(time.Minute))
		a := newApp(t, ad, k, p.URL, kratosauth.WithTimeout(timeout))
		tok, _ := k.RegisterAPI(t, kratostest.UniqueEmail("timeout-"+ad.name), password)
		for _, r := range []response{
			a.get(t, "/private", token(tok)),
			a.get(t, "/private", token(tok), browser),
			a.get(t, "/public", token(tok), browser),
		} {
			assertJSONError(t, r, http.StatusServiceUnavailable)
			assert.GreaterOrEqual(t, r.Took, timeout)
			assert.Less(t, r.Took, 3*time.Second, "a bound on a hang, not a performance goal")
		}
	})
}

// testCache: with a one-minute TTL, 50 requests with one credential make one
// whoami call.
func testCache(t *testing.T, k *kratostest.Server) {
	forEachAdapter(t, func(t *testing.T, ad adapter) {
		p := newProxy(t, k.PublicURL)
		a := newApp(t, ad, k, p.URL, kratosauth.WithCacheTTL(time.Minute))
		tok, sess := k.RegisterAPI(t, kratostest.UniqueEmail("cache-"+ad.name), password)
		_, identityID := kratostest.SessionIDs(t, sess)
		for range 50 {
			assertMe(t, a.get(t, "/private", token(tok)), identityID)
		}
		assert.EqualValues(t, 1, p.Whoamis())
	})
}

// testHerd: 1,000 concurrent requests with the same uncached credential make
// exactly one whoami call.
func testHerd(t *testing.T, k *kratostest.Server) {
	const n = 1000
	forEachAdapter(t, func(t *testing.T, ad adapter) {
		p := newProxy(t, k.PublicURL)
		// Kratos answers slowly, so the requests pile up on one call.
		p.delay.Store(int64(200 * time.Millisecond))
		// A generous timeout: a loaded machine must not turn this into 503s.
		a := newApp(t, ad, k, p.URL, kratosauth.WithCacheTTL(time.Minute), kratosauth.WithTimeout(20*time.Second))
		tok, sess := k.RegisterAPI(t, kratostest.UniqueEmail("herd-"+ad.name), password)
		_, identityID := kratostest.SessionIDs(t, sess)

		tr := &http.Transport{MaxIdleConnsPerHost: n}
		t.Cleanup(tr.CloseIdleConnections)
		c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		var (
			wg       sync.WaitGroup
			start    = make(chan struct{})
			mu       sync.Mutex
			statuses = map[int]int{}
			bad      []string
		)
		for range n {
			wg.Go(func() {
				<-start
				req, _ := http.NewRequest(http.MethodGet, a.URL+"/private", nil)
				req.Header.Set("X-Session-Token", tok)
				resp, err := c.Do(req)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					statuses[0]++
					bad = append(bad, err.Error())
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				statuses[resp.StatusCode]++
				if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(b), identityID) {
					bad = append(bad, fmt.Sprintf("%d %s %v", resp.StatusCode, b, err))
				}
			})
		}
		close(start)
		wg.Wait()
		require.Empty(t, bad[:min(len(bad), 5)], "statuses %v", statuses)
		assert.Equal(t, map[int]int{http.StatusOK: n}, statuses)
		assert.EqualValues(t, 1, p.Whoamis())
	})
}
