package kratosgin

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kratosauth/kratosauth"
)

// RequireSession returns gin middleware that lets a request through only
// with a valid Kratos session. Refused requests are answered by the
// Authenticator's ErrorHandler (by default 303 to login for browsers, JSON
// 401 for API clients, 503 when Kratos is unavailable), recorded with
// c.Error and aborted. See kratosauth.Authenticator.RequireSession.
func RequireSession(a *kratosauth.Authenticator) gin.HandlerFunc {
	return handler(a.RequireSession())
}

// RequireAAL is RequireSession for routes that need a stronger session,
// kratosauth.AAL1 or kratosauth.AAL2; it panics for any other level.
func RequireAAL(a *kratosauth.Authenticator, aal string) gin.HandlerFunc {
	return handler(a.RequireAAL(aal))
}

// Require returns gin middleware for routes whose signed-in users must
// satisfy every one of preds; a session that fails one gets 403 (a page
// for browsers, JSON otherwise), never a redirect to login. It panics
// without predicates (see kratosauth.Authenticator.Require).
//
//	admin := r.Group("/admin", kratosgin.Require(auth, kratosauth.HasRole("roles", "admin")))
func Require(a *kratosauth.Authenticator, preds ...kratosauth.Predicate) gin.HandlerFunc {
	return handler(a.Require(preds...))
}

// RequirePermission returns gin middleware for routes whose signed-in
// users the permission service (kratosauth.WithPermissions, e.g. Ory Keto)
// allows relation on namespace:object:
//
//	r.GET("/docs/:id", kratosgin.RequirePermission(auth, "Doc", "view", kratosgin.Param("id")), doc)
//
// Not allowed: 403; the permission service unavailable: 503. It panics
// without WithPermissions (see kratosauth.Authenticator.RequirePermission).
// The route's parameters are also set as the request's path values
// (c.Request.PathValue), which is where Param and other
// kratosauth.ObjectFuncs read them; a catch-all's without its leading
// slash ("/files/*path" on /files/a/b: "a/b"), as in the other adapters.
func RequirePermission(a *kratosauth.Authenticator, namespace, relation string, object kratosauth.ObjectFunc) gin.HandlerFunc {
	check := handler(a.RequirePermission(namespace, relation, object))
	return func(c *gin.Context) {
		route := c.FullPath()
		for _, p := range c.Params {
			v := p.Value
			if strings.HasSuffix(route, "/*"+p.Key) {
				// gin keeps the slash before a catch-all's value; net/http,
				// chi and echo do not, and the object must be the same.
				v = strings.TrimPrefix(v, "/")
			}
			c.Request.SetPathValue(p.Key, v)
		}
		check(c)
	}
}

// Param names a permission's object by the gin route parameter name
// ("/docs/:id" or "/files/*path"), for RequirePermission. A request
// without it is refused.
func Param(name string) kratosauth.ObjectFunc {
	if name == "" {
		panic("kratosgin: Param: empty name")
	}
	return func(r *http.Request) (string, error) {
		if v := r.PathValue(name); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("kratosgin: no route parameter %q", name)
	}
}

// LoadSession returns gin middleware that attaches the session when there
// is a valid one and otherwise continues without it. It refuses a request
// only when it cannot tell a visitor from a signed-in user: Kratos
// unavailable or the request canceled (by default 503 and 499).
func LoadSession(a *kratosauth.Authenticator) gin.HandlerFunc {
	return handler(a.LoadSession())
}

// handler translates a Guard to gin. The session goes into the request's
// context (c.Request is replaced, as otelgin does), so net/http helpers such
// as kratosauth.SessionFromContext(c.Request.Context()) work in gin
// handlers too.
func handler(g *kratosauth.Guard) gin.HandlerFunc {
	return func(c *gin.Context) {
		r, err := g.Check(c.Writer, c.Request)
		if err != nil {
			_ = c.Error(err).SetType(gin.ErrorTypePrivate)
			c.Abort()
			return
		}
		c.Request = r
		c.Next()
	}
}

// Session returns the session attached by the middlewares.
func Session(c *gin.Context) (*kratosauth.Session, bool) {
	return kratosauth.SessionFromContext(c.Request.Context())
}

// Identity returns the identity of the session attached by the middlewares.
func Identity(c *gin.Context) (*kratosauth.Identity, bool) {
	return kratosauth.IdentityFromContext(c.Request.Context())
}

// LoginURL returns Kratos' browser login URL with return_to pointing back to
// the request's path and query on the app URL.
func LoginURL(a *kratosauth.Authenticator, c *gin.Context) string {
	return a.LoginURL(c.Request)
}

// RedirectToLogin sends the browser to LoginURL with 303 See Other and
// aborts the handler chain.
func RedirectToLogin(a *kratosauth.Authenticator, c *gin.Context) {
	a.RedirectToLogin(c.Writer, c.Request)
	c.Abort()
}
