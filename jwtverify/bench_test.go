package kratosjwt_test

// Local verification's cost, next to the root module's
// BenchmarkRequireSessionCacheHit (a whoami cache hit) and
// BenchmarkWhoamiRoundTrip (a whoami over loopback): see BENCHMARKS.md.
// The token is shaped as Kratos' tokenizer makes it with the README's
// claims mapper (registered claims, sid, aud, email, aal, traits).

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth/internal/testing/jwtkit"
	kratosjwt "github.com/kratosauth/kratosauth/jwtverify"
)

func benchSetup(b *testing.B, key *jwtkit.Key, opts ...kratosjwt.Option) (*kratosjwt.Verifier, string) {
	path := filepath.Join(b.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwtkit.PublicJWKS(key), 0o600); err != nil {
		b.Fatal(err)
	}
	v, err := kratosjwt.New("file://"+path, append([]kratosjwt.Option{kratosjwt.WithIssuer(iss), kratosjwt.WithAudience("orders"), kratosjwt.WithLogger(discard)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	c := claims(time.Hour)
	c["aud"] = []string{"orders"}
	c["email"] = "ada@example.com"
	c["aal"] = "aal1"
	tok := key.Sign(c)
	if _, err := v.Verify(context.Background(), tok); err != nil { // reads the JWKS
		b.Fatal(err)
	}
	return v, tok
}

func benchVerify(b *testing.B, key *jwtkit.Key) {
	v, tok := benchSetup(b, key)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyES256(b *testing.B) { benchVerify(b, jwtkit.NewES256("k1")) }
func BenchmarkVerifyRS256(b *testing.B) { benchVerify(b, jwtkit.NewRS256("k1")) }

// BenchmarkMiddlewareES256 is the whole request path of a downstream
// service: bearer header, verification, claims in the context, and the
// claims mapper's e-mail read with As, as BenchmarkRequireSessionCacheHit
// serves a request through kratoshttp.RequireSession.
func BenchmarkMiddlewareES256(b *testing.B) {
	v, tok := benchSetup(b, jwtkit.NewES256("k1"))
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := kratosjwt.FromContext(r.Context())
		if e, err := kratosjwt.As[struct {
			Email string `json:"email"`
		}](c); err != nil || e.Email == "" {
			b.Fatal("no e-mail claim")
		}
	}))
	r := httptest.NewRequest(http.MethodGet, "/api/profile", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
	if w.Code != http.StatusOK {
		b.Fatalf("status %d", w.Code)
	}
}
