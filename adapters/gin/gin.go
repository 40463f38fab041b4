package kratosgin

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kratosauth/kratosauth"
)

// RequireSession returns gin middleware that lets a request through only
// with a valid Kratos session. Refused requests are answered by the
// Authenticator's ErrorHandler (by default 303 to login for browsers, JSON
// 401 for API clients, 503 when Kratos is unavailable), recorded with
// c.Error and aborted.
func RequireSession(a *kratosauth.Authenticator) gin.HandlerFunc {
	return require(a, a.Authenticate)
}

// RequireAAL is RequireSession for routes that need a stronger session, such
// as kratosauth.AAL2.
func RequireAAL(a *kratosauth.Authenticator, aal string) gin.HandlerFunc {
	return require(a, func(r *http.Request) (*kratosauth.Session, error) { return a.RequireAAL(r, aal) })
}

func require(a *kratosauth.Authenticator, authenticate func(*http.Request) (*kratosauth.Session, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		s, err := authenticate(c.Request)
		if err != nil {
			refuse(a, c, err)
			return
		}
		attach(c, s)
		c.Next()
	}
}

// LoadSession returns gin middleware that attaches the session when there
// is a valid one and otherwise continues without it. It refuses a request
// only when Kratos is unavailable (by default 503).
func LoadSession(a *kratosauth.Authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		s, err := a.Authenticate(c.Request)
		switch {
		case err == nil:
			attach(c, s)
		case errors.Is(err, kratosauth.ErrUnavailable):
			refuse(a, c, err)
			return
		}
		c.Next()
	}
}

// attach stores the session in the request's context, so that net/http
// helpers such as kratosauth.SessionFromContext(c.Request.Context()) work
// in gin handlers too.
func attach(c *gin.Context, s *kratosauth.Session) {
	c.Request = c.Request.WithContext(kratosauth.NewContext(c.Request.Context(), s))
}

func refuse(a *kratosauth.Authenticator, c *gin.Context, err error) {
	_ = c.Error(err).SetType(gin.ErrorTypePrivate)
	a.HandleError(c.Writer, c.Request, err)
	c.Abort()
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
