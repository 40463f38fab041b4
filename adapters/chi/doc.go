// Package kratoschi protects chi routes with Ory Kratos sessions.
//
// The middlewares are those of kratoshttp; this package adds route groups
// so that a router reads as a list of who may see what:
//
//	r := chi.NewRouter()
//	kratoschi.Public(r, auth, func(r chi.Router) {
//		r.Get("/", home)
//	})
//	kratoschi.Protected(r, auth, func(r chi.Router) {
//		r.Get("/dashboard", dashboard)
//	})
//	kratoschi.ProtectedAAL(r, auth, kratosauth.AAL2, func(r chi.Router) {
//		r.Get("/billing", billing)
//	})
package kratoschi
