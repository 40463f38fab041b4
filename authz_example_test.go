package kratosauth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/keto"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// Routes for admins only: a role in metadata_public, which only Kratos'
// admin API can write. Signed-in users without it get 403, never login.
func ExampleAuthenticator_Require() {
	kratos := kratosauthtest.NewServer(&testing.T{}) // in a test: the test's t
	defer kratos.Close()
	auth, _ := kratosauth.New(kratos.URL)
	defer auth.Close()

	admins := auth.Require(kratosauth.HasRole("roles", "admin"), kratosauth.VerifiedEmail())
	h := admins.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "admin area") }))

	ada := kratos.Login(kratosauthtest.WithMetadataPublic(map[string]any{"roles": []string{"admin"}}),
		kratosauthtest.WithVerifiedEmail("ada@example.com"))
	bob := kratos.Login()
	for _, c := range []kratosauthtest.Credentials{ada, bob} {
		for _, accept := range []string{"application/json", "text/html"} {
			r := httptest.NewRequest(http.MethodGet, "/admin", nil)
			r.Header.Set("X-Session-Token", c.Token)
			r.Header.Set("Accept", accept)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			fmt.Println(w.Code, w.Header().Get("Content-Type"), w.Header().Get("Location") == "")
		}
	}
	// Output:
	// 200 text/plain; charset=utf-8 true
	// 200 text/plain; charset=utf-8 true
	// 403 application/json; charset=utf-8 true
	// 403 text/html; charset=utf-8 true
}

// A route for members of the group "admins" in Ory Keto: allowed, denied,
// and Keto down.
func ExampleAuthenticator_RequirePermission() {
	t := &testing.T{} // in a test: the test's t
	kratos, ketoServer := kratosauthtest.NewServer(t), kratosauthtest.NewKeto(t)
	defer kratos.Close()
	defer ketoServer.Close()

	perms, _ := keto.New(ketoServer.URL) // Keto's read API, e.g. http://127.0.0.1:4466
	defer perms.Close()
	auth, _ := kratosauth.New(kratos.URL, kratosauth.WithPermissions(perms))
	defer auth.Close()
	h := auth.RequirePermission("Group", "members", kratosauth.Object("admins")).
		Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "admin area") }))

	ada, bob := kratos.Login(), kratos.Login()
	ketoServer.Grant("Group", "admins", "members", ada.Session.Identity.ID)
	get := func(c kratosauthtest.Credentials) int {
		r := httptest.NewRequest(http.MethodGet, "/admin", nil)
		r.Header.Set("X-Session-Token", c.Token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	fmt.Println(get(ada), get(bob))
	ketoServer.Fail(kratosauthtest.Status(http.StatusInternalServerError))
	fmt.Println(get(bob)) // Keto down: 503, never 403 (and never 200)
	// Output:
	// 200 403
	// 503
}

func ExampleMetadataPublic() {
	s := kratosauthtest.NewSession(kratosauthtest.WithMetadataPublic(map[string]any{"org": map[string]any{"id": "acme", "seats": 12}}))
	seats, err := kratosauth.MetadataPublic[int](s, "org.seats")
	fmt.Println(seats, err)
	_, err = kratosauth.MetadataPublic[string](s, "org.seats")
	fmt.Println(err != nil)
	// Output:
	// 12 <nil>
	// true
}
