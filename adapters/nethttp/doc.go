// Package kratoshttp protects net/http handlers with Ory Kratos sessions.
//
// Build one kratosauth.Authenticator when the app starts and wrap handlers
// with its middlewares:
//
//	auth, err := kratosauth.New("http://127.0.0.1:4433",
//		kratosauth.WithAppURL("https://app.example.com"))
//	...
//	mux.Handle("/dashboard", kratoshttp.RequireSession(auth)(dashboard))
//	mux.Handle("/", kratoshttp.LoadSession(auth)(home))
//
// Inside a handler, Session(r.Context()) and Identity(r.Context()) return
// what the middleware attached.
//
// The middlewares are plain func(http.Handler) http.Handler and work with
// any router built on net/http; package kratoschi adds chi route-group
// helpers and package kratosgin adapts them to gin.
package kratoshttp
