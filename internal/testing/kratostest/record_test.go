package kratostest

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestRecord records real Kratos responses into <repo>/kratosauthtest/recorded
// (v1.3.1) or recorded/VERSION (the other versions), for the Kratos version
// under test. Run with scripts/record.sh, or for one version:
// KRATOS_VERSION=v26.2.0 KRATOSTEST_RECORD=1 go test ./internal/testing/kratostest -run TestRecord
// The format is documented in kratosauthtest/recorded/README.md.
func TestRecord(t *testing.T) {
	if os.Getenv("KRATOSTEST_RECORD") != "1" {
		t.Skip("set KRATOSTEST_RECORD=1 to re-record kratosauthtest/recorded")
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	version, err := CurrentVersion()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "kratosauthtest", "recorded")
	if version.Name != "v1.3.1" {
		out = filepath.Join(out, version.Name)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}

	type meta struct {
		Request struct {
			Method      string            `json:"method"`
			Path        string            `json:"path"`
			Headers     map[string]string `json:"headers,omitempty"`
			Description string            `json:"description"`
			Config      string            `json:"config"`
		} `json:"request"`
		Status  int                 `json:"status"`
		Headers map[string][]string `json:"headers"`
	}
	save := func(name, desc, cfg string, reqHdr map[string]string, resp *http.Response, body []byte) {
		t.Helper()
		var m meta
		m.Request.Method, m.Request.Path = http.MethodGet, "/sessions/whoami"
		m.Request.Headers, m.Request.Description, m.Request.Config = reqHdr, desc, cfg
		m.Status = resp.StatusCode
		m.Headers = map[string][]string{}
		for k, v := range resp.Header {
			if k == "Date" || k == "Content-Length" {
				continue
			}
			if k == "Set-Cookie" {
				// Keep attributes, redact values.
				var red []string
				for _, c := range v {
					name, rest, _ := strings.Cut(c, "=")
					_, attrs, _ := strings.Cut(rest, ";")
					red = append(red, name+"=<redacted>;"+attrs)
				}
				v = red
			}
			m.Headers[k] = v
		}
		mb, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(out, name+".meta.json"), append(mb, '\n'))
		write(t, filepath.Join(out, name+".json"), body)
		t.Logf("%s: %d", name, resp.StatusCode)
	}
	tokenHdr := map[string]string{"Accept": "application/json", "X-Session-Token": "<session token>"}
	cookieHdr := map[string]string{"Accept": "application/json", "Cookie": SessionCookieName + "=<session cookie>"}
	noHdr := map[string]string{"Accept": "application/json"}

	// --- default config: whoami required_aal aal1 ---
	const aal1Cfg = "session.whoami.required_aal: aal1"
	s := Start(t, Options{})
	email := UniqueEmail("record")
	tok, sess := s.RegisterAPI(t, email, testPassword)
	desc := "valid aal1 session via X-Session-Token (API registration)"
	if version.ExternalID {
		_, iid := SessionIDs(t, mustWhoami(t, s, tok))
		s.SetExternalID(t, iid, "crm-"+iid[:8])
		desc += ", the identity's external_id set by admin PATCH"
	}
	resp, body := s.Whoami(t, tok)
	save("whoami_200_token", desc, aal1Cfg, tokenHdr, resp, body)

	_, ck := s.RegisterBrowser(t, UniqueEmail("record-browser"), testPassword)
	resp, body = s.Whoami(t, "", ck)
	save("whoami_200_cookie", "valid aal1 session via ory_kratos_session cookie (browser registration)", aal1Cfg, cookieHdr, resp, body)
	writeCookieMeta(t, filepath.Join(out, "session_cookie.meta.json"), ck)

	resp, body = s.Whoami(t, "")
	save("whoami_401_none", "no credentials at all", aal1Cfg, noHdr, resp, body)

	resp, body = s.Whoami(t, "ory_st_thisIsNotAValidSessionToken0")
	save("whoami_401_garbage_token", "syntactically plausible but unknown session token", aal1Cfg,
		map[string]string{"Accept": "application/json", "X-Session-Token": "ory_st_thisIsNotAValidSessionToken0"}, resp, body)

	resp, body = s.Whoami(t, "", &http.Cookie{Name: SessionCookieName, Value: "garbage"})
	save("whoami_401_garbage_cookie", "ory_kratos_session cookie that is not a valid securecookie", aal1Cfg,
		map[string]string{"Accept": "application/json", "Cookie": SessionCookieName + "=garbage"}, resp, body)

	tok2 := s.LoginAPI(t, email, testPassword)
	s.LogoutAPI(t, tok2)
	resp, body = s.Whoami(t, tok2)
	save("whoami_401_logged_out", "session token after DELETE /self-service/logout/api", aal1Cfg, tokenHdr, resp, body)

	tok3 := s.LoginAPI(t, email, testPassword)
	resp, body = s.Whoami(t, tok3)
	sid, iid := SessionIDs(t, body)
	s.RevokeSession(t, sid)
	resp, body = s.Whoami(t, tok3)
	save("whoami_401_revoked", "session token after admin DELETE /admin/sessions/{id}", aal1Cfg, tokenHdr, resp, body)

	s.DisableIdentity(t, iid)
	resp, body = s.Whoami(t, tok)
	save("whoami_401_identity_inactive", "still-unexpired session of an identity set to state=inactive via admin PATCH", aal1Cfg, tokenHdr, resp, body)
	_ = sess
	s.Stop()

	// --- whoami required_aal highest_available ---
	const haCfg = "session.whoami.required_aal: highest_available"
	s = Start(t, Options{RequiredAAL: "highest_available"})
	email = UniqueEmail("record-totp")
	tok, _ = s.RegisterAPI(t, email, testPassword)
	secret := s.EnableTOTP(t, tok)
	aal1 := s.LoginAPI(t, email, testPassword)
	resp, body = s.Whoami(t, aal1)
	save("whoami_403_aal2_required", "aal1 session (password login) of an identity with TOTP enrolled", haCfg, tokenHdr, resp, body)
	aal2 := s.LoginAAL2API(t, aal1, secret)
	resp, body = s.Whoami(t, aal2)
	save("whoami_200_aal2", "same session after GET /self-service/login/api?aal=aal2 + method totp", haCfg, tokenHdr, resp, body)
}

func mustWhoami(t *testing.T, s *Server, tok string) []byte {
	t.Helper()
	resp, body := s.Whoami(t, tok)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("whoami: %d %s", resp.StatusCode, body)
	}
	return body
}

func writeCookieMeta(t *testing.T, path string, c *http.Cookie) {
	t.Helper()
	var attrs []string
	for _, a := range strings.Split(c.Raw, ";")[1:] {
		a = strings.TrimSpace(a)
		if k, _, ok := strings.Cut(a, "="); ok && strings.EqualFold(k, "Expires") {
			a = "Expires=<24h from issuance>"
		}
		attrs = append(attrs, a)
	}
	sort.Strings(attrs)
	m := map[string]any{
		"name":         c.Name,
		"value_length": len(c.Value),
		"value_charset": func() string {
			if strings.Trim(c.Value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=") == "" {
				return "base64url"
			}
			return "other"
		}(),
		"attributes": attrs,
		"http_only":  c.HttpOnly,
		"secure":     c.Secure,
		"same_site":  c.SameSite,
		"max_age":    c.MaxAge,
		"path":       c.Path,
		"domain":     c.Domain,
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, append(b, '\n'))
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
