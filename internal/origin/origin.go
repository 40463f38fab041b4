// Package origin holds the one rule for comparing origins (Key) and the
// one check of whether a URL is on a configured origin (Same). kratosauth
// follows URLs that come from outside (Kratos' redirect_browser_to and
// logout_url, a return_to from a query string) only when Same accepts
// them, and sends a session's token only to origins Key matches, so every
// package must agree on them.
package origin

import (
	"net"
	"net/url"
	"strings"
)

// Same parses target and reports whether it is an absolute http(s) URL on
// base's origin. When it is, the parsed URL is returned with base's scheme
// and host spelling (so "HTTPS://Auth.example.com:443/x" on base
// "https://auth.example.com" comes back as "https://auth.example.com/x");
// path, query and fragment are left as they are, for the caller to judge.
//
// The origin is the scheme, the host and the port. Scheme and host are
// compared ASCII case-insensitively; a port equal to the scheme's default
// (80 for http, 443 for https) is the same as no port, as browsers see it.
// Everything else is compared exactly, so the check can only refuse what a
// browser would take for the same origin, never accept another one
// ("host." and "host", "0443" and "443" are different here).
//
// Refused: a nil base or one that is not an absolute http(s) URL; any
// target with a byte up to and including space, DEL or a backslash
// anywhere (browsers drop or rewrite these, so the browser could read
// another URL than the one checked); a target that does not parse, is
// relative, protocol-relative or opaque ("https:host"); userinfo ("@"),
// even empty; a scheme other than http and https; a non-ASCII host; an
// empty port ("host:").
func Same(target string, base *url.URL) (*url.URL, bool) {
	if base == nil || target == "" {
		return nil, false
	}
	for i := 0; i < len(target); i++ {
		if b := target[i]; b <= ' ' || b == 0x7f || b == '\\' {
			return nil, false
		}
	}
	u, err := url.Parse(target)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return nil, false
	}
	want, ok := Key(base.Scheme, base.Host)
	if !ok || base.User != nil {
		return nil, false
	}
	if got, ok := Key(u.Scheme, u.Host); !ok || got != want {
		return nil, false
	}
	u.Scheme, u.Host = base.Scheme, base.Host
	return u, true
}

// Key returns the comparable form of an origin, "scheme://host:port"
// with scheme and host in ASCII lower case and the scheme's default port
// dropped, or false when it is not an http(s) origin with an ASCII host
// and, when present, a non-empty port.
//
// Hosts are compared in ASCII only: Unicode case folding maps "İ" to "i"
// and the Kelvin sign to "k", while net/http and browsers reach a
// non-ASCII host by its IDNA (xn--) form, another name. A non-ASCII host
// (percent-escaped or not) matches nothing; configure its xn-- form.
func Key(scheme, hostport string) (string, bool) {
	scheme, ok := asciiLower(scheme)
	if !ok {
		return "", false
	}
	var def string
	switch scheme {
	case "http":
		def = "80"
	case "https":
		def = "443"
	default:
		return "", false
	}
	host, port := hostport, ""
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.Contains(hostport[i:], "]") {
		h, p, err := net.SplitHostPort(hostport)
		if err != nil || p == "" {
			return "", false
		}
		host, port = h, p
		if strings.Contains(host, ":") {
			host = "[" + host + "]" // IPv6, bracketed again as in the URL
		}
	}
	host, ok = asciiLower(host)
	if !ok || host == "" {
		return "", false
	}
	if port == def {
		port = ""
	}
	return scheme + "://" + host + ":" + port, true
}

// asciiLower lower-cases s's ASCII letters, or returns false when s has a
// byte outside ASCII. It allocates only when s has an upper-case letter.
func asciiLower(s string) (string, bool) {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return "", false
		}
		upper = upper || 'A' <= c && c <= 'Z'
	}
	if !upper {
		return s, true
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b), true
}
