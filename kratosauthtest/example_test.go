package kratosauthtest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/kratosauth/kratosauth"
	kratoschi "github.com/kratosauth/kratosauth/adapters/chi"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// hello is the app's handler under test.
func hello(w http.ResponseWriter, r *http.Request) {
	s, _ := kratosauth.SessionFromContext(r.Context())
	t, _ := kratosauth.Traits[struct{ Email string }](s)
	fmt.Fprintf(w, "hello %s", t.Email)
}

// Testing a net/http handler behind RequireSession: signed in, signed out,
// and Kratos down.
func Example() {
	t := &testing.T{} // in a test: the test's *testing.T
	kratos := kratosauthtest.NewServer(t)
	auth, _ := kratosauth.New(kratos.URL, kratosauth.WithCacheTTL(0))
	defer auth.Close()
	app := kratoshttp.RequireSession(auth)(http.HandlerFunc(hello))

	alice := kratos.Login(kratosauthtest.WithTraits(map[string]string{"email": "alice@example.com"}))
	get := func(token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if token != "" {
			r.Header.Set("X-Session-Token", token)
		}
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		return w
	}
	w := get(alice.Token)
	fmt.Println(w.Code, w.Body.String())
	fmt.Println(get("").Code)

	kratos.Fail(kratosauthtest.Status(http.StatusInternalServerError))
	fmt.Println(get(alice.Token).Code)
	kratos.Close()
	// Output:
	// 200 hello alice@example.com
	// 401
	// 503
}

// Testing a chi route group that needs a second factor.
func Example_chi() {
	t := &testing.T{}
	kratos := kratosauthtest.NewServer(t)
	defer kratos.Close()
	auth, _ := kratosauth.New(kratos.URL)
	defer auth.Close()
	r := chi.NewRouter()
	kratoschi.ProtectedAAL(r, auth, kratosauth.AAL2, func(r chi.Router) { r.Get("/settings", hello) })

	for _, c := range []kratosauthtest.Credentials{kratos.Login(), kratos.Login(kratosauthtest.WithAAL2())} {
		req := httptest.NewRequest(http.MethodGet, "/settings", nil)
		req.AddCookie(c.Cookie)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Println(c.Session.AuthenticatorAssuranceLevel, w.Code)
	}
	// Output:
	// aal1 403
	// aal2 200
}

// Testing the handler alone, with the session a middleware would attach.
func ExampleNewRequest() {
	s := kratosauthtest.NewSession(kratosauthtest.WithTraits(map[string]string{"email": "bob@example.com"}))
	r := kratosauthtest.NewRequest(httptest.NewRequest(http.MethodGet, "/", nil), s)
	w := httptest.NewRecorder()
	hello(w, r)
	fmt.Println(w.Body.String())
	// Output: hello bob@example.com
}
