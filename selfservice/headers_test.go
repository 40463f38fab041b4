package selfservice_test

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/selfservice"
)

// parseCSP splits a Content-Security-Policy into its directives, each
// with its sources; a repeated directive fails the test (browsers would
// ignore the second one).
func parseCSP(t *testing.T, policy string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, d := range strings.Split(policy, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		name := strings.ToLower(f[0])
		_, dup := out[name]
		require.False(t, dup, "directive %s twice in %q", name, policy)
		out[name] = f[1:]
	}
	return out
}

// checkSecurityHeaders checks the headers every response of the pages
// carries and returns the CSP's directives.
func checkSecurityHeaders(t *testing.T, what string, h http.Header) map[string][]string {
	t.Helper()
	assert.Equal(t, "no-referrer", h.Get("Referrer-Policy"), what)
	assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), what)
	assert.Equal(t, "DENY", h.Get("X-Frame-Options"), what)
	require.Len(t, h.Values("Content-Security-Policy"), 1, what)
	csp := parseCSP(t, h.Get("Content-Security-Policy"))
	assert.Equal(t, []string{"'none'"}, csp["default-src"], what+": default-src")
	assert.Equal(t, []string{"'self'", testBrowserURL}, csp["form-action"], what+": form-action")
	assert.Equal(t, []string{"'none'"}, csp["frame-ancestors"], what+": frame-ancestors")
	assert.Equal(t, []string{"'none'"}, csp["base-uri"], what+": base-uri")
	return csp
}

// checkPageCSP checks a rendered page's policy: besides the directives
// of every response, styles only by this response's nonce (carried by
// every <style> of the page) and images only as data: URLs, and nothing
// else (no script-src, no 'unsafe-inline'). It returns the nonce.
func checkPageCSP(t *testing.T, what string, rec *httptest.ResponseRecorder) string {
	t.Helper()
	csp := checkSecurityHeaders(t, what, rec.Header())
	assert.Len(t, csp, 6, "%s: directives %v", what, csp)
	require.Len(t, csp["style-src"], 1, what+": style-src")
	nonce, ok := strings.CutPrefix(csp["style-src"][0], "'nonce-")
	require.True(t, ok && strings.HasSuffix(nonce, "'"), "%s: style-src %v", what, csp["style-src"])
	nonce = strings.TrimSuffix(nonce, "'")
	assert.GreaterOrEqual(t, len(nonce), 22, what+": nonce of at least 128 bits")
	assert.Equal(t, []string{"data:"}, csp["img-src"], what+": img-src")

	d := parseDoc(t, rec.Body.String())
	styles := d.find(func(n *htmlNode) bool { return n.Data == "style" })
	assert.NotEmpty(t, styles, what+": no <style>")
	for _, s := range styles {
		assert.Equal(t, nonce, attrOf(s, "nonce"), what+": <style> without the nonce")
	}
	assert.Empty(t, d.find(func(n *htmlNode) bool { return n.Data == "script" || attrOf(n, "style") != "" }),
		what+": script or style attribute")
	for _, img := range d.find(func(n *htmlNode) bool { return n.Data == "img" }) {
		assert.True(t, strings.HasPrefix(attrOf(img, "src"), "data:image/"), "%s: img src %.40q", what, attrOf(img, "src"))
	}
	return nonce
}

// TestSecurityHeaders: every response of the pages (flow, error, 503 and
// too-large pages, redirects, 404, 405, a failed template) has the
// Content-Security-Policy and Referrer-Policy, and every page's inline
// style carries a nonce that is new for each response.
func TestSecurityHeaders(t *testing.T) {
	k := newFakeKratos(t)
	k.set("/self-service/settings/flows", http.StatusOK, readTestdata(t, "settings_flow"))
	k.set("/self-service/login/flows", http.StatusOK, syntheticFlow(930, 930, 0))
	k.set("/self-service/errors", http.StatusOK, readTestdata(t, "error_container"))
	ui, _ := newTestUI(t, k.URL)
	settings := "/settings?flow=" + decodeFlow(t, readTestdata(t, "settings_flow")).ID

	pages := map[string]struct {
		h      http.Handler
		target string
		status int
	}{
		"flow page":        {ui, settings, http.StatusOK},
		"FlowHandler":      {ui.FlowHandler(selfservice.Settings), settings, http.StatusOK},
		"Kratos error":     {ui, "/error?id=stub:500", http.StatusInternalServerError},
		"ErrorHandler":     {ui.ErrorHandler(), "/error?id=stub:500", http.StatusInternalServerError},
		"error not found":  {ui, "/error", http.StatusNotFound},
		"flow too large":   {ui, "/login?flow=" + syntheticFlowID, http.StatusInternalServerError},
		"Kratos down, 503": {unavailableUI(t), "/login?flow=" + syntheticFlowID, http.StatusServiceUnavailable},
	}
	nonces := map[string]bool{}
	for name, p := range pages {
		rec := serve(p.h, http.MethodGet, p.target, nil)
		require.Equal(t, p.status, rec.Code, name)
		nonce := checkPageCSP(t, name, rec)
		assert.False(t, nonces[nonce], "%s: nonce used twice", name)
		nonces[nonce] = true
	}

	others := map[string]struct {
		h              http.Handler
		method, target string
		status         int
	}{
		"redirect to Kratos": {ui, http.MethodGet, "/login", http.StatusSeeOther},
		"logout redirect":    {ui.LogoutHandler(), http.MethodGet, "/logout", http.StatusSeeOther},
		"unknown page":       {ui, http.MethodGet, "/nope", http.StatusNotFound},
		"wrong method":       {ui, http.MethodPost, "/login", http.StatusMethodNotAllowed},
		"broken template":    {brokenTemplateUI(t, k.URL), http.MethodGet, settings, http.StatusInternalServerError},
	}
	k.set("/self-service/logout/browser", http.StatusUnauthorized, readTestdata(t, "error_no_session"))
	for name, o := range others {
		rec := serve(o.h, o.method, o.target, nil)
		require.Equal(t, o.status, rec.Code, name)
		csp := checkSecurityHeaders(t, name, rec.Header())
		assert.Len(t, csp, 4, "%s: directives %v", name, csp) // no style, no image
	}
}

func unavailableUI(t *testing.T) *selfservice.Handler {
	k := newFakeKratos(t)
	k.Close()
	ui, _ := newTestUI(t, k.URL)
	return ui
}

func brokenTemplateUI(t *testing.T, kratos string) *selfservice.Handler {
	ui, _ := newTestUI(t, kratos, selfservice.WithTemplates(template.Must(template.New("page").Parse(`{{.Nope}}`))))
	return ui
}

// TestFormActionOrigins: WithFormActionOrigins adds its origins to
// form-action and refuses anything that is not an http(s) origin.
func TestFormActionOrigins(t *testing.T) {
	k := newFakeKratos(t)
	ui, _ := newTestUI(t, k.URL, selfservice.WithFormActionOrigins("https://accounts.example.net", "https://IdP.example.org:8443/"))
	csp := parseCSP(t, serve(ui, http.MethodGet, "/login", nil).Header().Get("Content-Security-Policy"))
	assert.Equal(t, []string{"'self'", testBrowserURL, "https://accounts.example.net", "https://idp.example.org:8443"}, csp["form-action"])

	_, auth := newTestUI(t, k.URL)
	for _, bad := range []string{"accounts.example.net", "https://a.example/path", "https://a.example?x", "javascript:x",
		"https://a.example;script-src", "https://a.example 'unsafe-inline'", "https://u@a.example", "*", ""} {
		_, err := selfservice.New(auth, selfservice.WithFormActionOrigins(bad))
		assert.Error(t, err, "%q", bad)
	}
}
