package kratoschi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/go-chi/chi/v5"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/adapters/chi"
)

func ExampleProtected() {
	auth, _ := kratosauth.New("http://127.0.0.1:4433",
		kratosauth.WithAppURL("https://app.example.com"))
	defer auth.Close()

	r := chi.NewRouter()
	kratoschi.Public(r, auth, func(r chi.Router) {
		r.Get("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "home") })
	})
	kratoschi.Protected(r, auth, func(r chi.Router) {
		r.Get("/dashboard", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "dashboard") })
	})

	for _, path := range []string{"/", "/dashboard"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Accept", "text/html")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Printf("%s %d %q\n", path, w.Code, w.Header().Get("Location"))
	}
	// Output:
	// / 200 ""
	// /dashboard 303 "http://127.0.0.1:4433/self-service/login/browser?return_to=https%3A%2F%2Fapp.example.com%2Fdashboard"
}

// A public route that sends visitors to login only for some actions.
func ExampleRedirectToLogin() {
	auth, _ := kratosauth.New("http://127.0.0.1:4433", kratosauth.WithAppURL("https://shop.example.com"))
	defer auth.Close()
	r := chi.NewRouter()
	kratoschi.Public(r, auth, func(r chi.Router) {
		r.Get("/buy", func(w http.ResponseWriter, r *http.Request) {
			if _, ok := kratoschi.Session(r.Context()); !ok {
				kratoschi.RedirectToLogin(auth, w, r)
			}
		})
	})
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/buy?item=42", nil)
	r.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Header().Get("Location") == kratoschi.LoginURL(auth, req))
	fmt.Println(kratoschi.LoginURL(auth, req))
	// Output:
	// 303 true
	// http://127.0.0.1:4433/self-service/login/browser?return_to=https%3A%2F%2Fshop.example.com%2Fbuy%3Fitem%3D42
}
