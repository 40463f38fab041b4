package e2e

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/adapters/chi"
	"github.com/kratosauth/kratosauth/adapters/gin"
	"github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

func init() { gin.SetMode(gin.TestMode) }

const (
	password = "e2e-Test-Passw0rd-!42"
	// What browsers send when they navigate to a page.
	browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
)

// An adapter builds the same app with one framework:
//
//	GET /private  RequireSession             200 me JSON
//	GET /aal2     RequireAAL(kratosauth.AAL2) 200 me JSON
//	GET /public   LoadSession                200 me JSON, or {} without a session
//	GET /logout   auth.Invalidate(r)         204
type adapter struct {
	name   string
	routes func(a *kratosauth.Authenticator) http.Handler
}

var adapters = []adapter{
	{"nethttp", func(a *kratosauth.Authenticator) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("GET /private", kratoshttp.RequireSession(a)(http.HandlerFunc(writeMe)))
		mux.Handle("GET /aal2", kratoshttp.RequireAAL(a, kratosauth.AAL2)(http.HandlerFunc(writeMe)))
		mux.Handle("GET /public", kratoshttp.LoadSession(a)(http.HandlerFunc(writeMe)))
		mux.HandleFunc("GET /logout", invalidate(a))
		return mux
	}},
	{"chi", func(a *kratosauth.Authenticator) http.Handler {
		r := chi.NewRouter()
		kratoschi.Protected(r, a, func(r chi.Router) { r.Get("/private", writeMe) })
		kratoschi.ProtectedAAL(r, a, kratosauth.AAL2, func(r chi.Router) { r.Get("/aal2", writeMe) })
		kratoschi.Public(r, a, func(r chi.Router) { r.Get("/public", writeMe) })
		r.Get("/logout", invalidate(a))
		return r
	}},
	{"gin", func(a *kratosauth.Authenticator) http.Handler {
		r := gin.New()
		ginMe := func(c *gin.Context) {
			s, ok := kratosgin.Session(c)
			if !ok {
				c.JSON(http.StatusOK, gin.H{})
				return
			}
			c.JSON(http.StatusOK, meOf(s))
		}
		r.GET("/private", kratosgin.RequireSession(a), ginMe)
		r.GET("/aal2", kratosgin.RequireAAL(a, kratosauth.AAL2), ginMe)
		r.GET("/public", kratosgin.LoadSession(a), ginMe)
		r.GET("/logout", gin.WrapF(invalidate(a)))
		return r
	}},
}

// me is what the routes answer with a session.
type me struct {
	IdentityID string `json:"identity_id,omitempty"`
	Email      string `json:"email,omitempty"`
	SessionID  string `json:"session_id,omitempty"`
	AAL        string `json:"aal,omitempty"`
}

func meOf(s *kratosauth.Session) me {
	t, _ := kratosauth.Traits[struct {
		Email string `json:"email"`
	}](s)
	return me{IdentityID: s.Identity.ID, Email: t.Email, SessionID: s.ID, AAL: s.AuthenticatorAssuranceLevel}
}

func writeMe(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	s, ok := kratosauth.SessionFromContext(r.Context())
	if !ok {
		_, _ = io.WriteString(w, "{}\n")
		return
	}
	_ = json.NewEncoder(w).Encode(meOf(s))
}

func invalidate(a *kratosauth.Authenticator) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.Invalidate(r)
		w.WriteHeader(http.StatusNoContent)
	}
}

// forEachAdapter runs f as one subtest per adapter.
func forEachAdapter(t *testing.T, f func(t *testing.T, ad adapter)) {
	t.Helper()
	for _, ad := range adapters {
		t.Run(ad.name, func(t *testing.T) { f(t, ad) })
	}
}

// proxy is a reverse proxy in front of Kratos' public API that records the
// requests it forwards and counts whoami calls.
type proxy struct {
	URL string

	whoamis atomic.Int64
	delay   atomic.Int64 // whoami delay in nanoseconds

	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	Method, Path string
	Header       http.Header
}

func newProxy(t *testing.T, kratosPublicURL string) *proxy {
	t.Helper()
	target, err := url.Parse(kratosPublicURL)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &proxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests = append(p.requests, recorded{r.Method, r.URL.Path, r.Header.Clone()})
		p.mu.Unlock()
		if r.URL.Path == "/sessions/whoami" {
			p.whoamis.Add(1)
			if d := time.Duration(p.delay.Load()); d > 0 {
				select {
				case <-time.After(d):
				case <-r.Context().Done(): // the caller gave up
					return
				}
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Whoamis returns the number of whoami calls so far.
func (p *proxy) Whoamis() int64 { return p.whoamis.Load() }

// Requests returns the requests forwarded so far.
func (p *proxy) Requests() []recorded {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]recorded(nil), p.requests...)
}

// app is one adapter's app, served on 127.0.0.1.
type app struct {
	URL  string
	Auth *kratosauth.Authenticator
	// Kratos is the Kratos public URL browsers are sent to.
	Kratos string
}

// newApp serves ad's app with an Authenticator that calls Kratos at
// whoamiURL (the proxy, or Kratos itself), sends browsers to k.PublicURL and
// has k's app URL as its app URL.
func newApp(t *testing.T, ad adapter, k *kratostest.Server, whoamiURL string, opts ...kratosauth.Option) *app {
	t.Helper()
	opts = append([]kratosauth.Option{
		kratosauth.WithBrowserURL(k.PublicURL),
		kratosauth.WithAppURL(k.Options.AppURL),
		kratosauth.WithLogger(slog.New(slog.DiscardHandler)),
	}, opts...)
	auth, err := kratosauth.New(whoamiURL, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = auth.Close() })
	srv := httptest.NewServer(ad.routes(auth))
	t.Cleanup(srv.Close)
	return &app{URL: srv.URL, Auth: auth, Kratos: k.PublicURL}
}

// client never follows redirects: the test looks at them.
var client = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// cred is how a request carries its session.
type cred func(*http.Request)

func token(tok string) cred { return func(r *http.Request) { r.Header.Set("X-Session-Token", tok) } }
func bearer(tok string) cred {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}
func cookie(c *http.Cookie) cred {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value}) }
}
func browser(r *http.Request) { r.Header.Set("Accept", browserAccept) }
func noCred(*http.Request)    {}

type response struct {
	Status int
	Header http.Header
	Body   string
	Took   time.Duration
}

// get sends GET path to the app with the given credentials and headers.
func (a *app) get(t testing.TB, path string, with ...cred) response {
	t.Helper()
	return doGet(t, client, a.URL+path, with...)
}

func doGet(t testing.TB, c *http.Client, u string, with ...cred) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/json")
	for _, w := range with {
		w(req)
	}
	start := time.Now()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{resp.StatusCode, resp.Header, string(body), time.Since(start)}
}

// loginURL is where a browser without a session is sent from path.
func (a *app) loginURL(k *kratostest.Server, path string) string {
	return k.PublicURL + "/self-service/login/browser?return_to=" + url.QueryEscape(k.Options.AppURL+path)
}

// assertMe checks a 200 with the session's identity.
func assertMe(t testing.TB, r response, identityID string) me {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	var m me
	require.NoError(t, json.Unmarshal([]byte(r.Body), &m), r.Body)
	assert.Equal(t, identityID, m.IdentityID)
	return m
}

// kratosError is the JSON error body the library writes.
type kratosError struct {
	Error struct {
		ID      string `json:"id"`
		Code    int    `json:"code"`
		Status  string `json:"status"`
		Details struct {
			RedirectBrowserTo string `json:"redirect_browser_to"`
		} `json:"details"`
	} `json:"error"`
	RedirectBrowserTo string `json:"redirect_browser_to"`
}

// assertJSONError checks a JSON error in Kratos' shape with the given status.
func assertJSONError(t testing.TB, r response, status int) kratosError {
	t.Helper()
	require.Equal(t, status, r.Status, r.Body)
	assert.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"), r.Header.Get("Content-Type"))
	var e kratosError
	require.NoError(t, json.Unmarshal([]byte(r.Body), &e), r.Body)
	assert.Equal(t, status, e.Error.Code)
	assert.Equal(t, http.StatusText(status), e.Error.Status)
	return e
}

// assertRedirect checks a 303 to exactly location.
func assertRedirect(t testing.TB, r response, location string) {
	t.Helper()
	require.Equal(t, http.StatusSeeOther, r.Status, r.Body)
	assert.Equal(t, location, r.Header.Get("Location"))
}
