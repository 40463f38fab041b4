// Package adaptertest is the conformance suite every adapter runs against
// kratosauthtest's fake Kratos: the same table of requests (Run, RunAuthz),
// so that net/http, chi, gin and echo behave alike, and the same table of
// calls (RPCCalls) for gRPC and Connect.
package adaptertest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// AppURL is the app URL the suite configures.
const AppURL = "https://app.example.com"

// Routes builds an app on a with these routes:
//
//	GET /private  RequireSession
//	GET /aal2     RequireAAL(kratosauth.AAL2)
//	GET /public   LoadSession
//
// Each handler writes the identity ID from the adapter's own getter (or
// "anonymous") as the body, and the identity ID from
// kratosauth.IdentityFromContext(r.Context()) in the X-Context-Identity
// header. The suite compares each with the identity Kratos answered for the
// request, so an adapter that drops the session on either path, or hands
// the handler another request's session, fails it.
type Routes func(a *kratosauth.Authenticator) http.Handler

const (
	browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	token         = "ory_st_conformance0123456789abcdef"
)

// identity stands for the signed-in session's identity ID in wantBody.
const identity = "<identity>"

// Run runs the suite.
func Run(t *testing.T, routes Routes) {
	t.Run("canceled", func(t *testing.T) { runCanceled(t, routes) })
	revoke := func(k *kratosauthtest.Server, c kratosauthtest.Credentials) { k.Revoke(c) }
	fail := func(f kratosauthtest.Fault) func(*kratosauthtest.Server, kratosauthtest.Credentials) {
		return func(k *kratosauthtest.Server, _ kratosauthtest.Credentials) { k.Fail(f) }
	}
	// Kratos re-issues the session cookie (and sets one more, not to relay).
	refreshed := func(k *kratosauthtest.Server, c kratosauthtest.Credentials) {
		k.Fail(kratosauthtest.Raw(http.StatusOK, http.Header{"Set-Cookie": {"ory_kratos_session=NEW; Path=/; HttpOnly", "csrf_token_x=y; Path=/"}},
			kratosauthtest.WhoamiBody(c.Session)))
	}
	aal2 := []kratosauthtest.SessionOption{kratosauthtest.WithAAL2()}
	// Kratos answers 403 session_aal2_required; its redirect_browser_to is
	// on the fake's address, not the browser URL configured below, so the
	// library sends browsers to the browser URL's step-up login instead.
	pending := []kratosauthtest.SessionOption{kratosauthtest.WithSecondFactorPending()}
	const stepUp = "http://kratos/self-service/login/browser?aal=aal2"

	cases := []struct {
		name       string
		path       string
		browser    bool
		noCred     bool
		cookie     bool // send the session cookie instead of the token
		login      []kratosauthtest.SessionOption
		kratos     func(k *kratosauthtest.Server, c kratosauthtest.Credentials) // nil: Kratos answers for the session
		wantCode   int
		wantBody   string // exact body, for 200s
		wantLoc    string // exact Location, for redirects
		wantJSON   int    // error.code in a JSON error body
		wantCookie string // the one Set-Cookie relayed from Kratos
	}{
		{name: "private/valid", path: "/private", wantCode: 200, wantBody: identity},
		{name: "private/valid browser", path: "/private", browser: true, wantCode: 200, wantBody: identity},
		{name: "private/valid cookie", path: "/private", browser: true, cookie: true, wantCode: 200, wantBody: identity},
		{name: "private/no credentials browser", path: "/private?tab=1", browser: true, noCred: true, wantCode: 303,
			wantLoc: "http://kratos/self-service/login/browser?return_to=" + url.QueryEscape(AppURL+"/private?tab=1")},
		{name: "private/no credentials API", path: "/private", noCred: true, wantCode: 401, wantJSON: 401},
		{name: "private/invalid API", path: "/private", kratos: revoke, wantCode: 401, wantJSON: 401},
		{name: "private/invalid browser", path: "/private", browser: true, kratos: revoke, wantCode: 303,
			wantLoc: "http://kratos/self-service/login/browser?return_to=" + url.QueryEscape(AppURL+"/private")},
		{name: "private/aal2 required API", path: "/private", login: pending, wantCode: 403, wantJSON: 403},
		{name: "private/aal2 required browser", path: "/private", browser: true, login: pending, wantCode: 303,
			wantLoc: withReturnTo(stepUp, AppURL+"/private")},
		{name: "private/kratos 500 API", path: "/private", kratos: fail(kratosauthtest.Status(500)), wantCode: 503, wantJSON: 503},
		{name: "private/kratos 500 browser gets no redirect", path: "/private", browser: true, kratos: fail(kratosauthtest.Status(500)), wantCode: 503, wantJSON: 503},
		{name: "aal2/aal1 session browser steps up", path: "/aal2", browser: true, wantCode: 303,
			wantLoc: "http://kratos/self-service/login/browser?aal=aal2&return_to=" + url.QueryEscape(AppURL+"/aal2")},
		{name: "aal2/aal1 session API", path: "/aal2", wantCode: 403, wantJSON: 403},
		{name: "aal2/aal2 session", path: "/aal2", login: aal2, wantCode: 200, wantBody: identity},
		{name: "public/no credentials", path: "/public", noCred: true, wantCode: 200, wantBody: "anonymous"},
		{name: "public/valid", path: "/public", wantCode: 200, wantBody: identity},
		{name: "public/invalid", path: "/public", kratos: revoke, wantCode: 200, wantBody: "anonymous"},
		{name: "public/aal2 required", path: "/public", login: pending, wantCode: 200, wantBody: "anonymous"},
		{name: "public/kratos unavailable", path: "/public", kratos: fail(kratosauthtest.Status(503)), wantCode: 503, wantJSON: 503},
		{name: "private/refreshed cookie relayed", path: "/private", cookie: true, kratos: refreshed, wantCode: 200, wantBody: identity,
			wantCookie: "ory_kratos_session=NEW; Path=/; HttpOnly"},
		{name: "public/refreshed cookie relayed", path: "/public", cookie: true, kratos: refreshed, wantCode: 200, wantBody: identity,
			wantCookie: "ory_kratos_session=NEW; Path=/; HttpOnly"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			c := kratos.Login(tc.login...)
			if tc.kratos != nil {
				tc.kratos(kratos, c)
			}
			// Kratos is called on the fake's address; browsers are sent to http://kratos.
			a, err := kratosauth.New(kratos.URL,
				kratosauth.WithBrowserURL("http://kratos"),
				kratosauth.WithAppURL(AppURL),
				kratosauth.WithCacheTTL(0))
			require.NoError(t, err)
			t.Cleanup(func() { a.Close() })

			req := httptest.NewRequest(http.MethodGet, "http://internal:8080"+tc.path, nil)
			req.Host = "evil.example" // must never be used for return_to
			if tc.browser {
				req.Header.Set("Accept", browserAccept)
			} else {
				req.Header.Set("Accept", "application/json")
			}
			switch {
			case tc.noCred:
			case tc.cookie:
				req.AddCookie(c.Cookie)
			default:
				req.Header.Set("X-Session-Token", c.Token)
			}
			rec := httptest.NewRecorder()
			routes(a).ServeHTTP(rec, req)
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)

			require.Equal(t, tc.wantCode, res.StatusCode, "body: %s", body)
			if tc.noCred {
				assert.Zero(t, kratos.Calls(), "no credential must not reach Kratos")
			}
			if tc.wantBody != "" {
				wantBody := tc.wantBody
				if wantBody == identity {
					wantBody = c.Session.Identity.ID
				}
				assert.Equal(t, wantBody, string(body), "the adapter's getter")
				wantContext := wantBody
				if wantContext == "anonymous" {
					wantContext = ""
				}
				assert.Equal(t, wantContext, res.Header.Get("X-Context-Identity"), "the request's context")
			}
			if tc.wantCode == 200 {
				assert.Equal(t, tc.wantCookie, strings.Join(res.Header.Values("Set-Cookie"), "|"), "Set-Cookie")
			}
			if tc.wantLoc != "" {
				assert.Equal(t, tc.wantLoc, res.Header.Get("Location"))
				assert.NotContains(t, res.Header.Get("Location"), "evil.example")
			}
			if tc.wantJSON != 0 {
				var e struct {
					Error struct {
						Code   int    `json:"code"`
						Status string `json:"status"`
					} `json:"error"`
				}
				require.NoError(t, json.Unmarshal(body, &e), "body: %s", body)
				assert.Equal(t, tc.wantJSON, e.Error.Code)
				assert.Equal(t, http.StatusText(tc.wantJSON), e.Error.Status)
				assert.True(t, strings.HasPrefix(res.Header.Get("Content-Type"), "application/json"))
				assert.Empty(t, res.Header.Get("Location"))
			}
		})
	}
}

// runCanceled checks that a request whose client hangs up while Kratos is
// asked never reaches the handler.
func runCanceled(t *testing.T, routes Routes) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	kratos.Fail(kratosauthtest.Slow(time.Second))
	a, err := kratosauth.New(kratos.URL, kratosauth.WithAppURL(AppURL))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	h := routes(a)
	for _, path := range []string{"/private", "/aal2", "/public"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		req := httptest.NewRequest(http.MethodGet, path, nil).WithContext(ctx)
		req.Header.Set("X-Session-Token", c.Token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		cancel()
		assert.Equal(t, 499, rec.Code, "%s: a hung-up client's request reached the handler", path)
		assert.Empty(t, rec.Header().Get("X-Context-Identity"), path)
	}
}

func withReturnTo(target, returnTo string) string {
	u, err := url.Parse(target)
	if err != nil {
		panic(err)
	}
	q := u.Query()
	q.Set("return_to", returnTo)
	u.RawQuery = q.Encode()
	return u.String()
}
