package selfservice_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/selfservice"
)

// The recordings of testdata/methods are of a Kratos with every method,
// on localhost (WebAuthn's relying party cannot be an IP address).
const (
	methodsBrowserURL = "http://localhost:4433"
	methodsAppURL     = "http://localhost:4455"
)

// methodsUI is a Handler for fake Kratos k with the recordings' URLs.
func methodsUI(t *testing.T, k *fakeKratos, opts ...selfservice.Option) *selfservice.Handler {
	t.Helper()
	ui, err := selfservice.New(methodsAuth(t, k), opts...)
	require.NoError(t, err)
	return ui
}

func methodsAuth(t *testing.T, k *fakeKratos) *kratosauth.Authenticator {
	t.Helper()
	auth, err := kratosauth.New(k.URL, kratosauth.WithAppURL(methodsAppURL), kratosauth.WithBrowserURL(methodsBrowserURL),
		kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = auth.Close() })
	return auth
}

// showRecorded renders the recording testdata/methods/<name>.json as the
// flow of kind, and returns the response.
func showRecorded(t *testing.T, kind selfservice.Kind, name string) *httptest.ResponseRecorder {
	t.Helper()
	k := newFakeKratos(t)
	body := readTestdata(t, "methods/"+name)
	k.set("/self-service/"+string(kind)+"/flows", http.StatusOK, body)
	k.set("/self-service/logout/browser", http.StatusOK, bytes.ReplaceAll(readTestdata(t, "logout_flow"), []byte("127.0.0.1:4433"), []byte("localhost:4433")))
	rec := serve(methodsUI(t, k), http.MethodGet, "/"+string(kind)+"?flow="+decodeFlow(t, body).ID, nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	return rec
}

// scriptCSP returns the response's script-src sources, nil without one.
func scriptCSP(t *testing.T, rec *httptest.ResponseRecorder) []string {
	t.Helper()
	return parseCSP(t, rec.Header().Get("Content-Security-Policy"))["script-src"]
}

// TestWebAuthnScripts: pages with security keys or passkeys load Kratos'
// webauthn.js and the binding script, both with the response's nonce,
// which the CSP's script-src allows and nothing else; the buttons name
// webauthn.js' functions in data-ks-trigger; no element has an inline
// event handler.
func TestWebAuthnScripts(t *testing.T) {
	for _, c := range []struct {
		kind     selfservice.Kind
		name     string
		triggers []string
		onload   string
	}{
		{selfservice.Settings, "settings_flow", []string{"oryPasskeySettingsRegistration", "oryWebAuthnRegistration"}, ""},
		{selfservice.Login, "login_flow", []string{"oryPasskeyLogin"}, "oryPasskeyLoginAutocompleteInit"},
	} {
		rec := showRecorded(t, c.kind, c.name)
		csp := parseCSP(t, rec.Header().Get("Content-Security-Policy"))
		require.Len(t, csp["script-src"], 1, c.name)
		nonce := strings.TrimSuffix(strings.TrimPrefix(csp["script-src"][0], "'nonce-"), "'")
		assert.Equal(t, []string{"'nonce-" + nonce + "'"}, csp["style-src"], "one nonce for styles and scripts")
		d := parseDoc(t, rec.Body.String())
		scripts := d.find(func(n *htmlNode) bool { return n.Data == "script" })
		require.Len(t, scripts, 2, c.name)
		assert.Equal(t, methodsBrowserURL+"/.well-known/ory/webauthn.js", attrOf(scripts[0], "src"))
		assert.True(t, strings.HasPrefix(attrOf(scripts[0], "integrity"), "sha512-"), c.name)
		assert.Equal(t, "anonymous", attrOf(scripts[0], "crossorigin"))
		assert.Equal(t, "", attrOf(scripts[1], "src"), "the binding script is inline")
		for _, s := range scripts {
			assert.Equal(t, nonce, attrOf(s, "nonce"), c.name)
		}
		var triggers []string
		for _, b := range d.find(func(n *htmlNode) bool { return attrOf(n, "data-ks-trigger") != "" }) {
			triggers = append(triggers, attrOf(b, "data-ks-trigger"))
			assert.Equal(t, "button", attrOf(b, "type"), "a trigger never submits its form by itself")
		}
		assert.ElementsMatch(t, c.triggers, triggers, c.name)
		if c.onload != "" {
			assert.NotEmpty(t, d.find(func(n *htmlNode) bool { return attrOf(n, "data-ks-onload") == c.onload }), c.name)
		}
		assert.Empty(t, d.find(func(n *htmlNode) bool {
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") {
					return true
				}
			}
			return false
		}), "%s: inline event handler", c.name)
		for _, f := range d.forms {
			hasButton := false
			for _, e := range f.elems {
				hasButton = hasButton || e.tag == "button"
			}
			assert.True(t, hasButton, "%s: a form without a button (a group of scripts only)", c.name)
		}
	}

	// Without WebAuthn nodes: no script, no script-src.
	rec := showRecorded(t, selfservice.Recovery, "recovery_flow")
	assert.Nil(t, scriptCSP(t, rec))
	assert.NotContains(t, rec.Body.String(), "<script")
}

// TestForeignScriptDropped: a script node that is not webauthn.js on
// Kratos' browser URL with an integrity hash is not loaded, and the page
// runs no script at all.
func TestForeignScriptDropped(t *testing.T) {
	orig := readTestdata(t, "methods/settings_flow")
	for name, replace := range map[string][2]string{
		"other origin":    {methodsBrowserURL + "/.well-known/ory/webauthn.js", "https://cdn.example/.well-known/ory/webauthn.js"},
		"other path":      {"/.well-known/ory/webauthn.js", "/.well-known/ory/evil.js"},
		"no integrity":    {`"integrity": "sha512-`, `"integrity": "md5-`},
		"unknown trigger": {`"onclickTrigger": "oryWebAuthnRegistration"`, `"onclickTrigger": "notAKratosFunction"`},
	} {
		k := newFakeKratos(t)
		body := bytes.ReplaceAll(orig, []byte(replace[0]), []byte(replace[1]))
		require.NotEqual(t, orig, body, name)
		k.set("/self-service/settings/flows", http.StatusOK, body)
		rec := serve(methodsUI(t, k), http.MethodGet, "/settings?flow="+decodeFlow(t, body).ID, nil)
		require.Equal(t, http.StatusOK, rec.Code)
		out := rec.Body.String()
		if name == "unknown trigger" {
			// The script loads, but the unknown name is never put on the page.
			assert.NotContains(t, out, "notAKratosFunction", name)
			assert.Contains(t, out, `data-ks-trigger="oryPasskeySettingsRegistration"`, name)
			continue
		}
		assert.Nil(t, scriptCSP(t, rec), name)
		assert.NotContains(t, out, "<script", name)
		assert.NotContains(t, out, "cdn.example", name)
	}
}

// TestCodeStates: the pages of the code method's states show Kratos'
// message (sent, wrong code) in an alert, the code input, and "Resend
// code" as the form's last button, which submits without the browser
// requiring a code; Enter in the code input submits with "Continue".
func TestCodeStates(t *testing.T) {
	for _, c := range []struct {
		kind       selfservice.Kind
		name, text string
		resendName string
	}{
		{selfservice.Login, "login_code_sent", "An email containing a code has been sent", "resend"},
		{selfservice.Login, "login_code_wrong", "The login code is invalid or has already been used", "resend"},
		{selfservice.Recovery, "recovery_code_sent", "An email containing a recovery code has been sent", "email"},
		{selfservice.Recovery, "recovery_code_wrong", "The recovery code is invalid or has already been used", "email"},
		{selfservice.Verification, "verification_code_sent", "An email containing a verification code has been sent", "email"},
		{selfservice.Verification, "verification_code_wrong", "The verification code is invalid or has already been used", "email"},
		{selfservice.Registration, "registration_code_sent", "An email containing a code has been sent", "resend"},
	} {
		rec := showRecorded(t, c.kind, c.name)
		d := parseDoc(t, rec.Body.String())
		alerts := d.find(func(n *htmlNode) bool { return attrOf(n, "role") == "alert" })
		require.Len(t, alerts, 1, c.name)
		assert.Contains(t, d.text, c.text, c.name)
		f := d.formWith(t, "method", "code")
		var buttons []elem
		hasCode := false
		for _, e := range f.elems {
			if e.tag == "button" {
				buttons = append(buttons, e)
			}
			hasCode = hasCode || e.attrs["name"] == "code"
		}
		assert.True(t, hasCode, c.name)
		require.GreaterOrEqual(t, len(buttons), 2, c.name)
		assert.Equal(t, "method", buttons[0].attrs["name"], "%s: Enter submits with the first button", c.name)
		last := buttons[len(buttons)-1]
		assert.Equal(t, c.resendName, last.attrs["name"], c.name)
		assert.True(t, last.has("formnovalidate"), c.name)
		assert.Contains(t, last.attrs["class"], "ks-button-secondary", c.name)
		assert.False(t, buttons[0].has("formnovalidate"), c.name)
	}
}

// TestSignOutLink: a second-factor or refresh login shows "Not you? Sign
// out" with a fresh Kratos logout URL that returns to a new login; a
// first-factor login does not, nor does a page whose logout URL Kratos
// refuses.
func TestSignOutLink(t *testing.T) {
	signOut := func(rec *httptest.ResponseRecorder) string {
		d := parseDoc(t, rec.Body.String())
		links := d.find(func(n *htmlNode) bool { return n.Data == "a" && strings.Contains(attrOf(n, "class"), "ks-signout") })
		if len(links) == 0 {
			return ""
		}
		require.Len(t, links, 1)
		return attrOf(links[0], "href")
	}
	refresh := showRecorded(t, selfservice.Login, "login_flow_refresh")
	href := signOut(refresh)
	assert.True(t, strings.HasPrefix(href, methodsBrowserURL+"/self-service/logout?token="), href)
	assert.Contains(t, parseDoc(t, refresh.Body.String()).text, "Not you? Sign out")

	aal2 := bytes.Replace(readTestdata(t, "methods/login_flow"), []byte(`"requested_aal": "aal1"`), []byte(`"requested_aal": "aal2"`), 1)
	require.Contains(t, string(aal2), `"requested_aal": "aal2"`)
	k := newFakeKratos(t)
	k.set("/self-service/login/flows", http.StatusOK, aal2)
	k.set("/self-service/logout/browser", http.StatusOK, readTestdata(t, "logout_flow"))
	ui := methodsUI(t, k)
	target := "/login?flow=" + decodeFlow(t, aal2).ID
	assert.NotEmpty(t, signOut(serve(ui, http.MethodGet, target, nil)), "aal2")
	// The logout URL was asked for with return_to = the login page.
	assert.Equal(t, methodsAppURL+"/login", k.lastRequest().URL.Query().Get("return_to"))

	k.set("/self-service/logout/browser", http.StatusUnauthorized, readTestdata(t, "error_no_session"))
	rec := serve(ui, http.MethodGet, target, nil)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Empty(t, signOut(rec), "no session: no link")

	assert.Empty(t, signOut(showRecorded(t, selfservice.Login, "login_flow")), "first factor")
}

// TestWebAuthnUnavailableNotice: a page with security keys or passkeys
// has a hidden notice, in the page's language, that its script shows
// when webauthn.js fails to load or run (e2e/browser blocks the script
// and sees it); a page without them has none.
func TestWebAuthnUnavailableNotice(t *testing.T) {
	k := newFakeKratos(t)
	body := readTestdata(t, "methods/login_flow")
	k.set("/self-service/login/flows", http.StatusOK, body)
	ui := methodsUI(t, k)
	rec := serve(ui, http.MethodGet, "/login?flow="+decodeFlow(t, body).ID, map[string]string{"Accept-Language": "de"})
	require.Equal(t, http.StatusOK, rec.Code)
	d := parseDoc(t, rec.Body.String())
	notice := d.find(func(n *htmlNode) bool { return attrOf(n, "id") == "ks-webauthn-unavailable" })
	require.Len(t, notice, 1)
	assert.Equal(t, "alert", attrOf(notice[0], "role"))
	_, hidden := attrMap(notice[0])["hidden"]
	assert.True(t, hidden, "hidden until the script fails")
	assert.Contains(t, d.text, selfservice.BuiltinCatalog("de")["notice.webauthn_unavailable"])
	assert.Contains(t, rec.Body.String(), `js.addEventListener("error", unavailable)`)

	assert.NotContains(t, showRecorded(t, selfservice.Recovery, "recovery_flow").Body.String(), "ks-webauthn-unavailable")
}

func attrMap(n *htmlNode) map[string]string {
	m := map[string]string{}
	for _, a := range n.Attr {
		m[a.Key] = a.Val
	}
	return m
}
