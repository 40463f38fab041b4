package kratosginjwt_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	kratosginjwt "github.com/kratosauth/kratosauth/adapters/gin/jwt"
	"github.com/kratosauth/kratosauth/internal/testing/jwtkit"
	kratosjwt "github.com/kratosauth/kratosauth/jwtverify"
)

func init() { gin.SetMode(gin.TestMode) }

func TestRequire(t *testing.T) {
	key := jwtkit.NewES256("k1")
	path := filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(path, jwtkit.PublicJWKS(key), 0o600))
	v, err := kratosjwt.New("file://" + path)
	require.NoError(t, err)

	r := gin.New()
	r.GET("/orders", kratosginjwt.Require(v), func(c *gin.Context) {
		claims, ok := kratosginjwt.Claims(c)
		require.True(t, ok)
		fromCtx, _ := kratosjwt.FromContext(c.Request.Context())
		assert.Same(t, claims, fromCtx)
		c.String(http.StatusOK, claims.Subject)
	})
	serve := func(authorization string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/orders", nil)
		req.Header.Set("Accept", "text/html")
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}

	good := key.Sign(jwtkit.KratosClaims("http://kratos/", "identity-1", "session-1", time.Minute))
	w := serve("Bearer " + good)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "identity-1", w.Body.String())

	want := httptest.NewRecorder()
	kratosauth.WriteJSONError(want, &kratosauth.Error{Kind: kratosauth.ErrInvalidSession})
	for _, a := range []string{"", "Bearer " + jwtkit.Unsigned("k1", jwtkit.KratosClaims("http://kratos/", "i", "s", time.Minute))} {
		w := serve(a)
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.JSONEq(t, want.Body.String(), w.Body.String())
	}
}
