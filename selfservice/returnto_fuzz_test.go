package selfservice_test

import (
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/selfservice"
)

// FuzzSafeReturnTo checks SafeReturnTo's promise for any input: it
// refuses (""), or returns an absolute URL under the app URL
// (safeReturnToApp, then the end, "/" or "?") with no fragment, no
// control character, space or backslash, no dot segment, at most 2048
// bytes, and which SafeReturnTo accepts again unchanged (pages pass
// return_to on from one to the next).
func FuzzSafeReturnTo(f *testing.F) {
	for _, tc := range safeReturnToTests {
		f.Add(tc.in)
	}
	auth, err := kratosauth.New("http://kratos:4433", kratosauth.WithAppURL(safeReturnToApp), kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = auth.Close() })
	c, err := selfservice.NewClient(auth)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := c.SafeReturnTo(in)
		if !ok {
			if got != "" {
				t.Fatalf("SafeReturnTo(%q) refused but returned %q", in, got)
			}
			return
		}
		rest, under := strings.CutPrefix(got, safeReturnToApp)
		if !under || rest != "" && rest[0] != '/' && rest[0] != '?' {
			t.Fatalf("SafeReturnTo(%q) = %q: not under %s", in, got, safeReturnToApp)
		}
		if len(got) > 2048 {
			t.Fatalf("SafeReturnTo(%q) = %d bytes", in, len(got))
		}
		for i := 0; i < len(got); i++ {
			if b := got[i]; b <= ' ' || b == 0x7f || b == '\\' || b == '#' {
				t.Fatalf("SafeReturnTo(%q) = %q: byte %q", in, got, b)
			}
		}
		u, err := url.Parse(got)
		if err != nil || u.User != nil {
			t.Fatalf("SafeReturnTo(%q) = %q: %v", in, got, err)
		}
		for _, seg := range strings.Split(u.Path, "/") {
			if seg == "." || seg == ".." || strings.Contains(seg, "\\") {
				t.Fatalf("SafeReturnTo(%q) = %q: path segment %q", in, got, seg)
			}
		}
		if again, ok := c.SafeReturnTo(got); !ok || again != got {
			t.Fatalf("SafeReturnTo(%q) = %q, but SafeReturnTo(%q) = %q, %v", in, got, got, again, ok)
		}
	})
}
