package kratosgin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kratosauth/kratosauth"
	kratosgin "github.com/kratosauth/kratosauth/adapters/gin"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

func ExampleRequireSession() {
	gin.SetMode(gin.ReleaseMode)
	auth, _ := kratosauth.New("http://127.0.0.1:4433",
		kratosauth.WithAppURL("https://app.example.com"))
	defer auth.Close()

	r := gin.New()
	private := r.Group("/", kratosgin.RequireSession(auth))
	private.GET("/api/me", func(c *gin.Context) {
		id, _ := kratosgin.Identity(c)
		c.JSON(http.StatusOK, gin.H{"identity_id": id.ID})
	})

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/me", nil))
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	// Output: 401 application/json; charset=utf-8
}

// A public route that sends visitors to login only for some actions.
func ExampleRedirectToLogin() {
	gin.SetMode(gin.ReleaseMode)
	auth, _ := kratosauth.New("http://127.0.0.1:4433", kratosauth.WithAppURL("https://shop.example.com"))
	defer auth.Close()
	r := gin.New()
	var loginURL string
	r.GET("/buy", kratosgin.LoadSession(auth), func(c *gin.Context) {
		if _, ok := kratosgin.Session(c); !ok {
			loginURL = kratosgin.LoginURL(auth, c)
			kratosgin.RedirectToLogin(auth, c)
			return
		}
		c.String(http.StatusOK, "bought")
	})
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/buy?item=42", nil))
	fmt.Println(w.Code, w.Header().Get("Location") == loginURL)
	fmt.Println(loginURL)
	// Output:
	// 303 true
	// http://127.0.0.1:4433/self-service/login/browser?return_to=https%3A%2F%2Fshop.example.com%2Fbuy%3Fitem%3D42
}

// Testing a gin route with the test kit's fake Kratos.
func Example_testingARoute() {
	gin.SetMode(gin.ReleaseMode)
	t := &testing.T{} // in a test: the test's *testing.T
	kratos := kratosauthtest.NewServer(t)
	defer kratos.Close()
	auth, _ := kratosauth.New(kratos.URL)
	defer auth.Close()
	r := gin.New()
	r.GET("/api/me", kratosgin.RequireSession(auth), func(c *gin.Context) {
		id, _ := kratosgin.Identity(c)
		c.String(http.StatusOK, "%t", id.ID != "")
	})

	alice := kratos.Login()
	for _, token := range []string{alice.Token, ""} {
		req := httptest.NewRequest(http.MethodGet, "/api/me", nil)
		req.Header.Set("X-Session-Token", token)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Println(w.Code)
	}
	// Output:
	// 200
	// 401
}
