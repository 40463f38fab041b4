package kratosjwt_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/testing/jwtkit"
	kratosjwt "github.com/kratosauth/kratosauth/jwtverify"
)

type mapList struct {
	mu      sync.Mutex
	revoked map[string]bool
	err     error
}

func (l *mapList) Revoked(sid string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.revoked[sid], l.err
}

// A revoked session's token is refused (401), others pass; a token without
// sid is refused; a list that cannot tell makes every token a 503.
func TestRevocationList(t *testing.T) {
	key := jwtkit.NewES256("k")
	srv := newJWKSServer(t, jwtkit.PublicJWKS(key))
	list := &mapList{revoked: map[string]bool{}}
	v := newVerifier(t, srv.URL, kratosjwt.WithRevocationList(list))
	ctx := context.Background()
	revoked := key.Sign(jwtkit.KratosClaims(iss, "identity-1", "session-revoked", time.Minute))
	live := key.Sign(jwtkit.KratosClaims(iss, "identity-1", "session-live", time.Minute))
	for _, tok := range []string{revoked, live} {
		_, err := v.Verify(ctx, tok)
		require.NoError(t, err)
	}

	list.mu.Lock()
	list.revoked["session-revoked"] = true
	list.mu.Unlock()
	_, err := v.Verify(ctx, revoked)
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	_, err = v.Verify(ctx, live)
	assert.NoError(t, err)

	noSID := jwtkit.KratosClaims(iss, "identity-1", "x", time.Minute)
	delete(noSID, "sid")
	_, err = v.Verify(ctx, key.Sign(noSID))
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)

	list.mu.Lock()
	list.err = errors.New("feed down")
	list.mu.Unlock()
	_, err = v.Verify(ctx, live)
	assert.ErrorIs(t, err, kratosauth.ErrUnavailable)
	assert.NotErrorIs(t, err, kratosauth.ErrInvalidSession)

	_, err = kratosjwt.New(srv.URL, kratosjwt.WithRevocationList(nil))
	assert.Error(t, err)
	_, err = kratosjwt.New(srv.URL, kratosjwt.WithSessionIDClaim(""))
	assert.Error(t, err)
}

// A claims mapper that puts the session ID elsewhere: the named claim is
// the one checked, and a token without it (or with a non-string) is refused.
func TestRevocationListSessionIDClaim(t *testing.T) {
	key := jwtkit.NewES256("k")
	srv := newJWKSServer(t, jwtkit.PublicJWKS(key))
	list := &mapList{revoked: map[string]bool{"s-revoked": true}}
	v := newVerifier(t, srv.URL, kratosjwt.WithRevocationList(list), kratosjwt.WithSessionIDClaim("session_id"))
	tok := func(sid any) string {
		c := jwtkit.KratosClaims(iss, "identity-1", "kratos-sid", time.Minute)
		if sid != nil {
			c["session_id"] = sid
		}
		return key.Sign(c)
	}
	_, err := v.Verify(context.Background(), tok("s-live"))
	assert.NoError(t, err)
	_, err = v.Verify(context.Background(), tok("s-revoked"))
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	for _, bad := range []any{nil, 42, ""} {
		_, err = v.Verify(context.Background(), tok(bad))
		assert.ErrorIs(t, err, kratosauth.ErrInvalidSession, "%v", bad)
	}
}

// BenchmarkVerifyES256WithRevocationList is BenchmarkVerifyES256 plus a
// lookup in a revocation list of 100,000 sessions.
func BenchmarkVerifyES256WithRevocationList(b *testing.B) {
	list := &mapList{revoked: map[string]bool{}}
	for i := range 100_000 {
		list.revoked[time.Duration(i).String()] = true
	}
	key := jwtkit.NewES256("k1")
	v, tok := benchSetup(b, key, kratosjwt.WithRevocationList(list))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
