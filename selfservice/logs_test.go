package selfservice_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/selfservice"
)

// logBuffer is a slog destination tests read back.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// loggedMethodsUI is methodsUI with the Authenticator's log, at every
// level, in the returned buffer.
func loggedMethodsUI(t *testing.T, k *fakeKratos, opts ...selfservice.Option) (*selfservice.Handler, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	auth, err := kratosauth.New(k.URL, kratosauth.WithAppURL(methodsAppURL), kratosauth.WithBrowserURL(methodsBrowserURL),
		kratosauth.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	require.NoError(t, err)
	t.Cleanup(func() { _ = auth.Close() })
	ui, err := selfservice.New(auth, opts...)
	require.NoError(t, err)
	return ui, logs
}

// verificationPassed is the flow Kratos v1.3.1 shows after a verification
// by code succeeded (strategy_verification.go): the form's action is the
// return address, on the app, and its only node besides the CSRF token is
// a "Continue" link there.
const verificationPassed = `{
 "id": "0de38b65-a0c5-4f2f-b29a-fa271b7f3c7c", "type": "browser", "state": "passed_challenge",
 "expires_at": "2099-01-01T00:00:00Z", "issued_at": "2026-01-01T00:00:00Z",
 "request_url": "http://localhost:4433/self-service/verification/browser",
 "return_to": "http://localhost:4455/dashboard",
 "ui": {"action": "http://localhost:4455/dashboard", "method": "GET",
  "messages": [{"id": 1080002, "text": "You successfully verified your email address.", "type": "success"}],
  "nodes": [
   {"type": "input", "group": "default", "attributes": {"name": "csrf_token", "type": "hidden", "value": "c", "required": true, "disabled": false, "node_type": "input"}, "messages": [], "meta": {}},
   {"type": "a", "group": "code", "attributes": {"href": "http://localhost:4455/dashboard", "title": {"id": 1070009, "text": "Continue", "type": "info"}, "id": "continue", "node_type": "a"}, "messages": [], "meta": {"label": {"id": 1070009, "text": "Continue", "type": "info"}}}
  ]}}`

// TestFormActionWarning: the warning that the pages' CSP blocks the
// flow's form is logged only when it does: a form with a button whose
// action is on none of Kratos' browser URL, the app and the
// WithFormActionOrigins origins. A verification that succeeded (its
// action is the return address, it has no button) logs nothing.
func TestFormActionWarning(t *testing.T) {
	const warning = "form action"
	for _, c := range []struct {
		name, kind, body string
		opts             []selfservice.Option
		warn             bool
	}{
		{name: "verification passed", kind: "verification", body: verificationPassed},
		{name: "verification passed, return address elsewhere", kind: "verification",
			body: strings.ReplaceAll(verificationPassed, "http://localhost:4455/dashboard", "https://shop.example.com/")},
		{name: "login on Kratos", kind: "login", body: string(readTestdata(t, "methods/login_flow"))},
		{name: "login on the app", kind: "login",
			body: strings.Replace(string(readTestdata(t, "methods/login_flow")), `"action": "http://localhost:4433/`, `"action": "http://localhost:4455/`, 1)},
		{name: "login on a listed origin", kind: "login", opts: []selfservice.Option{selfservice.WithFormActionOrigins("https://idp.example.com")},
			body: strings.Replace(string(readTestdata(t, "methods/login_flow")), `"action": "http://localhost:4433/`, `"action": "https://idp.example.com/`, 1)},
		{name: "login on Kratos' other address", kind: "login", warn: true,
			body: strings.Replace(string(readTestdata(t, "methods/login_flow")), `"action": "http://localhost:4433/`, `"action": "http://127.0.0.1:4433/`, 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.True(t, c.name != "login on Kratos' other address" || strings.Contains(c.body, "127.0.0.1:4433"), "the replacement applied")
			k := newFakeKratos(t)
			k.set("/self-service/"+c.kind+"/flows", http.StatusOK, []byte(c.body))
			ui, logs := loggedMethodsUI(t, k, c.opts...)
			rec := serve(ui, http.MethodGet, "/"+c.kind+"?flow="+decodeFlow(t, []byte(c.body)).ID, nil)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			assert.Equal(t, c.warn, strings.Contains(logs.String(), warning), "log: %s", logs)
			assert.NotContains(t, logs.String(), "flow=0de38b65", "the flow id stays out of the log")
		})
	}
}

// TestErrorPageLogsKratosReason: the /error page shows a server error as
// "Something went wrong" and logs Kratos' reason, here Kratos v1.3.1's
// answer to a passkey whose origin is not in webauthn's rp.origins
// (passkey_registration.go).
func TestErrorPageLogsKratosReason(t *testing.T) {
	const reason = "Unable to create WebAuthn credential: Error validating origin"
	k := newFakeKratos(t)
	k.set("/self-service/errors", http.StatusOK, []byte(`{"id":"5b6a2d7e-3c1f-4e8a-9b0d-1f2e3d4c5b6a","error":{"code":500,"status":"Internal Server Error","reason":"`+reason+`","message":"An internal server error occurred, please contact the system administrator"},"created_at":"2026-01-01T00:00:00Z"}`))
	ui, logs := loggedMethodsUI(t, k)
	rec := serve(ui, http.MethodGet, "/error?id=5b6a2d7e-3c1f-4e8a-9b0d-1f2e3d4c5b6a", nil)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Contains(t, rec.Body.String(), "Something went wrong")
	assert.NotContains(t, rec.Body.String(), "WebAuthn", "the reason is never shown")
	assert.Contains(t, logs.String(), "level=ERROR")
	assert.Contains(t, logs.String(), reason)
}
