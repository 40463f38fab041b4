package selfservice_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

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
