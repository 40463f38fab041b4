package kratosgin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/adapters/gin"
	"github.com/kratosauth/kratosauth/keto"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// Documents that Ory Keto lets the user view: the object is the route's
// {id}, the subject the session's identity.
func ExampleRequirePermission() {
	t := &testing.T{} // in a test: the test's t
	kratos, ketoServer := kratosauthtest.NewServer(t), kratosauthtest.NewKeto(t)
	defer kratos.Close()
	defer ketoServer.Close()
	perms, _ := keto.New(ketoServer.URL) // Keto's read API, e.g. http://127.0.0.1:4466
	defer perms.Close()
	auth, _ := kratosauth.New(kratos.URL, kratosauth.WithPermissions(perms))
	defer auth.Close()

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/docs/:id", kratosgin.RequirePermission(auth, "Doc", "view", kratosgin.Param("id")),
		func(c *gin.Context) { c.String(http.StatusOK, "doc %s", c.Param("id")) })
	var app http.Handler = r

	ada := kratos.Login()
	ketoServer.Grant("Doc", "readme", "view", ada.Session.Identity.ID)
	for _, path := range []string{"/docs/readme", "/docs/payroll"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-Session-Token", ada.Token)
		w := httptest.NewRecorder()
		app.ServeHTTP(w, req)
		fmt.Println(w.Code, w.Body.String()[:10])
	}
	// Output:
	// 200 doc readme
	// 403 {"error":{
}
