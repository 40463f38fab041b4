package kratosauth_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/kratosauth/kratosauth"
)

// A stand-in for Kratos' GET /sessions/whoami, answering like Kratos v1.3.1.
func exampleKratos() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Session-Token") != "ory_st_example" && r.Header.Get("Authorization") != "Bearer ory_st_example" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"code":401,"status":"Unauthorized","message":"The request could not be authorized"}}`)
			return
		}
		fmt.Fprint(w, `{"id":"5f1c","active":true,"expires_at":"2099-01-01T00:00:00Z",
			"authenticator_assurance_level":"aal1",
			"identity":{"id":"9a2b","schema_id":"default","traits":{"email":"ada@example.com"}}}`)
	}))
}

func ExampleAuthenticator_Authenticate() {
	kratos := exampleKratos()
	defer kratos.Close()

	auth, err := kratosauth.New(kratos.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()

	r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	r.Header.Set("X-Session-Token", "ory_st_example")
	s, err := auth.Authenticate(r)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Identity.ID, s.AuthenticatorAssuranceLevel)

	r.Header.Set("X-Session-Token", "ory_st_revoked")
	_, err = auth.Authenticate(r)
	fmt.Println(err)
	// Output:
	// 9a2b aal1
	// kratosauth: invalid or expired session: whoami: 401 no active session
}

func ExampleTraits() {
	kratos := exampleKratos()
	defer kratos.Close()
	auth, _ := kratosauth.New(kratos.URL)
	defer auth.Close()

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer ory_st_example")
	s, _ := auth.Authenticate(r)

	type traits struct {
		Email string `json:"email"`
	}
	t, err := kratosauth.Traits[traits](s)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Email)
	// Output: ada@example.com
}

func ExampleAuthenticator_LoginURL() {
	auth, _ := kratosauth.New("http://kratos:4433",
		kratosauth.WithBrowserURL("https://auth.example.com"),
		kratosauth.WithAppURL("https://app.example.com"))
	defer auth.Close()

	r := httptest.NewRequest(http.MethodGet, "/dashboard?tab=billing", nil)
	r.Host = "attacker.example" // ignored: return_to uses the app URL
	fmt.Println(auth.LoginURL(r))
	// Output: https://auth.example.com/self-service/login/browser?return_to=https%3A%2F%2Fapp.example.com%2Fdashboard%3Ftab%3Dbilling
}

func ExampleNew() {
	_, err := kratosauth.New("ftp://127.0.0.1:4433")
	fmt.Println(err)
	// Output: kratosauth: invalid Kratos public URL "ftp://127.0.0.1:4433": scheme must be http or https
}
