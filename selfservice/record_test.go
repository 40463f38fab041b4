package selfservice

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

// TestRecord records real Kratos responses into testdata/ for the unit tests
// (testdata/kratos-VERSION for the Kratos versions after v1.3.1). Run with
// scripts/record.sh, or for one version:
// KRATOS_VERSION=v1.3.1 KRATOSAUTH_RECORD=1 go test ./selfservice -run TestRecord
func TestRecord(t *testing.T) {
	if os.Getenv("KRATOSAUTH_RECORD") != "1" {
		t.Skip("set KRATOSAUTH_RECORD=1 to re-record selfservice/testdata")
	}
	const app = "http://127.0.0.1:4455"
	out := recordingDir(t)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	k := kratostest.Start(t, kratostest.Options{AppURL: app})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, k.PublicURL+path, nil)
		req.Header.Set("Accept", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	post := func(u string, body any) (int, []byte) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	save := func(name string, status int, body []byte) {
		t.Helper()
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v: %s", name, err, body)
		}
		pretty, _ := json.MarshalIndent(v, "", "  ")
		// Make the recordings independent of the random ports.
		pretty = bytes.ReplaceAll(pretty, []byte(k.PublicURL), []byte("http://127.0.0.1:4433"))
		if err := os.WriteFile(filepath.Join(out, name+".json"), append(pretty, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d", name, status)
	}
	csrfOf := func(body []byte) string {
		var f Flow
		_ = json.Unmarshal(body, &f)
		for _, n := range f.UI.Nodes {
			if n.Attributes.Name == "csrf_token" {
				return n.Attributes.StringValue()
			}
		}
		t.Fatalf("no csrf_token in %s", body)
		return ""
	}
	idOf := func(body []byte) (id, action string) {
		var f Flow
		_ = json.Unmarshal(body, &f)
		return f.ID, f.UI.Action
	}

	for _, kind := range []string{"login", "registration", "verification", "recovery"} {
		st, b := get("/self-service/" + kind + "/browser?return_to=" + app + "/dashboard")
		save(kind+"_flow", st, b)
	}
	// Registration with a too-short password: 400 with messages.
	st, b := get("/self-service/registration/browser")
	id, action := idOf(b)
	st, b = post(action, map[string]any{"method": "password", "csrf_token": csrfOf(b), "traits": map[string]string{"email": "rec@example.com"}, "password": "x"})
	save("registration_flow_error", st, b)
	_, b = get("/self-service/registration/flows?id=" + id)
	// Successful registration (session cookie in jar).
	st, b = post(action, map[string]any{"method": "password", "csrf_token": csrfOf(b), "traits": map[string]string{"email": "rec@example.com"}, "password": "correct horse battery staple 42"})
	if st != 200 {
		t.Fatalf("register: %d %s", st, b)
	}
	st, b = get("/self-service/settings/browser")
	save("settings_flow", st, b)
	st, b = get("/self-service/logout/browser")
	save("logout_flow", st, b)

	// Login with wrong password in a fresh jar.
	jar2, _ := cookiejar.New(nil)
	c.Jar = jar2
	st, b = get("/self-service/login/browser")
	_, action = idOf(b)
	st, b = post(action, map[string]any{"method": "password", "csrf_token": csrfOf(b), "identifier": "rec@example.com", "password": "wrong password 123"})
	save("login_flow_error", st, b)
	id, _ = idOf(b)
	// Fetch without the csrf cookie: 403.
	c.Jar = nil
	st, b = get("/self-service/login/flows?id=" + id)
	save("error_csrf", st, b)
	st, b = get("/self-service/login/flows?id=00000000-0000-0000-0000-000000000000")
	save("error_not_found", st, b)
	st, b = get("/self-service/logout/browser")
	save("error_no_session", st, b)
	st, b = get("/self-service/settings/flows?id=" + id)
	save("error_settings_no_session", st, b)
	st, b = get("/self-service/errors?id=stub:500")
	save("error_container", st, b)
	st, b = get("/self-service/errors?id=00000000-0000-0000-0000-000000000000")
	save("error_container_not_found", st, b)

	// A Kratos whose login flows expire after a second: 410 on fetch.
	t.Setenv("SELFSERVICE_FLOWS_LOGIN_LIFESPAN", "1s")
	k2 := kratostest.Start(t, kratostest.Options{AppURL: app})
	jar3, _ := cookiejar.New(nil)
	c.Jar = jar3
	k = k2
	_, b = get("/self-service/login/browser?return_to=" + app + "/dashboard")
	id, _ = idOf(b)
	time.Sleep(1500 * time.Millisecond)
	st, b = get("/self-service/login/flows?id=" + id)
	if st != http.StatusGone {
		t.Fatalf("expired flow: %d %s", st, b)
	}
	save("error_expired", st, b)
}
