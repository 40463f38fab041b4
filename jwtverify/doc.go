// Package kratosjwt verifies, in a downstream service, the JSON Web Tokens
// that Ory Kratos makes of its sessions (whoami?tokenize_as=, which the edge
// asks for with kratosauth.WithTokenizeAs and sends on with
// kratosauth.TokenTransport), with no call to Kratos: the signature is
// checked with the public keys of a JWKS (a file or a URL, cached), then
// exp, nbf and iat with a leeway, iss and aud when configured.
//
//	v, err := kratosjwt.New("file:///etc/kratos/jwks.public.json",
//		kratosjwt.WithIssuer("https://auth.example.com/"),
//		kratosjwt.WithAudience("orders"))
//	...
//	mux.Handle("GET /orders", v.Middleware(orders)) // chi: r.Use(v.Middleware)
//
//	func orders(w http.ResponseWriter, r *http.Request) {
//		c, _ := kratosjwt.FromContext(r.Context()) // always there behind Middleware
//		t, _ := kratosjwt.As[struct{ Email string `json:"email"` }](c)
//		...
//	}
//
// Requests are refused with kratosauth's sentinel errors and its
// Kratos-shaped JSON errors (kratosauth.DefaultErrorHandler; never a
// redirect): no bearer token is ErrNoCredentials (401); a token that is
// malformed, tampered with, signed by a key the JWKS does not list, signed
// with an algorithm not allowed, expired or not yet valid, or for another
// issuer or audience is ErrInvalidSession (401); a token whose key cannot be
// known because the JWKS cannot be read is ErrUnavailable (503), never a
// 401.
//
// The identity: Claims.IdentityID. Kratos puts the identity's ID in sub,
// unless the template has subject_source: external_id (Kratos v25.4.0 and
// later): sub is then the identity's external_id, and the identity's ID is
// only where the template's claims mapper puts it; WithExternalIDSubject
// names that claim, and a token without it is refused.
//
// Keys: a token's kid that the cached JWKS does not list makes one refresh
// (at most one per WithMinRefreshInterval, shared by concurrent requests),
// so a key Kratos starts signing with is picked up without a restart. Such
// a token is refused (401) only when a read made after it came does not
// list its kid; until the rate limit allows that read, it is unavailable
// (503), so an attacker's unknown kids, which spend the read, never make a
// genuine token of a key rotated in right after them a 401. The
// JWKS is also re-read every WithRefreshInterval, so a key removed from it
// stops being trusted. When the JWKS cannot be read, the keys read last
// keep verifying. Keys come only from the JWKS: a token's jku, x5u or jwk
// header is never used.
//
// Algorithms are an explicit list (WithAlgorithms; by default every
// asymmetric algorithm Kratos can sign with); "none" is never accepted. A
// key is used only for the algorithm of its JWK "alg" (when present) and of
// its type and curve, so a token cannot make a public key serve as an HMAC
// secret (algorithm confusion).
//
// The package lives in its own module (github.com/kratosauth/kratosauth/jwtverify)
// so that users of the core never download its JOSE dependency; the gin
// middleware is in github.com/kratosauth/kratosauth/adapters/gin/jwt.
package kratosjwt
