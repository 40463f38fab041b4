package kratoshttp_test

import (
	"net/http"
	"testing"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/internal/testing/adaptertest"
)

func TestAuthzConformance(t *testing.T) {
	adaptertest.RunAuthz(t, func(a *kratosauth.Authenticator) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("GET /admin", kratoshttp.Require(a, kratosauth.HasRole("roles", "admin"))(http.HandlerFunc(whoIs)))
		mux.Handle("GET /docs/{id}", kratoshttp.RequirePermission(a, "Doc", "view", kratoshttp.PathValue("id"))(http.HandlerFunc(whoIs)))
		return mux
	})
}
