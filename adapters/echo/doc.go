// Package kratosecho protects echo routes with Ory Kratos sessions.
//
// It lives in its own Go module so that users of net/http and chi never
// download echo's dependencies.
//
// It is written for echo v4 (github.com/labstack/echo/v4), not v5: v4 is
// what the echo documentation, its middleware ecosystem and nearly every
// existing echo app use, while v5 changed the handler signature (a
// *echo.Context struct) and was still settling when this adapter was
// written. A v5 adapter would be a separate module.
//
//	auth, err := kratosauth.New("http://127.0.0.1:4433",
//		kratosauth.WithAppURL("https://app.example.com"))
//	...
//	e := echo.New()
//	e.GET("/", home, kratosecho.LoadSession(auth))
//	private := e.Group("", kratosecho.RequireSession(auth))
//	private.GET("/dashboard", dashboard)
//
// Handlers read the session with Session(c) or Identity(c). The middlewares
// also put it in c.Request()'s context, so code written for net/http
// (kratosauth.SessionFromContext(c.Request().Context())) works unchanged.
//
// A refused request has been answered by the Authenticator's ErrorHandler
// when the middleware returns its error (a *kratosauth.Error): echo's
// default HTTPErrorHandler leaves a committed response alone, and a
// custom one must do the same (check c.Response().Committed).
package kratosecho
