// Package kratosecho protects echo routes with Ory Kratos sessions.
//
// It lives in its own Go module so that users of net/http and chi never
// download echo's dependencies.
//
// It is written for echo v4 (github.com/labstack/echo/v4), the line that
// nearly all existing echo apps and their middleware use, which echo
// maintains with bug and security fixes. echo's own README now points new
// projects at v5, whose handlers take a *echo.Context struct instead of
// the echo.Context interface: an adapter for it would be a module of its
// own beside this one, with the same conformance suite.
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
