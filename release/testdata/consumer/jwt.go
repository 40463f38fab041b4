package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	kratosginjwt "github.com/kratosauth/kratosauth/adapters/gin/jwt"
	kratosjwt "github.com/kratosauth/kratosauth/jwtverify"
)

// checkJWT is what a downstream service written after
//
//	go get github.com/kratosauth/kratosauth/jwtverify@VERSION
//
// does: it verifies a token shaped like Kratos' tokenizer makes, signed
// here with a P-256 key whose public JWKS is in a file, through the
// net/http and gin middlewares.
func checkJWT() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fail("key: %v", err)
	}
	b64 := base64.RawURLEncoding
	point, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		fail("key: %v", err)
	}
	jwks, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
		"x": b64.EncodeToString(point[1:33]), "y": b64.EncodeToString(point[33:]),
	}}})
	dir, err := os.MkdirTemp("", "consumer")
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(path, jwks, 0o600); err != nil {
		fail("%v", err)
	}

	now := time.Now()
	header, _ := json.Marshal(map[string]any{"alg": "ES256", "kid": "k1", "typ": "JWT"})
	claims, _ := json.Marshal(map[string]any{"iss": "http://kratos/", "sub": identityID, "sid": "s1",
		"exp": now.Add(time.Minute).Unix(), "nbf": now.Unix(), "iat": now.Unix()})
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(claims)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		fail("sign: %v", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	token := input + "." + b64.EncodeToString(sig)

	v, err := kratosjwt.New("file://"+path, kratosjwt.WithIssuer("http://kratos/"))
	if err != nil {
		fail("kratosjwt.New: %v", err)
	}
	hello := func(w http.ResponseWriter, r *http.Request) {
		c, ok := kratosjwt.FromContext(r.Context())
		if !ok {
			http.Error(w, "no claims in the context", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, c.Subject)
	}
	engine := gin.New()
	engine.GET("/me", kratosginjwt.Require(v), func(c *gin.Context) {
		claims, ok := kratosginjwt.Claims(c)
		if !ok {
			c.String(http.StatusInternalServerError, "no claims in the gin context")
			return
		}
		c.String(http.StatusOK, claims.Subject)
	})
	for _, a := range []struct {
		name string
		h    http.Handler
	}{{"kratosjwt", v.Middleware(http.HandlerFunc(hello))}, {"kratosginjwt", engine}} {
		with := serveBearer(a.h, token)
		without := serveBearer(a.h, token[:len(token)-2])
		if with.Code != http.StatusOK || with.Body.String() != identityID {
			fail("%s with a token: %d %q, want 200 %q", a.name, with.Code, with.Body.String(), identityID)
		}
		if without.Code != http.StatusUnauthorized || !strings.Contains(without.Body.String(), `"code":401`) {
			fail("%s with a bad token: %d %q, want a 401 JSON error", a.name, without.Code, without.Body.String())
		}
		fmt.Printf("%s: 200 with a token, 401 with a bad one\n", a.name)
	}
}

func serveBearer(h http.Handler, tok string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
