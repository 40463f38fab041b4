// Package kratosginjwt is the gin middleware of package kratosjwt: gin
// routes of a downstream service that verify the tokens Kratos made of its
// sessions, without calling Kratos.
//
//	v, err := kratosjwt.New("file:///etc/kratos/jwks.public.json", kratosjwt.WithIssuer(iss))
//	...
//	api := r.Group("/api", kratosginjwt.Require(v))
//	api.GET("/orders", func(c *gin.Context) {
//		claims, _ := kratosginjwt.Claims(c)
//		...
//	})
//
// It is a package of the gin adapter's module, apart from package kratosgin,
// so that gin users who do not verify tokens never build the JOSE code.
package kratosginjwt

import (
	"github.com/gin-gonic/gin"

	kratosjwt "github.com/kratosauth/kratosauth/jwtverify"
)

// Require returns gin middleware that lets a request through only with a
// valid bearer token. Refused requests are answered by the Verifier's
// ErrorHandler (by default Kratos-shaped JSON: 401, or 503 when the JWKS
// cannot be read), recorded with c.Error and aborted. The claims go into
// c.Request's context too, so kratosjwt.FromContext(c.Request.Context())
// works in net/http code the handler calls.
func Require(v *kratosjwt.Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		r, err := v.Check(c.Writer, c.Request)
		if err != nil {
			_ = c.Error(err).SetType(gin.ErrorTypePrivate)
			c.Abort()
			return
		}
		c.Request = r
		c.Next()
	}
}

// Claims returns the claims of the token Require verified.
func Claims(c *gin.Context) (*kratosjwt.Claims, bool) {
	return kratosjwt.FromContext(c.Request.Context())
}
