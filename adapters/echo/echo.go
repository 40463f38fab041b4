package kratosecho

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/kratosauth/kratosauth"
)

// RequireSession returns echo middleware that lets a request through only
// with a valid Kratos session. Refused requests are answered by the
// Authenticator's ErrorHandler (by default 303 to login for browsers, JSON
// 401 for API clients, 503 when Kratos is unavailable) and the middleware
// returns the error. See kratosauth.Authenticator.RequireSession.
func RequireSession(a *kratosauth.Authenticator) echo.MiddlewareFunc {
	return middleware(a.RequireSession())
}

// RequireAAL is RequireSession for routes that need a stronger session,
// kratosauth.AAL1 or kratosauth.AAL2; it panics for any other level.
func RequireAAL(a *kratosauth.Authenticator, aal string) echo.MiddlewareFunc {
	return middleware(a.RequireAAL(aal))
}

// Require returns echo middleware for routes whose signed-in users must
// satisfy every one of preds; a session that fails one gets 403 (a page
// for browsers, JSON otherwise), never a redirect to login. It panics
// without predicates (see kratosauth.Authenticator.Require).
//
//	admin := e.Group("/admin", kratosecho.Require(auth, kratosauth.HasRole("roles", "admin")))
func Require(a *kratosauth.Authenticator, preds ...kratosauth.Predicate) echo.MiddlewareFunc {
	return middleware(a.Require(preds...))
}

// RequirePermission returns echo middleware for routes whose signed-in
// users the permission service (kratosauth.WithPermissions, e.g. Ory Keto)
// allows relation on namespace:object:
//
//	e.GET("/docs/:id", doc, kratosecho.RequirePermission(auth, "Doc", "view", kratosecho.Param("id")))
//
// Not allowed: 403; the permission service unavailable: 503. It panics
// without WithPermissions (see kratosauth.Authenticator.RequirePermission).
// The route's parameters are also set as the request's path values
// (c.Request().PathValue), which is where Param and other
// kratosauth.ObjectFuncs read them.
func RequirePermission(a *kratosauth.Authenticator, namespace, relation string, object kratosauth.ObjectFunc) echo.MiddlewareFunc {
	check := middleware(a.RequirePermission(namespace, relation, object))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		checked := check(next)
		return func(c echo.Context) error {
			values := c.ParamValues()
			for i, name := range c.ParamNames() {
				if i < len(values) {
					c.Request().SetPathValue(name, values[i])
				}
			}
			return checked(c)
		}
	}
}

// Param names a permission's object by the echo route parameter name
// ("/docs/:id", or "*" for "/files/*"), for RequirePermission. A request
// without it is refused.
func Param(name string) kratosauth.ObjectFunc {
	if name == "" {
		panic("kratosecho: Param: empty name")
	}
	return func(r *http.Request) (string, error) {
		if v := r.PathValue(name); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("kratosecho: no route parameter %q", name)
	}
}

// LoadSession returns echo middleware that attaches the session when there
// is a valid one and otherwise continues without it. It refuses a request
// only when it cannot tell a visitor from a signed-in user: Kratos
// unavailable or the request canceled (by default 503 and 499).
func LoadSession(a *kratosauth.Authenticator) echo.MiddlewareFunc {
	return middleware(a.LoadSession())
}

// middleware translates a Guard to echo. The session goes into the
// request's context (c.SetRequest), so net/http helpers such as
// kratosauth.SessionFromContext(c.Request().Context()) work in echo
// handlers too.
func middleware(g *kratosauth.Guard) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r, err := g.Check(c.Response(), c.Request())
			if err != nil {
				return err // answered already: c.Response().Committed
			}
			c.SetRequest(r)
			return next(c)
		}
	}
}

// Session returns the session attached by the middlewares.
func Session(c echo.Context) (*kratosauth.Session, bool) {
	return kratosauth.SessionFromContext(c.Request().Context())
}

// Identity returns the identity of the session attached by the middlewares.
func Identity(c echo.Context) (*kratosauth.Identity, bool) {
	return kratosauth.IdentityFromContext(c.Request().Context())
}

// LoginURL returns Kratos' browser login URL with return_to pointing back to
// the request's path and query on the app URL.
func LoginURL(a *kratosauth.Authenticator, c echo.Context) string {
	return a.LoginURL(c.Request())
}

// RedirectToLogin sends the browser to LoginURL with 303 See Other and
// Cache-Control: no-store.
// Return its result from the handler.
func RedirectToLogin(a *kratosauth.Authenticator, c echo.Context) error {
	a.RedirectToLogin(c.Response(), c.Request())
	return nil
}
