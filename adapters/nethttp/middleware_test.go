package kratoshttp_test

import (
	"net/http"
	"testing"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/internal/testing/adaptertest"
)

func TestConformance(t *testing.T) {
	adaptertest.Run(t, func(a *kratosauth.Authenticator) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("GET /private", kratoshttp.RequireSession(a)(http.HandlerFunc(whoIs)))
		mux.Handle("GET /aal2", kratoshttp.RequireAAL(a, kratosauth.AAL2)(http.HandlerFunc(whoIs)))
		mux.Handle("GET /public", kratoshttp.LoadSession(a)(http.HandlerFunc(whoIs)))
		return mux
	})
}

func whoIs(w http.ResponseWriter, r *http.Request) {
	if id, ok := kratosauth.IdentityFromContext(r.Context()); ok {
		w.Header().Set("X-Context-Identity", id.ID)
	}
	id, ok := kratoshttp.Identity(r.Context())
	if !ok {
		_, _ = w.Write([]byte("anonymous"))
		return
	}
	_, _ = w.Write([]byte(id.ID))
}
