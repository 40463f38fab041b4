package kratosauth_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

func ExampleAuthenticator_Authenticate() {
	t := &testing.T{} // in a test: the test's *testing.T
	// A fake Kratos answering as v1.3.1 does, with one user signed in.
	kratos := kratosauthtest.NewServer(t)
	defer kratos.Close()
	ada := kratos.Login(kratosauthtest.WithIdentityID("9a2b5f1c-6c1e-4b7d-9a51-0f3e2d1c4b5a"))

	auth, err := kratosauth.New(kratos.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()

	r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	r.Header.Set("X-Session-Token", ada.Token)
	s, err := auth.Authenticate(r)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Identity.ID, s.AuthenticatorAssuranceLevel)

	r.Header.Set("X-Session-Token", "ory_st_revoked")
	_, err = auth.Authenticate(r)
	fmt.Println(err)
	// Output:
	// 9a2b5f1c-6c1e-4b7d-9a51-0f3e2d1c4b5a aal1
	// kratosauth: invalid or expired session: whoami: 401 no active session
}

func ExampleTraits() {
	t := &testing.T{} // in a test: the test's *testing.T
	kratos := kratosauthtest.NewServer(t)
	defer kratos.Close()
	ada := kratos.Login(kratosauthtest.WithTraits(map[string]string{"email": "ada@example.com"}))
	auth, _ := kratosauth.New(kratos.URL)
	defer auth.Close()

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+ada.Token)
	s, _ := auth.Authenticate(r)

	type traits struct {
		Email string `json:"email"`
	}
	tr, err := kratosauth.Traits[traits](s)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tr.Email)
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
