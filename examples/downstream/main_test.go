package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/internal/testing/jwtkit"
)

func TestProfile(t *testing.T) {
	key := jwtkit.NewES256("k1")
	path := filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(path, jwtkit.PublicJWKS(key), 0o600))
	app, err := newApp(config{JWKSURL: "file://" + path, Issuer: "http://kratos/", Audience: "orders"}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)

	claims := jwtkit.KratosClaims("http://kratos/", "identity-1", "session-1", time.Minute)
	claims["aud"] = []string{"orders"}
	claims["email"] = "ada@example.com"
	claims["aal"] = "aal1"
	serve := func(token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/api/profile", nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		return w
	}
	w := serve(key.Sign(claims))
	require.Equal(t, http.StatusOK, w.Code)
	var body map[string]string
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	assert.Equal(t, map[string]string{"identity_id": "identity-1", "session_id": "session-1", "email": "ada@example.com", "aal": "aal1"}, body)

	assert.Equal(t, http.StatusUnauthorized, serve("").Code)
	delete(claims, "aud")
	assert.Equal(t, http.StatusUnauthorized, serve(key.Sign(claims)).Code, "another audience's token")
}

func TestLoadConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := loadConfig(env(nil))
	require.NoError(t, err)
	assert.Equal(t, config{JWKSURL: "file:///etc/kratos/jwks.public.json", Issuer: "http://127.0.0.1:4433/", Audience: "orders", Addr: "127.0.0.1:4456"}, cfg)
	cfg, err = loadConfig(env(map[string]string{"AUDIENCE": "-"}))
	require.NoError(t, err)
	assert.Empty(t, cfg.Audience)
	_, err = loadConfig(env(map[string]string{"ADDR": "4456"}))
	assert.ErrorContains(t, err, "ADDR")
	_, err = newApp(config{JWKSURL: "/etc/jwks.json"}, slog.New(slog.DiscardHandler))
	assert.Error(t, err)
}
