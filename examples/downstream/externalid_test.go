package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/testing/jwtkit"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
	kratosjwt "github.com/kratosauth/kratosauth/jwtverify"
)

// externalIDMapper is the claims mapper a template with subject_source:
// external_id needs: sub is then the external_id, so the identity's ID
// travels in a claim of its own.
const externalIDMapper = `local claims = std.extVar('claims');
local session = std.extVar('session');
{ claims: claims { identity_id: session.identity.id } }
`

// TestExternalIDSubject runs, on the real Kratos v25.4.0 and later, a
// tokenizer template with subject_source: external_id: the token's sub is
// the identity's external_id, the verifier reads the identity's ID from the
// mapper's claim, and Kratos refuses to tokenize a session whose identity
// has no external_id, which the edge answers with 503 (never a token
// whose sub is something else).
func TestExternalIDSubject(t *testing.T) {
	v, err := kratostest.CurrentVersion()
	require.NoError(t, err)
	if !v.ExternalID {
		t.Skipf("Kratos %s has no external_id", v.Name)
	}
	dir := t.TempDir()
	key := jwtkit.NewES256("kratos-es256-ext")
	privateJWKS, publicJWKS, mapper := filepath.Join(dir, "jwks.private.json"), filepath.Join(dir, "jwks.public.json"), filepath.Join(dir, "ext.jsonnet")
	require.NoError(t, os.WriteFile(privateJWKS, jwtkit.JWKS(key.PrivateJWK()), 0o600))
	require.NoError(t, os.WriteFile(publicJWKS, jwtkit.PublicJWKS(key), 0o600))
	require.NoError(t, os.WriteFile(mapper, []byte(externalIDMapper), 0o600))
	kratos := kratostest.Start(t, kratostest.Options{Tokenizer: map[string]kratostest.TokenizerTemplate{
		"crm": {TTL: "10m", JWKSFile: privateJWKS, ClaimsMapperFile: mapper, SubjectSource: "external_id"},
	}})

	auth, err := kratosauth.New(kratos.PublicURL, kratosauth.WithTokenizeAs("crm"))
	require.NoError(t, err)
	t.Cleanup(func() { auth.Close() })
	verifier, err := kratosjwt.New("file://"+publicJWKS, kratosjwt.WithIssuer(kratos.PublicURL+"/"), kratosjwt.WithExternalIDSubject("identity_id"))
	require.NoError(t, err)
	tokenize := func(token string) (*kratosauth.Session, error) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Session-Token", token)
		return auth.Authenticate(r)
	}

	token, sess := kratos.RegisterAPI(t, kratostest.UniqueEmail("ext"), "correct horse battery staple 42")
	var s struct {
		Identity struct {
			ID string `json:"id"`
		} `json:"identity"`
	}
	require.NoError(t, json.Unmarshal(sess, &s))

	_, err = tokenize(token)
	assert.ErrorIs(t, err, kratosauth.ErrUnavailable, "no external_id: Kratos refuses to tokenize, the edge does not guess")

	kratos.SetExternalID(t, s.Identity.ID, "crm-4711")
	got, err := tokenize(token)
	require.NoError(t, err)
	assert.Equal(t, "crm-4711", got.Identity.ExternalID)
	c, err := verifier.Verify(context.Background(), got.Tokenized)
	require.NoError(t, err)
	assert.Equal(t, "crm-4711", c.Subject)
	assert.Equal(t, "crm-4711", c.ExternalID)
	assert.Equal(t, s.Identity.ID, c.IdentityID)

	// A verifier that expects sub to be the identity's ID would take the
	// external_id for it: the option is what tells them apart.
	plain, err := kratosjwt.New("file://"+publicJWKS, kratosjwt.WithIssuer(kratos.PublicURL+"/"))
	require.NoError(t, err)
	c, err = plain.Verify(context.Background(), got.Tokenized)
	require.NoError(t, err)
	assert.Equal(t, "crm-4711", c.IdentityID)
}
