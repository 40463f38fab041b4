// Package jwtkit makes signing keys, JWKS documents and JSON Web Tokens for
// tests: tokens shaped like those Kratos' tokenizer makes of a session, and
// the forgeries a verifier must refuse (tampered, another key, HS256 with a
// public key as its secret, alg "none"). Standard library only, so that the
// root module, where it lives, gains no dependency; the jwtverify module and
// the examples use it in their tests.
package jwtkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"
)

var b64 = base64.RawURLEncoding

// Key is a signing key with its JWK identity.
type Key struct {
	KID  string
	Alg  string // ES256 or RS256
	priv crypto.Signer
}

// NewES256 returns a fresh P-256 key.
func NewES256(kid string) *Key {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return &Key{KID: kid, Alg: "ES256", priv: k}
}

// NewRS256 returns a fresh 2048-bit RSA key.
func NewRS256(kid string) *Key {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return &Key{KID: kid, Alg: "RS256", priv: k}
}

// Public is the public key.
func (k *Key) Public() crypto.PublicKey { return k.priv.Public() }

func pad(b []byte, n int) []byte { return append(make([]byte, n-len(b), n), b...) }

// PublicJWK is the key's public JWK (with kid, alg and use).
func (k *Key) PublicJWK() map[string]any {
	m := map[string]any{"kid": k.KID, "alg": k.Alg, "use": "sig"}
	switch p := k.priv.(type) {
	case *ecdsa.PrivateKey:
		m["kty"], m["crv"] = "EC", "P-256"
		m["x"] = b64.EncodeToString(pad(p.X.Bytes(), 32))
		m["y"] = b64.EncodeToString(pad(p.Y.Bytes(), 32))
	case *rsa.PrivateKey:
		m["kty"] = "RSA"
		m["n"] = b64.EncodeToString(p.N.Bytes())
		m["e"] = b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())
	}
	return m
}

// PrivateJWK is the key's private JWK, as Kratos' tokenizer reads it.
func (k *Key) PrivateJWK() map[string]any {
	m := k.PublicJWK()
	switch p := k.priv.(type) {
	case *ecdsa.PrivateKey:
		d, err := p.Bytes()
		if err != nil {
			panic(err)
		}
		m["d"] = b64.EncodeToString(d)
	case *rsa.PrivateKey:
		p.Precompute()
		m["d"] = b64.EncodeToString(p.D.Bytes())
		m["p"] = b64.EncodeToString(p.Primes[0].Bytes())
		m["q"] = b64.EncodeToString(p.Primes[1].Bytes())
		m["dp"] = b64.EncodeToString(p.Precomputed.Dp.Bytes())
		m["dq"] = b64.EncodeToString(p.Precomputed.Dq.Bytes())
		m["qi"] = b64.EncodeToString(p.Precomputed.Qinv.Bytes())
	}
	return m
}

// JWKS is a JWK Set document of the given JWKs.
func JWKS(keys ...map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	return b
}

// PublicJWKS is the JWK Set of the keys' public parts.
func PublicJWKS(keys ...*Key) []byte {
	jwks := make([]map[string]any, len(keys))
	for i, k := range keys {
		jwks[i] = k.PublicJWK()
	}
	return JWKS(jwks...)
}

// KratosClaims are the claims Kratos' tokenizer sets (session/tokenizer.go)
// for a session, valid for ttl from now.
func KratosClaims(iss, sub, sid string, ttl time.Duration) map[string]any {
	now := time.Now()
	return map[string]any{
		"jti": fmt.Sprintf("jti-%d", now.UnixNano()),
		"iss": iss,
		"sub": sub,
		"sid": sid,
		"exp": now.Add(ttl).Unix(),
		"nbf": now.Unix(),
		"iat": now.Unix(),
	}
}

func encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b64.EncodeToString(b)
}

// Sign returns the compact JWS of claims signed with k, with the header
// {"alg", "kid", "typ": "JWT"} as Kratos writes it.
func (k *Key) Sign(claims map[string]any) string {
	return k.SignWithHeader(map[string]any{"alg": k.Alg, "kid": k.KID, "typ": "JWT"}, claims)
}

// SignWithHeader signs with k under any header (a lying alg or kid too).
func (k *Key) SignWithHeader(header, claims map[string]any) string {
	input := encode(header) + "." + encode(claims)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch p := k.priv.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, p, digest[:])
		if err != nil {
			panic(err)
		}
		sig = append(pad(r.Bytes(), 32), pad(s.Bytes(), 32)...)
	case *rsa.PrivateKey:
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, p, crypto.SHA256, digest[:]); err != nil {
			panic(err)
		}
	}
	return input + "." + b64.EncodeToString(sig)
}

// SignHS256 returns claims signed with HMAC-SHA256 under secret: with a
// public key's bytes as the secret, the classic algorithm confusion attack.
func SignHS256(secret []byte, kid string, claims map[string]any) string {
	input := encode(map[string]any{"alg": "HS256", "kid": kid, "typ": "JWT"}) + "." + encode(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + b64.EncodeToString(m.Sum(nil))
}

// Unsigned returns claims with alg "none" and an empty signature.
func Unsigned(kid string, claims map[string]any) string {
	return encode(map[string]any{"alg": "none", "kid": kid, "typ": "JWT"}) + "." + encode(claims) + "."
}

// Tamper returns token with its payload's claims changed by fn, the
// signature kept.
func Tamper(token string, fn func(claims map[string]any)) string {
	parts := strings.SplitN(token, ".", 3)
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		panic(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		panic(err)
	}
	fn(claims)
	return parts[0] + "." + encode(claims) + "." + parts[2]
}

// Payload is the decoded payload of a compact JWS (nil if it has none).
func Payload(token string) []byte {
	parts := strings.SplitN(token, ".", 3)
	if len(parts) < 2 {
		return nil
	}
	b, _ := b64.DecodeString(parts[1])
	return b
}

// Header is the decoded header of a compact JWS (nil if it has none).
func Header(token string) []byte {
	b, _ := b64.DecodeString(strings.SplitN(token, ".", 2)[0])
	return b
}
