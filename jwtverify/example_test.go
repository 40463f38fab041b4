package kratosjwt_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/kratosauth/kratosauth/internal/testing/jwtkit"
	kratosjwt "github.com/kratosauth/kratosauth/jwtverify"
)

// exampleKratos stands in for Kratos' tokenizer: a signing key whose public
// JWKS is written to a file, and a token of the kind whoami?tokenize_as=
// returns (with the README's claims mapper: aud, email).
func exampleKratos() (jwksURL, token string, cleanup func()) {
	key := jwtkit.NewES256("kratos-1")
	dir, err := os.MkdirTemp("", "kratosjwt-example")
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "jwks.public.json")
	if err := os.WriteFile(path, jwtkit.PublicJWKS(key), 0o600); err != nil {
		log.Fatal(err)
	}
	c := jwtkit.KratosClaims("http://127.0.0.1:4433/", "9a2b", "5f1c", time.Minute)
	c["aud"] = []string{"orders"}
	c["email"] = "ada@example.com"
	return "file://" + path, key.Sign(c), func() { os.RemoveAll(dir) }
}

type orderClaims struct {
	Email string `json:"email"`
}

func orders(w http.ResponseWriter, r *http.Request) {
	c, _ := kratosjwt.FromContext(r.Context()) // always there behind Middleware
	oc, _ := kratosjwt.As[orderClaims](c)
	fmt.Fprintf(w, "orders of %s (%s)", c.Subject, oc.Email)
}

func Example() {
	jwksURL, token, cleanup := exampleKratos()
	defer cleanup()

	v, err := kratosjwt.New(jwksURL,
		kratosjwt.WithIssuer("http://127.0.0.1:4433/"), // Kratos' serve.public.base_url
		kratosjwt.WithAudience("orders"))               // set by the claims mapper
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/orders", v.Middleware(http.HandlerFunc(orders)))

	for _, authorization := range []string{"Bearer " + token, "Bearer " + token + "x", ""} {
		r := httptest.NewRequest(http.MethodGet, "/api/orders", nil)
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 200 orders of 9a2b (ada@example.com)
	// 401 {"error":{"code":401,"status":"Unauthorized","reason":"No valid session credentials found in the request.","message":"The request could not be authorized"}}
	//
	// 401 {"error":{"code":401,"status":"Unauthorized","reason":"No valid session credentials found in the request.","message":"The request could not be authorized"}}
}

// With chi, the Verifier's Middleware is chi middleware as it is.
func Example_chi() {
	jwksURL, token, cleanup := exampleKratos()
	defer cleanup()
	v, err := kratosjwt.New(jwksURL, kratosjwt.WithIssuer("http://127.0.0.1:4433/"))
	if err != nil {
		log.Fatal(err)
	}
	r := chi.NewRouter()
	r.Group(func(r chi.Router) {
		r.Use(v.Middleware)
		r.Get("/api/orders", orders)
	})

	req := httptest.NewRequest(http.MethodGet, "/api/orders", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Body.String())
	// Output: 200 orders of 9a2b (ada@example.com)
}
