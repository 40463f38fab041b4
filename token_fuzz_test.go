package kratosauth

import (
	"encoding/base64"
	"testing"
	"time"
)

// FuzzTokenExpiry feeds the edge's exp reader (tokenExpiry, which reads
// Kratos' tokenized session without verifying it) arbitrary tokens: never a
// panic, and an accepted exp is positive, finite and what tokenCacheFor
// bounds the cache by (never longer than the token lives).
func FuzzTokenExpiry(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	for _, p := range []string{`{"exp":1893456000}`, `{"exp":1.5e9}`, `{"exp":"1"}`, `{"exp":-1}`, `{"exp":1e300}`, `{}`, `[]`, `null`} {
		f.Add(enc([]byte(`{"alg":"ES256"}`)) + "." + enc([]byte(p)) + ".sig")
	}
	f.Add("a.b")
	f.Add("...")
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, token string) {
		exp, ok := tokenExpiry(token)
		d := tokenCacheFor(token, -1, now)
		if !ok {
			if d != 0 {
				t.Fatalf("no exp, yet cacheable for %s", d)
			}
			return
		}
		if exp.Unix() <= 0 {
			t.Fatalf("exp %v accepted", exp)
		}
		if d < 0 || now.Add(d).After(exp.Add(-TokenExpiryMargin)) && d > 0 {
			t.Fatalf("cacheable for %s, past exp %v - margin", d, exp)
		}
	})
}
