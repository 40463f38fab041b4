package kratostest

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testPassword = "kratosauth-Test-Passw0rd-!42"

func TestTOTPCodeRFC6238(t *testing.T) {
	// RFC 6238 appendix B, SHA1, truncated to 6 digits.
	secret := "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // base32("12345678901234567890")
	for unix, want := range map[int64]string{
		59:         "287082",
		1111111109: "081804",
		1111111111: "050471",
		1234567890: "005924",
		2000000000: "279037",
	} {
		if got := TOTPCode(secret, time.Unix(unix, 0)); got != want {
			t.Errorf("TOTPCode(%d) = %s, want %s", unix, got, want)
		}
	}
	if got := TOTPCode(strings.ToLower(secret)+"====", time.Unix(59, 0)); got != "287082" {
		t.Errorf("lowercase/padded secret: %s", got)
	}
}

func TestWriteConfig(t *testing.T) {
	dir := t.TempDir()
	p, err := WriteConfig(dir, Options{PublicPort: 1111, AdminPort: 2222, AppURL: "http://app.test:9/", RequiredAAL: "highest_available"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"port: 1111", "port: 2222", "base_url: http://127.0.0.1:1111/",
		"sqlite://" + dir + "/db.sqlite?_fk=true&mode=rwc",
		"default_browser_return_url: http://app.test:9/\n",
		"ui_url: http://app.test:9/login", "required_aal: highest_available",
		"file://" + dir + "/" + SchemaFile,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, SchemaFile)); err != nil {
		t.Error(err)
	}
	if _, err := WriteConfig(dir, Options{RequiredAAL: "aal2"}); err == nil {
		t.Error("RequiredAAL aal2 accepted")
	}
}

func whoamiStatus(t *testing.T, s *Server, token string, cookies ...*http.Cookie) int {
	t.Helper()
	resp, _ := s.Whoami(t, token, cookies...)
	return resp.StatusCode
}

func TestServer(t *testing.T) {
	t0 := time.Now()
	s := Start(t, Options{})
	t.Logf("cold Start took %v (public %s, admin %s)", time.Since(t0), s.PublicURL, s.AdminURL)

	email := UniqueEmail("api")
	tok, sess := s.RegisterAPI(t, email, testPassword)
	if !strings.HasPrefix(tok, "ory_st_") {
		t.Errorf("token %q lacks ory_st_ prefix", tok)
	}
	sid, iid := SessionIDs(t, sess)
	resp, body := s.Whoami(t, tok)
	if resp.StatusCode != 200 || resp.Header.Get("X-Kratos-Authenticated-Identity-Id") != iid {
		t.Fatalf("whoami: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	tok2 := s.LoginAPI(t, email, testPassword)
	if tok2 == tok {
		t.Error("login returned the registration token")
	}
	if st := whoamiStatus(t, s, tok2); st != 200 {
		t.Fatalf("whoami after login: %d", st)
	}
	s.LogoutAPI(t, tok2)
	if st := whoamiStatus(t, s, tok2); st != 401 {
		t.Errorf("whoami after LogoutAPI: %d", st)
	}

	s.RevokeSession(t, sid)
	if st := whoamiStatus(t, s, tok); st != 401 {
		t.Errorf("whoami after RevokeSession: %d", st)
	}

	// Browser flow.
	jar, ck := s.RegisterBrowser(t, UniqueEmail("browser"), testPassword)
	if ck.Name != SessionCookieName || ck.Value == "" || !ck.HttpOnly {
		t.Errorf("session cookie: %+v", ck)
	}
	if st := whoamiStatus(t, s, "", ck); st != 200 {
		t.Fatalf("whoami with cookie: %d", st)
	}

	// A browser login is a new session with a cookie of its own.
	_, ck2 := s.LoginBrowser(t, email, testPassword)
	if ck2.Name != SessionCookieName || ck2.Value == "" || ck2.Value == ck.Value {
		t.Errorf("login session cookie: %+v", ck2)
	}
	resp, body = s.Whoami(t, "", ck2)
	if resp.StatusCode != 200 || resp.Header.Get("X-Kratos-Authenticated-Identity-Id") != iid {
		t.Fatalf("whoami with the login cookie: %d %s", resp.StatusCode, body)
	}

	// Restart keeps sessions (same DB, same ports).
	s.Restart(t)
	if st := whoamiStatus(t, s, "", ck); st != 200 {
		t.Fatalf("whoami with cookie after Restart: %d", st)
	}

	s.LogoutBrowser(t, jar)
	if st := whoamiStatus(t, s, "", ck); st != 401 {
		t.Errorf("whoami with cookie after LogoutBrowser: %d", st)
	}

	// Disabled identity.
	tok3 := s.LoginAPI(t, email, testPassword)
	s.DisableIdentity(t, iid)
	resp, body = s.Whoami(t, tok3)
	if resp.StatusCode != 401 {
		t.Errorf("whoami for inactive identity: %d %s", resp.StatusCode, body)
	}

	s.Stop()
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.PublicURL, "http://"), time.Second); err == nil {
		c.Close()
		t.Error("public port still accepts connections after Stop")
	}
	s.Stop() // idempotent
}

func TestAAL2(t *testing.T) {
	s := Start(t, Options{RequiredAAL: "highest_available"})
	email := UniqueEmail("totp")
	tok, _ := s.RegisterAPI(t, email, testPassword)
	secret := s.EnableTOTP(t, tok)
	if len(secret) < 16 {
		t.Fatalf("secret %q", secret)
	}

	aal1 := s.LoginAPI(t, email, testPassword)
	resp, body := s.Whoami(t, aal1)
	var e struct {
		Error struct {
			ID string `json:"id"`
		} `json:"error"`
		RedirectBrowserTo string `json:"redirect_browser_to"`
	}
	_ = json.Unmarshal(body, &e)
	if resp.StatusCode != 403 || e.Error.ID != "session_aal2_required" || e.RedirectBrowserTo == "" {
		t.Fatalf("whoami aal1 with TOTP enrolled: %d %s", resp.StatusCode, body)
	}

	aal2 := s.LoginAAL2API(t, aal1, secret)
	resp, body = s.Whoami(t, aal2)
	var sess struct {
		AAL string `json:"authenticator_assurance_level"`
	}
	_ = json.Unmarshal(body, &sess)
	if resp.StatusCode != 200 || sess.AAL != "aal2" {
		t.Fatalf("whoami after aal2 login: %d %s", resp.StatusCode, body)
	}
	if aal2 != aal1 {
		t.Logf("note: aal2 login returned a different token")
	}
}

// TestWriteConfigAllMethods: the pages' configuration puts the app's
// origin where the pages need it (rp.origins of security keys and
// passkeys, CORS for webauthn.js, every flow's ui_url, the error page),
// signs new identities in after every way of signing up, and refuses an
// app on another host than Kratos' browser URL.
func TestWriteConfigAllMethods(t *testing.T) {
	dir := t.TempDir()
	const app = "http://localhost:4455"
	p, err := WriteConfig(dir, Options{Host: "localhost", AppURL: app, AllMethods: true, CourierURL: "http://127.0.0.1:4436/messages"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for want, n := range map[string]int{
		"base_url: http://localhost:4433/":          1,
		"origins:\n            - " + app + "\n":     2, // webauthn and passkey
		"id: localhost\n":                           2,
		"allowed_origins:\n        - " + app + "\n": 1, // CORS for webauthn.js
		"ui_url: " + app + "/error\n":               1,
		"passwordless_enabled: true":                1,
		"- hook: show_verification_ui":              1,
		"use: code":                                 2, // verification and recovery
		"delivery_strategy: http":                   1,
	} {
		if got := strings.Count(cfg, want); got != n {
			t.Errorf("config has %q %d times, want %d", want, got, n)
		}
	}
	for _, flow := range []string{"login", "registration", "settings", "verification", "recovery"} {
		if !strings.Contains(cfg, "ui_url: "+app+"/"+flow+"\n") {
			t.Errorf("no ui_url for %s", flow)
		}
	}
	// The session hook after each way of signing up.
	for _, method := range []string{"password", "code", "passkey"} {
		if !strings.Contains(cfg, "        "+method+":\n          hooks:\n            - hook: session\n") {
			t.Errorf("registration by %s has no session hook", method)
		}
	}
	schema, err := os.ReadFile(filepath.Join(dir, SchemaFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"code": {`, `"webauthn": {`, `"passkey": {`, `"totp": {`} {
		if !strings.Contains(string(schema), want) {
			t.Errorf("identity schema lacks %s", want)
		}
	}

	for _, o := range []Options{
		{Host: "localhost", AppURL: "http://127.0.0.1:4455", AllMethods: true},
		{Host: "127.0.0.1", AppURL: "http://localhost:4455", AllMethods: true},
	} {
		if _, err := WriteConfig(t.TempDir(), o); err == nil || !strings.Contains(err.Error(), "must be on Host") {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
