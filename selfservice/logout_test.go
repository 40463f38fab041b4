package selfservice_test

import (
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/selfservice"
)

// downRevokes is a shared store that cannot record revocations.
type downRevokes struct{ *cache.BigCache }

func (downRevokes) Revoke(string, []byte, time.Duration, time.Duration) error {
	return errors.New("store down")
}

// A logout the session cache cannot record is not reported as done: the
// user gets a 503 and tries again, and is not sent to Kratos' logout (the
// other replicas would go on serving the session from their cache).
func TestLogoutNotRecordedIs503(t *testing.T) {
	k := newFakeKratos(t)
	k.set("/self-service/logout/browser", http.StatusOK, readTestdata(t, "logout_flow"))
	big, err := cache.NewBigCache(time.Minute, 1)
	require.NoError(t, err)
	t.Cleanup(func() { big.Close() })
	auth, err := kratosauth.New(k.URL, kratosauth.WithAppURL(testAppURL), kratosauth.WithBrowserURL(testBrowserURL),
		kratosauth.WithCache(downRevokes{big}), kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = auth.Close() })
	ui, err := selfservice.New(auth)
	require.NoError(t, err)

	rec := serve(ui, http.MethodGet, "/logout", map[string]string{"Cookie": "ory_kratos_session=abc"})
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Empty(t, rec.Header().Get("Location"))
	assert.Contains(t, rec.Body.String(), "You are still signed in")
}
