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
//	ErrForbidden       the route's rules refuse a session 403, JSON or a page
//	ErrUnavailable     Kratos (or Keto) failed to answer  503, never a logout
//
// The middlewares for net/http, chi and gin live in the adapters packages
// kratoshttp, kratoschi and kratosgin. Handlers read the session with
// SessionFromContext or IdentityFromContext, and traits with Traits.
//
// Routes can also require more than a session: predicates on it (Require,
// Guard.Where: a verified address, a role in metadata_public, an assurance
// level, composed with AllOf and AnyOf) and permissions in Ory Keto
// (RequirePermission, with a client from package keto).
package kratosauth
