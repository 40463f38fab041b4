package adaptertest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/keto"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// AuthzRoutes builds an app on a, which has a permission service, with
// these routes:
//
//	GET /admin      Require(kratosauth.HasRole("roles", "admin"))
//	GET /docs/{id}  RequirePermission("Doc", "view", the adapter's own
//	                path helper for "id": PathValue, URLParam, Param)
//
// and handlers that write as Routes' do.
type AuthzRoutes func(a *kratosauth.Authenticator) http.Handler

// RunAuthz runs the authorization part of the suite: predicates and
// permission checks, against a fake Kratos and a fake Keto.
func RunAuthz(t *testing.T, routes AuthzRoutes) {
	kratos := kratosauthtest.NewServer(t)
	admin := kratos.Login(kratosauthtest.WithMetadataPublic(map[string]any{"roles": []string{"admin"}}))
	user := kratos.Login(kratosauthtest.WithMetadataPublic(map[string]any{"roles": []string{"user"}}))

	type request struct {
		path    string
		browser bool
		as      *kratosauthtest.Credentials // nil: no credentials
	}
	type want struct {
		code     int
		body     string // exact body of a 200
		jsonID   string // error.id of a JSON error
		page     bool   // the default 403 page
		location string // exact Location of a redirect
	}
	loginFor := func(path string) string {
		return kratos.URL + "/self-service/login/browser?return_to=" + url.QueryEscape(AppURL+path)
	}
	do := func(t *testing.T, h http.Handler, req request) (*http.Response, string) {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "http://internal:8080"+req.path, nil)
		if req.browser {
			r.Header.Set("Accept", browserAccept)
		} else {
			r.Header.Set("Accept", "application/json")
		}
		if req.as != nil {
			r.Header.Set("X-Session-Token", req.as.Token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		res := w.Result()
		body, _ := io.ReadAll(res.Body)
		return res, string(body)
	}
	check := func(t *testing.T, res *http.Response, body string, w want) {
		t.Helper()
		require.Equal(t, w.code, res.StatusCode, "body: %s", body)
		assert.Equal(t, w.location, res.Header.Get("Location"), "Location")
		switch {
		case w.code == http.StatusOK:
			assert.Equal(t, w.body, body)
			assert.Equal(t, w.body, res.Header.Get("X-Context-Identity"), "the request's context")
		case w.jsonID != "" || w.code == http.StatusUnauthorized:
			assert.True(t, strings.HasPrefix(res.Header.Get("Content-Type"), "application/json"), res.Header.Get("Content-Type"))
			var e struct {
				Error struct {
					ID     string `json:"id"`
					Code   int    `json:"code"`
					Status string `json:"status"`
				} `json:"error"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &e), body)
			assert.Equal(t, w.code, e.Error.Code)
			assert.Equal(t, http.StatusText(w.code), e.Error.Status)
			assert.Equal(t, w.jsonID, e.Error.ID)
		case w.page:
			assert.True(t, strings.HasPrefix(res.Header.Get("Content-Type"), "text/html"), res.Header.Get("Content-Type"))
			assert.Contains(t, body, "<h1>Forbidden</h1>")
			assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
		}
		if w.code != http.StatusOK {
			assert.Empty(t, res.Header.Get("X-Context-Identity"), "a refused request reached the handler")
		}
	}

	t.Run("predicates", func(t *testing.T) {
		h := routes(newAuthz(t, kratos.URL, kratosauthtest.NewKeto(t).URL))
		for _, tc := range []struct {
			name string
			req  request
			want want
		}{
			{"role", request{"/admin", false, &admin}, want{code: 200, body: admin.Session.Identity.ID}},
			{"role browser", request{"/admin", true, &admin}, want{code: 200, body: admin.Session.Identity.ID}},
			{"other role API", request{"/admin", false, &user}, want{code: 403, jsonID: "forbidden"}},
			{"other role browser: a page, no redirect", request{"/admin", true, &user}, want{code: 403, page: true}},
			{"no session API", request{"/admin", false, nil}, want{code: 401}},
			{"no session browser: login", request{"/admin", true, nil}, want{code: 303, location: loginFor("/admin")}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res, body := do(t, h, tc.req)
				check(t, res, body, tc.want)
			})
		}
	})

	t.Run("permissions", func(t *testing.T) {
		ketoFake := kratosauthtest.NewKeto(t)
		ketoFake.Grant("Doc", "readme", "view", user.Session.Identity.ID)
		ketoFake.Grant("Doc", "a b", "view", user.Session.Identity.ID)
		h := routes(newAuthz(t, kratos.URL, ketoFake.URL))
		json := http.Header{"Content-Type": {"application/json"}}
		for _, tc := range []struct {
			name  string
			fault *kratosauthtest.Fault
			req   request
			want  want
			asked string // the object Keto was asked about; "" when not asked
		}{
			{name: "granted", req: request{"/docs/readme", false, &user}, want: want{code: 200, body: user.Session.Identity.ID}, asked: "readme"},
			{name: "granted browser", req: request{"/docs/readme", true, &user}, want: want{code: 200, body: user.Session.Identity.ID}, asked: "readme"},
			{name: "escaped object", req: request{"/docs/a%20b", false, &user}, want: want{code: 200, body: user.Session.Identity.ID}, asked: "a b"},
			{name: "another object API", req: request{"/docs/secret", false, &user}, want: want{code: 403, jsonID: "forbidden"}, asked: "secret"},
			{name: "another object browser: a page, no redirect", req: request{"/docs/secret", true, &user}, want: want{code: 403, page: true}, asked: "secret"},
			{name: "another subject", req: request{"/docs/readme", false, &admin}, want: want{code: 403, jsonID: "forbidden"}, asked: "readme"},
			{name: "no session API", req: request{"/docs/readme", false, nil}, want: want{code: 401}},
			{name: "no session browser: login", req: request{"/docs/readme", true, nil}, want: want{code: 303, location: loginFor("/docs/readme")}},
			{name: "keto 500", fault: ptr(kratosauthtest.Status(500)), req: request{"/docs/readme", false, &user}, want: want{code: 503, jsonID: "permission_check_unavailable"}, asked: "readme"},
			{name: "keto 500 browser: 503, no redirect, no 403", fault: ptr(kratosauthtest.Status(500)), req: request{"/docs/readme", true, &user}, want: want{code: 503, jsonID: "permission_check_unavailable"}, asked: "readme"},
			{name: "keto 403 is no denial", fault: ptr(kratosauthtest.Raw(403, json, []byte(`{"allowed":false}`))), req: request{"/docs/secret", false, &user}, want: want{code: 503, jsonID: "permission_check_unavailable"}, asked: "secret"},
			{name: "keto garbled", fault: ptr(kratosauthtest.Raw(200, json, []byte(`{"allowed":"yes"}`))), req: request{"/docs/readme", false, &user}, want: want{code: 503, jsonID: "permission_check_unavailable"}, asked: "readme"},
			{name: "keto slow", fault: ptr(kratosauthtest.Slow(time.Second)), req: request{"/docs/readme", false, &user}, want: want{code: 503, jsonID: "permission_check_unavailable"}, asked: "readme"},
			{name: "keto down", fault: ptr(kratosauthtest.Unreachable()), req: request{"/docs/readme", true, &user}, want: want{code: 503, jsonID: "permission_check_unavailable"}, asked: "readme"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.fault != nil {
					ketoFake.Fail(*tc.fault)
					defer ketoFake.Recover()
				}
				before := ketoFake.Calls()
				res, body := do(t, h, tc.req)
				check(t, res, body, tc.want)
				if tc.asked == "" {
					assert.Equal(t, before, ketoFake.Calls(), "Keto asked without a session")
					return
				}
				require.Equal(t, before+1, ketoFake.Calls(), "one Keto call (allows are not cached here)")
				q := ketoFake.LastRequest().URL.Query()
				assert.Equal(t, url.Values{"namespace": {"Doc"}, "object": {tc.asked}, "relation": {"view"},
					"subject_id": {tc.req.as.Session.Identity.ID}}, q)
			})
		}
	})

	t.Run("kratos unavailable: Keto is not asked", func(t *testing.T) {
		down := kratosauthtest.NewServer(t)
		down.Fail(kratosauthtest.Status(500))
		ketoFake := kratosauthtest.NewKeto(t)
		h := routes(newAuthz(t, down.URL, ketoFake.URL))
		for _, path := range []string{"/admin", "/docs/readme"} {
			res, body := do(t, h, request{path, true, &user})
			check(t, res, body, want{code: 503, jsonID: "session_check_unavailable"})
		}
		assert.Zero(t, ketoFake.Calls())
	})

	t.Run("canceled during the permission check", func(t *testing.T) {
		ketoFake := kratosauthtest.NewKeto(t)
		ketoFake.Grant("Doc", "readme", "view", user.Session.Identity.ID)
		ketoFake.Fail(kratosauthtest.Slow(time.Second))
		h := routes(newAuthz(t, kratos.URL, ketoFake.URL))
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		r := httptest.NewRequest(http.MethodGet, "/docs/readme", nil).WithContext(ctx)
		r.Header.Set("X-Session-Token", user.Token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, 499, w.Code)
		assert.Empty(t, w.Header().Get("X-Context-Identity"))
	})
}

// newAuthz is an Authenticator on the fake Kratos at kratosURL whose
// permission service is the Keto at ketoURL, neither cached, so that each
// request asks both.
func newAuthz(t *testing.T, kratosURL, ketoURL string) *kratosauth.Authenticator {
	t.Helper()
	perms, err := keto.New(ketoURL, keto.WithAllowTTL(0), keto.WithTimeout(200*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(perms.Close)
	a, err := kratosauth.New(kratosURL,
		kratosauth.WithAppURL(AppURL),
		kratosauth.WithCacheTTL(0),
		kratosauth.WithPermissions(perms),
		kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	return a
}

func ptr[T any](v T) *T { return &v }
