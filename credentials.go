package kratosauth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/textproto"
	"strings"
)

// The library does not decide which credential of a request counts: Kratos
// does, and it can decode session cookies while we cannot. So the whoami
// request carries exactly the parts of the request Kratos reads
// (session/manager_http.go extractToken), verbatim and in order:
//
//   - a non-empty X-Session-Token, alone: Kratos reads nothing else then;
//   - otherwise every cookie pair with the session cookie's name (Kratos
//     skips those that don't decode), and the Authorization header when it
//     uses the Bearer scheme (Kratos falls back to it).
//
// Kratos then decides, and the cache key covers exactly what was sent.

// maxCredentialBytes bounds what one request can make us send to Kratos and
// hash. A Kratos session cookie is a few hundred bytes and can never exceed
// 4096 (securecookie's limit), a session token is 32 characters: a request
// needing more than this is refused without asking Kratos.
const maxCredentialBytes = 16 << 10

// maxCookieParts is net/http's limit on the cookies of one request. Kratos,
// built with Go, ignores every cookie of a request that has more, so we do too.
const maxCookieParts = 3000

// credential is what a request offers Kratos as proof of a session.
type credential struct {
	token         string // X-Session-Token; when set, nothing else is sent
	cookies       string // the session cookie pairs, "; "-separated, verbatim
	authorization string // Authorization header, Bearer scheme
}

var errMalformedCredential = errors.New("credential cannot be sent to Kratos (oversized or not a valid header value)")

// extractCredential returns the parts of r that Kratos reads to find a
// session. It returns ErrNoCredentials when there are none, and
// ErrInvalidSession (wrapping errMalformedCredential) when they are over
// maxCredentialBytes. Whether they can be sent at all is checked only
// before they are (sendable): a credential that was never sent cannot be
// in the cache.
func (c *config) extractCredential(r *http.Request) (credential, error) {
	// Header values by their canonical keys, as Header.Get (and Kratos)
	// reads them, without canonicalizing the key on every request.
	var cred credential
	if tok := firstValue(r.Header["X-Session-Token"]); tok != "" {
		cred.token = tok
	} else {
		cred.cookies = sessionCookiePairs(r.Header["Cookie"], c.cookieName)
		if auth := firstValue(r.Header["Authorization"]); hasBearerScheme(auth) {
			cred.authorization = auth
		}
		if cred.cookies == "" && cred.authorization == "" {
			return credential{}, &Error{Kind: ErrNoCredentials}
		}
	}
	if cred.size() > maxCredentialBytes {
		return credential{}, &Error{Kind: ErrInvalidSession, Cause: errMalformedCredential}
	}
	return cred, nil
}

func firstValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

func (c credential) size() int { return len(c.token) + len(c.cookies) + len(c.authorization) }

// sendable reports whether every part can go on the whoami request as it is.
// Requests read by net/http's server always pass; hand-made ones may not.
func (c credential) sendable() bool {
	return validHeaderValue(c.token) && validHeaderValue(c.cookies) && validHeaderValue(c.authorization)
}

// validHeaderValue is net/http's rule for a header field value (RFC 9110
// field-value: no control byte but tab), which its client enforces.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < ' ' && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}

// sessionCookiePairs returns the pairs named name from the Cookie header
// lines, "; "-separated, in order. It splits exactly as net/http's cookie
// parser does, which is what Kratos uses, so Kratos parses the result into
// the same cookies of that name as the original lines. One pair (the usual
// case) is returned as a substring of its line, without allocating.
func sessionCookiePairs(lines []string, name string) string {
	if cookieParts(lines) > maxCookieParts {
		return ""
	}
	var joined []byte
	var first string
	n := 0
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part)
			pairName, _, _ := strings.Cut(part, "=")
			if part == "" || textproto.TrimString(pairName) != name {
				continue
			}
			switch n++; n {
			case 1:
				first = part
			case 2:
				joined = append(append(append(joined, first...), "; "...), part...)
			default:
				joined = append(append(joined, "; "...), part...)
			}
		}
	}
	if n > 1 {
		return string(joined)
	}
	return first
}

// cookieParts counts cookies the way net/http does before applying maxCookieParts.
func cookieParts(lines []string) int {
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	return n
}

// hasBearerScheme reports whether an Authorization header could carry a
// session token for Kratos: any other scheme (Basic, say) is never sent.
// Kratos itself checks the rest (session/helper.go bearerTokenFromRequest).
func hasBearerScheme(h string) bool {
	const scheme = "bearer "
	return len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme)
}

// apply puts the credential on the whoami request, and nothing else: the
// browser's other cookies and headers are never forwarded to Kratos.
func (c credential) apply(h http.Header) {
	if c.token != "" {
		h["X-Session-Token"] = []string{c.token}
		return
	}
	if c.cookies != "" {
		h["Cookie"] = []string{c.cookies}
	}
	if c.authorization != "" {
		h["Authorization"] = []string{c.authorization}
	}
}

// digest identifies a credential in the cache: the SHA-256 of the
// Authenticator's namespace and everything the credential sends to Kratos,
// each part length-prefixed, so that no two different requests (or Kratos
// instances, or cookie names) share an entry. The raw credential never
// leaves this process except in the whoami request.
type digest [sha256.Size]byte

func (c credential) digest(namespace string) digest {
	// Built on the stack for any usual credential: this runs on every request.
	var buf [1024]byte
	b := buf[:0]
	for _, part := range [...]string{namespace, c.token, c.cookies, c.authorization} {
		n := len(part)
		b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		b = append(b, part...)
	}
	return sha256.Sum256(b)
}

// storeKey is the digest in hex, the key of its cache.Store entry.
func (d *digest) storeKey() string { return hex.EncodeToString(d[:]) }
