package kratosgin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/adapters/gin"
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
