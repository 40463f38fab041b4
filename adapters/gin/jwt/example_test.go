package kratosginjwt_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/gin-gonic/gin"

	kratosginjwt "github.com/kratosauth/kratosauth/adapters/gin/jwt"
	"github.com/kratosauth/kratosauth/internal/testing/jwtkit"
	kratosjwt "github.com/kratosauth/kratosauth/jwtverify"
)

func Example() {
	// A stand-in for Kratos' tokenizer: its public JWKS in a file, and a token.
	key := jwtkit.NewES256("kratos-1")
	dir, err := os.MkdirTemp("", "kratosginjwt-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	jwks := filepath.Join(dir, "jwks.public.json")
	if err := os.WriteFile(jwks, jwtkit.PublicJWKS(key), 0o600); err != nil {
		log.Fatal(err)
	}
	token := key.Sign(jwtkit.KratosClaims("http://127.0.0.1:4433/", "9a2b", "5f1c", time.Minute))

	v, err := kratosjwt.New("file://"+jwks, kratosjwt.WithIssuer("http://127.0.0.1:4433/"))
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	api := r.Group("/api", kratosginjwt.Require(v))
	api.GET("/orders", func(c *gin.Context) {
		claims, _ := kratosginjwt.Claims(c) // always there behind Require
		c.String(http.StatusOK, "orders of %s", claims.Subject)
	})

	req := httptest.NewRequest(http.MethodGet, "/api/orders", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Body.String())
	// Output: 200 orders of 9a2b
}
