package kratosauth_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

const (
	hookKey  = "a-long-random-webhook-key-0123456789"
	hookUser = "kratos"
)

// readCounter records whether anything read the body.
type readCounter struct {
	r    io.Reader
	read int
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

func TestWebhookEvictsTheIdentity(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL, kratosauth.WithLogger(discard))
	const id = "5c9e3b1a-7d2f-4e8a-9b6c-1f0e2d3c4b5a"
	alice := kratos.Login(kratosauthtest.WithIdentityID(id))
	require.Equal(t, "ok", check(a, alice))
	kratos.Revoke(alice)
	require.Equal(t, "ok", check(a, alice), "cached")

	for name, tc := range map[string]struct {
		opt  kratosauth.WebhookOption
		auth func(*http.Request)
	}{
		"api key": {kratosauth.WebhookAPIKey("X-Kratos-Webhook-Key", hookKey), func(r *http.Request) {
			r.Header.Set("X-Kratos-Webhook-Key", hookKey)
		}},
		"basic auth": {kratosauth.WebhookBasicAuth(hookUser, hookKey), func(r *http.Request) {
			r.SetBasicAuth(hookUser, hookKey)
		}},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := kratosauth.NewWebhookHandler(a, tc.opt, kratosauth.WebhookSingleReplica())
			require.NoError(t, err)
			r := httptest.NewRequest(http.MethodPost, "/hooks/kratos", strings.NewReader(`{"identity_id":"`+id+`"}`))
			r.Header.Set("Content-Type", "application/json")
			tc.auth(r)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			assert.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
			assert.Equal(t, "invalid", check(a, alice))
		})
	}
}

// Nothing but the configured secret gets in, and a refused request's body
// is never read.
func TestWebhookRefuses(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL, kratosauth.WithLogger(discard))
	apiKey, err := kratosauth.NewWebhookHandler(a, kratosauth.WebhookAPIKey("X-Kratos-Webhook-Key", hookKey), kratosauth.WebhookSingleReplica())
	require.NoError(t, err)
	basic, err := kratosauth.NewWebhookHandler(a, kratosauth.WebhookBasicAuth(hookUser, hookKey), kratosauth.WebhookSingleReplica())
	require.NoError(t, err)
	const body = `{"identity_id":"5c9e3b1a-7d2f-4e8a-9b6c-1f0e2d3c4b5a"}`

	for _, tc := range []struct {
		name   string
		h      http.Handler
		method string
		body   string
		header http.Header
		want   int
	}{
		{"no key", apiKey, "POST", body, nil, 401},
		{"wrong key", apiKey, "POST", body, http.Header{"X-Kratos-Webhook-Key": {hookKey + "x"}}, 401},
		{"key prefix", apiKey, "POST", body, http.Header{"X-Kratos-Webhook-Key": {hookKey[:20]}}, 401},
		{"key twice", apiKey, "POST", body, http.Header{"X-Kratos-Webhook-Key": {hookKey, hookKey}}, 401},
		{"key as basic auth", apiKey, "POST", body, http.Header{"Authorization": {"Basic " + hookKey}}, 401},
		{"no basic auth", basic, "POST", body, nil, 401},
		{"wrong password", basic, "POST", body, basicAuth(hookUser, hookKey+"x"), 401},
		{"wrong user", basic, "POST", body, basicAuth("admin", hookKey), 401},
		{"basic key as api key", basic, "POST", body, http.Header{"X-Kratos-Webhook-Key": {hookKey}}, 401},
		{"unauthenticated huge body", apiKey, "POST", strings.Repeat("x", 10<<20), nil, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &readCounter{r: strings.NewReader(tc.body)}
			r := httptest.NewRequest(tc.method, "/hooks/kratos", rc)
			for k, v := range tc.header {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			tc.h.ServeHTTP(w, r)
			assert.Equal(t, tc.want, w.Code)
			assert.Zero(t, rc.read, "the body of a refused request is not read")
			assert.Equal(t, "close", w.Header().Get("Connection"))
			assert.NotContains(t, w.Body.String(), hookKey)
		})
	}

	key := http.Header{"X-Kratos-Webhook-Key": {hookKey}}
	for _, tc := range []struct {
		name, method, body string
		want               int
	}{
		{"GET", http.MethodGet, "", 405},
		{"not JSON", "POST", "identity_id=5c9e3b1a-7d2f-4e8a-9b6c-1f0e2d3c4b5a", 400},
		{"no identity", "POST", `{}`, 400},
		{"not a UUID", "POST", `{"identity_id":"../../etc"}`, 400},
		{"number", "POST", `{"identity_id":42}`, 400},
		{"too large", "POST", `{"identity_id":"` + strings.Repeat("a", kratosauth.MaxWebhookBodyBytes) + `"}`, 413},
	} {
		t.Run("authenticated, "+tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/hooks/kratos", strings.NewReader(tc.body))
			r.Header = key.Clone()
			w := httptest.NewRecorder()
			apiKey.ServeHTTP(w, r)
			assert.Equal(t, tc.want, w.Code)
		})
	}
}

// A store that cannot evict is a 503: Kratos fails the flow instead of
// reporting success.
func TestWebhookStoreDown(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	store := &failingIndex{BigCache: newBigCache(t), takeErr: errors.New("store down")}
	a := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithLogger(discard))
	h, err := kratosauth.NewWebhookHandler(a, kratosauth.WebhookAPIKey("X-Kratos-Webhook-Key", hookKey))
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"identity_id":"5c9e3b1a-7d2f-4e8a-9b6c-1f0e2d3c4b5a"}`))
	r.Header.Set("X-Kratos-Webhook-Key", hookKey)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.NotContains(t, w.Body.String(), "store down")
}

func TestWebhookOptions(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL)
	for name, opts := range map[string][]kratosauth.WebhookOption{
		"none":            nil,
		"both":            {kratosauth.WebhookAPIKey("X-Key", hookKey), kratosauth.WebhookBasicAuth(hookUser, hookKey)},
		"nil":             {nil},
		"short key":       {kratosauth.WebhookAPIKey("X-Key", "short")},
		"bad header":      {kratosauth.WebhookAPIKey("X Key", hookKey)},
		"authorization":   {kratosauth.WebhookAPIKey("Authorization", hookKey)},
		"short password":  {kratosauth.WebhookBasicAuth(hookUser, "short")},
		"user with colon": {kratosauth.WebhookBasicAuth("a:b", hookKey)},
	} {
		_, err := kratosauth.NewWebhookHandler(a, opts...)
		assert.Error(t, err, name)
	}
	_, err := kratosauth.NewWebhookHandler(nil, kratosauth.WebhookAPIKey("X-Key", hookKey))
	assert.Error(t, err)
	off := newAuth(t, kratos.URL, kratosauth.WithCacheTTL(0))
	_, err = kratosauth.NewWebhookHandler(off, kratosauth.WebhookAPIKey("X-Key", hookKey))
	assert.NoError(t, err, "no cache: the hook has nothing to do, and succeeds")

	// An in-process cache is one replica's: the hook would answer 204
	// having evicted nothing on the others.
	_, err = kratosauth.NewWebhookHandler(a, kratosauth.WebhookAPIKey("X-Key", hookKey))
	assert.ErrorContains(t, err, "WebhookSingleReplica", "the default store")
	own := newAuth(t, kratos.URL, kratosauth.WithCache(newBigCache(t)))
	_, err = kratosauth.NewWebhookHandler(own, kratosauth.WebhookAPIKey("X-Key", hookKey))
	assert.ErrorContains(t, err, "WebhookSingleReplica", "an in-process store given with WithCache")
	shared := newAuth(t, kratos.URL, kratosauth.WithCache(&putHook{BigCache: newBigCache(t)}))
	_, err = kratosauth.NewWebhookHandler(shared, kratosauth.WebhookAPIKey("X-Key", hookKey))
	assert.NoError(t, err, "a store of another kind is taken as shared")
}

func basicAuth(user, password string) http.Header {
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, password)
	return r.Header
}

// Kratos v26.2.0's settings hooks have the session in their context: a body
// template that sends it ({"session": ctx.session}) evicts exactly that
// session's identity, and leaves every other identity's sessions alone. A
// payload that names two identities, or a session without one, is refused.
func TestWebhookTakesTheSettingsHookSession(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL, kratosauth.WithLogger(discard))
	const aliceID, bobID = "5c9e3b1a-7d2f-4e8a-9b6c-1f0e2d3c4b5a", "0f1e2d3c-4b5a-4c9e-8b1a-7d2f4e8a9b6c"
	alice := kratos.Login(kratosauthtest.WithIdentityID(aliceID))
	bob := kratos.Login(kratosauthtest.WithIdentityID(bobID))
	require.Equal(t, "ok", check(a, alice))
	require.Equal(t, "ok", check(a, bob))
	kratos.Revoke(alice)
	kratos.Revoke(bob)
	require.Equal(t, "ok", check(a, alice), "cached")
	require.Equal(t, "ok", check(a, bob), "cached")

	h, err := kratosauth.NewWebhookHandler(a, kratosauth.WebhookAPIKey("X-Kratos-Webhook-Key", hookKey), kratosauth.WebhookSingleReplica())
	require.NoError(t, err)
	post := func(body string) int {
		r := httptest.NewRequest(http.MethodPost, "/hooks/kratos", strings.NewReader(body))
		r.Header.Set("X-Kratos-Webhook-Key", hookKey)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	session := func(identityID string) string {
		return `{"id":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d","active":true,"identity":{"id":"` + identityID + `","traits":{"email":"a@example.com"}}}`
	}

	for name, body := range map[string]string{
		"two identities":         `{"identity_id":"` + bobID + `","session":` + session(aliceID) + `}`,
		"session, no identity":   `{"session":{"id":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"}}`,
		"session, identity null": `{"identity_id":"` + aliceID + `","session":{"identity":null}}`,
		"session, bad id":        `{"session":` + session("../../etc") + `}`,
	} {
		assert.Equal(t, http.StatusBadRequest, post(body), name)
	}
	require.Equal(t, "ok", check(a, alice), "a refused payload evicts nothing")
	require.Equal(t, "ok", check(a, bob), "a refused payload evicts nothing")

	assert.Equal(t, http.StatusNoContent, post(`{"session":`+session(aliceID)+`}`))
	assert.Equal(t, "invalid", check(a, alice), "the session's identity is evicted")
	assert.Equal(t, "ok", check(a, bob), "no other identity is")

	assert.Equal(t, http.StatusNoContent, post(`{"identity_id":"`+bobID+`","session":`+session(bobID)+`}`))
	assert.Equal(t, "invalid", check(a, bob))
}
