package kratosauth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// maxCredentialLen bounds a token or cookie value. Kratos' session tokens are
// 32 characters and its cookies a few hundred; anything far longer is not a
// Kratos credential and is refused before it reaches Kratos or the cache.
const maxCredentialLen = 4096

type credentialKind byte

const (
	credentialToken  credentialKind = 't'
	credentialCookie credentialKind = 'c'
)

// credential is what identifies a session in a request: a session token
// (from X-Session-Token or Authorization: Bearer) or one session cookie.
type credential struct {
	kind  credentialKind
	name  string // cookie name; empty for tokens
	value string
}

// cacheKey is the hex SHA-256 of the credential, bound to its kind and
// cookie name so that a token and a cookie never share an entry. The raw
// credential never leaves this process except in the whoami request.
func (c credential) cacheKey() string {
	// The hashed bytes are kind, name, a 0 byte and value, built on the stack
	// for any credential up to a long cookie: this runs on every request.
	var buf [1024]byte
	b := append(buf[:0], byte(c.kind))
	b = append(b, c.name...)
	b = append(b, 0) // separates name and value
	b = append(b, c.value...)
	sum := sha256.Sum256(b)
	var key [2 * sha256.Size]byte
	hex.Encode(key[:], sum[:])
	return string(key[:])
}

// apply puts the credential on the whoami request, and nothing else: the
// browser's other cookies and headers are never forwarded to Kratos.
func (c credential) apply(h http.Header) {
	if c.kind == credentialCookie {
		h["Cookie"] = []string{c.name + "=" + c.value}
		return
	}
	h["X-Session-Token"] = []string{c.value}
}

var errMalformedCredential = errors.New("malformed credential")

// extractCredential finds the session credential in r with Kratos' own
// precedence: X-Session-Token, then the session cookie, then
// Authorization: Bearer. It returns ErrNoCredentials when there is none and
// ErrInvalidSession (wrapping errMalformedCredential) when the one it found
// cannot be a Kratos credential.
func (c *config) extractCredential(r *http.Request) (credential, error) {
	if tok := r.Header.Get("X-Session-Token"); tok != "" {
		return tokenCredential(tok)
	}
	if name, value, ok := c.findSessionCookie(r.Header["Cookie"]); ok {
		return cookieCredential(name, value)
	}
	if tok, ok := bearerToken(r.Header.Get("Authorization")); ok {
		return tokenCredential(tok)
	}
	return credential{}, &Error{Kind: ErrNoCredentials}
}

func tokenCredential(tok string) (credential, error) {
	if len(tok) > maxCredentialLen || !isTokenText(tok) {
		return credential{}, &Error{Kind: ErrInvalidSession, Cause: errMalformedCredential}
	}
	return credential{kind: credentialToken, value: tok}, nil
}

func cookieCredential(name, value string) (credential, error) {
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	}
	// Some clients and proxies percent-encode the cookie's base64 padding.
	if strings.IndexByte(value, '%') >= 0 {
		unescaped, err := url.PathUnescape(value)
		if err != nil {
			return credential{}, &Error{Kind: ErrInvalidSession, Cause: errMalformedCredential}
		}
		value = unescaped
	}
	if value == "" || len(value) > maxCredentialLen || !isCookieValue(value) {
		return credential{}, &Error{Kind: ErrInvalidSession, Cause: errMalformedCredential}
	}
	return credential{kind: credentialCookie, name: name, value: value}, nil
}

// findSessionCookie scans Cookie header lines for the first cookie whose
// name is accepted, without parsing (and allocating) the other cookies.
func (c *config) findSessionCookie(lines []string) (name, value string, ok bool) {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			n, v, found := strings.Cut(part, "=")
			if !found {
				continue
			}
			n = strings.TrimSpace(n)
			if c.acceptsCookie(n) {
				return n, strings.TrimSpace(v), true
			}
		}
	}
	return "", "", false
}

func (c *config) acceptsCookie(name string) bool {
	if c.cookieName != "" {
		return name == c.cookieName
	}
	return name == DefaultCookieName || (strings.HasPrefix(name, oryNetworkCookiePrefix) && len(name) > len(oryNetworkCookiePrefix) && isCookieName(name))
}

func bearerToken(h string) (string, bool) {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(h[len(prefix):])
	return tok, tok != ""
}

// isTokenText accepts visible ASCII only: no spaces, controls or non-ASCII.
func isTokenText(s string) bool {
	for i := 0; i < len(s); i++ {
		if !tokenOctet[s[i]] {
			return false
		}
	}
	return true
}

// isCookieValue accepts RFC 6265 cookie-octets, so the value can be sent
// back to Kratos in a Cookie header unchanged.
func isCookieValue(s string) bool {
	// A table lookup per byte: this scans a ~430-byte cookie on every request.
	for i := 0; i < len(s); i++ {
		if !cookieOctet[s[i]] {
			return false
		}
	}
	return true
}

var tokenOctet, cookieOctet = func() (tok, cookie [256]bool) {
	for b := '!'; b < 0x7f; b++ {
		tok[b] = true
		cookie[b] = b != '"' && b != ',' && b != ';' && b != '\\'
	}
	return tok, cookie
}()
