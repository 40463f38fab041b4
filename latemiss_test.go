package kratosauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A request whose cache read missed just before another request's whoami
// call cached the session, and whose own call starts after that call has
// ended, finds the session cached and asks Kratos nothing: a herd of
// requests with one credential makes one call however late one of them is.
func TestLateMissFindsTheSessionCached(t *testing.T) {
	body, err := os.ReadFile("kratosauthtest/recorded/whoami_200_token.json")
	require.NoError(t, err)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
	body = regexp.MustCompile(`"expires_at":"[^"]*"`).ReplaceAll(body, []byte(`"expires_at":"`+future+`"`))
	var calls atomic.Int32
	kratos := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(kratos.Close)
	a, err := New(kratos.URL, WithCacheTTL(time.Minute))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })

	cred := credential{token: "ory_st_late"}
	key := cred.digest(a.namespace)
	_, state, rev := a.lookup(&key, time.Now()) // the late request's read
	require.Equal(t, entryNone, state)
	first, err := a.fetchShared(context.Background(), key, rev, cred) // another request's call
	require.NoError(t, err)
	require.NotNil(t, first.session)
	require.EqualValues(t, 1, calls.Load())

	late, err := a.fetchShared(context.Background(), key, rev, cred) // the late request's own call
	require.NoError(t, err)
	assert.Equal(t, first.session.ID, late.session.ID)
	assert.EqualValues(t, 1, calls.Load(), "the late request asked Kratos again")
}
