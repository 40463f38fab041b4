package kratosauth_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

func TestIsBrowserNavigation(t *testing.T) {
	cases := []struct {
		method, accept string
		want           bool
	}{
		{"GET", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true}, // Chrome, Firefox
		{"HEAD", "text/html", true},
		{"GET", "application/xhtml+xml", true},
		{"GET", "*/*", false}, // curl, fetch()
		{"GET", "", false},
		{"GET", "application/json", false},
		{"GET", "application/json, text/html;q=0.5", false},
		{"GET", "text/html;q=0.5, application/json", false},
		{"GET", "text/html, application/json", true},
		{"GET", "text/html;q=0", false},
		{"GET", "text/html;q=bogus", false},
		{"POST", "text/html", false},
		{"DELETE", "text/html", false},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(tc.method, "/", nil)
		if tc.accept != "" {
			r.Header.Set("Accept", tc.accept)
		}
		assert.Equal(t, tc.want, kratosauth.IsBrowserNavigation(r), "%s %q", tc.method, tc.accept)
	}
}

type errorBody struct {
	Error struct {
		ID      string `json:"id"`
		Code    int    `json:"code"`
		Status  string `json:"status"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
		Details struct {
			RedirectBrowserTo string `json:"redirect_browser_to"`
		} `json:"details"`
	} `json:"error"`
	RedirectBrowserTo string `json:"redirect_browser_to"`
}

func TestDefaultErrorHandler(t *testing.T) {
	secret := errors.New("dial tcp 10.1.2.3:4433: connect: connection refused")
	cases := []struct {
		name       string
		err        error
		browser    bool
		wantStatus int
		wantLoc    string
		wantID     string
		retryAfter string
	}{
		{"no credentials API", &kratosauth.Error{Kind: kratosauth.ErrNoCredentials, RedirectTo: "http://k/login"}, false, 401, "", "", ""},
		{"no credentials browser", &kratosauth.Error{Kind: kratosauth.ErrNoCredentials, RedirectTo: "http://k/login"}, true, 303, "http://k/login", "", ""},
		{"invalid API", &kratosauth.Error{Kind: kratosauth.ErrInvalidSession, Cause: secret, RedirectTo: "http://k/login"}, false, 401, "", "", ""},
		{"invalid browser", &kratosauth.Error{Kind: kratosauth.ErrInvalidSession, RedirectTo: "http://k/login"}, true, 303, "http://k/login", "", ""},
		{"aal2 API", &kratosauth.Error{Kind: kratosauth.ErrAAL2Required, RedirectTo: "http://k/login?aal=aal2"}, false, 403, "", "session_aal2_required", ""},
		{"aal2 browser", &kratosauth.Error{Kind: kratosauth.ErrAAL2Required, RedirectTo: "http://k/login?aal=aal2"}, true, 303, "http://k/login?aal=aal2", "", ""},
		{"unavailable API", &kratosauth.Error{Kind: kratosauth.ErrUnavailable, Cause: secret}, false, 503, "", "session_check_unavailable", ""},
		{"unavailable browser", &kratosauth.Error{Kind: kratosauth.ErrUnavailable, Cause: secret}, true, 503, "", "session_check_unavailable", ""},
		{"rate limited", &kratosauth.Error{Kind: kratosauth.ErrUnavailable, RetryAfter: 7 * time.Second}, false, 503, "", "session_check_unavailable", "7"},
		{"foreign error", secret, true, 503, "", "session_check_unavailable", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.browser {
				r.Header.Set("Accept", "text/html")
			}
			rec := httptest.NewRecorder()
			kratosauth.DefaultErrorHandler(rec, r, tc.err)
			assert.Equal(t, tc.wantStatus, rec.Code)
			assert.Equal(t, tc.wantLoc, rec.Header().Get("Location"))
			assert.Equal(t, tc.retryAfter, rec.Header().Get("Retry-After"))
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.NotContains(t, rec.Body.String(), "10.1.2.3", "internal details are never echoed")
			if tc.wantLoc != "" {
				return
			}
			var body errorBody
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
			assert.Equal(t, tc.wantStatus, body.Error.Code)
			assert.Equal(t, http.StatusText(tc.wantStatus), body.Error.Status)
			assert.Equal(t, tc.wantID, body.Error.ID)
			assert.NotEmpty(t, body.Error.Message)
			if tc.wantStatus == 403 {
				assert.Equal(t, "http://k/login?aal=aal2", body.RedirectBrowserTo)
				assert.Equal(t, "http://k/login?aal=aal2", body.Error.Details.RedirectBrowserTo)
			}
		})
	}
}

// The JSON errors have the shape of Kratos' own, field for field.
func TestJSONErrorMatchesKratos(t *testing.T) {
	rec := httptest.NewRecorder()
	kratosauth.WriteJSONError(rec, &kratosauth.Error{Kind: kratosauth.ErrInvalidSession})
	assert.JSONEq(t, string(recorded(t, "whoami_401_garbage_token")), rec.Body.String())

	rec = httptest.NewRecorder()
	aal2Required := recorded(t, "whoami_403_aal2_required")
	var kratosErr errorBody
	require.NoError(t, json.Unmarshal(aal2Required, &kratosErr))
	kratosauth.WriteJSONError(rec, &kratosauth.Error{Kind: kratosauth.ErrAAL2Required, RedirectTo: kratosErr.RedirectBrowserTo})
	assert.JSONEq(t, string(aal2Required), rec.Body.String())
}

func TestLogsNeverContainCredentials(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	kratos.Fail(kratosauthtest.Status(http.StatusInternalServerError))
	a := newAuth(t, kratos.URL, kratosauth.WithLogger(logger))
	for _, r := range []*http.Request{tokenRequest(c.Token), cookieRequest(c.Cookie.Value)} {
		_, err := a.Authenticate(r)
		require.ErrorIs(t, err, kratosauth.ErrUnavailable)
		a.HandleError(httptest.NewRecorder(), r, err)
		assert.NotContains(t, err.Error(), c.Token)
		assert.NotContains(t, err.Error(), c.Cookie.Value)
	}
	assert.Contains(t, logs.String(), "Kratos unavailable")
	assert.NotContains(t, logs.String(), c.Token)
	assert.NotContains(t, logs.String(), c.Cookie.Value)
}

func cookieRequest(value string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/private", nil)
	r.Header.Set("Cookie", "ory_kratos_session="+value)
	return r
}
