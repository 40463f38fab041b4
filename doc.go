// Package kratosauth protects the routes of Go web apps with Ory Kratos
// sessions.
//
// An Authenticator, built once by New, hands Kratos' GET /sessions/whoami
// exactly the parts of a request Kratos reads to find a session (a
// non-empty X-Session-Token, or the session cookie pairs and a Bearer
// Authorization header), verbatim, and nothing else: Kratos decides which
// credential counts. The answer is cached under a SHA-256 of what was sent,
// and concurrent requests with the same uncached credential share one
// whoami call.
//
// Every failure is an *Error matching one sentinel error:
//
//	ErrNoCredentials   no credential in the request       401, or 303 to login
//	ErrInvalidSession  Kratos does not know or accept it  401, or 303 to login
//	ErrAAL2Required    a second factor is needed          403, or 303 to step-up
//	ErrForbidden       the route's rules refuse a session 403, JSON or a page
//	ErrUnavailable     Kratos (or Keto) failed to answer  503, never a logout
//	ErrCanceled        the client hung up first           499, the handler never runs
//
// A Guard (RequireSession, RequireAAL, LoadSession, Require,
// RequirePermission; middleware.go) is the one implementation of the
// request policy; the adapters translate it: middlewares for net/http, chi,
// gin and echo (packages kratoshttp, kratoschi, kratosgin, kratosecho) and
// interceptors for gRPC and Connect (kratosgrpc, kratosconnect). Handlers read
// the session with SessionFromContext or IdentityFromContext, and traits
// with Traits. Package kratosauthtest is a fake Kratos (and Keto) for
// testing handlers.
//
// Routes can also require more than a session: predicates on it (Require,
// Guard.Where: a verified address, a role in metadata_public, an assurance
// level, composed with AllOf and AnyOf) and permissions in Ory Keto
// (RequirePermission, with a client from package keto).
//
// For services behind the app: WithTokenizeAs makes whoami also return the
// session as a JWT signed by Kratos (Session.Tokenized), and TokenTransport
// sends it as a bearer token to the app's downstream services, which verify
// it without calling Kratos with package kratosjwt (module
// github.com/kratosauth/kratosauth/jwtverify).
//
// Invalidate evicts a request's session on logout; InvalidateIdentity
// evicts every session of an identity, and NewWebhookHandler does so when
// Kratos calls it after a password change or a recovery. With several
// replicas, share the cache in Redis (package
// github.com/kratosauth/kratosauth/cache/redis) so that all of them see it.
package kratosauth
