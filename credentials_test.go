package kratosauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// TestCredentialForwarding checks exactly what reaches Kratos: the parts of
// the request Kratos reads, verbatim and in order, and nothing else. Kratos
// decides among them (the differential e2e test proves it agrees; here the
// fake decides as Kratos does). TOKEN and COOKIE stand for the session's.
func TestCredentialForwarding(t *testing.T) {
	cases := []struct {
		name       string
		header     http.Header
		cookieName string // of Kratos and the app; default ory_kratos_session
		wantSent   http.Header
		refused    bool // Kratos refuses what was sent
	}{
		{name: "session token", header: http.Header{"X-Session-Token": {"TOKEN"}},
			wantSent: http.Header{"X-Session-Token": {"TOKEN"}}},
		{name: "a non-empty token alone", header: http.Header{"X-Session-Token": {"TOKEN"}, "Cookie": {"ory_kratos_session=COOKIE"}, "Authorization": {"Bearer b"}},
			wantSent: http.Header{"X-Session-Token": {"TOKEN"}}},
		{name: "an empty token is no token", header: http.Header{"X-Session-Token": {""}, "Cookie": {"ory_kratos_session=COOKIE"}},
			wantSent: http.Header{"Cookie": {"ory_kratos_session=COOKIE"}}},
		{name: "bearer", header: http.Header{"Authorization": {"Bearer TOKEN"}},
			wantSent: http.Header{"Authorization": {"Bearer TOKEN"}}},
		{name: "bearer verbatim, in any case", header: http.Header{"Authorization": {"bEaReR TOKEN"}},
			wantSent: http.Header{"Authorization": {"bEaReR TOKEN"}}},
		{name: "bearer verbatim, case and two spaces included", header: http.Header{"Authorization": {"bEaReR  TOKEN"}},
			wantSent: http.Header{"Authorization": {"bEaReR  TOKEN"}}, refused: true},
		{name: "cookie among others", header: http.Header{"Cookie": {"_ga=GA1.1.123; ory_kratos_session=COOKIE; theme=dark"}},
			wantSent: http.Header{"Cookie": {"ory_kratos_session=COOKIE"}}},
		{name: "cookie in second header line", header: http.Header{"Cookie": {"_ga=1", "ory_kratos_session=COOKIE"}},
			wantSent: http.Header{"Cookie": {"ory_kratos_session=COOKIE"}}},
		{name: "every session cookie pair, verbatim, in order", header: http.Header{"Cookie": {"ory_kratos_session=; a=1", ` ory_kratos_session=bad%zz ;ory_kratos_session="COOKIE"`}},
			wantSent: http.Header{"Cookie": {`ory_kratos_session=; ory_kratos_session=bad%zz; ory_kratos_session="COOKIE"`}}},
		{name: "cookie and bearer both go: Kratos falls back on bearer", header: http.Header{"Cookie": {"ory_kratos_session=undecodable"}, "Authorization": {"Bearer TOKEN"}},
			wantSent: http.Header{"Cookie": {"ory_kratos_session=undecodable"}, "Authorization": {"Bearer TOKEN"}}},
		{name: "Ory Network cookie when configured", header: http.Header{"Cookie": {"ory_kratos_session=x; ory_session_mine=COOKIE"}},
			cookieName: "ory_session_mine", wantSent: http.Header{"Cookie": {"ory_session_mine=COOKIE"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			var opts []kratosauth.Option
			if tc.cookieName != "" {
				kratos.SetCookieName(tc.cookieName)
				opts = append(opts, kratosauth.WithCookieName(tc.cookieName))
			}
			c := kratos.Login()
			fill := strings.NewReplacer("TOKEN", c.Token, "COOKIE", c.Cookie.Value).Replace
			a := newAuth(t, kratos.URL, opts...)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for k, v := range tc.header {
				for _, line := range v {
					r.Header.Add(k, fill(line))
				}
			}
			r.Header.Set("X-Forwarded-For", "10.0.0.1")
			r.Header.Set("User-Agent", "secret-agent")
			s, err := a.Authenticate(r)
			if tc.refused {
				require.ErrorIs(t, err, kratosauth.ErrInvalidSession)
			} else {
				require.NoError(t, err)
				assert.Equal(t, c.Session.ID, s.ID)
			}

			got := kratos.LastRequest()
			require.NotNil(t, got)
			for _, k := range []string{"Cookie", "Authorization", "X-Session-Token"} {
				var want []string
				for _, line := range tc.wantSent.Values(k) {
					want = append(want, fill(line))
				}
				assert.Equal(t, want, got.Header.Values(k), k)
			}
			assert.Empty(t, got.Header.Get("X-Forwarded-For"))
			assert.NotEqual(t, "secret-agent", got.Header.Get("User-Agent"))
		})
	}
}

// TestCredentialsKratosCanNeverAccept covers what is refused without asking
// Kratos: no credential at all, or one Kratos could never read.
func TestCredentialsKratosCanNeverAccept(t *testing.T) {
	cases := []struct {
		name   string
		header http.Header
		want   error
	}{
		{"nothing", http.Header{}, kratosauth.ErrNoCredentials},
		{"unrelated cookies only", http.Header{"Cookie": {"_ga=1; theme=dark"}}, kratosauth.ErrNoCredentials},
		{"a foreign Ory Network cookie", http.Header{"Cookie": {"ory_session_other=abc"}}, kratosauth.ErrNoCredentials},
		{"a session cookie name as a value", http.Header{"Cookie": {"x=ory_kratos_session"}}, kratosauth.ErrNoCredentials},
		{"basic auth is never sent", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, kratosauth.ErrNoCredentials},
		{"bearer scheme without a token", http.Header{"Authorization": {"Bearer "}}, kratosauth.ErrNoCredentials},
		{"huge token", http.Header{"X-Session-Token": {strings.Repeat("a", 64<<10)}}, kratosauth.ErrInvalidSession},
		{"huge cookie", http.Header{"Cookie": {"ory_kratos_session=" + strings.Repeat("a", 64<<10)}}, kratosauth.ErrInvalidSession},
		{"many cookies, huge together", http.Header{"Cookie": {strings.Repeat("ory_kratos_session="+strings.Repeat("a", 1000)+"; ", 20)}}, kratosauth.ErrInvalidSession},
		{"token not a header value", http.Header{"X-Session-Token": {"a\x01b"}}, kratosauth.ErrInvalidSession},
		{"cookie not a header value", http.Header{"Cookie": {"ory_kratos_session=a\r\nX-Evil: 1"}}, kratosauth.ErrInvalidSession},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			a := newAuth(t, kratos.URL)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for k, v := range tc.header {
				r.Header[k] = v
			}
			s, err := a.Authenticate(r)
			assert.Nil(t, s)
			assert.ErrorIs(t, err, tc.want)
			assert.Zero(t, kratos.Calls())
		})
	}
}

// TestCacheKeyCoversEverythingSent: two requests share a cache entry only
// when they send Kratos the same bytes.
func TestCacheKeyCoversEverythingSent(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	alice, bob := kratos.Login(), kratos.Login()
	a := newAuth(t, kratos.URL)
	ac, bc := "ory_kratos_session="+alice.Cookie.Value, "ory_kratos_session="+bob.Cookie.Value
	cases := []struct {
		h    http.Header
		want *kratosauthtest.Credentials // nil: Kratos refuses it
	}{
		{http.Header{"Cookie": {ac}}, &alice},
		{http.Header{"Cookie": {ac + "; " + bc}}, &alice},
		{http.Header{"Cookie": {bc + "; " + ac}}, &bob},
		{http.Header{"Cookie": {ac}, "Authorization": {"Bearer " + bob.Token}}, &alice},
		{http.Header{"Authorization": {"Bearer " + bob.Token}}, &bob},
		{http.Header{"Authorization": {"Bearer  " + bob.Token}}, nil},
		{http.Header{"X-Session-Token": {bob.Token}}, &bob},
		{http.Header{"Cookie": {"ory_kratos_session=" + bob.Token}}, nil},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		for k, v := range tc.h {
			r.Header[k] = v
		}
		s, err := a.Authenticate(r)
		if tc.want == nil {
			assert.ErrorIs(t, err, kratosauth.ErrInvalidSession, "%v was answered from another credential's entry", tc.h)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want.Session.ID, s.ID, "%v was answered from another credential's entry", tc.h)
	}
	assert.Equal(t, len(cases), kratos.Calls(), "two different credentials shared a cache entry")

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", "theme=dark; "+ac+"; _ga=1") // sends the same bytes as the first
	_, err := a.Authenticate(r)
	require.NoError(t, err)
	assert.Equal(t, len(cases), kratos.Calls(), "unrelated cookies must not defeat the cache")
}
