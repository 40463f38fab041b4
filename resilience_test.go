package kratosauth_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/kratosfake"
)

func down(*http.Request) kratosfake.Response { return kratosfake.Response{Status: 503} }

func refused(*http.Request) kratosfake.Response {
	return kratosfake.Response{Status: 401, Body: kratosfake.Unauthorized}
}

// After Invalidate, a request racing the logout (Kratos still accepts the
// session) must not put the session back in the cache.
func TestInvalidateBlocksRecaching(t *testing.T) {
	fake := kratosfake.Always(t, kratosfake.OK())
	a := newAuth(t, fake.URL)
	_, err := a.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	require.Equal(t, 1, fake.Calls())

	a.Invalidate(tokenRequest(token))
	for range 3 {
		_, err = a.Authenticate(tokenRequest(token))
		require.NoError(t, err, "Kratos still accepts it: the logout has not reached Kratos yet")
	}
	assert.Equal(t, 4, fake.Calls(), "every request asks Kratos: nothing was re-cached")

	fake.SetResponder(refused) // Kratos processed the logout
	_, err = a.Authenticate(tokenRequest(token))
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
			fake := kratosfake.New(t, refused)
			a := newAuth(t, fake.URL, tc.opts...)
			for range flood {
				_, err := a.Authenticate(tokenRequest("ory_st_garbage"))
				require.ErrorIs(t, err, kratosauth.ErrInvalidSession)
			}
			assert.Equal(t, tc.wantCalls, fake.Calls())
			t.Logf("%d requests with one garbage token: %d whoami calls", flood, fake.Calls())
		})
	}
}

func TestNegativeCacheKeepsOtherCredentialsApart(t *testing.T) {
	fake := kratosfake.New(t, refused)
	a := newAuth(t, fake.URL, kratosauth.WithNegativeCacheTTL(time.Minute))
	_, err := a.Authenticate(tokenRequest("ory_st_garbage"))
	require.ErrorIs(t, err, kratosauth.ErrInvalidSession)

	// A new login is a new credential: it is asked about, and accepted.
	fake.SetResponder(func(*http.Request) kratosfake.Response { return kratosfake.OK() })
	_, err = a.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	// The refused one stays refused, without asking Kratos.
	_, err = a.Authenticate(tokenRequest("ory_st_garbage"))
	require.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	assert.Equal(t, 2, fake.Calls())

	// Outages and aal2 answers are not remembered.
	for _, resp := range []kratosfake.Response{{Status: 503}, {Status: 403, Body: kratosfake.AAL2Required}} {
		fake.SetResponder(func(*http.Request) kratosfake.Response { return resp })
		before := fake.Calls()
		_, err = a.Authenticate(tokenRequest("ory_st_other"))
		require.Error(t, err)
		_, err = a.Authenticate(tokenRequest("ory_st_other"))
		require.Error(t, err)
		assert.Equal(t, before+2, fake.Calls(), "status %d", resp.Status)
	}
}

func TestStaleIfError(t *testing.T) {
	const ttl = 100 * time.Millisecond
	setup := func(t *testing.T, expiresIn time.Duration, opts ...kratosauth.Option) (*kratosfake.Server, *kratosauth.Authenticator) {
		fake := kratosfake.Always(t, kratosfake.Response{Status: 200, Body: kratosfake.Fresh(kratosfake.SessionAAL1, expiresIn)})
		a := newAuth(t, fake.URL, append([]kratosauth.Option{kratosauth.WithCacheTTL(ttl)}, opts...)...)
		_, err := a.Authenticate(tokenRequest(token))
		require.NoError(t, err)
		time.Sleep(2 * ttl) // past the cache deadline
		return fake, a
	}

	t.Run("off: an outage past the deadline is 503", func(t *testing.T) {
		fake, a := setup(t, time.Hour)
		fake.SetResponder(down)
		_, err := a.Authenticate(tokenRequest(token))
		assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
	})
	t.Run("on: an outage serves the stale session", func(t *testing.T) {
		fake, a := setup(t, time.Hour, kratosauth.WithStaleIfError(time.Minute))
		fake.SetResponder(down)
		s, err := a.Authenticate(tokenRequest(token))
		require.NoError(t, err)
		assert.NotEmpty(t, s.Identity.ID)
		assert.Equal(t, 2, fake.Calls(), "Kratos is asked first")
	})
	t.Run("on: a refusal is never overridden", func(t *testing.T) {
		fake, a := setup(t, time.Hour, kratosauth.WithStaleIfError(time.Minute))
		fake.SetResponder(refused)
		_, err := a.Authenticate(tokenRequest(token))
		assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	})
	t.Run("on: never past the grace period", func(t *testing.T) {
		fake, a := setup(t, time.Hour, kratosauth.WithStaleIfError(ttl/2))
		fake.SetResponder(down)
		_, err := a.Authenticate(tokenRequest(token))
		assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
	})
	t.Run("on: never past the session's expiry", func(t *testing.T) {
		fake, a := setup(t, 3*ttl, kratosauth.WithStaleIfError(time.Minute))
		time.Sleep(2 * ttl) // the session itself has expired now
		fake.SetResponder(down)
		_, err := a.Authenticate(tokenRequest(token))
		assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
	})
}

func TestResilienceOptionsValidate(t *testing.T) {
	_, err := kratosauth.New("http://kratos", kratosauth.WithStaleIfError(-time.Second))
	assert.Error(t, err)
	_, err = kratosauth.New("http://kratos", kratosauth.WithNegativeCacheTTL(-time.Second))
	assert.Error(t, err)
}
