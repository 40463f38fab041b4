package selfservice_test

import (
	"fmt"
	"html/template"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/go-chi/chi/v5"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/selfservice"
)

func Example() {
	auth, err := kratosauth.New("http://127.0.0.1:4433",
		kratosauth.WithAppURL("https://app.example.com"),
		kratosauth.WithBrowserURL("https://auth.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	ui, err := selfservice.New(auth, selfservice.WithSiteName("Example"))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	fmt.Println(ui.Paths())

	// A page without ?flow= starts the flow at Kratos.
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/login?return_to=/dashboard", nil))
	fmt.Println(w.Code, w.Header().Get("Location"))
	// Output:
	// [/login /registration /settings /verification /recovery /error /logout]
	// 303 https://auth.example.com/self-service/login/browser?return_to=https%3A%2F%2Fapp.example.com%2Fdashboard
}

// Mounting the pages below a prefix in chi: the base path must match the
// ui_url paths configured in Kratos (here https://app.example.com/auth/login...).
func ExampleWithBasePath_chi() {
	auth, err := kratosauth.New("http://127.0.0.1:4433", kratosauth.WithAppURL("https://app.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	ui, err := selfservice.New(auth, selfservice.WithBasePath("/auth"))
	if err != nil {
		log.Fatal(err)
	}
	r := chi.NewRouter()
	r.Mount("/auth", ui)

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/auth/registration", nil))
	fmt.Println(w.Code, w.Header().Get("Location"))
	fmt.Println(ui.URL(selfservice.ErrorPage))
	// Output:
	// 303 http://127.0.0.1:4433/self-service/registration/browser
	// https://app.example.com/auth/error
}

func ExampleClient_SafeReturnTo() {
	auth, err := kratosauth.New("http://127.0.0.1:4433", kratosauth.WithAppURL("https://app.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	c, err := selfservice.NewClient(auth)
	if err != nil {
		log.Fatal(err)
	}
	for _, raw := range []string{
		"/dashboard?tab=2",
		"https://app.example.com/settings",
		"//evil.example",
		"https:evil.example",
		`/\evil.example`,
		"https://app.example.com@evil.example/",
	} {
		if u, ok := c.SafeReturnTo(raw); ok {
			fmt.Printf("%-40q -> %s\n", raw, u)
		} else {
			fmt.Printf("%-40q rejected\n", raw)
		}
	}
	// Output:
	// "/dashboard?tab=2"                       -> https://app.example.com/dashboard?tab=2
	// "https://app.example.com/settings"       -> https://app.example.com/settings
	// "//evil.example"                         rejected
	// "https:evil.example"                     rejected
	// "/\\evil.example"                        rejected
	// "https://app.example.com@evil.example/"  rejected
}

func ExampleClient_BrowserFlowURL() {
	auth, err := kratosauth.New("http://kratos:4433",
		kratosauth.WithAppURL("https://app.example.com"),
		kratosauth.WithBrowserURL("https://auth.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	c, err := selfservice.NewClient(auth)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.BrowserFlowURL(selfservice.Login, selfservice.InitParams{ReturnTo: "/billing", AAL: kratosauth.AAL2}))
	fmt.Println(c.BrowserFlowURL(selfservice.Settings, selfservice.InitParams{ReturnTo: "https://evil.example/"}))
	// Output:
	// https://auth.example.com/self-service/login/browser?aal=aal2&return_to=https%3A%2F%2Fapp.example.com%2Fbilling
	// https://auth.example.com/self-service/settings/browser
}

// Changing one part of the default pages: redefine its template.
func ExampleDefaultTemplates() {
	t := template.Must(selfservice.DefaultTemplates().Parse(
		`{{define "header"}}<header class="site"><a href="{{.URLs.Home}}">Acme</a></header>{{end}}`))
	auth, err := kratosauth.New("http://127.0.0.1:4433")
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	if _, err := selfservice.New(auth, selfservice.WithTemplates(t)); err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Lookup("page") != nil)
	// Output: true
}
