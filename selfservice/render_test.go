package selfservice_test

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/selfservice"
)

func TestStylesheet(t *testing.T) {
	if css := string(selfservice.Stylesheet()); !strings.Contains(css, ".ks-card") || !strings.Contains(css, ".ks-button-danger") {
		t.Errorf("Stylesheet() = %.80q...", css)
	}
}

// renderFlow renders a flow (JSON) of the kind through a fake Kratos.
func renderFlow(t *testing.T, kind selfservice.Kind, body []byte) string {
	t.Helper()
	flow := decodeFlow(t, body)
	k := newFakeKratos(t)
	k.set("/self-service/"+string(kind)+"/flows", http.StatusOK, body)
	ui, _ := newTestUI(t, k.URL)
	rec := serve(ui, http.MethodGet, "/"+string(kind)+"?flow="+flow.ID, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// The settings page gives each form a heading; login does not.
func TestSettingsHeadings(t *testing.T) {
	body := renderFlow(t, selfservice.Settings, readTestdata(t, "settings_flow"))
	for _, want := range []string{
		`<section class="ks-section ks-section-profile" aria-labelledby="ks-section-profile">` + "\n" + `<h2 id="ks-section-profile">Profile</h2>`,
		`<h2 id="ks-section-password">Password</h2>`,
		`<h2 id="ks-section-totp">Authenticator app</h2>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("settings page lacks %q", want)
		}
	}
	if body := renderFlow(t, selfservice.Login, readTestdata(t, "login_flow")); strings.Contains(body, "<h2") {
		t.Error("login page has form headings")
	}
}

// withNodes returns the recorded flow with extra nodes (JSON) appended.
func withNodes(t *testing.T, file, nodes string) []byte {
	t.Helper()
	return withNodesOn(t, readTestdata(t, file), nodes)
}

// withNodesOn returns the flow with extra nodes (JSON) appended.
func withNodesOn(t *testing.T, flow []byte, nodes string) []byte {
	t.Helper()
	f := decodeFlow(t, flow)
	var extra []selfservice.Node
	if err := json.Unmarshal([]byte(nodes), &extra); err != nil {
		t.Fatal(err)
	}
	f.UI.Nodes = append(f.UI.Nodes, extra...)
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Destructive buttons are styled as danger, "Back" as secondary; the
// email entered in the profile step is shown.
func TestButtonClassesAndReadOnlyValues(t *testing.T) {
	body := renderFlow(t, selfservice.Settings, withNodes(t, "settings_flow", `[
		{"type":"input","group":"totp","attributes":{"name":"totp_unlink","type":"submit","value":true,"node_type":"input"},"meta":{"label":{"id":1050002,"text":"Unlink TOTP Authenticator App","type":"info"}}}]`))
	if !strings.Contains(body, `class="ks-button ks-button-danger" id="ks-totp-totp_unlink-true"`) {
		t.Errorf("totp_unlink is not a danger button:\n%s", body)
	}
	if strings.Contains(body, `class="ks-button ks-button-danger" id="ks-password`) {
		t.Error("the password button is a danger button")
	}

	body = renderFlow(t, selfservice.Registration, withNodes(t, "registration_flow", `[
		{"type":"input","group":"default","attributes":{"name":"traits.email","type":"hidden","value":"a@example.com","node_type":"input"},"meta":{}},
		{"type":"input","group":"profile","attributes":{"name":"screen","type":"submit","value":"credential-selection","node_type":"input"},"meta":{"label":{"id":1040008,"text":"Back","type":"info"}}}]`))
	for _, want := range []string{
		`class="ks-button ks-button-secondary" id="ks-profile-screen-credential-selection"`,
		`<dt>Email</dt><dd>a@example.com</dd>`,
		`type="hidden" name="traits.email" value="a@example.com"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("registration page lacks %q:\n%s", want, body)
		}
	}
}

// Templates written from scratch get the default templates' functions from
// Funcs: imgsrc keeps a data: image (a TOTP QR code) and drops anything else.
func TestFuncsForTemplatesFromScratch(t *testing.T) {
	tmpl := template.Must(template.New("page").Funcs(selfservice.Funcs()).Parse(`<img src="{{imgsrc .}}">`))
	for src, want := range map[string]string{
		"data:image/png;base64,iVBORw0KGgo=": `<img src="data:image/png;base64,iVBORw0KGgo=">`,
		"javascript:alert(1)":                `<img src="">`,
		"https://evil.example/x.png":         `<img src="">`,
		// Unicode lower-casing folds "İ" to "i": not the image type it spells.
		"data:\u0130mage/svg+xml;base64,PHN2Zz4=": `<img src="">`,
		"data:\u0130mage/png;base64,iVBORw0KGgo=": `<img src="">`,
		"DATA:IMAGE/PNG;BASE64,iVBORw0KGgo=":      `<img src="DATA:IMAGE/PNG;BASE64,iVBORw0KGgo=">`,
	} {
		var b strings.Builder
		if err := tmpl.Execute(&b, src); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("imgsrc %q: %s, want %s", src, b.String(), want)
		}
	}
}

// Element ids stay short and unique: a security key's button, whose value
// is its challenge (hundreds of characters of JSON), gets a hash in its
// id instead.
func TestElementIDsAreShort(t *testing.T) {
	for _, c := range []struct {
		kind selfservice.Kind
		name string
	}{{selfservice.Settings, "settings_flow"}, {selfservice.Login, "login_flow"}, {selfservice.Registration, "registration_flow"}} {
		d := parseDoc(t, showRecorded(t, c.kind, c.name).Body.String())
		seen := map[string]bool{}
		for _, n := range d.find(func(n *htmlNode) bool { return attrOf(n, "id") != "" }) {
			id := attrOf(n, "id")
			assert.LessOrEqual(t, len(id), 80, "%s: id %.100s...", c.name, id)
			assert.False(t, seen[id], "%s: id %s twice", c.name, id)
			seen[id] = true
		}
		if c.name == "settings_flow" {
			assert.Len(t, d.find(func(n *htmlNode) bool {
				return strings.HasPrefix(attrOf(n, "id"), "ks-webauthn-webauthn_register_trigger-")
			}), 1)
		}
	}
}

// Password forms carry the account's identifier for password managers
// (autocomplete="username", hidden, never submitted) when they show no
// username: settings' password form and registration's password step.
// The login's password form has its visible identifier input instead.
func TestPasswordFormsHaveUsername(t *testing.T) {
	// Kratos v1.3.1's second step of a registration: the email entered in
	// the first is a hidden trait.
	f := decodeFlow(t, readTestdata(t, "registration_flow"))
	for i := range f.UI.Nodes {
		if a := &f.UI.Nodes[i].Attributes; a.Name == "traits.email" {
			a.Type, a.Value, a.Autocomplete = "hidden", "a@example.com", ""
		}
	}
	passwordStep, err := json.Marshal(f)
	require.NoError(t, err)
	passwordStep = withNodesOn(t, passwordStep, `[
		{"type":"input","group":"password","attributes":{"name":"password","type":"password","required":true,"autocomplete":"new-password","node_type":"input"},"meta":{"label":{"id":1070001,"text":"Password","type":"info"}}},
		{"type":"input","group":"password","attributes":{"name":"method","type":"submit","value":"password","node_type":"input"},"meta":{"label":{"id":1040001,"text":"Sign up","type":"info"}}}]`)
	for _, c := range []struct {
		name string
		body string
		want string // the username input's value, "" for none
	}{
		{"settings", renderFlow(t, selfservice.Settings, readTestdata(t, "settings_flow")), "email"},
		{"registration password step", renderFlow(t, selfservice.Registration, passwordStep), "a@example.com"},
		{"login", renderFlow(t, selfservice.Login, readTestdata(t, "login_flow")), ""},
	} {
		d := parseDoc(t, c.body)
		var got []elem
		for _, f := range d.forms {
			hasPassword := false
			for _, e := range f.elems {
				hasPassword = hasPassword || e.attrs["type"] == "password"
			}
			for _, e := range f.elems {
				if e.attrs["autocomplete"] == "username" {
					assert.True(t, hasPassword, "%s: a username input in a form without a password", c.name)
					got = append(got, e)
				}
			}
		}
		if c.want == "" {
			assert.Empty(t, got, c.name)
			continue
		}
		if assert.Len(t, got, 1, c.name) {
			e := got[0]
			if c.want == "email" {
				assert.Contains(t, e.attrs["value"], "@", c.name)
			} else {
				assert.Equal(t, c.want, e.attrs["value"], c.name)
			}
			assert.True(t, e.has("hidden"), c.name)
			assert.False(t, e.has("name"), "%s: the username is never submitted", c.name)
		}
	}
}
