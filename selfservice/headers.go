// Security headers: CSP with a per-response nonce, Referrer-Policy.

package selfservice

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// setSecurityHeaders sets the headers of every response of the pages,
// redirects and errors included. The Content-Security-Policy allows no
// script (but see setPageHeaders), no connection and no frame: styles
// only from an element
// carrying nonce (the inline <style> of the "style" template), images
// only as data: URLs (Kratos' only image is the TOTP QR code), forms
// only to Kratos' browser URL and the app ('self'), no <base>, and no
// framing (frame-ancestors, and X-Frame-Options for old browsers). With
// no nonce (a response without a page) no style is allowed either.
// Referrer-Policy: no-referrer keeps flow ids, which are in the pages'
// URLs, out of the Referer of everything the pages lead to.
func (h *Handler) setSecurityHeaders(w http.ResponseWriter, nonce string) {
	h.setPageHeaders(w, nonce, false)
}

// setPageHeaders is setSecurityHeaders for a page that may run script:
// with scripts (and a nonce), the policy also has script-src with that
// nonce alone. Only pages with security keys or passkeys have scripts:
// Kratos' webauthn.js, on its browser URL, and the default templates'
// inline script that binds its functions to the buttons. Kratos'
// onclickTrigger names (not its inline onclick handlers) make this
// possible without 'unsafe-inline' or 'unsafe-hashes': a handler
// attribute can only be allowed by hash, for every page, while a nonce
// allows exactly the scripts this response carries, and no injected
// markup can carry it.
func (h *Handler) setPageHeaders(w http.ResponseWriter, nonce string, scripts bool) {
	csp := "default-src 'none'; "
	if nonce != "" {
		if scripts {
			csp += "script-src 'nonce-" + nonce + "'; "
		}
		csp += "style-src 'nonce-" + nonce + "'; img-src data:; "
	}
	csp += "form-action " + h.formAction + "; frame-ancestors 'none'; base-uri 'none'"
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
}

// newNonce returns a fresh CSP nonce: 128 random bits, base64.
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails (it crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// cspOrigin returns u's origin as a CSP source expression, e.g.
// "https://auth.example.com" or "http://127.0.0.1:4433", or an error when
// it is not an http(s) origin or its host has a character that could end
// the source (";", ",", a space, a quote...): a URL must never be able to
// widen the policy.
func cspOrigin(u *url.URL) (string, error) {
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("%q is not an http(s) origin", u.Redacted())
	}
	for i := 0; i < len(u.Host); i++ {
		b := u.Host[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte(".-:[]", b) >= 0) {
			return "", fmt.Errorf("host %q cannot be put in a Content-Security-Policy", u.Host)
		}
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}
