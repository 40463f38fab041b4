package kratosauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/keto"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// checkerFunc is a PermissionChecker that answers with f and counts calls.
type checkerFunc struct {
	f     func(namespace, object, relation, subject string) (bool, error)
	calls atomic.Int64
}

func (c *checkerFunc) CheckPermission(ctx context.Context, namespace, object, relation, subject string) (bool, error) {
	c.calls.Add(1)
	return c.f(namespace, object, relation, subject)
}

func allowIf(ok func(namespace, object, relation, subject string) bool) *checkerFunc {
	return &checkerFunc{f: func(n, o, r, s string) (bool, error) { return ok(n, o, r, s), nil }}
}

type authzEnv struct {
	kratos *kratosauthtest.Server
	auth   *kratosauth.Authenticator
	logs   *bytes.Buffer
}

func newAuthzEnv(t *testing.T, opts ...kratosauth.Option) *authzEnv {
	t.Helper()
	kratos := kratosauthtest.NewServer(t)
	var logs bytes.Buffer
	a, err := kratosauth.New(kratos.URL, append([]kratosauth.Option{
		kratosauth.WithAppURL("https://app.example.com"),
		kratosauth.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
	}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	return &authzEnv{kratos: kratos, auth: a, logs: &logs}
}

// serve runs g in front of a handler that answers 200 with the session's
// identity ID, for a request as c (nil: none).
func serve(g *kratosauth.Guard, path string, c *kratosauthtest.Credentials, browser bool) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if c != nil {
		r.Header.Set("X-Session-Token", c.Token)
	}
	if browser {
		r.Header.Set("Accept", "text/html")
	}
	w := httptest.NewRecorder()
	g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := kratosauth.IdentityFromContext(r.Context())
		fmt.Fprint(w, "handler:", id.ID)
	})).ServeHTTP(w, r)
	return w
}

func errorID(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body errorBody
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
	assert.Equal(t, w.Code, body.Error.Code)
	return body.Error.ID
}

func TestWhere(t *testing.T) {
	env := newAuthzEnv(t)
	admin := kratosauthtest.WithMetadataPublic(map[string]any{"roles": []string{"admin"}})
	plain := env.kratos.Login()
	boss := env.kratos.Login(admin)
	bossMFA := env.kratos.Login(admin, kratosauthtest.WithAAL2())

	base := env.auth.RequireSession()
	admins := base.Where(kratosauth.HasRole("roles", "admin"))
	assert.Equal(t, 200, serve(admins, "/", &boss, false).Code)
	w := serve(admins, "/", &plain, false)
	assert.Equal(t, 403, w.Code)
	assert.Equal(t, "forbidden", errorID(t, w))
	assert.NotContains(t, w.Body.String(), "handler:")
	assert.Equal(t, 200, serve(base, "/", &plain, false).Code, "Where returns a copy: the base guard is unchanged")

	// Where adds to what the guard had: both predicates must hold.
	verifiedAdmins := admins.Where(kratosauth.VerifiedEmail())
	assert.Equal(t, 403, serve(verifiedAdmins, "/", &boss, false).Code)
	assert.Equal(t, 200, serve(admins, "/", &boss, false).Code, "the narrower guard did not change its parent")
	assert.Equal(t, 200, serve(env.auth.Require(kratosauth.HasRole("roles", "admin")), "/", &boss, false).Code)

	// Predicates come after the assurance level: an aal1 session is sent to
	// step up (it may then pass), an aal2 one without the role is refused.
	mfaAdmins := env.auth.RequireAAL(kratosauth.AAL2).Where(kratosauth.HasRole("roles", "admin"))
	w = serve(mfaAdmins, "/", &boss, true)
	assert.Equal(t, 303, w.Code)
	assert.Contains(t, w.Header().Get("Location"), "aal=aal2")
	assert.Equal(t, 200, serve(mfaAdmins, "/", &bossMFA, true).Code)
	plainMFA := env.kratos.Login(kratosauthtest.WithAAL2())
	w = serve(mfaAdmins, "/", &plainMFA, true)
	assert.Equal(t, 403, w.Code)
	assert.Empty(t, w.Header().Get("Location"))

	// HasAAL as a predicate refuses with 403: no step-up.
	w = serve(env.auth.Require(kratosauth.HasAAL(kratosauth.AAL2)), "/", &plain, true)
	assert.Equal(t, 403, w.Code)
	assert.Empty(t, w.Header().Get("Location"))

	// The predicates see each request's session, cached or not.
	assert.Equal(t, 403, serve(admins, "/", &plain, false).Code)
	assert.Equal(t, 200, serve(admins, "/", &boss, false).Code)
}

func TestGuardBuildPanics(t *testing.T) {
	env := newAuthzEnv(t)
	withPerms := newAuthzEnv(t, kratosauth.WithPermissions(allowIf(func(string, string, string, string) bool { return true }))).auth
	obj := kratosauth.Object("x")
	for name, f := range map[string]func(){
		"Require without predicates":            func() { env.auth.Require() },
		"Where without predicates":              func() { env.auth.RequireSession().Where() },
		"Where zero predicate":                  func() { env.auth.Require(kratosauth.Predicate{}) },
		"Where on LoadSession":                  func() { env.auth.LoadSession().Where(kratosauth.VerifiedEmail()) },
		"RequirePermission without permissions": func() { env.auth.RequirePermission("Group", "members", obj) },
		"empty namespace":                       func() { withPerms.RequirePermission("", "members", obj) },
		"empty relation":                        func() { withPerms.RequirePermission("Group", "", obj) },
		"nil object":                            func() { withPerms.RequirePermission("Group", "members", nil) },
		"WherePermitted on LoadSession":         func() { withPerms.LoadSession().WherePermitted("Group", "members", obj) },
		"empty Object":                          func() { kratosauth.Object("") },
	} {
		assert.Panics(t, f, name)
	}
	_, err := kratosauth.New("http://127.0.0.1:4433", kratosauth.WithPermissions(nil))
	assert.ErrorContains(t, err, "WithPermissions")
	_, err = kratosauth.New("http://127.0.0.1:4433", kratosauth.WithForbiddenHandler(nil))
	assert.ErrorContains(t, err, "WithForbiddenHandler")
}

func TestRequirePermission(t *testing.T) {
	type question struct{ namespace, object, relation, subject string }
	var asked []question
	granted := map[question]bool{}
	checker := &checkerFunc{f: func(n, o, r, s string) (bool, error) {
		q := question{n, o, r, s}
		asked = append(asked, q)
		return granted[q], nil
	}}
	env := newAuthzEnv(t, kratosauth.WithPermissions(checker))
	alice := env.kratos.Login(kratosauthtest.WithMetadataPublic(map[string]any{"roles": []string{"editor"}}))
	bob := env.kratos.Login()
	granted[question{"Group", "admins", "members", alice.Session.Identity.ID}] = true

	admins := env.auth.RequirePermission("Group", "members", kratosauth.Object("admins"))
	w := serve(admins, "/admin", &alice, false)
	assert.Equal(t, 200, w.Code)
	assert.Equal(t, "handler:"+alice.Session.Identity.ID, w.Body.String())
	assert.Equal(t, []question{{"Group", "admins", "members", alice.Session.Identity.ID}}, asked, "the subject is the session's identity")

	w = serve(admins, "/admin", &bob, false)
	assert.Equal(t, 403, w.Code)
	assert.Equal(t, "forbidden", errorID(t, w))
	w = serve(admins, "/admin", &bob, true)
	assert.Equal(t, 403, w.Code)
	assert.Contains(t, w.Body.String(), "<h1>Forbidden</h1>")
	assert.Empty(t, w.Header().Get("Location"), "a signed-in user is never sent to login")

	// Without a session, Kratos' answer decides; the checker is not asked.
	asked = nil
	assert.Equal(t, 401, serve(admins, "/admin", nil, false).Code)
	assert.Equal(t, 303, serve(admins, "/admin", nil, true).Code)
	assert.Empty(t, asked)

	// Predicates are checked first: a session they refuse costs no check.
	editorsAdmins := env.auth.Require(kratosauth.HasRole("roles", "editor")).WherePermitted("Group", "members", kratosauth.Object("admins"))
	assert.Equal(t, 403, serve(editorsAdmins, "/", &bob, false).Code)
	assert.Empty(t, asked)
	assert.Equal(t, 200, serve(editorsAdmins, "/", &alice, false).Code)

	// Every permission of a guard must be allowed.
	both := admins.WherePermitted("Doc", "edit", kratosauth.Object("readme"))
	assert.Equal(t, 403, serve(both, "/", &alice, false).Code)
	granted[question{"Doc", "readme", "edit", alice.Session.Identity.ID}] = true
	assert.Equal(t, 200, serve(both, "/", &alice, false).Code)

	// An object function that fails, or names nothing, refuses without asking.
	asked = nil
	for name, object := range map[string]kratosauth.ObjectFunc{
		"error": func(*http.Request) (string, error) { return "admins", errors.New("no object") },
		"empty": func(*http.Request) (string, error) { return "", nil },
	} {
		w := serve(env.auth.RequirePermission("Group", "members", object), "/", &alice, false)
		assert.Equal(t, 403, w.Code, name)
	}
	assert.Empty(t, asked)
}

// The permission service's failures are 503s: never the handler, never a
// 403, whatever "allowed" came with the error.
func TestPermissionServiceFailure(t *testing.T) {
	failure := errors.New("keto: dial tcp 10.9.8.7:4466: connection refused")
	checker := &checkerFunc{f: func(string, string, string, string) (bool, error) { return true, failure }}
	env := newAuthzEnv(t, kratosauth.WithPermissions(checker))
	alice := env.kratos.Login()
	g := env.auth.RequirePermission("Group", "members", kratosauth.Object("admins"))
	for _, browser := range []bool{false, true} {
		w := serve(g, "/admin", &alice, browser)
		assert.Equal(t, 503, w.Code)
		assert.Equal(t, "permission_check_unavailable", errorID(t, w))
		assert.Empty(t, w.Header().Get("Location"))
		assert.NotContains(t, w.Body.String(), "10.9.8.7")
		assert.NotContains(t, w.Body.String(), "handler:")
	}
	assert.Contains(t, env.logs.String(), "permission service unavailable")
	assert.Contains(t, env.logs.String(), "10.9.8.7", "the cause goes to the logs")
	assert.NotContains(t, env.logs.String(), "Kratos unavailable")
	assert.NotContains(t, env.logs.String(), alice.Token)

	// The client hung up while the checker was asked: 499, nothing logged.
	env.logs.Reset()
	ctx, cancel := context.WithCancel(context.Background())
	checker.f = func(string, string, string, string) (bool, error) { cancel(); return false, context.Canceled }
	r := httptest.NewRequest(http.MethodGet, "/admin", nil).WithContext(ctx)
	r.Header.Set("X-Session-Token", alice.Token)
	w := httptest.NewRecorder()
	g.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("handler ran") })).ServeHTTP(w, r)
	assert.Equal(t, 499, w.Code)
	assert.Empty(t, env.logs.String())
}

func TestForbiddenHandler(t *testing.T) {
	var seen *kratosauth.Session
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = kratosauth.SessionFromContext(r.Context())
		switch r.URL.Path {
		case "/redirects":
			http.Redirect(w, r, "/login", http.StatusFound) // a page that would loop
		case "/silent":
		default:
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<p>ask an admin</p>")
		}
	})
	env := newAuthzEnv(t, kratosauth.WithForbiddenHandler(page))
	bob := env.kratos.Login()
	g := env.auth.Require(kratosauth.HasRole("roles", "admin"))

	w := serve(g, "/admin", &bob, true)
	assert.Equal(t, 403, w.Code)
	assert.Equal(t, "<p>ask an admin</p>", w.Body.String())
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	require.NotNil(t, seen, "the page gets the session")
	assert.Equal(t, bob.Session.Identity.ID, seen.Identity.ID)

	w = serve(g, "/redirects", &bob, true)
	assert.Equal(t, 403, w.Code, "the page is a 403 whatever it writes")
	assert.Empty(t, w.Header().Get("Location"), "and never a redirect")
	w = serve(g, "/silent", &bob, true)
	assert.Equal(t, 403, w.Code)

	// API clients get JSON; other refusals are the ErrorHandler's.
	w = serve(g, "/admin", &bob, false)
	assert.Equal(t, 403, w.Code)
	assert.Equal(t, "forbidden", errorID(t, w))
	assert.Equal(t, 303, serve(g, "/admin", nil, true).Code)
}

func TestErrorHandlerSeesErrForbidden(t *testing.T) {
	var got error
	env := newAuthzEnv(t, kratosauth.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	}))
	w := serve(env.auth.Require(kratosauth.VerifiedEmail()), "/", ptr(env.kratos.Login()), true)
	assert.Equal(t, http.StatusTeapot, w.Code)
	assert.ErrorIs(t, got, kratosauth.ErrForbidden)
	assert.NotErrorIs(t, got, kratosauth.ErrAAL2Required)
	assert.ErrorContains(t, got, "verified e-mail", "the cause names the predicate")
}

// What DefaultErrorHandler writes for ErrForbidden: a 403 in Kratos' shape,
// a page for browsers, never a redirect even with a RedirectTo.
func TestDefaultErrorHandlerForbidden(t *testing.T) {
	secret := errors.New("Doc:secret#view not allowed for identity 1234")
	for _, tc := range []struct {
		name    string
		method  string
		browser bool
		page    bool
	}{
		{"API", http.MethodGet, false, false},
		{"browser", http.MethodGet, true, true},
		{"browser HEAD", http.MethodHead, true, true},
		{"browser POST", http.MethodPost, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/", nil)
			if tc.browser {
				r.Header.Set("Accept", "text/html")
			}
			w := httptest.NewRecorder()
			kratosauth.DefaultErrorHandler(w, r, &kratosauth.Error{Kind: kratosauth.ErrForbidden, Cause: secret, RedirectTo: "http://k/login"})
			assert.Equal(t, 403, w.Code)
			assert.Empty(t, w.Header().Get("Location"))
			assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
			assert.NotContains(t, w.Body.String(), "1234")
			switch {
			case tc.page && tc.method == http.MethodHead:
				assert.Empty(t, w.Body.String())
			case tc.page:
				assert.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
				assert.Contains(t, w.Body.String(), "<h1>Forbidden</h1>")
				assert.NotContains(t, w.Body.String(), "login")
			default:
				assert.JSONEq(t, `{"error":{"id":"forbidden","code":403,"status":"Forbidden",
					"reason":"The session is valid but may not access this resource.",
					"message":"The requested action was forbidden"}}`, w.Body.String())
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// A permission-checked route whose session and decision are cached
// allocates what RequireSession does (TestCacheHitAllocations), nothing more.
func TestPermissionCacheHitAllocations(t *testing.T) {
	ketoFake := kratosauthtest.NewKeto(t)
	perms, err := keto.New(ketoFake.URL, keto.WithAllowTTL(time.Hour))
	require.NoError(t, err)
	t.Cleanup(perms.Close)
	env := newAuthzEnv(t, kratosauth.WithPermissions(perms))
	user := env.kratos.Login()
	ketoFake.Grant("Group", "admins", "members", user.Session.Identity.ID)
	var served int
	h := env.auth.RequirePermission("Group", "members", kratosauth.Object("admins")).
		Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(user.Cookie)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code)

	allocs := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) })
	require.Equal(t, 102, served)
	require.Equal(t, 1, ketoFake.Calls())
	require.LessOrEqual(t, allocs, 2.0)
}

// An Observer hears once per request, with the final outcome: a session a
// rule refuses comes with the session and ErrForbidden, not as admitted.
func TestObserverSeesRefusals(t *testing.T) {
	obs := &recordingObserver{}
	checker := allowIf(func(string, string, string, string) bool { return false })
	env := newAuthzEnv(t, kratosauth.WithObserver(obs), kratosauth.WithPermissions(checker))
	bob := env.kratos.Login()
	for _, g := range []*kratosauth.Guard{
		env.auth.Require(kratosauth.HasRole("roles", "admin")),
		env.auth.RequirePermission("Group", "members", kratosauth.Object("admins")),
	} {
		before := len(obs.checks)
		assert.Equal(t, 403, serve(g, "/", &bob, false).Code)
		require.Len(t, obs.checks, before+1, "one observation per request")
		c := obs.last(t)
		assert.ErrorIs(t, c.Err, kratosauth.ErrForbidden)
		require.NotNil(t, c.Session)
		assert.Equal(t, bob.Session.ID, c.Session.ID)
	}
	assert.NoError(t, func() error {
		serve(env.auth.RequireSession(), "/", &bob, false)
		return obs.last(t).Err
	}())
}
