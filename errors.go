package kratosauth

import (
	"errors"
	"strings"
	"time"
)

// Sentinel errors. Every error returned by Authenticate matches exactly one of
// them with errors.Is, and unwraps to its cause as well.
var (
	// ErrNoCredentials: the request carries no session cookie, session token
	// or bearer token. Responses: 401, or a redirect to login for browsers.
	ErrNoCredentials = errors.New("kratosauth: no session credentials")

	// ErrInvalidSession: Kratos says the credential is unknown, revoked,
	// inactive or expired, or the credential is malformed. Responses: 401, or
	// a redirect to login for browsers.
	ErrInvalidSession = errors.New("kratosauth: invalid or expired session")

	// ErrAAL2Required: the session is valid but a second factor is needed,
	// either because Kratos' whoami demands it or because the route asks for
	// it (RequireAAL). Responses: 403, or a redirect to the step-up login.
	ErrAAL2Required = errors.New("kratosauth: second authentication factor required")

	// ErrForbidden: the session is valid but the route's rules refuse it: a
	// predicate (Require, Guard.Where) does not hold, or the permission
	// service said no (RequirePermission). Unlike ErrAAL2Required, signing
	// in again would not help, so browsers are never redirected. Responses:
	// 403, a page for browsers (WithForbiddenHandler), JSON otherwise.
	ErrForbidden = errors.New("kratosauth: forbidden")

	// ErrCanceled: the request's own context ended (the client hung up, or
	// the app's deadline for the request passed) before Kratos answered. It
	// says nothing about the session or about Kratos: the handler does not
	// run, stale sessions are not served, and nothing is logged as a Kratos
	// failure. Responses: 499 with no body (nobody is there to read it).
	ErrCanceled = errors.New("kratosauth: request canceled before Kratos answered")

	// ErrUnavailable: Kratos, or for RequirePermission the permission
	// service, could not answer (connection error, timeout, 429, 5xx, an
	// unexpected status or an unreadable body); Cause says which. It never
	// means "logged out" or "not allowed". Responses: 503 with Retry-After
	// when Kratos gave one.
	ErrUnavailable = errors.New("kratosauth: service unavailable")
)

// Error is the error type Authenticate returns. Kind is one of the sentinel
// errors above; Cause says what happened. Use errors.Is with the sentinels
// and errors.As to reach the fields.
type Error struct {
	// Kind is ErrNoCredentials, ErrInvalidSession, ErrAAL2Required,
	// ErrForbidden, ErrCanceled or ErrUnavailable.
	Kind error
	// Cause is the underlying error, if any. It may hold internal details
	// (addresses, Kratos' own messages) and must not be shown to users.
	Cause error
	// RedirectTo is where a browser should go to fix the problem: the login
	// flow (with return_to) for ErrNoCredentials and ErrInvalidSession, the
	// step-up login for ErrAAL2Required, and empty for ErrForbidden and
	// ErrUnavailable.
	RedirectTo string
	// RetryAfter is how long to wait before asking again, when known:
	// Kratos' Retry-After on a 429, or the time until kratosjwt may read
	// its JWKS again; zero otherwise.
	RetryAfter time.Duration
	// KratosErrorID is the id of the error Kratos answered with
	// ("session_inactive", "session_aal2_required", ...): its Ory-Error-Id
	// header (Kratos v25.4.0 and later), else the body's error.id; empty
	// when Kratos sent none or one that is not a plain identifier. It is
	// for logs and support (Error includes it); like Cause, it is never
	// shown to clients.
	KratosErrorID string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Kind == nil {
		b.WriteString("kratosauth: error")
	} else {
		b.WriteString(e.Kind.Error())
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	if e.KratosErrorID != "" {
		b.WriteString(" (Ory-Error-Id ")
		b.WriteString(e.KratosErrorID)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap lets errors.Is and errors.As see both the kind and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, err := range [...]error{e.Kind, e.Cause} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
