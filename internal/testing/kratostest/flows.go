package kratostest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"
	"time"
)

// SessionCookieName is the name of Kratos' browser session cookie.
const SessionCookieName = "ory_kratos_session"

// flow is the subset of a Kratos self-service flow the helpers need.
type flow struct {
	ID string `json:"id"`
	UI struct {
		Action string `json:"action"`
		Method string `json:"method"`
		Nodes  []struct {
			Type       string `json:"type"`
			Group      string `json:"group"`
			Attributes struct {
				Name  string          `json:"name"`
				Value json.RawMessage `json:"value"`
				ID    string          `json:"id"`
				Text  *struct {
					Text    string            `json:"text"`
					Context map[string]string `json:"context"`
				} `json:"text"`
			} `json:"attributes"`
		} `json:"nodes"`
		Messages []json.RawMessage `json:"messages"`
	} `json:"ui"`
}

func (f *flow) inputValue(name string) string {
	for _, n := range f.UI.Nodes {
		if n.Attributes.Name == name {
			var s string
			_ = json.Unmarshal(n.Attributes.Value, &s)
			return s
		}
	}
	return ""
}

// noRedirect clients never follow redirects (UI URLs are not running).
func noRedirect(jar http.CookieJar) *http.Client {
	return &http.Client{
		Jar:     jar,
		Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// do sends a request and returns status, headers and body; body may be nil,
// a []byte or a value marshalled as JSON.
func do(t testing.TB, c *http.Client, method, u string, body any, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				t.Fatal(err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	return resp, b
}

func expect(t testing.TB, resp *http.Response, body []byte, want ...int) {
	t.Helper()
	for _, w := range want {
		if resp.StatusCode == w {
			return
		}
	}
	t.Fatalf("%s %s: status %d, want %v; body: %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, want, body)
}

func decode(t testing.TB, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

func tokenHeader(token string) map[string]string {
	return map[string]string{"X-Session-Token": token}
}

// getFlow GETs a self-service flow init endpoint and decodes the flow.
func (s *Server) getFlow(t testing.TB, c *http.Client, path string, hdr map[string]string) flow {
	t.Helper()
	// The browser URL: a flow's action is on it, and a jar's cookies must
	// be for the host the action is on.
	base := s.BrowserURL
	if base == "" {
		base = s.PublicURL
	}
	resp, body := do(t, c, http.MethodGet, base+path, nil, hdr)
	expect(t, resp, body, http.StatusOK)
	var f flow
	decode(t, body, &f)
	if f.ID == "" || f.UI.Action == "" {
		t.Fatalf("GET %s: no flow in %s", path, body)
	}
	return f
}

type authResult struct {
	SessionToken string          `json:"session_token"`
	Session      json.RawMessage `json:"session"`
}

// RegisterAPI registers email/password through the API registration flow
// and returns the new session token and session JSON (the registration
// "session" hook is enabled).
func (s *Server) RegisterAPI(t testing.TB, email, password string) (sessionToken string, sess json.RawMessage) {
	t.Helper()
	c := noRedirect(nil)
	f := s.getFlow(t, c, "/self-service/registration/api", nil)
	resp, body := do(t, c, http.MethodPost, f.UI.Action, map[string]any{
		"method":   "password",
		"traits":   map[string]string{"email": email},
		"password": password,
	}, nil)
	expect(t, resp, body, http.StatusOK)
	var r authResult
	decode(t, body, &r)
	if r.SessionToken == "" {
		t.Fatalf("registration returned no session_token: %s", body)
	}
	return r.SessionToken, r.Session
}

// LoginAPI logs in with email/password through the API login flow and
// returns a new (aal1) session token.
func (s *Server) LoginAPI(t testing.TB, email, password string) (sessionToken string) {
	t.Helper()
	c := noRedirect(nil)
	f := s.getFlow(t, c, "/self-service/login/api", nil)
	resp, body := do(t, c, http.MethodPost, f.UI.Action, map[string]any{
		"method":     "password",
		"identifier": email,
		"password":   password,
	}, nil)
	expect(t, resp, body, http.StatusOK)
	var r authResult
	decode(t, body, &r)
	if r.SessionToken == "" {
		t.Fatalf("login returned no session_token: %s", body)
	}
	return r.SessionToken
}

// RegisterBrowser registers email/password through the browser registration
// flow (JSON variant, redirects not followed) and returns the cookie jar
// (holding the CSRF and session cookies for PublicURL) and the
// ory_kratos_session cookie exactly as set by Kratos.
func (s *Server) RegisterBrowser(t testing.TB, email, password string) (jar http.CookieJar, cookie *http.Cookie) {
	t.Helper()
	return s.browserPasswordFlow(t, "registration", map[string]any{"traits": map[string]string{"email": email}, "password": password})
}

// LoginBrowser logs in with email/password through the browser login flow
// (JSON variant, redirects not followed) and returns the cookie jar and the
// new session's ory_kratos_session cookie exactly as set by Kratos. Each
// call is a new session of the identity, with a cookie of its own.
func (s *Server) LoginBrowser(t testing.TB, email, password string) (jar http.CookieJar, cookie *http.Cookie) {
	t.Helper()
	return s.browserPasswordFlow(t, "login", map[string]any{"identifier": email, "password": password})
}

// browserPasswordFlow runs a browser flow of kind with the password method
// and fields, and returns the jar and the session cookie Kratos set.
func (s *Server) browserPasswordFlow(t testing.TB, kind string, fields map[string]any) (http.CookieJar, *http.Cookie) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := noRedirect(jar)
	f := s.getFlow(t, c, "/self-service/"+kind+"/browser", nil)
	csrf := f.inputValue("csrf_token")
	if csrf == "" {
		t.Fatalf("browser %s flow %s has no csrf_token", kind, f.ID)
	}
	body := map[string]any{"method": "password", "csrf_token": csrf}
	for k, v := range fields {
		body[k] = v
	}
	resp, respBody := do(t, c, http.MethodPost, f.UI.Action, body, nil)
	expect(t, resp, respBody, http.StatusOK)
	for _, ck := range resp.Cookies() {
		if ck.Name == SessionCookieName {
			return jar, ck
		}
	}
	t.Fatalf("browser %s set no %s cookie (Set-Cookie: %q)", kind, SessionCookieName, resp.Header.Values("Set-Cookie"))
	return nil, nil
}

// LogoutAPI revokes the session of an API session token.
func (s *Server) LogoutAPI(t testing.TB, token string) {
	t.Helper()
	resp, body := do(t, noRedirect(nil), http.MethodDelete, s.PublicURL+"/self-service/logout/api",
		map[string]string{"session_token": token}, nil)
	expect(t, resp, body, http.StatusNoContent)
}

// LogoutBrowser logs out the browser session held in jar: it creates a
// logout URL and visits it with the jar (not following the redirect).
func (s *Server) LogoutBrowser(t testing.TB, jar http.CookieJar) {
	t.Helper()
	c := noRedirect(jar)
	resp, body := do(t, c, http.MethodGet, s.PublicURL+"/self-service/logout/browser", nil, nil)
	expect(t, resp, body, http.StatusOK)
	var r struct {
		LogoutURL string `json:"logout_url"`
	}
	decode(t, body, &r)
	if r.LogoutURL == "" {
		t.Fatalf("no logout_url in %s", body)
	}
	resp, body = do(t, c, http.MethodGet, r.LogoutURL, nil, nil)
	expect(t, resp, body, http.StatusNoContent, http.StatusSeeOther, http.StatusFound)
}

// RevokeSession revokes a session by ID through the admin API.
func (s *Server) RevokeSession(t testing.TB, sessionID string) {
	t.Helper()
	resp, body := do(t, noRedirect(nil), http.MethodDelete,
		s.AdminURL+"/admin/sessions/"+url.PathEscape(sessionID), nil, nil)
	expect(t, resp, body, http.StatusNoContent)
}

// ExtendSession extends a session by ID through the admin API (Kratos sets
// its expiry to now + session.lifespan).
func (s *Server) ExtendSession(t testing.TB, sessionID string) {
	t.Helper()
	resp, body := do(t, noRedirect(nil), http.MethodPatch,
		s.AdminURL+"/admin/sessions/"+url.PathEscape(sessionID)+"/extend", nil, nil)
	expect(t, resp, body, http.StatusOK, http.StatusNoContent)
}

// DisableIdentity sets an identity's state to inactive through the admin API.
func (s *Server) DisableIdentity(t testing.TB, identityID string) {
	t.Helper()
	resp, body := do(t, noRedirect(nil), http.MethodPatch,
		s.AdminURL+"/admin/identities/"+url.PathEscape(identityID),
		[]map[string]string{{"op": "replace", "path": "/state", "value": "inactive"}}, nil)
	expect(t, resp, body, http.StatusOK)
}

// SetExternalID sets the identity's external_id through admin PATCH (Kratos
// v25.4.0 and later).
func (s *Server) SetExternalID(t testing.TB, identityID, externalID string) {
	t.Helper()
	resp, body := do(t, noRedirect(nil), http.MethodPatch,
		s.AdminURL+"/admin/identities/"+url.PathEscape(identityID),
		[]map[string]string{{"op": "add", "path": "/external_id", "value": externalID}}, nil)
	expect(t, resp, body, http.StatusOK)
}

// EnableTOTP enrolls TOTP for the session token's identity through the API
// settings flow and returns the base32 secret. The session must be
// privileged (authenticated within the last 15 minutes).
func (s *Server) EnableTOTP(t testing.TB, token string) (secret string) {
	t.Helper()
	c := noRedirect(nil)
	f := s.getFlow(t, c, "/self-service/settings/api", tokenHeader(token))
	for _, n := range f.UI.Nodes {
		if n.Attributes.ID == "totp_secret_key" && n.Attributes.Text != nil {
			secret = n.Attributes.Text.Context["secret"]
			if secret == "" {
				secret = n.Attributes.Text.Text
			}
		}
	}
	if secret == "" {
		t.Fatalf("settings flow %s has no totp_secret_key node", f.ID)
	}
	resp, body := do(t, c, http.MethodPost, f.UI.Action, map[string]any{
		"method":    "totp",
		"totp_code": TOTPCode(secret, time.Now()),
	}, tokenHeader(token))
	expect(t, resp, body, http.StatusOK)
	var r struct {
		State string `json:"state"`
	}
	decode(t, body, &r)
	if r.State != "success" {
		t.Fatalf("settings flow state %q, want success: %s", r.State, body)
	}
	return secret
}

// LoginAAL2API upgrades the session of token to aal2 with a TOTP code and
// returns the session token Kratos hands back.
func (s *Server) LoginAAL2API(t testing.TB, token, secret string) (newToken string) {
	t.Helper()
	c := noRedirect(nil)
	f := s.getFlow(t, c, "/self-service/login/api?aal=aal2", tokenHeader(token))
	resp, body := do(t, c, http.MethodPost, f.UI.Action, map[string]any{
		"method":    "totp",
		"totp_code": TOTPCode(secret, time.Now()),
	}, tokenHeader(token))
	expect(t, resp, body, http.StatusOK)
	var r authResult
	decode(t, body, &r)
	if r.SessionToken == "" {
		t.Fatalf("aal2 login returned no session_token: %s", body)
	}
	return r.SessionToken
}

// Whoami calls GET /sessions/whoami with an optional session token and
// cookies and returns the raw response (body already read) and body.
func (s *Server) Whoami(t testing.TB, token string, cookies ...*http.Cookie) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.PublicURL+"/sessions/whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("X-Session-Token", token)
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := noRedirect(nil).Do(req)
	if err != nil {
		t.Fatalf("whoami: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// SessionIDs extracts the session ID and identity ID from session JSON
// (as returned by RegisterAPI or whoami).
func SessionIDs(t testing.TB, sess json.RawMessage) (sessionID, identityID string) {
	t.Helper()
	var v struct {
		ID       string `json:"id"`
		Identity struct {
			ID string `json:"id"`
		} `json:"identity"`
	}
	decode(t, sess, &v)
	if v.ID == "" || v.Identity.ID == "" {
		t.Fatalf("no session/identity id in %s", sess)
	}
	return v.ID, v.Identity.ID
}

// UniqueEmail returns a fresh address for registering test identities.
func UniqueEmail(prefix string) string {
	return fmt.Sprintf("%s-%d@example.com", prefix, time.Now().UnixNano())
}

// ChangePasswordAPI sets a new password through the API settings flow of
// the session token's identity (a privileged session: authenticated within
// the last 15 minutes). With Options.Webhook, Kratos then revokes the
// identity's other sessions and calls the webhook before answering.
func (s *Server) ChangePasswordAPI(t testing.TB, token, newPassword string) {
	t.Helper()
	c := noRedirect(nil)
	f := s.getFlow(t, c, "/self-service/settings/api", tokenHeader(token))
	resp, body := do(t, c, http.MethodPost, f.UI.Action, map[string]any{
		"method":   "password",
		"password": newPassword,
	}, tokenHeader(token))
	expect(t, resp, body, http.StatusOK)
	var r struct {
		State string `json:"state"`
	}
	decode(t, body, &r)
	if r.State != "success" {
		t.Fatalf("settings flow state %q, want success: %s", r.State, body)
	}
}
