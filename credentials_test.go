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

// TestCredentialForwarding checks exactly what reaches Kratos: the parts of
// the request Kratos reads, verbatim and in order, and nothing else. Kratos
// decides among them (the differential e2e test proves it agrees).
func TestCredentialForwarding(t *testing.T) {
	cases := []struct {
		name     string
		header   http.Header
		opts     []kratosauth.Option
		wantSent http.Header
	}{
		{name: "session token", header: http.Header{"X-Session-Token": {"tok1"}},
			wantSent: http.Header{"X-Session-Token": {"tok1"}}},
		{name: "a non-empty token alone", header: http.Header{"X-Session-Token": {"tok"}, "Cookie": {"ory_kratos_session=c"}, "Authorization": {"Bearer b"}},
			wantSent: http.Header{"X-Session-Token": {"tok"}}},
		{name: "an empty token is no token", header: http.Header{"X-Session-Token": {""}, "Cookie": {"ory_kratos_session=c"}},
			wantSent: http.Header{"Cookie": {"ory_kratos_session=c"}}},
		{name: "bearer", header: http.Header{"Authorization": {"Bearer tok2"}},
			wantSent: http.Header{"Authorization": {"Bearer tok2"}}},
		{name: "bearer verbatim, case and two spaces included", header: http.Header{"Authorization": {"bEaReR  tok"}},
			wantSent: http.Header{"Authorization": {"bEaReR  tok"}}},
		{name: "cookie among others", header: http.Header{"Cookie": {"_ga=GA1.1.123; ory_kratos_session=MTY0abc; theme=dark"}},
			wantSent: http.Header{"Cookie": {"ory_kratos_session=MTY0abc"}}},
		{name: "cookie in second header line", header: http.Header{"Cookie": {"_ga=1", "ory_kratos_session=MTY0abc"}},
			wantSent: http.Header{"Cookie": {"ory_kratos_session=MTY0abc"}}},
		{name: "every session cookie pair, verbatim, in order", header: http.Header{"Cookie": {"ory_kratos_session=; a=1", ` ory_kratos_session=bad%zz ;ory_kratos_session="good"`}},
			wantSent: http.Header{"Cookie": {`ory_kratos_session=; ory_kratos_session=bad%zz; ory_kratos_session="good"`}}},
		{name: "cookie and bearer both go: Kratos falls back on bearer", header: http.Header{"Cookie": {"ory_kratos_session=undecodable"}, "Authorization": {"Bearer tok"}},
			wantSent: http.Header{"Cookie": {"ory_kratos_session=undecodable"}, "Authorization": {"Bearer tok"}}},
		{name: "Ory Network cookie when configured", header: http.Header{"Cookie": {"ory_kratos_session=x; ory_session_mine=abc"}},
			opts: []kratosauth.Option{kratosauth.WithCookieName("ory_session_mine")}, wantSent: http.Header{"Cookie": {"ory_session_mine=abc"}}},
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
			for _, k := range []string{"Cookie", "Authorization", "X-Session-Token"} {
				assert.Equal(t, tc.wantSent.Values(k), got.Header.Values(k), k)
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

// TestCacheKeyCoversEverythingSent: two requests share a cache entry only
// when they send Kratos the same bytes.
func TestCacheKeyCoversEverythingSent(t *testing.T) {
	fake := kratosfake.Always(t, kratosfake.OK())
	a := newAuth(t, fake.URL)
	headers := []http.Header{
		{"Cookie": {"ory_kratos_session=a"}},
		{"Cookie": {"ory_kratos_session=a; ory_kratos_session=b"}},
		{"Cookie": {"ory_kratos_session=b; ory_kratos_session=a"}},
		{"Cookie": {"ory_kratos_session=a"}, "Authorization": {"Bearer a"}},
		{"Authorization": {"Bearer a"}},
		{"Authorization": {"Bearer  a"}},
		{"X-Session-Token": {"a"}},
	}
	for _, h := range headers {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		for k, v := range h {
			r.Header[k] = v
		}
		_, err := a.Authenticate(r)
		require.NoError(t, err)
	}
	assert.Equal(t, len(headers), fake.Calls(), "two different credentials shared a cache entry")

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", "theme=dark; ory_kratos_session=a; _ga=1") // sends the same bytes as the first
	_, err := a.Authenticate(r)
	require.NoError(t, err)
	assert.Equal(t, len(headers), fake.Calls(), "unrelated cookies must not defeat the cache")
}
