package kratosauth_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// After Invalidate, a request racing the logout (Kratos still accepts the
// session) must not put the session back in the cache.
func TestInvalidateBlocksRecaching(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	a := newAuth(t, kratos.URL)
	_, err := a.Authenticate(tokenRequest(c.Token))
	require.NoError(t, err)
	require.Equal(t, 1, kratos.Calls())

	a.Invalidate(tokenRequest(c.Token))
	for range 3 {
		_, err = a.Authenticate(tokenRequest(c.Token))
		require.NoError(t, err, "Kratos still accepts it: the logout has not reached Kratos yet")
	}
	assert.Equal(t, 4, kratos.Calls(), "every request asks Kratos: nothing was re-cached")

	kratos.Revoke(c) // Kratos processed the logout
	_, err = a.Authenticate(tokenRequest(c.Token))
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
}

// A flood of one garbage token costs one whoami call per negative TTL, not
// one per request.
func TestNegativeCacheUnderFlood(t *testing.T) {
	const flood = 1000
	for _, tc := range []struct {
		name      string
		opts      []kratosauth.Option
		wantCalls int
	}{
		{"off (default)", nil, flood},
		{"on", []kratosauth.Option{kratosauth.WithNegativeCacheTTL(time.Minute)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			a := newAuth(t, kratos.URL, tc.opts...)
			for range flood {
				_, err := a.Authenticate(tokenRequest("ory_st_garbage"))
				require.ErrorIs(t, err, kratosauth.ErrInvalidSession)
			}
			assert.Equal(t, tc.wantCalls, kratos.Calls())
			t.Logf("%d requests with one garbage token: %d whoami calls", flood, kratos.Calls())
		})
	}
}

func TestNegativeCacheKeepsOtherCredentialsApart(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL, kratosauth.WithNegativeCacheTTL(time.Minute))
	_, err := a.Authenticate(tokenRequest("ory_st_garbage"))
	require.ErrorIs(t, err, kratosauth.ErrInvalidSession)

	// A new login is a new credential: it is asked about, and accepted.
	c := kratos.Login()
	_, err = a.Authenticate(tokenRequest(c.Token))
	require.NoError(t, err)
	// The refused one stays refused, without asking Kratos.
	_, err = a.Authenticate(tokenRequest("ory_st_garbage"))
	require.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	assert.Equal(t, 2, kratos.Calls())

	// Outages and aal2 answers are not remembered.
	kratos.Fail(kratosauthtest.Status(http.StatusServiceUnavailable))
	before := kratos.Calls()
	for range 2 {
		_, err = a.Authenticate(tokenRequest("ory_st_other"))
		require.ErrorIs(t, err, kratosauth.ErrUnavailable)
	}
	assert.Equal(t, before+2, kratos.Calls(), "status 503")
	kratos.Recover()
	pending := kratos.Login(kratosauthtest.WithSecondFactorPending())
	before = kratos.Calls()
	for range 2 {
		_, err = a.Authenticate(tokenRequest(pending.Token))
		require.ErrorIs(t, err, kratosauth.ErrAAL2Required)
	}
	assert.Equal(t, before+2, kratos.Calls(), "status 403")
}

func TestStaleIfError(t *testing.T) {
	const ttl = 100 * time.Millisecond
	// setup caches a session that expires in expiresIn and waits for the
	// cache deadline.
	setup := func(t *testing.T, expiresIn time.Duration, opts ...kratosauth.Option) (*kratosauthtest.Server, kratosauthtest.Credentials, *kratosauth.Authenticator) {
		kratos := kratosauthtest.NewServer(t)
		c := kratos.Login(kratosauthtest.WithExpiry(time.Now().Add(expiresIn)))
		a := newAuth(t, kratos.URL, append([]kratosauth.Option{kratosauth.WithCacheTTL(ttl)}, opts...)...)
		_, err := a.Authenticate(tokenRequest(c.Token))
		require.NoError(t, err)
		time.Sleep(2 * ttl) // past the cache deadline
		return kratos, c, a
	}
	down := kratosauthtest.Status(http.StatusServiceUnavailable)

	t.Run("off: an outage past the deadline is 503", func(t *testing.T) {
		kratos, c, a := setup(t, time.Hour)
		kratos.Fail(down)
		_, err := a.Authenticate(tokenRequest(c.Token))
		assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
	})
	t.Run("on: an outage serves the stale session", func(t *testing.T) {
		kratos, c, a := setup(t, time.Hour, kratosauth.WithStaleIfError(time.Minute))
		kratos.Fail(down)
		s, err := a.Authenticate(tokenRequest(c.Token))
		require.NoError(t, err)
		assert.Equal(t, c.Session.Identity.ID, s.Identity.ID)
		assert.Equal(t, 2, kratos.Calls(), "Kratos is asked first")
	})
	t.Run("on: a refusal is never overridden", func(t *testing.T) {
		kratos, c, a := setup(t, time.Hour, kratosauth.WithStaleIfError(time.Minute))
		kratos.Revoke(c)
		_, err := a.Authenticate(tokenRequest(c.Token))
		assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	})
	t.Run("on: never past the grace period", func(t *testing.T) {
		kratos, c, a := setup(t, time.Hour, kratosauth.WithStaleIfError(ttl/2))
		kratos.Fail(down)
		_, err := a.Authenticate(tokenRequest(c.Token))
		assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
	})
	t.Run("on: never past the session's expiry", func(t *testing.T) {
		kratos, c, a := setup(t, 3*ttl, kratosauth.WithStaleIfError(time.Minute))
		time.Sleep(2 * ttl) // the session itself has expired now
		kratos.Fail(down)
		_, err := a.Authenticate(tokenRequest(c.Token))
		assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
	})
}

func TestResilienceOptionsValidate(t *testing.T) {
	_, err := kratosauth.New("http://kratos", kratosauth.WithStaleIfError(-time.Second))
	assert.Error(t, err)
	_, err = kratosauth.New("http://kratos", kratosauth.WithNegativeCacheTTL(-time.Second))
	assert.Error(t, err)
}
