package kratosauth_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
)

func TestSessionDecodesKratosJSON(t *testing.T) {
	var s kratosauth.Session
	require.NoError(t, json.Unmarshal(recorded(t, "whoami_200_token"), &s))
	assert.True(t, s.Active)
	assert.NotEmpty(t, s.ID)
	assert.False(t, s.ExpiresAt.IsZero())
	assert.False(t, s.AuthenticatedAt.IsZero())
	assert.False(t, s.IssuedAt.IsZero())
	assert.Equal(t, kratosauth.AAL1, s.AuthenticatorAssuranceLevel)
	require.Len(t, s.AuthenticationMethods, 1)
	assert.Equal(t, "password", s.AuthenticationMethods[0].Method)
	require.NotNil(t, s.Identity)
	assert.Equal(t, "default", s.Identity.SchemaID)
	assert.Equal(t, "active", s.Identity.State)
	require.Len(t, s.Identity.VerifiableAddresses, 1)
	assert.Equal(t, "email", s.Identity.VerifiableAddresses[0].Via)
	require.Len(t, s.Identity.RecoveryAddresses, 1)
	require.NotEmpty(t, s.Devices)

	var aal2 kratosauth.Session
	require.NoError(t, json.Unmarshal(recorded(t, "whoami_200_aal2"), &aal2))
	assert.Equal(t, kratosauth.AAL2, aal2.AuthenticatorAssuranceLevel)
	assert.True(t, aal2.SatisfiesAAL(kratosauth.AAL1))
	assert.True(t, aal2.SatisfiesAAL(kratosauth.AAL2))
	assert.False(t, s.SatisfiesAAL(kratosauth.AAL2))
	assert.False(t, (&kratosauth.Session{AuthenticatorAssuranceLevel: "aal0"}).SatisfiesAAL(kratosauth.AAL1))
}

func TestTraits(t *testing.T) {
	var s kratosauth.Session
	require.NoError(t, json.Unmarshal(recorded(t, "whoami_200_token"), &s))
	type traits struct {
		Email string `json:"email"`
	}
	tr, err := kratosauth.Traits[traits](&s)
	require.NoError(t, err)
	assert.Contains(t, tr.Email, "@example.com")

	m, err := kratosauth.Traits[map[string]any](&s)
	require.NoError(t, err)
	assert.Equal(t, tr.Email, m["email"])

	_, err = kratosauth.Traits[traits](&kratosauth.Session{})
	assert.Error(t, err)
	_, err = kratosauth.Traits[traits](nil)
	assert.Error(t, err)
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	_, ok := kratosauth.SessionFromContext(ctx)
	assert.False(t, ok)
	_, ok = kratosauth.IdentityFromContext(ctx)
	assert.False(t, ok)

	s := &kratosauth.Session{ID: "s", ExpiresAt: time.Now(), Identity: &kratosauth.Identity{ID: "i"}}
	ctx = kratosauth.NewContext(ctx, s)
	got, ok := kratosauth.SessionFromContext(ctx)
	require.True(t, ok)
	assert.Same(t, s, got)
	id, ok := kratosauth.IdentityFromContext(ctx)
	require.True(t, ok)
	assert.Equal(t, "i", id.ID)

	// A nil session is no session.
	_, ok = kratosauth.SessionFromContext(kratosauth.NewContext(context.Background(), nil))
	assert.False(t, ok)
	// Nobody else can forge the key.
	type contextKey struct{}
	_, ok = kratosauth.SessionFromContext(context.WithValue(context.Background(), contextKey{}, s))
	assert.False(t, ok)
}
