package kratosecho_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/kratosauth/kratosauth"
	kratosecho "github.com/kratosauth/kratosauth/adapters/echo"
	"github.com/kratosauth/kratosauth/keto"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

func ExampleRequireSession() {
	auth, _ := kratosauth.New("http://127.0.0.1:4433",
		kratosauth.WithAppURL("https://app.example.com"))
	defer auth.Close()

	e := echo.New()
	private := e.Group("", kratosecho.RequireSession(auth))
	private.GET("/api/me", func(c echo.Context) error {
		id, _ := kratosecho.Identity(c)
		return c.JSON(http.StatusOK, map[string]string{"identity_id": id.ID})
	})

	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/me", nil))
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	// Output: 401 application/json; charset=utf-8
}

// A public route that sends visitors to login only for some actions.
func ExampleRedirectToLogin() {
	auth, _ := kratosauth.New("http://127.0.0.1:4433", kratosauth.WithAppURL("https://shop.example.com"))
	defer auth.Close()
	e := echo.New()
	var loginURL string
	e.GET("/buy", func(c echo.Context) error {
		if _, ok := kratosecho.Session(c); !ok {
			loginURL = kratosecho.LoginURL(auth, c)
			return kratosecho.RedirectToLogin(auth, c)
		}
		return c.String(http.StatusOK, "bought")
	}, kratosecho.LoadSession(auth))
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/buy?item=42", nil))
	fmt.Println(w.Code, w.Header().Get("Location") == loginURL)
	fmt.Println(loginURL)
	// Output:
	// 303 true
	// http://127.0.0.1:4433/self-service/login/browser?return_to=https%3A%2F%2Fshop.example.com%2Fbuy%3Fitem%3D42
}

// Documents that Ory Keto lets the user view: the object is the route's
// :id, the subject the session's identity.
func ExampleRequirePermission() {
	t := &testing.T{} // in a test: the test's t
	kratos, ketoServer := kratosauthtest.NewServer(t), kratosauthtest.NewKeto(t)
	defer kratos.Close()
	defer ketoServer.Close()
	perms, _ := keto.New(ketoServer.URL) // Keto's read API, e.g. http://127.0.0.1:4466
	defer perms.Close()
	auth, _ := kratosauth.New(kratos.URL, kratosauth.WithPermissions(perms))
	defer auth.Close()

	e := echo.New()
	e.GET("/docs/:id", func(c echo.Context) error { return c.String(http.StatusOK, "doc "+c.Param("id")) },
		kratosecho.RequirePermission(auth, "Doc", "view", kratosecho.Param("id")))

	ada := kratos.Login()
	ketoServer.Grant("Doc", "readme", "view", ada.Session.Identity.ID)
	for _, path := range []string{"/docs/readme", "/docs/payroll"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-Session-Token", ada.Token)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		fmt.Println(w.Code, w.Body.String()[:10])
	}
	// Output:
	// 200 doc readme
	// 403 {"error":{
}
