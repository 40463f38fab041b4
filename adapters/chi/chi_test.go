package kratoschi_test

import (
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/adapters/chi"
	"github.com/kratosauth/kratosauth/internal/testing/adaptertest"
)

func TestConformance(t *testing.T) {
	adaptertest.Run(t, func(a *kratosauth.Authenticator) http.Handler {
		r := chi.NewRouter()
		kratoschi.Protected(r, a, func(r chi.Router) {
			r.Get("/private", whoIs)
		})
		kratoschi.ProtectedAAL(r, a, kratosauth.AAL2, func(r chi.Router) {
			r.Get("/aal2", whoIs)
		})
		kratoschi.Public(r, a, func(r chi.Router) {
			r.Get("/public", whoIs)
		})
		return r
	})
}

// The plain middlewares work with r.With as well as with the group helpers.
func TestConformanceWithMiddlewares(t *testing.T) {
	adaptertest.Run(t, func(a *kratosauth.Authenticator) http.Handler {
		r := chi.NewRouter()
		r.With(kratoschi.RequireSession(a)).Get("/private", whoIs)
		r.With(kratoschi.RequireAAL(a, kratosauth.AAL2)).Get("/aal2", whoIs)
		r.With(kratoschi.LoadSession(a)).Get("/public", whoIs)
		return r
	})
}

func whoIs(w http.ResponseWriter, r *http.Request) {
	if id, ok := kratosauth.IdentityFromContext(r.Context()); ok {
		w.Header().Set("X-Context-Identity", id.ID)
	}
	id, ok := kratoschi.Identity(r.Context())
	if !ok {
		_, _ = w.Write([]byte("anonymous"))
		return
	}
	_, _ = w.Write([]byte(id.ID))
}
