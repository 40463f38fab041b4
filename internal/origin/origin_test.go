package origin_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/internal/origin"
)

func mustParse(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

var sameTests = []struct {
	base, target string
	want         string // "" = refused
}{
	// Same origin.
	{"https://auth.example.com", "https://auth.example.com/self-service/login/browser?aal=aal2", "https://auth.example.com/self-service/login/browser?aal=aal2"},
	{"https://auth.example.com", "https://auth.example.com", "https://auth.example.com"},
	{"https://auth.example.com", "HTTPS://AUTH.Example.COM/x", "https://auth.example.com/x"},
	{"https://Auth.Example.com", "https://auth.example.com/x", "https://Auth.Example.com/x"},
	{"https://auth.example.com", "https://auth.example.com:443/x", "https://auth.example.com/x"},
	{"https://auth.example.com:443", "https://auth.example.com/x", "https://auth.example.com:443/x"},
	{"http://127.0.0.1:4433", "http://127.0.0.1:4433/self-service/logout?token=t", "http://127.0.0.1:4433/self-service/logout?token=t"},
	{"http://app.example.com", "http://app.example.com:80/", "http://app.example.com/"},
	{"http://[::1]:4433", "http://[::1]:4433/x", "http://[::1]:4433/x"},
	{"http://[::1]", "http://[::1]:80/x", "http://[::1]/x"},
	{"https://auth.example.com/base", "https://auth.example.com/other#frag", "https://auth.example.com/other#frag"}, // paths are the caller's business

	// Another origin.
	{"https://auth.example.com", "http://auth.example.com/x", ""},
	{"http://auth.example.com", "https://auth.example.com/x", ""},
	{"https://auth.example.com", "https://auth.example.com:444/x", ""},
	{"https://auth.example.com", "https://auth.example.com:80/x", ""},
	{"https://auth.example.com", "https://auth.example.com:0443/x", ""},
	{"http://127.0.0.1:4433", "http://127.0.0.1/x", ""},
	{"http://127.0.0.1:4433", "http://127.0.0.1:4434/x", ""},
	{"https://auth.example.com", "https://auth.example.com./x", ""},
	{"https://auth.example.com", "https://auth.example.com.evil.example/x", ""},
	{"https://auth.example.com", "https://evil.example/auth.example.com", ""},
	{"https://auth.example.com", "https://evil.example#@auth.example.com", ""},
	{"https://auth.example.com", "https://evil.example?@auth.example.com", ""},
	{"http://[::1]:4433", "http://[::2]:4433/x", ""},

	// Malformed or ambiguous.
	{"https://auth.example.com", "", ""},
	{"https://auth.example.com", "/x", ""},
	{"https://auth.example.com", "//auth.example.com/x", ""},
	{"https://auth.example.com", "https:auth.example.com", ""},
	{"https://auth.example.com", "https:/auth.example.com/x", ""},
	{"https://auth.example.com", "https:///auth.example.com/x", ""},
	{"https://auth.example.com", "https://user@auth.example.com/x", ""},
	{"https://auth.example.com", "https://@auth.example.com/x", ""},
	{"https://auth.example.com", "https://auth.example.com@evil.example/x", ""},
	{"https://auth.example.com", "https://auth.example.com:/x", ""},
	{"https://auth.example.com", "https://auth.example.com\\@evil.example/", ""},
	{"https://auth.example.com", "https://auth.example.com/\\evil.example", ""},
	{"https://auth.example.com", "https://auth.example.com/x\r\nSet-Cookie:a=b", ""},
	{"https://auth.example.com", "https://auth.example.com/x\ty", ""},
	{"https://auth.example.com", " https://auth.example.com/x", ""},
	{"https://auth.example.com", "https://auth.example.com/x y", ""},
	{"https://auth.example.com", "https://auth.example.com/\x00", ""},
	{"https://auth.example.com", "https://auth.example.com/\x7f", ""},
	{"https://auth.example.com", "https://auth.%C3%A9xample.com/x", ""},
	{"https://auth.example.com", "https://\u212auth.example.com/x", ""}, // Kelvin sign folds to "k" in Unicode
	{"https://auth.example.com", "https://%61uth.example.com/x", ""},
	{"https://auth.example.com", "javascript:alert(1)", ""},
	{"https://auth.example.com", "data:text/html,hi", ""},
	{"ftp://auth.example.com", "ftp://auth.example.com/x", ""},
	{"https://auth.example.com", "ftp://auth.example.com/x", ""},
	{"https://u@auth.example.com", "https://auth.example.com/x", ""},
	{"/relative", "/relative", ""},
}

func TestSame(t *testing.T) {
	for _, tc := range sameTests {
		got, ok := origin.Same(tc.target, mustParse(t, tc.base))
		if tc.want == "" {
			assert.False(t, ok, "Same(%q, %q) = %v, want refused", tc.target, tc.base, got)
			assert.Nil(t, got, "Same(%q, %q)", tc.target, tc.base)
			continue
		}
		if assert.True(t, ok, "Same(%q, %q) refused", tc.target, tc.base) {
			assert.Equal(t, tc.want, got.String(), "Same(%q, %q)", tc.target, tc.base)
		}
	}
	_, ok := origin.Same("https://auth.example.com/x", nil)
	assert.False(t, ok, "nil base")
}

var fuzzBases = []string{"https://auth.example.com", "http://127.0.0.1:4433", "https://app.example.com:8443/base", "http://[::1]"}

// FuzzSame checks that whatever Same accepts is, read as plain text, on
// the base's origin: "scheme://host" (case aside), then the default or
// base's port, then the end or "/", "?" or "#". That is how a browser
// would read it, so a parser quirk that let another origin through fails.
func FuzzSame(f *testing.F) {
	for _, tc := range sameTests {
		for i, b := range fuzzBases {
			if b == tc.base {
				f.Add(uint8(i), tc.target)
			}
		}
		f.Add(uint8(0), tc.target)
	}
	f.Fuzz(func(t *testing.T, which uint8, target string) {
		base := mustParse(t, fuzzBases[int(which)%len(fuzzBases)])
		u, ok := origin.Same(target, base)
		if !ok {
			if u != nil {
				t.Fatalf("Same(%q) refused but returned %v", target, u)
			}
			return
		}
		if u.Scheme != base.Scheme || u.Host != base.Host || u.User != nil {
			t.Fatalf("Same(%q) = %v: not base's scheme and host", target, u)
		}
		if strings.ContainsAny(target, "\\\t\r\n ") {
			t.Fatalf("Same(%q) accepted a backslash, space or control character", target)
		}
		rest, ok := strings.CutPrefix(strings.ToLower(target), base.Scheme+"://"+base.Hostname())
		if !ok && strings.Contains(base.Host, "[") {
			rest, ok = strings.CutPrefix(strings.ToLower(target), base.Scheme+"://["+base.Hostname()+"]")
		}
		if !ok {
			t.Fatalf("Same(%q) accepted, but it does not start with %s://%s", target, base.Scheme, base.Hostname())
		}
		if strings.HasPrefix(rest, ":") {
			port, _, _ := strings.Cut(rest[1:], "/")
			port, _, _ = strings.Cut(port, "?")
			port, _, _ = strings.Cut(port, "#")
			def := map[string]string{"http": "80", "https": "443"}[base.Scheme]
			if port != base.Port() && !(port == def && base.Port() == "") {
				t.Fatalf("Same(%q) accepted port %q on base %v", target, port, base)
			}
			rest = rest[1+len(port):]
		} else if base.Port() != "" {
			t.Fatalf("Same(%q) accepted no port on base %v", target, base)
		}
		if rest != "" && !strings.ContainsAny(rest[:1], "/?#") {
			t.Fatalf("Same(%q) accepted, but the host goes on: %q", target, rest)
		}
		// Accepting is stable: the URL returned is accepted as itself.
		if again, ok := origin.Same(u.String(), base); !ok || again.String() != u.String() {
			t.Fatalf("Same(%q) = %q, which is then %v %v", target, u, again, ok)
		}
	})
}

func TestKey(t *testing.T) {
	for _, tc := range []struct{ scheme, host, want string }{
		{"https", "API.Example.com", "https://api.example.com:"},
		{"HTTPS", "api.example.com:443", "https://api.example.com:"},
		{"http", "api.example.com:8080", "http://api.example.com:8080"},
		{"http", "[::1]:80", "http://[::1]:"},
		{"http", "b\u0130lling.example", ""}, // "İ" lower-cases to "i" in Unicode
		{"https", "\u212aeto.example", ""},   // the Kelvin sign to "k"
		{"https", "keto.example\u3002", ""},  // ideographic full stop
		{"http\u0130", "keto.example", ""},
		{"ftp", "keto.example", ""},
		{"https", "keto.example:", ""},
		{"https", "", ""},
	} {
		got, ok := origin.Key(tc.scheme, tc.host)
		assert.Equal(t, tc.want, got, "Key(%q, %q)", tc.scheme, tc.host)
		assert.Equal(t, tc.want != "", ok, "Key(%q, %q)", tc.scheme, tc.host)
	}
}
