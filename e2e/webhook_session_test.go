package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

// TestWebhookTakesTheSettingsHookSession: Kratos v25.4.0 and later give
// settings hooks the session; with the body template
// `function(ctx) { session: ctx.session }`, a password change makes Kratos
// send it, and the webhook evicts exactly that identity's cached sessions:
// another identity's stays cached.
func TestWebhookTakesTheSettingsHookSession(t *testing.T) {
	const key = "session-hook-e2e-key-0123456789abcdef"
	var (
		mu     sync.Mutex
		hook   http.Handler
		bodies [][]byte
	)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		h := hook
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(app.Close)
	v, err := kratostest.CurrentVersion()
	require.NoError(t, err)
	if !v.SettingsHookSession {
		t.Skipf("Kratos %s gives settings hooks no session", v.Name)
	}
	k := kratostest.Start(t, kratostest.Options{
		Webhook: &kratostest.Webhook{URL: app.URL + "/hooks/kratos", APIKey: key, Body: kratostest.WebhookSessionBody},
	})
	a, err := kratosauth.New(k.PublicURL, kratosauth.WithCacheTTL(time.Hour), kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	h, err := kratosauth.NewWebhookHandler(a, kratosauth.WebhookAPIKey("X-Kratos-Webhook-Key", key), kratosauth.WebhookSingleReplica())
	require.NoError(t, err)
	mu.Lock()
	hook = h
	mu.Unlock()
	check := func(tok string) error {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Session-Token", tok)
		_, err := a.Authenticate(r)
		return err
	}

	email := kratostest.UniqueEmail("hook-session")
	alice, _ := k.RegisterAPI(t, email, password)
	aliceOther := k.LoginAPI(t, email, password)
	bob, bobSession := k.RegisterAPI(t, kratostest.UniqueEmail("hook-bystander"), password)
	for _, tok := range []string{alice, aliceOther, bob} {
		require.NoError(t, check(tok))
	}
	bobSID, _ := kratostest.SessionIDs(t, bobSession)
	k.RevokeSession(t, bobSID) // Kratos forgets Bob; only an eviction would tell the cache

	k.ChangePasswordAPI(t, alice, password+"-changed")
	assert.ErrorIs(t, check(aliceOther), kratosauth.ErrInvalidSession, "Alice's other session: evicted, and revoked by Kratos")
	assert.NoError(t, check(alice), "the session that changed the password lives on")
	assert.NoError(t, check(bob), "Bob's cached session was not evicted")

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, bodies, 1)
	var sent struct {
		IdentityID string          `json:"identity_id"`
		Session    json.RawMessage `json:"session"`
	}
	require.NoError(t, json.Unmarshal(bodies[0], &sent))
	assert.Empty(t, sent.IdentityID)
	assert.Contains(t, string(sent.Session), `"identity"`)
}
