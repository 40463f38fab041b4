package kratosauth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

type recordingSink struct {
	mu    sync.Mutex
	got   map[string]time.Time
	fails bool
}

func (s *recordingSink) RevokeSession(_ context.Context, id string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails {
		return errors.New("sink down")
	}
	s.got[id] = until
	return nil
}

func (s *recordingSink) revoked() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]time.Time{}
	for k, v := range s.got {
		out[k] = v
	}
	return out
}

// Every revocation of a cached session reaches the sink with its session
// ID and the later of its expiry and its token's exp: a logout, an
// identity's eviction, and Kratos refusing a session it had admitted.
func TestRevocationSink(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	sink := &recordingSink{got: map[string]time.Time{}}
	auth := newAuth(t, kratos.URL, kratosauth.WithTokenizeAs("jwt"), kratosauth.WithRevocationSink(sink),
		kratosauth.WithCacheTTL(200*time.Millisecond))
	login := func(opts ...kratosauthtest.SessionOption) kratosauthtest.Credentials {
		c := kratos.Login(append(opts, kratosauthtest.WithExpiry(time.Now().Add(10*time.Second)))...)
		_, err := auth.Authenticate(tokenRequest(c.Token))
		require.NoError(t, err)
		return c
	}
	loggedOut, evicted, refused, other := login(), login(kratosauthtest.WithIdentityID("4a4b1e44-3f4a-4c7e-9d61-0b2f6f0e8a11")), login(), login()

	require.NoError(t, auth.Invalidate(tokenRequest(loggedOut.Token)))
	require.NoError(t, auth.InvalidateIdentity(context.Background(), "4a4b1e44-3f4a-4c7e-9d61-0b2f6f0e8a11"))
	kratos.Revoke(refused)
	time.Sleep(250 * time.Millisecond) // the entry's deadline passes; Kratos is asked and refuses
	_, err := auth.Authenticate(tokenRequest(refused.Token))
	require.ErrorIs(t, err, kratosauth.ErrInvalidSession)

	got := sink.revoked()
	assert.Len(t, got, 3)
	for _, c := range []kratosauthtest.Credentials{loggedOut, evicted, refused} {
		until, ok := got[c.Session.ID]
		if assert.True(t, ok, "session %s not recorded", c.Session.ID) {
			assert.WithinDuration(t, time.Now().Add(time.Minute), until, 5*time.Second, "the token's exp (a minute), later than the session's expiry")
		}
	}
	assert.NotContains(t, got, other.Session.ID)

	// A credential never cached has no known session: nothing to record.
	never := kratos.Login()
	require.NoError(t, auth.Invalidate(tokenRequest(never.Token)))
	assert.Len(t, sink.revoked(), 3)

	// A sink that cannot record makes the logout an error.
	sink.mu.Lock()
	sink.fails = true
	sink.mu.Unlock()
	_, err = auth.Authenticate(tokenRequest(other.Token))
	require.NoError(t, err)
	assert.Error(t, auth.Invalidate(tokenRequest(other.Token)))
}

func TestRevocationSinkNeedsTheCache(t *testing.T) {
	_, err := kratosauth.New("http://127.0.0.1:4433", kratosauth.WithCacheTTL(0), kratosauth.WithRevocationSink(&recordingSink{}))
	assert.Error(t, err)
	_, err = kratosauth.New("http://127.0.0.1:4433", kratosauth.WithRevocationSink(nil))
	assert.Error(t, err)
}
