package kratosauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/internal/kratosfake"
)

// fakeJWT is a compact JWS with the given claims and a signature nobody
// checks: the edge reads exp without verifying (the downstream verifies).
func fakeJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	require.NoError(t, err)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"ES256","kid":"k1","typ":"JWT"}`)) + "." + enc(b) + "." + enc([]byte("signature"))
}

// tokenizingKratos answers whoami as Kratos does with tokenize_as: the
// session with "tokenized" set to what token returns, and no
// Ory-Session-Cache-For (Kratos never sends it when it tokenizes).
func tokenizingKratos(t *testing.T, token func() string) *kratosfake.Server {
	return kratosfake.New(t, func(r *http.Request) kratosfake.Response {
		body := kratosfake.Fresh(kratosfake.SessionAAL1, time.Hour)
		if tmpl := r.URL.Query().Get("tokenize_as"); tmpl != "" {
			body = kratosfake.Modify(body, func(m map[string]any) { m["tokenized"] = token() })
		}
		return kratosfake.Response{Status: http.StatusOK, Body: body}
	})
}

func TestTokenizeAsAsksKratosForTheTemplate(t *testing.T) {
	tok := fakeJWT(t, map[string]any{"exp": time.Now().Add(10 * time.Minute).Unix(), "sub": "u"})
	k := tokenizingKratos(t, func() string { return tok })
	a := newAuth(t, k.URL, kratosauth.WithTokenizeAs("api.v1"))

	s, err := a.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	assert.Equal(t, tok, s.Tokenized)
	assert.Equal(t, "api.v1", k.LastRequest().URL.Query().Get("tokenize_as"))
	assert.Equal(t, token, k.LastRequest().Header.Get("X-Session-Token"))

	// No Ory-Session-Cache-For: the TTL and the token's exp bound the entry,
	// and the cached session keeps its token.
	s, err = a.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	assert.Equal(t, tok, s.Tokenized)
	assert.Equal(t, 1, k.Calls(), "a cache hit")
}

func TestTokenizedSessionIsNotCachedPastItsToken(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name  string
		token string
	}{
		{"exp within the margin", fakeJWT(t, map[string]any{"exp": now.Add(kratosauth.TokenExpiryMargin - time.Second).Unix()})},
		{"exp passed", fakeJWT(t, map[string]any{"exp": now.Add(-time.Minute).Unix()})},
		{"no exp", fakeJWT(t, map[string]any{"sub": "u"})},
		{"exp a string", fakeJWT(t, map[string]any{"exp": "tomorrow"})},
		{"exp negative", fakeJWT(t, map[string]any{"exp": -1})},
		{"not a JWT", "opaque-token"},
		{"payload not base64", "a.%%%.c"},
		{"four parts", fakeJWT(t, map[string]any{"exp": now.Add(time.Hour).Unix()}) + ".d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := tokenizingKratos(t, func() string { return tc.token })
			a := newAuth(t, k.URL, kratosauth.WithTokenizeAs("api"))
			for range 3 {
				s, err := a.Authenticate(tokenRequest(token))
				require.NoError(t, err, "Kratos vouched for the session: it is served, only not cached")
				assert.Equal(t, tc.token, s.Tokenized)
			}
			assert.Equal(t, 3, k.Calls(), "never cached")
		})
	}
}

func TestTokenizedSessionCacheEndsWithTheToken(t *testing.T) {
	var n atomic.Int64
	k := tokenizingKratos(t, func() string {
		n.Add(1)
		// Cacheable for one second: exp - margin - now.
		return fakeJWT(t, map[string]any{"exp": float64(time.Now().Add(kratosauth.TokenExpiryMargin+time.Second).UnixMilli()) / 1000})
	})
	a := newAuth(t, k.URL, kratosauth.WithTokenizeAs("api"), kratosauth.WithCacheTTL(time.Hour))
	_, err := a.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	_, err = a.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	assert.Equal(t, 1, k.Calls(), "cached while the token lives")

	time.Sleep(1100 * time.Millisecond)
	_, err = a.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	assert.Equal(t, 2, k.Calls(), "the entry ended with the token, not with the 1h TTL")
}

func TestStaleTokenizedSessionIsNotServedPastItsToken(t *testing.T) {
	k := tokenizingKratos(t, func() string {
		return fakeJWT(t, map[string]any{"exp": float64(time.Now().Add(kratosauth.TokenExpiryMargin+time.Second).UnixMilli()) / 1000})
	})
	a := newAuth(t, k.URL, kratosauth.WithTokenizeAs("api"), kratosauth.WithStaleIfError(time.Hour))
	_, err := a.Authenticate(tokenRequest(token))
	require.NoError(t, err)

	time.Sleep(1100 * time.Millisecond)
	k.SetResponder(func(*http.Request) kratosfake.Response { return kratosfake.Response{Status: http.StatusBadGateway} })
	_, err = a.Authenticate(tokenRequest(token))
	assert.ErrorIs(t, err, kratosauth.ErrUnavailable, "a stale session whose token expired is not served")
}

func TestTokenizeAsWithoutTokenInTheAnswerIsUnavailable(t *testing.T) {
	k := kratosfake.Always(t, kratosfake.OK()) // a 200 without "tokenized"
	a := newAuth(t, k.URL, kratosauth.WithTokenizeAs("api"))
	_, err := a.Authenticate(tokenRequest(token))
	assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
}

func TestUnknownTemplateIsUnavailable(t *testing.T) {
	// Kratos v1.3.1 answers an unknown template with 400 (TokenizeTemplate).
	k := kratosfake.Always(t, kratosfake.Response{Status: http.StatusBadRequest,
		Body: []byte(`{"error":{"code":400,"status":"Bad Request","reason":"Unable to find tokenizer template \"nope\"."}}`)})
	a := newAuth(t, k.URL, kratosauth.WithTokenizeAs("nope"))
	_, err := a.Authenticate(tokenRequest(token))
	assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
}

func TestTokenNotAskedForIsDropped(t *testing.T) {
	k := kratosfake.Always(t, kratosfake.Response{Status: http.StatusOK,
		Body: kratosfake.Modify(kratosfake.Fresh(kratosfake.SessionAAL1, time.Hour), func(m map[string]any) { m["tokenized"] = "x.y.z" })})
	a := newAuth(t, k.URL)
	s, err := a.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	assert.Empty(t, s.Tokenized, "only a token the Authenticator asked for is sent downstream")
}

func TestCacheNamespaceIncludesTheTemplate(t *testing.T) {
	k := tokenizingKratos(t, func() string {
		return fakeJWT(t, map[string]any{"exp": time.Now().Add(time.Hour).Unix()})
	})
	store, err := cache.NewBigCache(time.Minute, 8)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	plain := newAuth(t, k.URL, kratosauth.WithCache(store))
	apiA := newAuth(t, k.URL, kratosauth.WithCache(store), kratosauth.WithTokenizeAs("a"))
	apiB := newAuth(t, k.URL, kratosauth.WithCache(store), kratosauth.WithTokenizeAs("b"))

	s, err := plain.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	assert.Empty(t, s.Tokenized)
	s, err = apiA.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	assert.NotEmpty(t, s.Tokenized, "not the plain Authenticator's entry")
	_, err = apiB.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	assert.Equal(t, 3, k.Calls(), "each template has its own entries")
	assert.Equal(t, "b", k.LastRequest().URL.Query().Get("tokenize_as"))

	for _, a := range []*kratosauth.Authenticator{plain, apiA, apiB} {
		_, err := a.Authenticate(tokenRequest(token))
		require.NoError(t, err)
	}
	assert.Equal(t, 3, k.Calls(), "and each hits its own")
}

func TestWithTokenizeAsValidates(t *testing.T) {
	for _, name := range []string{"", "a b", "a/b", "a?b", "ä"} {
		_, err := kratosauth.New("http://kratos", kratosauth.WithTokenizeAs(name))
		assert.Error(t, err, "%q", name)
	}
	a, err := kratosauth.New("http://kratos", kratosauth.WithTokenizeAs("Api-v1_2.x"))
	require.NoError(t, err)
	a.Close()
}

// downstream records the Authorization header of each request it gets.
func downstream(t *testing.T) (*httptest.Server, func() []string) {
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func TestTokenTransport(t *testing.T) {
	api, seen := downstream(t)
	other, otherSeen := downstream(t)
	tr, err := kratosauth.NewTokenTransport(nil, api.URL)
	require.NoError(t, err)
	client := &http.Client{Transport: tr}
	t.Cleanup(client.CloseIdleConnections)

	withToken := kratosauth.NewContext(context.Background(), &kratosauth.Session{ID: "s", Tokenized: "jwt.of.alice"})
	noToken := kratosauth.NewContext(context.Background(), &kratosauth.Session{ID: "s"})
	get := func(ctx context.Context, url, authorization string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		require.NoError(t, err)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, authorization, req.Header.Get("Authorization"), "the caller's request is not modified")
	}

	get(withToken, api.URL+"/orders", "")
	get(withToken, api.URL+"/orders", "Basic c2VydmljZTpzZWNyZXQ=")
	get(noToken, api.URL+"/orders", "")
	get(context.Background(), api.URL+"/orders", "")
	get(withToken, other.URL+"/", "")
	assert.Equal(t, []string{"Bearer jwt.of.alice", "Basic c2VydmljZTpzZWNyZXQ=", "", ""}, seen())
	assert.Equal(t, []string{""}, otherSeen(), "another origin never gets the token")
}

func TestTokenTransportNeverFollowsARedirectWithTheToken(t *testing.T) {
	elsewhere, seen := downstream(t)
	api := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/steal", http.StatusFound))
	t.Cleanup(api.Close)
	tr, err := kratosauth.NewTokenTransport(nil, api.URL)
	require.NoError(t, err)
	client := &http.Client{Transport: tr}
	t.Cleanup(client.CloseIdleConnections)

	ctx := kratosauth.NewContext(context.Background(), &kratosauth.Session{ID: "s", Tokenized: "jwt.of.alice"})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.URL, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []string{""}, seen())
}

func TestNewTokenTransportValidates(t *testing.T) {
	for _, origins := range [][]string{
		nil,
		{"api.internal:8080"},
		{"ftp://api.internal"},
		{"https://api.internal/orders"},
		{"https://user@api.internal"},
		{"https://api.internal?x=1"},
		{"https://"},
	} {
		_, err := kratosauth.NewTokenTransport(nil, origins...)
		assert.Error(t, err, "%q", origins)
	}
	_, err := kratosauth.NewTokenTransport(nil, "https://API.internal:443/", "http://127.0.0.1:8081")
	assert.NoError(t, err)
}

func TestTokenTransportOriginsIgnoreCaseAndDefaultPorts(t *testing.T) {
	var got string
	tr, err := kratosauth.NewTokenTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r.Header.Get("Authorization")
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	}), "https://API.internal")
	require.NoError(t, err)
	ctx := kratosauth.NewContext(context.Background(), &kratosauth.Session{ID: "s", Tokenized: "t"})
	for url, want := range map[string]string{
		"https://api.internal:443/x": "Bearer t",
		"https://api.INTERNAL/x":     "Bearer t",
		"http://api.internal/x":      "",
		"https://api.internal:8443/": "",
	} {
		got = "unset"
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		_, err := tr.RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, want, got, url)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
