// Package kratosauth protects the routes of Go web apps with Ory Kratos
// sessions.
//
// An Authenticator, built once by New, takes a request's session credential
// (the ory_kratos_session cookie, an X-Session-Token header or an
// Authorization: Bearer token, in Kratos' own order of precedence), asks
// Kratos' GET /sessions/whoami who it belongs to, and caches the answer
// under a SHA-256 of the credential. Concurrent requests with the same
// uncached credential share one whoami call. Only the session cookie is sent
// to Kratos, never the rest of the request.
//
// Every failure is an *Error matching one sentinel error:
//
//	ErrNoCredentials   no credential in the request       401, or 303 to login
//	ErrInvalidSession  Kratos does not know or accept it  401, or 303 to login
//	ErrAAL2Required    a second factor is needed          403, or 303 to step-up
//	ErrUnavailable     Kratos failed to answer            503, never a logout
//
// Invalidate evicts a request's session on logout; InvalidateIdentity
// evicts every session of an identity, and NewWebhookHandler does so when
// Kratos calls it after a password change or a recovery. With several
// replicas, share the cache in Redis (package
// github.com/kratosauth/kratosauth/cache/redis) so that all of them see it.
//
// The middlewares for net/http, chi and gin live in the adapters packages
// kratoshttp, kratoschi and kratosgin. Handlers read the session with
// SessionFromContext or IdentityFromContext, and traits with Traits.
package kratosauth
