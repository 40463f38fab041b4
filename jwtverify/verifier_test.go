package kratosjwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
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
	"github.com/kratosauth/kratosauth/internal/testing/jwtkit"
	kratosjwt "github.com/kratosauth/kratosauth/jwtverify"
)

const iss = "http://127.0.0.1:4433/"

// jwksServer serves a JWKS document that tests change, and counts reads.
type jwksServer struct {
	*httptest.Server
	reads atomic.Int64
	mu    sync.Mutex
	doc   []byte
	code  int
	delay time.Duration
}

func newJWKSServer(t *testing.T, doc []byte) *jwksServer {
	s := &jwksServer{doc: doc, code: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.reads.Add(1)
		s.mu.Lock()
		doc, code, delay := s.doc, s.code, s.delay
		s.mu.Unlock()
		time.Sleep(delay)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(code)
		_, _ = w.Write(doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(doc []byte, code int) {
	s.mu.Lock()
	s.doc, s.code = doc, code
	s.mu.Unlock()
}

func newVerifier(t *testing.T, jwksURL string, opts ...kratosjwt.Option) *kratosjwt.Verifier {
	t.Helper()
	opts = append([]kratosjwt.Option{kratosjwt.WithIssuer(iss), kratosjwt.WithLogger(discard)}, opts...)
	v, err := kratosjwt.New(jwksURL, opts...)
	require.NoError(t, err)
	return v
}

func claims(ttl time.Duration) map[string]any {
	c := jwtkit.KratosClaims(iss, "identity-1", "session-1", ttl)
	c["traits"] = map[string]any{"email": "ada@example.com"}
	return c
}

func TestVerifyKratosTokens(t *testing.T) {
	es, rs := jwtkit.NewES256("es"), jwtkit.NewRS256("rs")
	srv := newJWKSServer(t, jwtkit.PublicJWKS(es, rs))
	v := newVerifier(t, srv.URL)
	for _, k := range []*jwtkit.Key{es, rs} {
		c, err := v.Verify(context.Background(), k.Sign(claims(time.Minute)))
		require.NoError(t, err, k.Alg)
		assert.Equal(t, "identity-1", c.Subject)
		assert.Equal(t, "session-1", c.SessionID)
		assert.Equal(t, iss, c.Issuer)
		assert.WithinDuration(t, time.Now().Add(time.Minute), c.ExpiresAt, 2*time.Second)
		traits, err := kratosjwt.As[struct {
			Traits struct {
				Email string `json:"email"`
			} `json:"traits"`
		}](c)
		require.NoError(t, err)
		assert.Equal(t, "ada@example.com", traits.Traits.Email)
	}
	assert.Equal(t, int64(1), srv.reads.Load(), "the JWKS is read once and cached")
}

func TestRefusedTokens(t *testing.T) {
	key, other := jwtkit.NewES256("k1"), jwtkit.NewES256("k1")
	rsa := jwtkit.NewRS256("rs")
	srv := newJWKSServer(t, jwtkit.PublicJWKS(key, rsa))
	good := key.Sign(claims(time.Minute))

	pub := key.Public().(*ecdsa.PublicKey)
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwkJSON, err := json.Marshal(key.PublicJWK())
	require.NoError(t, err)
	point, err := pub.Bytes()
	require.NoError(t, err)

	with := func(fn func(map[string]any)) map[string]any { c := claims(time.Minute); fn(c); return c }
	cases := map[string]string{
		"expired":                   key.Sign(with(func(c map[string]any) { c["exp"] = time.Now().Add(-kratosjwt.DefaultLeeway - time.Second).Unix() })),
		"not yet valid":             key.Sign(with(func(c map[string]any) { c["nbf"] = time.Now().Add(time.Minute).Unix() })),
		"issued in the future":      key.Sign(with(func(c map[string]any) { c["iat"] = time.Now().Add(time.Minute).Unix() })),
		"no exp":                    key.Sign(with(func(c map[string]any) { delete(c, "exp") })),
		"exp not a number":          key.Sign(with(func(c map[string]any) { c["exp"] = "tomorrow" })),
		"no sub":                    key.Sign(with(func(c map[string]any) { delete(c, "sub") })),
		"other issuer":              key.Sign(with(func(c map[string]any) { c["iss"] = "http://evil.example/" })),
		"tampered payload":          jwtkit.Tamper(good, func(c map[string]any) { c["sub"] = "identity-2" }),
		"tampered exp":              jwtkit.Tamper(key.Sign(claims(-time.Hour)), func(c map[string]any) { c["exp"] = time.Now().Add(time.Hour).Unix() }),
		"truncated signature":       good[:len(good)-4],
		"signature of another":      good[:strings.LastIndex(good, ".")] + other.Sign(claims(time.Minute))[strings.LastIndex(other.Sign(claims(time.Minute)), "."):],
		"other key, same kid":       other.Sign(claims(time.Minute)),
		"HS256, public key as PEM":  jwtkit.SignHS256(pemKey, "k1", claims(time.Minute)),
		"HS256, public key as JWK":  jwtkit.SignHS256(jwkJSON, "k1", claims(time.Minute)),
		"HS256, public key point":   jwtkit.SignHS256(point, "k1", claims(time.Minute)),
		"alg none":                  jwtkit.Unsigned("k1", claims(time.Minute)),
		"alg none, real signature":  strings.Replace(good, strings.SplitN(good, ".", 2)[0], strings.SplitN(jwtkit.Unsigned("k1", nil), ".", 2)[0], 1),
		"ES key claimed as RS256":   key.SignWithHeader(map[string]any{"alg": "RS256", "kid": "k1"}, claims(time.Minute)),
		"RS key claimed as PS256":   rsa.SignWithHeader(map[string]any{"alg": "PS256", "kid": "rs"}, claims(time.Minute)),
		"kid of the RS key, ES sig": key.SignWithHeader(map[string]any{"alg": "ES256", "kid": "rs"}, claims(time.Minute)),
		"unknown kid":               jwtkit.NewES256("k9").Sign(claims(time.Minute)),
		"garbage":                   "not a token",
		"empty parts":               "..",
		"JSON serialization":        `{"payload":"e30","signatures":[]}`,
		"too long":                  good + strings.Repeat("A", kratosjwt.MaxTokenBytes),
	}
	for _, algs := range [][]string{nil, {"ES256", "RS256", "HS256"}} {
		opts := []kratosjwt.Option{kratosjwt.WithMinRefreshInterval(time.Millisecond)}
		if algs != nil {
			// HS256 allowed too: the EC and RSA keys still serve only their own algorithms.
			opts = append(opts, kratosjwt.WithAlgorithms(algs...))
		}
		v := newVerifier(t, srv.URL, opts...)
		_, err := v.Verify(context.Background(), good)
		require.NoError(t, err, "the untampered token verifies")
		for name, tok := range cases {
			_, err := v.Verify(context.Background(), tok)
			if errors.Is(err, kratosauth.ErrUnavailable) {
				// A kid and alg the JWKS does not list, asked for within
				// the window of the read before: the next read settles it.
				time.Sleep(2 * time.Millisecond)
				_, err = v.Verify(context.Background(), tok)
			}
			assert.ErrorIs(t, err, kratosauth.ErrInvalidSession, "%s (algs %v)", name, algs)
			var e *kratosauth.Error
			if assert.ErrorAs(t, err, &e, name) {
				assert.NotContains(t, e.Error(), tok[strings.Index(tok, ".")+1:], "%s: the error never holds the token", name)
			}
		}
	}
}

func TestLeewayAndAudience(t *testing.T) {
	key := jwtkit.NewES256("k1")
	srv := newJWKSServer(t, jwtkit.PublicJWKS(key))
	justExpired := claims(-2 * time.Second)
	v := newVerifier(t, srv.URL)
	_, err := v.Verify(context.Background(), key.Sign(justExpired))
	assert.NoError(t, err, "within the default leeway")
	strict := newVerifier(t, srv.URL, kratosjwt.WithLeeway(0))
	_, err = strict.Verify(context.Background(), key.Sign(justExpired))
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)

	aud := newVerifier(t, srv.URL, kratosjwt.WithAudience("orders"))
	for a, ok := range map[any]bool{"orders": true, nil: false, "billing": false} {
		c := claims(time.Minute)
		if a != nil {
			c["aud"] = []any{"billing", a}
		}
		_, err := aud.Verify(context.Background(), key.Sign(c))
		if ok {
			assert.NoError(t, err, "%v", a)
		} else {
			assert.ErrorIs(t, err, kratosauth.ErrInvalidSession, "%v", a)
		}
	}
	c := claims(time.Minute)
	c["aud"] = "orders"
	_, err = aud.Verify(context.Background(), key.Sign(c))
	assert.NoError(t, err, "aud as a single string")
}

func TestUnknownKidMakesOneRead(t *testing.T) {
	key := jwtkit.NewES256("k1")
	srv := newJWKSServer(t, jwtkit.PublicJWKS(key))
	v := newVerifier(t, srv.URL, kratosjwt.WithMinRefreshInterval(200*time.Millisecond))
	_, err := v.Verify(context.Background(), key.Sign(claims(time.Minute)))
	require.NoError(t, err)
	require.Equal(t, int64(1), srv.reads.Load())

	time.Sleep(250 * time.Millisecond)
	unknown := jwtkit.NewES256("k2").Sign(claims(time.Minute))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), unknown)
			assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
		})
	}
	wg.Wait()
	_, err = v.Verify(context.Background(), unknown)
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	assert.Equal(t, int64(2), srv.reads.Load(), "one read for all, then none within the minimum interval")
	assert.Equal(t, int64(2), v.JWKSReads())

	time.Sleep(250 * time.Millisecond)
	_, err = v.Verify(context.Background(), unknown)
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	assert.Equal(t, int64(3), srv.reads.Load(), "after the interval, one more")
}

func TestConcurrentUnknownKidsWaitForTheRead(t *testing.T) {
	old, next := jwtkit.NewES256("old"), jwtkit.NewES256("next")
	srv := newJWKSServer(t, jwtkit.PublicJWKS(old))
	v := newVerifier(t, srv.URL, kratosjwt.WithMinRefreshInterval(50*time.Millisecond), kratosjwt.WithRefreshInterval(time.Hour))
	_, err := v.Verify(context.Background(), old.Sign(claims(time.Minute)))
	require.NoError(t, err)
	time.Sleep(60 * time.Millisecond)

	// Kratos rotates; tokens of the new key arrive together while the
	// JWKS is slow: all wait for the one read and verify.
	srv.set(jwtkit.PublicJWKS(next, old), http.StatusOK)
	srv.mu.Lock()
	srv.delay = 100 * time.Millisecond
	srv.mu.Unlock()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), next.Sign(claims(time.Minute)))
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, int64(2), srv.reads.Load())
}

func TestRotationThroughAFile(t *testing.T) {
	k1, k2 := jwtkit.NewES256("k1"), jwtkit.NewES256("k2")
	path := filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(path, jwtkit.PublicJWKS(k1), 0o600))
	v := newVerifier(t, "file://"+path,
		kratosjwt.WithMinRefreshInterval(10*time.Millisecond), kratosjwt.WithRefreshInterval(100*time.Millisecond))
	oldToken := k1.Sign(claims(time.Minute))
	_, err := v.Verify(context.Background(), oldToken)
	require.NoError(t, err)

	require.NoError(t, os.WriteFile(path, jwtkit.PublicJWKS(k2, k1), 0o600))
	time.Sleep(20 * time.Millisecond)
	_, err = v.Verify(context.Background(), k2.Sign(claims(time.Minute)))
	assert.NoError(t, err, "the new key, without a restart")
	_, err = v.Verify(context.Background(), oldToken)
	assert.NoError(t, err, "the old key while it is listed")

	// The old key is removed: the periodic read drops it.
	require.NoError(t, os.WriteFile(path, jwtkit.PublicJWKS(k2), 0o600))
	time.Sleep(150 * time.Millisecond)
	_, _ = v.Verify(context.Background(), oldToken) // starts the periodic read
	assert.Eventually(t, func() bool {
		_, err := v.Verify(context.Background(), oldToken)
		return errors.Is(err, kratosauth.ErrInvalidSession)
	}, 2*time.Second, 20*time.Millisecond, "a key removed from the JWKS stops verifying")
}

func TestJWKSUnavailable(t *testing.T) {
	key := jwtkit.NewES256("k1")
	srv := newJWKSServer(t, nil)
	srv.set([]byte("oops"), http.StatusInternalServerError)
	v := newVerifier(t, srv.URL, kratosjwt.WithMinRefreshInterval(50*time.Millisecond))
	good := key.Sign(claims(time.Minute))

	_, err := v.Verify(context.Background(), good)
	assert.ErrorIs(t, err, kratosauth.ErrUnavailable, "no key could be read: a valid token is not a 401")

	srv.set(jwtkit.PublicJWKS(key), http.StatusOK)
	time.Sleep(60 * time.Millisecond)
	_, err = v.Verify(context.Background(), good)
	require.NoError(t, err)

	srv.set(nil, http.StatusBadGateway)
	time.Sleep(60 * time.Millisecond)
	_, err = v.Verify(context.Background(), good)
	assert.NoError(t, err, "known keys keep verifying while the JWKS is down")
	unknown := jwtkit.NewES256("k2").Sign(claims(time.Minute))
	_, err = v.Verify(context.Background(), unknown)
	assert.ErrorIs(t, err, kratosauth.ErrUnavailable, "JWKS down, kid unknown: it may be a new key")
	_, err = v.Verify(context.Background(), unknown)
	assert.ErrorIs(t, err, kratosauth.ErrUnavailable, "rate-limited, the last read failed: still 503")

	srv.set(jwtkit.PublicJWKS(key), http.StatusOK)
	time.Sleep(60 * time.Millisecond)
	_, err = v.Verify(context.Background(), unknown)
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession, "JWKS back and the kid is not in it: 401")
}

func TestJWKSWithoutUsableKeyIsUnavailable(t *testing.T) {
	es := jwtkit.NewES256("k1")
	for name, doc := range map[string][]byte{
		"empty":             jwtkit.JWKS(),
		"not JSON":          []byte("<html>"),
		"encryption keys":   jwtkit.JWKS(withField(es.PublicJWK(), "use", "enc")),
		"alg not allowed":   jwtkit.JWKS(withField(es.PublicJWK(), "alg", "ES384")),
		"unknown key types": []byte(`{"keys":[{"kty":"XYZ","kid":"k1"}]}`),
	} {
		srv := newJWKSServer(t, doc)
		v := newVerifier(t, srv.URL)
		_, err := v.Verify(context.Background(), es.Sign(claims(time.Minute)))
		assert.ErrorIs(t, err, kratosauth.ErrUnavailable, name)
	}
}

func withField(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }

func TestPrivateJWKSCountsByItsPublicPart(t *testing.T) {
	key := jwtkit.NewES256("k1")
	srv := newJWKSServer(t, jwtkit.JWKS(key.PrivateJWK(), jwtkit.NewRS256("rs").PrivateJWK()))
	v := newVerifier(t, srv.URL)
	_, err := v.Verify(context.Background(), key.Sign(claims(time.Minute)))
	assert.NoError(t, err)
}

func TestCanceledWhileReadingTheJWKS(t *testing.T) {
	key := jwtkit.NewES256("k1")
	srv := newJWKSServer(t, jwtkit.PublicJWKS(key))
	srv.delay = 300 * time.Millisecond
	v := newVerifier(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := v.Verify(ctx, key.Sign(claims(time.Minute)))
	assert.ErrorIs(t, err, kratosauth.ErrCanceled)
	_, err = v.Verify(context.Background(), key.Sign(claims(time.Minute)))
	assert.NoError(t, err, "the read went on for the others")
}

func TestNewValidates(t *testing.T) {
	for name, tc := range map[string]struct {
		url  string
		opts []kratosjwt.Option
	}{
		"no scheme":            {"/etc/jwks.json", nil},
		"ftp":                  {"ftp://host/jwks.json", nil},
		"file with host":       {"file://host/jwks.json", nil},
		"http without host":    {"http:///jwks.json", nil},
		"alg none":             {"file:///j", []kratosjwt.Option{kratosjwt.WithAlgorithms("none")}},
		"alg unknown":          {"file:///j", []kratosjwt.Option{kratosjwt.WithAlgorithms("ES256", "XS1")}},
		"no alg":               {"file:///j", []kratosjwt.Option{kratosjwt.WithAlgorithms()}},
		"nil option":           {"file:///j", []kratosjwt.Option{nil}},
		"empty issuer":         {"file:///j", []kratosjwt.Option{kratosjwt.WithIssuer("")}},
		"empty audience":       {"file:///j", []kratosjwt.Option{kratosjwt.WithAudience("")}},
		"negative leeway":      {"file:///j", []kratosjwt.Option{kratosjwt.WithLeeway(-1)}},
		"zero timeout":         {"file:///j", []kratosjwt.Option{kratosjwt.WithTimeout(0)}},
		"zero refresh":         {"file:///j", []kratosjwt.Option{kratosjwt.WithRefreshInterval(0)}},
		"min above refresh":    {"file:///j", []kratosjwt.Option{kratosjwt.WithMinRefreshInterval(time.Hour)}},
		"nil client":           {"file:///j", []kratosjwt.Option{kratosjwt.WithHTTPClient(nil)}},
		"nil logger":           {"file:///j", []kratosjwt.Option{kratosjwt.WithLogger(nil)}},
		"nil error handler":    {"file:///j", []kratosjwt.Option{kratosjwt.WithErrorHandler(nil)}},
		"zero min refresh":     {"file:///j", []kratosjwt.Option{kratosjwt.WithMinRefreshInterval(0)}},
		"HS256 only, then bad": {"file:///j", []kratosjwt.Option{kratosjwt.WithAlgorithms("HS256", "none")}},
	} {
		_, err := kratosjwt.New(tc.url, tc.opts...)
		assert.Error(t, err, name)
	}
}

func TestHMACJWKSWhenAllowed(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	doc := []byte(`{"keys":[{"kty":"oct","kid":"h1","alg":"HS256","k":"` +
		strings.TrimRight(b64url(secret), "=") + `"}]}`)
	srv := newJWKSServer(t, doc)
	tok := jwtkit.SignHS256(secret, "h1", claims(time.Minute))

	v := newVerifier(t, srv.URL)
	_, err := v.Verify(context.Background(), tok)
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession, "HS256 is not allowed by default")
	v = newVerifier(t, srv.URL, kratosjwt.WithAlgorithms("HS256"))
	_, err = v.Verify(context.Background(), tok)
	assert.NoError(t, err)
}

func TestMiddleware(t *testing.T) {
	key := jwtkit.NewES256("k1")
	srv := newJWKSServer(t, jwtkit.PublicJWKS(key))
	v := newVerifier(t, srv.URL)
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := kratosjwt.FromContext(r.Context())
		require.True(t, ok)
		_, _ = w.Write([]byte(c.Subject))
	}))
	serve := func(header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.Header.Set("Accept", "text/html") // a browser: still no redirect
		for _, h := range header {
			r.Header.Add("Authorization", h)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	good := key.Sign(claims(time.Minute))

	w := serve("Bearer " + good)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "identity-1", w.Body.String())
	assert.Equal(t, http.StatusOK, serve("bearer "+good).Code, "the scheme is case-insensitive")

	want := httptest.NewRecorder()
	kratosauth.WriteJSONError(want, &kratosauth.Error{Kind: kratosauth.ErrInvalidSession})
	for name, h := range map[string][]string{
		"none":          nil,
		"basic":         {"Basic dXNlcjpwdw=="},
		"empty bearer":  {"Bearer "},
		"bad token":     {"Bearer " + good + "x"},
		"two headers":   {"Bearer " + good, "Bearer " + good},
		"session token": {"Bearer ory_st_abc"},
	} {
		w := serve(h...)
		assert.Equal(t, http.StatusUnauthorized, w.Code, name)
		assert.Empty(t, w.Header().Get("Location"), name)
		assert.JSONEq(t, want.Body.String(), w.Body.String(), name)
	}

	srv.set(nil, http.StatusInternalServerError)
	v2 := newVerifier(t, srv.URL)
	w = httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header.Set("Authorization", "Bearer "+good)
	v2.Middleware(http.NotFoundHandler()).ServeHTTP(w, r)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
}

// A template with subject_source: external_id (Kratos v25.4.0+) puts the
// external_id in sub; the identity's ID then comes only from the claim the
// claims mapper sets, and a token without it is refused, never read as sub.
func TestExternalIDSubject(t *testing.T) {
	key := jwtkit.NewES256("k")
	srv := newJWKSServer(t, jwtkit.PublicJWKS(key))
	external := func(mod func(map[string]any)) string {
		c := jwtkit.KratosClaims(iss, "crm-4711", "session-1", time.Minute)
		c["identity_id"] = "identity-1"
		if mod != nil {
			mod(c)
		}
		return key.Sign(c)
	}

	v := newVerifier(t, srv.URL, kratosjwt.WithExternalIDSubject("identity_id"))
	c, err := v.Verify(context.Background(), external(nil))
	require.NoError(t, err)
	assert.Equal(t, "crm-4711", c.Subject)
	assert.Equal(t, "crm-4711", c.ExternalID)
	assert.Equal(t, "identity-1", c.IdentityID)

	for name, mod := range map[string]func(map[string]any){
		"no identity_id":        func(c map[string]any) { delete(c, "identity_id") },
		"empty identity_id":     func(c map[string]any) { c["identity_id"] = "" },
		"identity_id not a str": func(c map[string]any) { c["identity_id"] = 42 },
	} {
		_, err := v.Verify(context.Background(), external(mod))
		assert.ErrorIs(t, err, kratosauth.ErrInvalidSession, name)
	}

	// Without the option, sub is the identity's ID (Kratos' default).
	c, err = newVerifier(t, srv.URL).Verify(context.Background(), key.Sign(claims(time.Minute)))
	require.NoError(t, err)
	assert.Equal(t, "identity-1", c.IdentityID)
	assert.Empty(t, c.ExternalID)

	for _, bad := range []string{"", "sub", "sid", "exp"} {
		_, err := kratosjwt.New(srv.URL, kratosjwt.WithExternalIDSubject(bad))
		assert.Error(t, err, bad)
	}
}
