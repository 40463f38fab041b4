// Package kratosgin protects gin routes with Ory Kratos sessions.
//
// It lives in its own Go module so that users of net/http and chi never
// download gin's dependencies.
//
//	auth, err := kratosauth.New("http://127.0.0.1:4433",
//		kratosauth.WithAppURL("https://app.example.com"))
//	...
//	r := gin.New()
//	r.GET("/", kratosgin.LoadSession(auth), home)
//	private := r.Group("/", kratosgin.RequireSession(auth))
//	private.GET("/dashboard", dashboard)
//
// Handlers read the session with Session(c) or Identity(c). The middlewares
// also put it in c.Request's context, so code written for net/http
// (kratosauth.SessionFromContext(c.Request.Context())) works unchanged.
package kratosgin
