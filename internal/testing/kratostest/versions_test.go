package kratostest

import (
	"os"
	"strings"
	"testing"
)

// The versions file and the deltas agree, the default is first, and the
// config is rendered for the version asked for; what a version lacks is
// refused when the config is written, not when Kratos starts.
func TestVersions(t *testing.T) {
	var names []string
	for _, v := range Versions() {
		names = append(names, v.Name)
	}
	if got := strings.Join(names, " "); got != "v26.2.0 v25.4.0 v1.3.1" {
		t.Fatalf("Versions() = %s", got)
	}
	if len(versionDeltas) != len(names) {
		t.Errorf("versionDeltas describes %d versions, versions.txt lists %d", len(versionDeltas), len(names))
	}
	if DefaultVersion().Name != "v26.2.0" {
		t.Errorf("default %s", DefaultVersion().Name)
	}
	t.Setenv("KRATOS_VERSION", "v2.0.0")
	if _, err := CurrentVersion(); err == nil {
		t.Error("an unknown KRATOS_VERSION accepted")
	}
	if _, err := Binary(); err == nil {
		t.Error("Binary found a binary for an unknown version")
	}

	dir := t.TempDir()
	jwks := dir + "/jwks.json"
	for _, tc := range []struct {
		o    Options
		want string // in the config; "" means WriteConfig fails
	}{
		{Options{Version: "v1.3.1"}, "version: v1.3.1\n"},
		{Options{Version: "v25.4.0"}, "version: v25.4.0\n"},
		{Options{Version: "v25.4.0", Tokenizer: map[string]TokenizerTemplate{"crm": {TTL: "1m", JWKSFile: jwks, SubjectSource: "external_id"}}}, "subject_source: external_id\n"},
		{Options{Version: "v1.3.1", Tokenizer: map[string]TokenizerTemplate{"crm": {TTL: "1m", JWKSFile: jwks, SubjectSource: "external_id"}}}, ""},
		{Options{Version: "v26.2.0", Tokenizer: map[string]TokenizerTemplate{"crm": {TTL: "1m", JWKSFile: jwks, SubjectSource: "email"}}}, ""},
		{Options{Version: "v26.2.0", Webhook: &Webhook{URL: "http://127.0.0.1:1/h", APIKey: "k", Body: WebhookSessionBody}}, "body: " + WebhookSessionBody + "\n"},
		{Options{Version: "v26.2.0", Webhook: &Webhook{URL: "http://127.0.0.1:1/h", APIKey: "k", Body: "file:///etc/passwd"}}, ""},
		{Options{Version: "v26.2.0", RequiredAAL: "aal1", RequireVerifiedLogin: true}, "- hook: require_verified_address\n"},
		{Options{Version: "v9.9.9"}, ""},
	} {
		p, err := WriteConfig(dir, tc.o)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%+v: accepted", tc.o)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", tc.o, err)
			continue
		}
		b, _ := os.ReadFile(p)
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("%+v: config lacks %q", tc.o, tc.want)
		}
	}
}
