package kratoshttp

import (
	"context"
	"fmt"
	"net/http"

	"github.com/kratosauth/kratosauth"
)

// RequireSession returns middleware that lets a request through only with a
// valid Kratos session, which handlers read with Session or Identity. Other
// requests are answered by the Authenticator's ErrorHandler: by default a
// 303 to login for browsers, a JSON 401 for API clients, and 503 when Kratos
// is unavailable. See kratosauth.Authenticator.RequireSession.
func RequireSession(a *kratosauth.Authenticator) func(http.Handler) http.Handler {
	return a.RequireSession().Middleware
}

// RequireAAL is RequireSession for routes that need a stronger session, such
// as kratosauth.AAL2: a valid session below that level is sent to Kratos'
// step-up login (browsers) or refused with 403 (API clients). It panics for
// a level other than kratosauth.AAL1 or kratosauth.AAL2.
func RequireAAL(a *kratosauth.Authenticator, aal string) func(http.Handler) http.Handler {
	return a.RequireAAL(aal).Middleware
}

// Require returns middleware for routes whose signed-in users must satisfy
// every one of preds, for example kratosauth.VerifiedEmail() or
// kratosauth.HasRole("roles", "admin"). Requests without a session are
// refused as by RequireSession; a session that fails a predicate gets 403
// (a page for browsers, JSON otherwise), never a redirect to login. It
// panics without predicates. See kratosauth.Authenticator.Require.
func Require(a *kratosauth.Authenticator, preds ...kratosauth.Predicate) func(http.Handler) http.Handler {
	return a.Require(preds...).Middleware
}

// RequirePermission returns middleware for routes whose signed-in users
// the permission service (kratosauth.WithPermissions, e.g. Ory Keto)
// allows relation on namespace:object(r), for example
//
//	kratoshttp.RequirePermission(auth, "Doc", "view", kratoshttp.PathValue("id"))
//
// Not allowed: 403; the permission service unavailable: 503. It panics
// without WithPermissions. See kratosauth.Authenticator.RequirePermission.
func RequirePermission(a *kratosauth.Authenticator, namespace, relation string, object kratosauth.ObjectFunc) func(http.Handler) http.Handler {
	return a.RequirePermission(namespace, relation, object).Middleware
}

// PathValue names a permission's object by the http.ServeMux wildcard name
// of the route ("GET /docs/{id}"). A request without it is refused.
func PathValue(name string) kratosauth.ObjectFunc {
	if name == "" {
		panic("kratoshttp: PathValue: empty name")
	}
	return func(r *http.Request) (string, error) {
		if v := r.PathValue(name); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("kratoshttp: no path value %q", name)
	}
}

// LoadSession returns middleware that attaches the session when the request
// has a valid one and otherwise lets the request through without one, for
// pages that change with the visitor. It refuses a request, through the
// ErrorHandler, only when it cannot tell a visitor from a signed-in user:
// Kratos unavailable or the request canceled (by default 503 and 499).
func LoadSession(a *kratosauth.Authenticator) func(http.Handler) http.Handler {
	return a.LoadSession().Middleware
}

// Session returns the session attached by the middlewares.
func Session(ctx context.Context) (*kratosauth.Session, bool) {
	return kratosauth.SessionFromContext(ctx)
}

// Identity returns the identity of the session attached by the middlewares.
func Identity(ctx context.Context) (*kratosauth.Identity, bool) {
	return kratosauth.IdentityFromContext(ctx)
}

// LoginURL returns Kratos' browser login URL with return_to pointing back to
// r's path and query on the app URL.
func LoginURL(a *kratosauth.Authenticator, r *http.Request) string {
	return a.LoginURL(r)
}

// RedirectToLogin sends the browser to LoginURL with 303 See Other and
// Cache-Control: no-store.
func RedirectToLogin(a *kratosauth.Authenticator, w http.ResponseWriter, r *http.Request) {
	a.RedirectToLogin(w, r)
}
