package selfservice

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

// TestRecordMethods records, into testdata/methods/, the flows of a Kratos
// with every method (kratostest.Options.AllMethods and an OIDC provider):
// what the pages render for passwordless codes, backup codes, security
// keys, passkeys and social sign-in, and the states of the code flows.
// Run with scripts/record.sh, or for one version:
// KRATOS_VERSION=v1.3.1 KRATOSAUTH_RECORD=1 go test ./selfservice -run TestRecordMethods
func TestRecordMethods(t *testing.T) {
	if os.Getenv("KRATOSAUTH_RECORD") != "1" {
		t.Skip("set KRATOSAUTH_RECORD=1 to re-record selfservice/testdata/methods")
	}
	const app = "http://localhost:4455"
	courier := kratostest.StartCourier(t)
	hydra := kratostest.StartHydra(t, "localhost")
	l, _ := freeTCPPort()
	cid, secret := hydra.CreateClient(t, kratostest.CallbackURL("http://localhost:"+strconv.Itoa(l), "hydra"))
	k := kratostest.Start(t, kratostest.Options{PublicPort: l, Host: "localhost", AppURL: app, CourierURL: courier.URL, AllMethods: true,
		OIDC: &kratostest.OIDCProvider{ID: "hydra", Label: "Hydra", IssuerURL: hydra.IssuerURL, ClientID: cid, ClientSecret: secret}})
	out := filepath.Join(recordingDir(t), "methods")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	call := func(method, u string, body any) (int, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		if u[0] == '/' {
			u = k.BrowserURL + u
		}
		req, _ := http.NewRequest(method, u, rd)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	// Random values (ports, challenges, codes, ids) are kept: the unit
	// tests read the recordings as real flows. Only the ports are made
	// fixed, as in the other recordings.
	ports := regexp.MustCompile(`localhost:` + strconv.Itoa(l))
	save := func(name string, status int, body []byte) *Flow {
		t.Helper()
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v: %s", name, err, body)
		}
		pretty, _ := json.MarshalIndent(v, "", "  ")
		pretty = ports.ReplaceAll(pretty, []byte("localhost:4433"))
		if err := os.WriteFile(filepath.Join(out, name+".json"), append(pretty, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d", name, status)
		var f Flow
		_ = json.Unmarshal(body, &f)
		return &f
	}
	must := func(st int, b []byte, want int) []byte {
		t.Helper()
		if st != want {
			t.Fatalf("status %d, want %d: %s", st, want, b)
		}
		return b
	}
	email := "methods@example.com"

	for _, kind := range []string{"login", "registration", "verification", "recovery"} {
		st, b := call("GET", "/self-service/"+kind+"/browser", nil)
		save(kind+"_flow", st, b)
	}
	// Registration by code: the code is sent, then a wrong code.
	st, b := call("GET", "/self-service/registration/browser", nil)
	f := save("registration_flow", st, b)
	n := courier.Count()
	st, b = call("POST", f.UI.Action, map[string]any{"method": "code", "csrf_token": f.CSRFToken(), "traits": map[string]string{"email": "code-" + email}})
	f = save("registration_code_sent", st, b)
	courier.WaitFor(t, "code-"+email, "registration_code", n, 20*time.Second)
	st, b = call("POST", f.UI.Action, map[string]any{"method": "code", "csrf_token": f.CSRFToken(), "traits": map[string]string{"email": "code-" + email}, "code": "000000"})
	save("registration_code_wrong", st, b)

	// Password registration: the session hook, then show_verification_ui.
	jar2, _ := cookiejar.New(nil)
	c.Jar = jar2
	st, b = call("GET", "/self-service/registration/browser", nil)
	f = &Flow{}
	_ = json.Unmarshal(must(st, b, 200), f)
	n = courier.Count()
	st, b = call("POST", f.UI.Action, map[string]any{"method": "password", "csrf_token": f.CSRFToken(), "traits": map[string]string{"email": email}, "password": "correct horse battery staple 42"})
	save("registration_success", st, b)
	courier.WaitFor(t, email, "verification_code", n, 20*time.Second)
	st, b = call("GET", "/self-service/settings/browser", nil)
	f = save("settings_flow", st, b)
	st, b = call("POST", f.UI.Action, map[string]any{"method": "lookup_secret", "csrf_token": f.CSRFToken(), "lookup_secret_regenerate": true})
	f = save("settings_lookup_generated", st, b)
	st, b = call("POST", f.UI.Action, map[string]any{"method": "lookup_secret", "csrf_token": f.CSRFToken(), "lookup_secret_confirm": true})
	save("settings_lookup_confirmed", st, b)
	st, b = call("GET", "/self-service/login/browser?refresh=true", nil)
	save("login_flow_refresh", st, b)
	st, b = call("GET", "/self-service/logout/browser", nil)
	must(st, b, 200)

	// Verification: sent, wrong code.
	jar3, _ := cookiejar.New(nil)
	c.Jar = jar3
	for _, kind := range []string{"verification", "recovery"} {
		st, b = call("GET", "/self-service/"+kind+"/browser", nil)
		f = &Flow{}
		_ = json.Unmarshal(must(st, b, 200), f)
		st, b = call("POST", f.UI.Action, map[string]any{"method": "code", "csrf_token": f.CSRFToken(), "email": email})
		f = save(kind+"_code_sent", st, b)
		st, b = call("POST", f.UI.Action, map[string]any{"method": "code", "csrf_token": f.CSRFToken(), "code": "000000"})
		save(kind+"_code_wrong", st, b)
	}
	// Login by code: sent, wrong.
	st, b = call("GET", "/self-service/login/browser", nil)
	f = &Flow{}
	_ = json.Unmarshal(must(st, b, 200), f)
	st, b = call("POST", f.UI.Action, map[string]any{"method": "code", "csrf_token": f.CSRFToken(), "identifier": email})
	f = save("login_code_sent", st, b)
	st, b = call("POST", f.UI.Action, map[string]any{"method": "code", "csrf_token": f.CSRFToken(), "identifier": email, "code": "000000"})
	save("login_code_wrong", st, b)
}

// recordingDir is where the recordings of the Kratos version under test
// go: testdata for v1.3.1, which the unit tests read, and
// testdata/kratos-VERSION for the later versions, which the catalog and
// rendering tests read too.
func recordingDir(t *testing.T) string {
	t.Helper()
	v, err := kratostest.CurrentVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.Name == "v1.3.1" {
		return "testdata"
	}
	return filepath.Join("testdata", "kratos-"+v.Name)
}

func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
