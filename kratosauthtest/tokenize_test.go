package kratosauthtest_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

func TestServerTokenizes(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	auth, err := kratosauth.New(kratos.URL, kratosauth.WithTokenizeAs("orders"))
	require.NoError(t, err)
	t.Cleanup(func() { auth.Close() })
	alice := kratos.Login()

	for range 2 {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Session-Token", alice.Token)
		s, err := auth.Authenticate(r)
		require.NoError(t, err)
		parts := strings.Split(s.Tokenized, ".")
		require.Len(t, parts, 3)
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		require.NoError(t, err)
		var claims struct{ Sub, Sid, Iss string }
		require.NoError(t, json.Unmarshal(payload, &claims))
		assert.Equal(t, alice.Session.Identity.ID, claims.Sub)
		assert.Equal(t, alice.Session.ID, claims.Sid)
		assert.Equal(t, kratos.URL+"/", claims.Iss)
	}
	assert.Equal(t, 1, kratos.Calls(), "cached until the token's exp")
	assert.Equal(t, "orders", kratos.LastRequest().URL.Query().Get("tokenize_as"))
}
