package kratosauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/kratosauthtest"
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

// tokenizedKratos starts the kit's fake Kratos, logs alice in, and makes
// every whoami answer her session with "tokenized" set to tok, as Kratos
// answers tokenize_as: without Ory-Session-Cache-For.
func tokenizedKratos(t *testing.T, tok string) (*kratosauthtest.Server, kratosauthtest.Credentials) {
	t.Helper()
	k := kratosauthtest.NewServer(t)
	alice := k.Login()
	k.Fail(kratosauthtest.Raw(http.StatusOK, nil, withTokenized(t, kratosauthtest.WhoamiBody(alice.Session), tok)))
	return k, alice
}

func withTokenized(t *testing.T, body []byte, tok string) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	m["tokenized"] = tok
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

func TestTokenizeAsAsksKratosForTheTemplate(t *testing.T) {
	k := kratosauthtest.NewServer(t) // answers tokenize_as as Kratos does
	alice := k.Login()
	a := newAuth(t, k.URL, kratosauth.WithTokenizeAs("api.v1"))

	s, err := a.Authenticate(tokenRequest(alice.Token))
	require.NoError(t, err)
	require.NotEmpty(t, s.Tokenized)
	assert.Equal(t, "api.v1", k.LastRequest().URL.Query().Get("tokenize_as"))
	assert.Equal(t, alice.Token, k.LastRequest().Header.Get("X-Session-Token"))

	// No Ory-Session-Cache-For: the TTL and the token's exp bound the entry,
	// and the cached session keeps its token.
	again, err := a.Authenticate(tokenRequest(alice.Token))
	require.NoError(t, err)
	assert.Equal(t, s.Tokenized, again.Tokenized)
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
			k, alice := tokenizedKratos(t, tc.token)
			a := newAuth(t, k.URL, kratosauth.WithTokenizeAs("api"))
			for range 3 {
				s, err := a.Authenticate(tokenRequest(alice.Token))
				require.NoError(t, err, "Kratos vouched for the session: it is served, only not cached")
				assert.Equal(t, tc.token, s.Tokenized)
			}
			assert.Equal(t, 3, k.Calls(), "never cached")
		})
	}
}

// shortToken can be cached for one second: exp - TokenExpiryMargin - now.
func shortToken(t *testing.T) string {
	return fakeJWT(t, map[string]any{"exp": float64(time.Now().Add(kratosauth.TokenExpiryMargin+time.Second).UnixMilli()) / 1000})
}

func TestTokenizedSessionCacheEndsWithTheToken(t *testing.T) {
	k, alice := tokenizedKratos(t, shortToken(t))
	a := newAuth(t, k.URL, kratosauth.WithTokenizeAs("api"), kratosauth.WithCacheTTL(time.Hour))
	_, err := a.Authenticate(tokenRequest(alice.Token))
	require.NoError(t, err)
	_, err = a.Authenticate(tokenRequest(alice.Token))
	require.NoError(t, err)
	assert.Equal(t, 1, k.Calls(), "cached while the token lives")

	time.Sleep(1100 * time.Millisecond)
	_, err = a.Authenticate(tokenRequest(alice.Token))
	require.NoError(t, err)
	assert.Equal(t, 2, k.Calls(), "the entry ended with the token, not with the 1h TTL")
}

func TestStaleTokenizedSessionIsNotServedPastItsToken(t *testing.T) {
	k, alice := tokenizedKratos(t, shortToken(t))
	a := newAuth(t, k.URL, kratosauth.WithTokenizeAs("api"), kratosauth.WithStaleIfError(time.Hour))
	_, err := a.Authenticate(tokenRequest(alice.Token))
	require.NoError(t, err)

	time.Sleep(1100 * time.Millisecond)
	k.Fail(kratosauthtest.Status(http.StatusBadGateway))
	_, err = a.Authenticate(tokenRequest(alice.Token))
	assert.ErrorIs(t, err, kratosauth.ErrUnavailable, "a stale session whose token expired is not served")
}

func TestTokenizeAsWithoutTokenInTheAnswerIsUnavailable(t *testing.T) {
	k := kratosauthtest.NewServer(t)
	alice := k.Login()
	k.Fail(kratosauthtest.Raw(http.StatusOK, nil, kratosauthtest.WhoamiBody(alice.Session))) // a 200 without "tokenized"
	a := newAuth(t, k.URL, kratosauth.WithTokenizeAs("api"))
	_, err := a.Authenticate(tokenRequest(alice.Token))
	assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
}

func TestUnknownTemplateIsUnavailable(t *testing.T) {
	// Kratos v1.3.1 answers an unknown template with 400 (TokenizeTemplate).
	k := kratosauthtest.NewServer(t)
	alice := k.Login()
	k.Fail(kratosauthtest.Raw(http.StatusBadRequest, nil,
		[]byte(`{"error":{"code":400,"status":"Bad Request","reason":"Unable to find tokenizer template \"nope\"."}}`)))
	a := newAuth(t, k.URL, kratosauth.WithTokenizeAs("nope"))
	_, err := a.Authenticate(tokenRequest(alice.Token))
	assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
}

func TestTokenNotAskedForIsDropped(t *testing.T) {
	k, alice := tokenizedKratos(t, "x.y.z")
	a := newAuth(t, k.URL)
	s, err := a.Authenticate(tokenRequest(alice.Token))
	require.NoError(t, err)
	assert.Empty(t, s.Tokenized, "only a token the Authenticator asked for is sent downstream")
}

func TestCacheNamespaceIncludesTheTemplate(t *testing.T) {
	k := kratosauthtest.NewServer(t) // tokens only for tokenize_as, valid a minute
	alice := k.Login()
	store, err := cache.NewBigCache(time.Minute, 8)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	plain := newAuth(t, k.URL, kratosauth.WithCache(store))
	apiA := newAuth(t, k.URL, kratosauth.WithCache(store), kratosauth.WithTokenizeAs("a"))
	apiB := newAuth(t, k.URL, kratosauth.WithCache(store), kratosauth.WithTokenizeAs("b"))

	s, err := plain.Authenticate(tokenRequest(alice.Token))
	require.NoError(t, err)
	assert.Empty(t, s.Tokenized)
	s, err = apiA.Authenticate(tokenRequest(alice.Token))
	require.NoError(t, err)
	assert.NotEmpty(t, s.Tokenized, "not the plain Authenticator's entry")
	_, err = apiB.Authenticate(tokenRequest(alice.Token))
	require.NoError(t, err)
	assert.Equal(t, 3, k.Calls(), "each template has its own entries")
	assert.Equal(t, "b", k.LastRequest().URL.Query().Get("tokenize_as"))

	for _, a := range []*kratosauth.Authenticator{plain, apiA, apiB} {
		_, err := a.Authenticate(tokenRequest(alice.Token))
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

// TestTokenTransportComparesASCIIHostsOnly: Unicode case folding maps "İ"
// (U+0130) to "i" and the Kelvin sign (U+212A) to "k", but net/http dials
// the IDNA form of a non-ASCII host, another domain: such a host must
// never match a listed origin, and cannot be listed.
func TestTokenTransportComparesASCIIHostsOnly(t *testing.T) {
	var got []string
	tr, err := kratosauth.NewTokenTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = append(got, r.Header.Get("Authorization"))
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	}), "http://billing.example", "https://keto.example")
	require.NoError(t, err)
	ctx := kratosauth.NewContext(context.Background(), &kratosauth.Session{ID: "s", Tokenized: "jwt.of.alice"})
	for _, target := range []string{
		"http://b\u0130lling.example/invoices", // "İ": xn--blling-... once net/http converts it
		"http://B\u0130LLING.EXAMPLE/invoices",
		"http://b%C4%B0lling.example/invoices",      // the same, escaped
		"https://\u212aeto.example/relation-tuples", // Kelvin sign
		"http://billing.example\u3002/invoices",     // ideographic full stop
	} {
		got = nil
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		require.NoError(t, err, target)
		_, err = tr.RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, []string{""}, got, "%s: no token for a non-ASCII host", target)
	}

	got = nil
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://BILLING.example/invoices", nil)
	_, err = tr.RoundTrip(req)
	require.NoError(t, err)
	assert.Equal(t, []string{"Bearer jwt.of.alice"}, got, "ASCII case still does not matter")

	for _, o := range []string{"http://b\u0130lling.example", "https://\u212aeto.example", "http://b%C4%B0lling.example"} {
		_, err := kratosauth.NewTokenTransport(nil, o)
		assert.ErrorContains(t, err, "ASCII", "%s cannot be listed", o)
	}
}
