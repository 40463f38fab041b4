package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/internal/testing/jwtkit"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

// claimsMapper is the tokenizer template's Jsonnet, as in README: the
// audience, and the e-mail, AAL and traits of the session.
const claimsMapper = `local claims = std.extVar('claims');
local session = std.extVar('session');
{
  claims: claims {
    aud: ['orders'],
    email: session.identity.traits.email,
    aal: session.authenticator_assurance_level,
    traits: session.identity.traits,
  },
}
`

// publicJWKS serves the public JWKS the downstream reads, counting reads;
// fail makes it answer 500.
type publicJWKS struct {
	*httptest.Server
	reads atomic.Int64
	mu    sync.Mutex
	doc   []byte
	fail  bool
}

func (p *publicJWKS) set(doc []byte, fail bool) {
	p.mu.Lock()
	p.doc, p.fail = doc, fail
	p.mu.Unlock()
}

// TestDownstreamTrustsKratosTokensWithoutCallingKratos runs the two-service
// picture of README on the real Kratos v1.3.1: an edge app (kratosauth with
// WithTokenizeAs and TokenTransport) in front of this downstream service,
// which verifies the tokens locally.
func TestDownstreamTrustsKratosTokensWithoutCallingKratos(t *testing.T) {
	dir := t.TempDir()
	k1 := jwtkit.NewES256("kratos-es256-1")
	privateJWKS := filepath.Join(dir, "jwks.private.json")
	mapper := filepath.Join(dir, "claims.jsonnet")
	require.NoError(t, os.WriteFile(privateJWKS, jwtkit.JWKS(k1.PrivateJWK()), 0o600))
	require.NoError(t, os.WriteFile(mapper, []byte(claimsMapper), 0o600))
	kratos := kratostest.Start(t, kratostest.Options{Tokenizer: map[string]kratostest.TokenizerTemplate{
		"orders": {TTL: "10m", JWKSFile: privateJWKS, ClaimsMapperFile: mapper},
		"short":  {TTL: "1s", JWKSFile: privateJWKS, ClaimsMapperFile: mapper},
	}})
	issuer := kratos.PublicURL + "/"

	// Every request to Kratos' public API goes through this proxy: the count
	// shows who calls Kratos.
	var kratosCalls, whoamiCalls atomic.Int64
	target, err := url.Parse(kratos.PublicURL)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(target)
	kratosProxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kratosCalls.Add(1)
		if r.URL.Path == "/sessions/whoami" {
			whoamiCalls.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(kratosProxy.Close)

	jwks := &publicJWKS{doc: jwtkit.PublicJWKS(k1)}
	jwks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jwks.reads.Add(1)
		jwks.mu.Lock()
		doc, fail := jwks.doc, jwks.fail
		jwks.mu.Unlock()
		if fail {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(doc)
	}))
	t.Cleanup(jwks.Close)

	// The downstream service: this example, knowing nothing of Kratos but
	// the JWKS and the issuer.
	const minRefresh = 300 * time.Millisecond
	app, err := newApp(config{JWKSURL: jwks.URL, Issuer: issuer, Audience: "orders",
		Leeway: time.Millisecond, MinRefresh: minRefresh}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	downstream := httptest.NewServer(app)
	t.Cleanup(downstream.Close)

	// The edge: kratosauth asking for the "orders" token, and a client that
	// sends it to the downstream service.
	auth, err := kratosauth.New(kratosProxy.URL, kratosauth.WithTokenizeAs("orders"), kratosauth.WithCacheTTL(time.Hour))
	require.NoError(t, err)
	t.Cleanup(func() { auth.Close() })
	transport, err := kratosauth.NewTokenTransport(nil, downstream.URL)
	require.NoError(t, err)
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	edgeMux := http.NewServeMux()
	edgeMux.Handle("GET /profile", kratoshttp.RequireSession(auth)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, downstream.URL+"/api/profile", nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})))
	edge := httptest.NewServer(edgeMux)
	t.Cleanup(edge.Close)

	email := kratostest.UniqueEmail("downstream")
	sessionToken, sess := kratos.RegisterAPI(t, email, "a-long-test-password-1")
	sessionID, identityID := kratostest.SessionIDs(t, sess)
	wantProfile := map[string]string{"identity_id": identityID, "session_id": sessionID, "email": email, "aal": "aal1"}

	get := func(base, path string, header map[string]string) (int, map[string]string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		require.NoError(t, err)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body map[string]string
		if resp.StatusCode == http.StatusOK {
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		}
		return resp.StatusCode, body
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	// tokenize asks Kratos (not through the proxy) for a token of template.
	tokenize := func(template string) string {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, kratos.PublicURL+"/sessions/whoami?tokenize_as="+template, nil)
		require.NoError(t, err)
		req.Header.Set("X-Session-Token", sessionToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Empty(t, resp.Header.Get("Ory-Session-Cache-For"), "Kratos sends no cache hint with a token")
		var s kratosauth.Session
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
		require.NotEmpty(t, s.Tokenized)
		return s.Tokenized
	}

	// 1. Through the edge: one whoami for N requests (the token is cached
	// with the session), and the downstream answers from the token.
	const n = 20
	for i := range n {
		code, body := get(edge.URL, "/profile", map[string]string{"X-Session-Token": sessionToken})
		require.Equal(t, http.StatusOK, code, "request %d", i)
		assert.Equal(t, wantProfile, body)
	}
	assert.Equal(t, int64(1), whoamiCalls.Load(), "one whoami for %d edge requests", n)
	assert.Equal(t, int64(1), jwks.reads.Load(), "one JWKS read")

	// 2. The downstream alone: N more requests, zero calls to Kratos.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Session-Token", sessionToken)
	s, err := auth.Authenticate(r) // a cache hit: the token the edge sends
	require.NoError(t, err)
	token := s.Tokenized
	before := kratosCalls.Load()
	for range 2 * n {
		code, body := get(downstream.URL, "/api/profile", bearer(token))
		require.Equal(t, http.StatusOK, code)
		assert.Equal(t, wantProfile, body)
	}
	assert.Equal(t, before, kratosCalls.Load(), "the downstream never calls Kratos")
	assert.Equal(t, int64(1), whoamiCalls.Load())
	assert.Equal(t, int64(1), jwks.reads.Load())

	// 3. Every bad token is refused with 401.
	short := tokenize("short")
	pub := k1.Public()
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwkJSON, err := json.Marshal(k1.PublicJWK())
	require.NoError(t, err)
	claims := func() map[string]any {
		var c map[string]any
		require.NoError(t, json.Unmarshal(jwtkit.Payload(token), &c))
		return c
	}
	impostor := jwtkit.NewES256(k1.KID)
	bad := map[string]string{
		"tampered e-mail":      jwtkit.Tamper(token, func(c map[string]any) { c["email"] = "mallory@example.com" }),
		"tampered subject":     jwtkit.Tamper(token, func(c map[string]any) { c["sub"] = "00000000-0000-0000-0000-000000000000" }),
		"another key, its kid": impostor.Sign(claims()),
		"HS256, PEM public":    jwtkit.SignHS256(pemKey, k1.KID, claims()),
		"HS256, JWK public":    jwtkit.SignHS256(jwkJSON, k1.KID, claims()),
		"alg none":             jwtkit.Unsigned(k1.KID, claims()),
		"signature dropped":    token[:strings.LastIndex(token, ".")+1],
		"session token":        sessionToken,
	}
	for name, tok := range bad {
		code, _ := get(downstream.URL, "/api/profile", bearer(tok))
		assert.Equal(t, http.StatusUnauthorized, code, name)
	}
	code, _ := get(downstream.URL, "/api/profile", nil)
	assert.Equal(t, http.StatusUnauthorized, code, "no token")
	var shortClaims struct{ Exp int64 }
	require.NoError(t, json.Unmarshal(jwtkit.Payload(short), &shortClaims))
	time.Sleep(time.Until(time.Unix(shortClaims.Exp, 0).Add(50 * time.Millisecond)))
	code, _ = get(downstream.URL, "/api/profile", bearer(short))
	assert.Equal(t, http.StatusUnauthorized, code, "expired")
	assert.Equal(t, before, kratosCalls.Load(), "refusals call Kratos no more")

	// 4. Rotation: Kratos signs with a new key, listed first; the old one
	// stays listed. No restart of the downstream.
	k2 := jwtkit.NewES256("kratos-es256-2")
	require.NoError(t, os.WriteFile(privateJWKS, jwtkit.JWKS(k2.PrivateJWK(), k1.PrivateJWK()), 0o600))
	jwks.set(jwtkit.PublicJWKS(k2, k1), false)
	kratos.Restart(t) // Kratos caches its JWKS for an hour
	time.Sleep(minRefresh)
	readsBefore := jwks.reads.Load()
	rotated := tokenize("orders")
	require.Contains(t, string(jwtkit.Header(rotated)), k2.KID)
	code, body := get(downstream.URL, "/api/profile", bearer(rotated))
	assert.Equal(t, http.StatusOK, code, "a token of the new key")
	assert.Equal(t, wantProfile, body)
	assert.Equal(t, readsBefore+1, jwks.reads.Load(), "its unknown kid made one JWKS read")
	code, _ = get(downstream.URL, "/api/profile", bearer(token))
	assert.Equal(t, http.StatusOK, code, "a token of the old key, still listed, until it expires")
	code, _ = get(edge.URL, "/profile", map[string]string{"X-Session-Token": sessionToken})
	assert.Equal(t, http.StatusOK, code, "the edge's cached old-key token too")

	// 5. A kid nobody lists: exactly one read, then the rate limit.
	time.Sleep(minRefresh)
	readsBefore = jwks.reads.Load()
	stranger := jwtkit.NewES256("kratos-es256-unknown").Sign(claims())
	for range 5 {
		code, _ := get(downstream.URL, "/api/profile", bearer(stranger))
		assert.Equal(t, http.StatusUnauthorized, code, "unknown kid after a read")
	}
	assert.Equal(t, readsBefore+1, jwks.reads.Load(), "exactly one JWKS read for the unknown kid")

	// 6. The JWKS down: known keys keep verifying; an unknown kid is 503,
	// never 401 (it may be a key the service cannot see yet).
	jwks.set(nil, true)
	time.Sleep(minRefresh)
	code, _ = get(downstream.URL, "/api/profile", bearer(stranger))
	assert.Equal(t, http.StatusServiceUnavailable, code, "JWKS down, kid unknown")
	code, _ = get(downstream.URL, "/api/profile", bearer(rotated))
	assert.Equal(t, http.StatusOK, code, "JWKS down, kid known")
	assert.Equal(t, before, kratosCalls.Load(), "and still no call to Kratos from the downstream")
}
