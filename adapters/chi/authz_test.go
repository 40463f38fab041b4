package kratoschi_test

import (
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/adapters/chi"
	"github.com/kratosauth/kratosauth/internal/testing/adaptertest"
)

func TestAuthzConformance(t *testing.T) {
	adaptertest.RunAuthz(t, func(a *kratosauth.Authenticator) http.Handler {
		r := chi.NewRouter()
		r.With(kratoschi.Require(a, kratosauth.HasRole("roles", "admin"))).Get("/admin", whoIs)
		r.With(kratoschi.RequirePermission(a, "Doc", "view", kratoschi.URLParam("id"))).Get("/docs/{id}", whoIs)
		return r
	})
}
