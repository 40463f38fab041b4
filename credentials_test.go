package kratosauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/kratosfake"
)

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

// TestCredentialForwarding checks which credential wins and exactly what
// reaches Kratos: the one credential, never the rest of the request.
func TestCredentialForwarding(t *testing.T) {
	cases := []struct {
		name       string
		header     http.Header
		opts       []kratosauth.Option
		wantCookie string // Cookie header Kratos receives
		wantToken  string // X-Session-Token Kratos receives
	}{
		{name: "session token", header: http.Header{"X-Session-Token": {"tok1"}}, wantToken: "tok1"},
		{name: "bearer", header: http.Header{"Authorization": {"Bearer tok2"}}, wantToken: "tok2"},
		{name: "bearer scheme is case-insensitive", header: http.Header{"Authorization": {"bearer tok2"}}, wantToken: "tok2"},
		{name: "cookie among others", header: http.Header{"Cookie": {"_ga=GA1.1.123; ory_kratos_session=MTY0abc; theme=dark"}},
			wantCookie: "ory_kratos_session=MTY0abc"},
		{name: "cookie in second header line", header: http.Header{"Cookie": {"_ga=1", "ory_kratos_session=MTY0abc"}},
			wantCookie: "ory_kratos_session=MTY0abc"},
		{name: "percent-encoded cookie", header: http.Header{"Cookie": {"ory_kratos_session=MTY0abc%3D%3D"}},
			wantCookie: "ory_kratos_session=MTY0abc=="},
		{name: "quoted cookie", header: http.Header{"Cookie": {`ory_kratos_session="MTY0abc"`}},
			wantCookie: "ory_kratos_session=MTY0abc"},
		{name: "Ory Network cookie", header: http.Header{"Cookie": {"ory_session_coolproject=abc"}},
			wantCookie: "ory_session_coolproject=abc"},
		{name: "custom cookie name", header: http.Header{"Cookie": {"ory_kratos_session=x; my_session=abc"}},
			opts: []kratosauth.Option{kratosauth.WithCookieName("my_session")}, wantCookie: "my_session=abc"},
		{name: "token beats cookie and bearer", header: http.Header{
			"X-Session-Token": {"tok1"}, "Cookie": {"ory_kratos_session=c"}, "Authorization": {"Bearer tok2"}}, wantToken: "tok1"},
		{name: "cookie beats bearer", header: http.Header{
			"Cookie": {"ory_kratos_session=c"}, "Authorization": {"Bearer tok2"}}, wantCookie: "ory_kratos_session=c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := kratosfake.Always(t, kratosfake.OK())
			a := newAuth(t, fake.URL, tc.opts...)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for k, v := range tc.header {
				r.Header[k] = v
			}
			r.Header.Set("X-Forwarded-For", "10.0.0.1")
			r.Header.Set("User-Agent", "secret-agent")
			_, err := a.Authenticate(r)
			require.NoError(t, err)

			got := fake.LastRequest()
			require.NotNil(t, got)
			assert.Equal(t, tc.wantCookie, strings.Join(got.Header.Values("Cookie"), "|"))
			assert.Equal(t, tc.wantToken, got.Header.Get("X-Session-Token"))
			assert.Empty(t, got.Header.Get("Authorization"))
			assert.Empty(t, got.Header.Get("X-Forwarded-For"))
			assert.NotEqual(t, "secret-agent", got.Header.Get("User-Agent"))
		})
	}
}

// TestBadCredentialsNeverReachKratos covers malformed and hostile input: a
// clear error, no whoami call.
func TestBadCredentialsNeverReachKratos(t *testing.T) {
	cases := []struct {
		name   string
		header http.Header
		want   error
	}{
		{"nothing", http.Header{}, kratosauth.ErrNoCredentials},
		{"unrelated cookies only", http.Header{"Cookie": {"_ga=1; theme=dark"}}, kratosauth.ErrNoCredentials},
		{"cookie name prefix alone", http.Header{"Cookie": {"ory_session_=abc"}}, kratosauth.ErrNoCredentials},
		{"basic auth", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, kratosauth.ErrNoCredentials},
		{"empty bearer", http.Header{"Authorization": {"Bearer   "}}, kratosauth.ErrNoCredentials},
		{"huge token", http.Header{"X-Session-Token": {strings.Repeat("a", 64<<10)}}, kratosauth.ErrInvalidSession},
		{"huge cookie", http.Header{"Cookie": {"ory_kratos_session=" + strings.Repeat("a", 64<<10)}}, kratosauth.ErrInvalidSession},
		{"token with space", http.Header{"X-Session-Token": {"a b"}}, kratosauth.ErrInvalidSession},
		{"token with control", http.Header{"X-Session-Token": {"a\x01b"}}, kratosauth.ErrInvalidSession},
		{"token non-ASCII", http.Header{"X-Session-Token": {"é"}}, kratosauth.ErrInvalidSession},
		{"empty cookie", http.Header{"Cookie": {"ory_kratos_session="}}, kratosauth.ErrInvalidSession},
		{"bad percent-encoding", http.Header{"Cookie": {"ory_kratos_session=abc%zz"}}, kratosauth.ErrInvalidSession},
		{"cookie smuggling a second cookie", http.Header{"Cookie": {"ory_kratos_session=abc%3B%20other%3Dx"}}, kratosauth.ErrInvalidSession},
		{"cookie with CRLF", http.Header{"Cookie": {"ory_kratos_session=abc%0D%0AX-Evil:1"}}, kratosauth.ErrInvalidSession},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := kratosfake.Always(t, kratosfake.OK())
			a := newAuth(t, fake.URL)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for k, v := range tc.header {
				r.Header[k] = v
			}
			s, err := a.Authenticate(r)
			assert.Nil(t, s)
			assert.ErrorIs(t, err, tc.want)
			assert.Zero(t, fake.Calls())
		})
	}
}
