package kratoshttp_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/adapters/nethttp"
)

func ExampleRequireSession() {
	auth, err := kratosauth.New("http://127.0.0.1:4433",
		kratosauth.WithAppURL("https://app.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /dashboard", kratoshttp.RequireSession(auth)(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			id, _ := kratoshttp.Identity(r.Context())
			fmt.Fprintf(w, "hello %s", id.ID)
		})))

	// A browser without a session is sent to Kratos' login flow...
	r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	r.Header.Set("Accept", "text/html")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("Location"))

	// ...and an API client gets Kratos' JSON error.
	r = httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// 303 http://127.0.0.1:4433/self-service/login/browser?return_to=https%3A%2F%2Fapp.example.com%2Fdashboard
	// 401 {"error":{"code":401,"status":"Unauthorized","reason":"No valid session credentials found in the request.","message":"The request could not be authorized"}}
}

func ExampleLoadSession() {
	auth, _ := kratosauth.New("http://127.0.0.1:4433")
	defer auth.Close()

	home := kratoshttp.LoadSession(auth)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := kratoshttp.Session(r.Context()); ok {
			fmt.Fprint(w, "welcome back")
			return
		}
		fmt.Fprint(w, "welcome, visitor")
	}))
	w := httptest.NewRecorder()
	home.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Println(w.Code, w.Body.String())
	// Output: 200 welcome, visitor
}

// A handler that decides by itself that a visitor must sign in, for example
// before a purchase, sends them to login and back.
func ExampleRedirectToLogin() {
	auth, _ := kratosauth.New("http://127.0.0.1:4433", kratosauth.WithAppURL("https://shop.example.com"))
	defer auth.Close()
	buy := kratoshttp.LoadSession(auth)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := kratoshttp.Session(r.Context()); !ok {
			kratoshttp.RedirectToLogin(auth, w, r)
			return
		}
	}))
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/buy?item=42", nil)
	buy.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("Location") == kratoshttp.LoginURL(auth, r))
	fmt.Println(kratoshttp.LoginURL(auth, r))
	// Output:
	// 303 true
	// http://127.0.0.1:4433/self-service/login/browser?return_to=https%3A%2F%2Fshop.example.com%2Fbuy%3Fitem%3D42
}
