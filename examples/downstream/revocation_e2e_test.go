package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	rediscache "github.com/kratosauth/kratosauth/cache/redis"
	"github.com/kratosauth/kratosauth/internal/testing/jwtkit"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
	"github.com/kratosauth/kratosauth/internal/testing/redistest"
	kratosjwt "github.com/kratosauth/kratosauth/jwtverify"
)

// TestLogoutRevokesTokensDownstream: on the real Kratos v1.3.1 and a real
// Redis, a logout at the edge (kratosauth with WithRevocationSink) makes a
// downstream service (kratosjwt with a rediscache.RevocationList) refuse
// that session's JWT well within a second, while other sessions' JWTs
// keep working; a downstream service started after the logouts refuses
// them too.
func TestLogoutRevokesTokensDownstream(t *testing.T) {
	dir := t.TempDir()
	key := jwtkit.NewES256("kratos-es256-1")
	privateJWKS, publicJWKS := filepath.Join(dir, "jwks.private.json"), filepath.Join(dir, "jwks.public.json")
	require.NoError(t, os.WriteFile(privateJWKS, jwtkit.JWKS(key.PrivateJWK()), 0o600))
	require.NoError(t, os.WriteFile(publicJWKS, jwtkit.PublicJWKS(key), 0o600))
	kratos := kratostest.Start(t, kratostest.Options{Tokenizer: map[string]kratostest.TokenizerTemplate{
		"orders": {TTL: "10m", JWKSFile: privateJWKS},
	}})
	rds := redistest.Start(t)

	edgeStore, err := rediscache.New(rds.URL)
	require.NoError(t, err)
	t.Cleanup(func() { edgeStore.Close() })
	auth, err := kratosauth.New(kratos.PublicURL, kratosauth.WithTokenizeAs("orders"),
		kratosauth.WithCache(edgeStore), kratosauth.WithRevocationSink(edgeStore))
	require.NoError(t, err)
	t.Cleanup(func() { auth.Close() })

	downstream := func() (*kratosjwt.Verifier, func()) {
		store, err := rediscache.New(rds.URL)
		require.NoError(t, err)
		list := store.NewRevocationList(0)
		v, err := kratosjwt.New("file://"+publicJWKS, kratosjwt.WithIssuer(kratos.PublicURL+"/"), kratosjwt.WithRevocationList(list))
		require.NoError(t, err)
		return v, func() { list.Close(); store.Close() }
	}
	v, stop := downstream()
	t.Cleanup(stop)
	verify := func(v *kratosjwt.Verifier, tok string) error {
		_, err := v.Verify(context.Background(), tok)
		return err
	}
	edgeRequest := func(sessionToken string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Session-Token", sessionToken)
		return r
	}

	email := kratostest.UniqueEmail("revoke")
	kratos.RegisterAPI(t, email, "a-long-test-password-1")
	const n = 20
	sessions, tokens := make([]string, n+1), make([]string, n+1)
	for i := range sessions {
		sessions[i] = kratos.LoginAPI(t, email, "a-long-test-password-1")
		s, err := auth.Authenticate(edgeRequest(sessions[i]))
		require.NoError(t, err)
		tokens[i] = s.Tokenized
	}
	require.Eventually(t, func() bool { return verify(v, tokens[0]) == nil }, 5*time.Second, 10*time.Millisecond, "the list is current")

	var delays []time.Duration
	for i := range n { // the last session stays signed in
		kratos.LogoutAPI(t, sessions[i])
		start := time.Now()
		require.NoError(t, auth.Invalidate(edgeRequest(sessions[i])))
		for verify(v, tokens[i]) == nil {
			require.Less(t, time.Since(start), time.Second, "session %d's token still accepted", i)
			time.Sleep(200 * time.Microsecond)
		}
		delays = append(delays, time.Since(start))
		assert.ErrorIs(t, verify(v, tokens[i]), kratosauth.ErrInvalidSession)
		assert.NoError(t, verify(v, tokens[n]), "another session's token")
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	t.Logf("logout at the edge to refusal downstream (Invalidate included), %d sessions: p50 %s, p99 %s", n,
		delays[n/2].Round(10*time.Microsecond), delays[n*99/100].Round(10*time.Microsecond))

	late, stopLate := downstream()
	t.Cleanup(stopLate)
	require.Eventually(t, func() bool { return verify(late, tokens[n]) == nil }, 5*time.Second, 10*time.Millisecond, "the late list is current")
	for i := range n {
		assert.ErrorIs(t, verify(late, tokens[i]), kratosauth.ErrInvalidSession, "a service started later learns revocation %d", i)
	}
}
