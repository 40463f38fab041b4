package kratosjwt_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/testing/jwtkit"
	kratosjwt "github.com/kratosauth/kratosauth/jwtverify"
)

// FuzzVerify feeds the token parser arbitrary tokens, seeded with genuine
// ones and the forgeries of TestRefusedTokens. A token is accepted only if
// its payload is one that the key really signed (a mutation may still
// decode to the same bytes), and every refusal is one of the sentinel
// errors: never a panic, never a 503 for a token (the JWKS, a file, is fine).
func FuzzVerify(f *testing.F) {
	key := jwtkit.NewES256("k1")
	path := filepath.Join(f.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwtkit.PublicJWKS(key, jwtkit.NewRS256("rs")), 0o600); err != nil {
		f.Fatal(err)
	}
	v, err := kratosjwt.New("file://"+path, kratosjwt.WithLogger(discard), kratosjwt.WithIssuer(iss),
		kratosjwt.WithAlgorithms("ES256", "RS256", "HS256"))
	if err != nil {
		f.Fatal(err)
	}
	var signed [][]byte
	for _, c := range []map[string]any{claims(time.Hour), claims(-time.Hour)} {
		tok := key.Sign(c)
		f.Add(tok)
		signed = append(signed, jwtkit.Payload(tok))
	}
	f.Add(jwtkit.Unsigned("k1", claims(time.Hour)))
	f.Add(jwtkit.SignHS256([]byte("0123456789abcdef0123456789abcdef"), "k1", claims(time.Hour)))
	f.Add(jwtkit.NewES256("k1").Sign(claims(time.Hour)))
	f.Add("..")
	f.Add("e30.e30.")

	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			if c != nil {
				t.Fatal("claims with an error")
			}
			if !isSentinel(err) {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		for _, p := range signed {
			if bytes.Equal(c.Raw(), p) {
				return
			}
		}
		t.Fatalf("accepted a payload the key never signed: %s", c.Raw())
	})
}

func isSentinel(err error) bool {
	for _, k := range []error{kratosauth.ErrNoCredentials, kratosauth.ErrInvalidSession, kratosauth.ErrUnavailable, kratosauth.ErrCanceled} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}
