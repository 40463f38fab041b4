package selfservice_test

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/selfservice"
)

// Kratos v25.4.0 and later can send "div" nodes (the hooks of captcha
// widgets) and nodes of the captcha group. The pages cannot run a captcha
// widget, so such a flow, or a node of a type nobody knows, is an error page
// in the visitor's language, never a form Kratos would refuse on submit.
func TestUnsupportedNodesAreAnErrorPage(t *testing.T) {
	for name, nodes := range map[string]string{
		"div in the captcha group": `[{"type":"div","group":"captcha","attributes":{"node_type":"div","id":"captcha","class":"cf-turnstile","data":{"sitekey":"x"}},"messages":[],"meta":{}}]`,
		"captcha input":            `[{"type":"input","group":"captcha","attributes":{"node_type":"input","name":"captcha_turnstile_response","type":"hidden","value":""},"messages":[],"meta":{}}]`,
		"div elsewhere":            `[{"type":"div","group":"default","attributes":{"node_type":"div","id":"widget"},"messages":[],"meta":{}}]`,
		"unknown type":             `[{"type":"video","group":"default","attributes":{"node_type":"video"},"messages":[],"meta":{}}]`,
	} {
		t.Run(name, func(t *testing.T) {
			body := withNodes(t, "login_flow", nodes)
			if _, err := decodeFlow(t, body).Forms(); !errors.Is(err, selfservice.ErrUnsupportedNode) {
				t.Fatalf("Forms() error = %v, want ErrUnsupportedNode", err)
			}
			k := newFakeKratos(t)
			k.set("/self-service/login/flows", http.StatusOK, body)
			ui, _ := newTestUI(t, k.URL)
			for lang, want := range map[string]string{
				"en": "asked for a step this site cannot display",
				"de": "verlangt einen Schritt, den diese Seite nicht anzeigen kann",
				"fr": "demande une étape que ce site ne peut pas afficher",
			} {
				rec := serve(ui, http.MethodGet, "/login?flow="+decodeFlow(t, body).ID, map[string]string{"Accept-Language": lang})
				if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), want) {
					t.Errorf("%s: status %d, body lacks %q", lang, rec.Code, want)
				}
				if strings.Contains(rec.Body.String(), "<form") {
					t.Errorf("%s: the error page has a form", lang)
				}
			}
		})
	}
	// The flows Kratos' open-source build sends render as before.
	renderFlow(t, selfservice.Login, readTestdata(t, "login_flow"))
}

// TestRecordedFlowsOfEveryKratosVersion: every flow recorded from each
// Kratos version renders in English, German and French, and every label
// and message of it shows in the page's language (texts with placeholders
// are checked by TestCatalogsCoverRecordedFlows).
func TestRecordedFlowsOfEveryKratosVersion(t *testing.T) {
	kindOf := regexp.MustCompile(`/self-service/(login|registration|settings|verification|recovery)(\?|$)`)
	rendered := map[string]int{}
	for _, file := range recordedFiles(t) {
		body, err := os.ReadFile(file)
		require.NoError(t, err)
		f := decodeFlow(t, body)
		m := kindOf.FindStringSubmatch(f.UI.Action)
		if f.ID == "" || m == nil {
			continue // an error or a logout flow
		}
		kind := selfservice.Kind(m[1])
		t.Run(file, func(t *testing.T) {
			k := newFakeKratos(t)
			k.set("/self-service/"+string(kind)+"/flows", http.StatusOK, body)
			var ui http.Handler
			if strings.Contains(f.UI.Action, "localhost:4433") {
				k.set("/self-service/logout/browser", http.StatusOK, bytes.ReplaceAll(readTestdata(t, "logout_flow"), []byte("127.0.0.1:4433"), []byte("localhost:4433")))
				ui = methodsUI(t, k)
			} else {
				k.set("/self-service/logout/browser", http.StatusOK, readTestdata(t, "logout_flow"))
				ui, _ = newTestUI(t, k.URL)
			}
			for _, lang := range []string{"en", "de", "fr"} {
				cat := selfservice.BuiltinCatalog(lang)
				rec := serve(ui, http.MethodGet, "/"+string(kind)+"?flow="+f.ID, map[string]string{"Accept-Language": lang})
				require.Equal(t, http.StatusOK, rec.Code, lang)
				d := parseDoc(t, rec.Body.String())
				require.Equal(t, lang, htmlLang(d))
				texts := append([]selfservice.Text(nil), f.UI.Messages...)
				for _, n := range f.UI.Nodes {
					if n.Type == "script" || n.IsHidden() {
						continue
					}
					if n.Meta.Label != nil {
						texts = append(texts, *n.Meta.Label)
					}
					texts = append(texts, n.Messages...)
				}
				for _, tx := range texts {
					entry, ok := cat[strconv.FormatInt(tx.ID, 10)]
					if !ok || strings.Contains(entry, "{") {
						continue
					}
					assert.Contains(t, d.text, entry, "%s: message %d", lang, tx.ID)
				}
			}
			rendered[filepath.Dir(file)]++
		})
	}
	for _, dir := range []string{"testdata", "testdata/methods", "testdata/kratos-v25.4.0", "testdata/kratos-v25.4.0/methods", "testdata/kratos-v26.2.0", "testdata/kratos-v26.2.0/methods"} {
		assert.Greater(t, rendered[dir], 3, "flows rendered from %s", dir)
	}
}
