package kratoschi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/kratosauth/kratosauth"
)

// RequireSession is chi middleware that lets a request through only with a
// valid Kratos session (see kratosauth.Authenticator.RequireSession).
func RequireSession(a *kratosauth.Authenticator) func(http.Handler) http.Handler {
	return a.RequireSession().Middleware
}

// RequireAAL is chi middleware that also demands an assurance level,
// kratosauth.AAL1 or kratosauth.AAL2; it panics for any other level (see
// kratosauth.Authenticator.RequireAAL).
func RequireAAL(a *kratosauth.Authenticator, aal string) func(http.Handler) http.Handler {
	return a.RequireAAL(aal).Middleware
}

// Require is chi middleware for routes whose signed-in users must satisfy
// every one of preds; a session that fails one gets 403, never a redirect
// to login. It panics without predicates (see
// kratosauth.Authenticator.Require).
//
//	r.With(kratoschi.Require(auth, kratosauth.HasRole("roles", "admin"))).Get("/admin", admin)
func Require(a *kratosauth.Authenticator, preds ...kratosauth.Predicate) func(http.Handler) http.Handler {
	return a.Require(preds...).Middleware
}

// RequirePermission is chi middleware for routes whose signed-in users the
// permission service (kratosauth.WithPermissions, e.g. Ory Keto) allows
// relation on namespace:object(r):
//
//	r.With(kratoschi.RequirePermission(auth, "Doc", "view", kratoschi.URLParam("id"))).Get("/docs/{id}", doc)
//
// Not allowed: 403; the permission service unavailable: 503. It panics
// without WithPermissions (see kratosauth.Authenticator.RequirePermission).
func RequirePermission(a *kratosauth.Authenticator, namespace, relation string, object kratosauth.ObjectFunc) func(http.Handler) http.Handler {
	return a.RequirePermission(namespace, relation, object).Middleware
}

// URLParam names a permission's object by the chi URL parameter of the
// route ("/docs/{id}"). A request without it is refused.
func URLParam(name string) kratosauth.ObjectFunc {
	if name == "" {
		panic("kratoschi: URLParam: empty name")
	}
	return func(r *http.Request) (string, error) {
		if v := chi.URLParam(r, name); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("kratoschi: no URL parameter %q", name)
	}
}

// LoadSession is chi middleware that attaches the session when there is one
// (see kratosauth.Authenticator.LoadSession).
func LoadSession(a *kratosauth.Authenticator) func(http.Handler) http.Handler {
	return a.LoadSession().Middleware
}

// Protected adds a route group to r whose routes all require a session:
//
//	kratoschi.Protected(r, auth, func(r chi.Router) {
//		r.Get("/dashboard", dashboard)
//		r.Get("/api/me", me)
//	})
//
// It returns the group, like chi.Router.Group.
func Protected(r chi.Router, a *kratosauth.Authenticator, routes func(chi.Router)) chi.Router {
	return r.Group(func(g chi.Router) {
		g.Use(a.RequireSession().Middleware)
		routes(g)
	})
}

// ProtectedAAL adds a route group to r whose routes all require a session
// at the given assurance level, e.g. kratosauth.AAL2 for account settings.
func ProtectedAAL(r chi.Router, a *kratosauth.Authenticator, aal string, routes func(chi.Router)) chi.Router {
	return r.Group(func(g chi.Router) {
		g.Use(a.RequireAAL(aal).Middleware)
		routes(g)
	})
}

// Public adds a route group to r whose routes see the session when there is
// one and are served without it otherwise (LoadSession).
func Public(r chi.Router, a *kratosauth.Authenticator, routes func(chi.Router)) chi.Router {
	return r.Group(func(g chi.Router) {
		g.Use(a.LoadSession().Middleware)
		routes(g)
	})
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
