package selfservice_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/selfservice"
)

// recordingDirs are the recordings of each Kratos version: testdata for
// v1.3.1, testdata/kratos-VERSION for the later ones (scripts/record.sh).
func recordingDirs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{"v1.3.1": "testdata"}
	later, _ := filepath.Glob(filepath.Join("testdata", "kratos-v*"))
	for _, dir := range later {
		out[strings.TrimPrefix(filepath.Base(dir), "kratos-")] = dir
	}
	require.Equal(t, []string{"v1.3.1", "v25.4.0", "v26.2.0"}, slices.Sorted(maps.Keys(out)), "recordings of every Kratos version")
	return out
}

// recordedFiles returns the recordings of every version, flows and
// errors: DIR/*.json and DIR/methods/*.json.
func recordedFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range recordingDirs(t) {
		some, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		more, _ := filepath.Glob(filepath.Join(dir, "methods", "*.json"))
		require.Greater(t, len(some)+len(more), 30, dir)
		files = append(files, append(some, more...)...)
	}
	return files
}

// recordedTexts returns every Kratos text (id, context) of every
// recording of every Kratos version.
func recordedTexts(t *testing.T) map[int64][]selfservice.Text {
	t.Helper()
	files := recordedFiles(t)
	out := map[int64][]selfservice.Text{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if id, ok := v["id"].(float64); ok {
				if _, ok := v["text"].(string); ok {
					b, _ := json.Marshal(v)
					var tx selfservice.Text
					require.NoError(t, json.Unmarshal(b, &tx))
					out[int64(id)] = append(out[int64(id)], tx)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var v any
		require.NoError(t, json.Unmarshal(b, &v), f)
		walk(v)
	}
	return out
}

var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

// TestCatalogsCoverRecordedFlows: every message id in the recorded flows
// of every Kratos version has an English entry (or is data shown verbatim), whose placeholders
// the recorded contexts fill; German and French have every English
// entry, with the same placeholders.
func TestCatalogsCoverRecordedFlows(t *testing.T) {
	en := selfservice.BuiltinCatalog("en")
	require.NotEmpty(t, en)
	texts := recordedTexts(t)
	ids := make([]int64, 0, len(texts))
	for id := range texts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if id == 1050015 { // the list of backup codes: data, shown as a list
			continue
		}
		entry, ok := en[strconv.FormatInt(id, 10)]
		if !assert.True(t, ok, "no English entry for Kratos message %d (%q)", id, texts[id][0].Text) {
			continue
		}
		for _, name := range placeholder.FindAllString(entry, -1) {
			for _, tx := range texts[id] {
				var ctx map[string]any
				_ = json.Unmarshal(tx.Context, &ctx)
				assert.Contains(t, ctx, name[1:len(name)-1], "message %d: %s not in a recorded context", id, name)
			}
		}
	}
	for _, lang := range []string{"de", "fr"} {
		c := selfservice.BuiltinCatalog(lang)
		for k, v := range en {
			tr, ok := c[k]
			if assert.True(t, ok, "%s lacks %s (%q)", lang, k, v) {
				want, got := placeholder.FindAllString(v, -1), placeholder.FindAllString(tr, -1)
				sort.Strings(want)
				sort.Strings(got)
				assert.Equal(t, want, got, "%s %s: placeholders", lang, k)
			}
		}
		assert.Len(t, c, len(en), lang)
	}
	assert.Equal(t, []string{"de", "en", "fr"}, selfservice.Languages())
}

// page renders recording methods/<name> as kind with the options and
// the Accept-Language header.
func renderIn(t *testing.T, kind selfservice.Kind, name, acceptLanguage string, opts ...selfservice.Option) *doc {
	t.Helper()
	k := newFakeKratos(t)
	body := readTestdata(t, name)
	k.set("/self-service/"+string(kind)+"/flows", http.StatusOK, body)
	k.set("/self-service/logout/browser", http.StatusOK, bytes.ReplaceAll(readTestdata(t, "logout_flow"), []byte("127.0.0.1:4433"), []byte("localhost:4433")))
	rec := serve(methodsUI(t, k, opts...), http.MethodGet, "/"+string(kind)+"?flow="+decodeFlow(t, body).ID,
		map[string]string{"Accept-Language": acceptLanguage})
	require.Equal(t, http.StatusOK, rec.Code)
	return parseDoc(t, rec.Body.String())
}

func htmlLang(d *doc) string {
	for _, n := range d.find(func(n *htmlNode) bool { return n.Data == "html" }) {
		return attrOf(n, "lang")
	}
	return ""
}

// TestLanguages: pages are in the language of Accept-Language (German,
// French), English otherwise; Kratos' messages, labels, placeholders
// filled from their context, the page's own texts and the settings
// headings are translated; backup codes are not.
func TestLanguages(t *testing.T) {
	d := renderIn(t, selfservice.Login, "methods/login_flow", "de-DE,de;q=0.9,en;q=0.8")
	assert.Equal(t, "de", htmlLang(d))
	for _, s := range []string{"Anmelden", "Mit Passwort anmelden", "Passwort", "Mit Passkey anmelden", "Anmeldecode senden", "Mit Hydra anmelden", "Konto erstellen", "Passwort vergessen?"} {
		assert.Contains(t, d.text, s)
	}
	assert.NotContains(t, d.text, "Sign in with password")

	d = renderIn(t, selfservice.Login, "methods/login_flow", "fr-CA, de;q=0.5")
	assert.Equal(t, "fr", htmlLang(d))
	assert.Contains(t, d.text, "Se connecter avec un mot de passe")

	for _, header := range []string{"", "ja, zh;q=0.8", "*", "de;q=0", "de;q=x", "<script>"} {
		d = renderIn(t, selfservice.Login, "methods/login_flow", header)
		assert.Equal(t, "en", htmlLang(d), "%q", header)
		assert.Contains(t, d.text, "Sign in with password", "%q", header)
	}

	d = renderIn(t, selfservice.Registration, "registration_flow_error", "de")
	assert.Contains(t, d.text, "Das Passwort muss mindestens 8 Zeichen lang sein, hat aber 1.")

	d = renderIn(t, selfservice.Settings, "methods/settings_lookup_generated", "de")
	assert.Contains(t, d.text, "Das sind Ihre Backup-Codes")
	assert.Contains(t, d.text, "Backup-Codes", "the section heading")
	for _, code := range decodeSecrets(t, readTestdata(t, "methods/settings_lookup_generated")) {
		assert.Contains(t, d.text, code)
	}

	d = renderIn(t, selfservice.Login, "methods/login_flow_refresh", "de")
	assert.Contains(t, d.text, "Bestätigen Sie, dass Sie es sind")
	assert.Contains(t, d.text, "Nicht Sie? Abmelden")
}

func decodeSecrets(t *testing.T, body []byte) []string {
	t.Helper()
	for _, n := range decodeFlow(t, body).UI.Nodes {
		if s := n.Attributes.Text.Secrets(); len(s) > 0 {
			return s
		}
	}
	t.Fatal("no secrets")
	return nil
}

// TestLanguageOptions: WithLanguage forces a language; WithCatalog
// changes entries of a built-in catalog and adds languages; an entry
// whose placeholder the message lacks shows Kratos' text; bad options
// are errors.
func TestLanguageOptions(t *testing.T) {
	d := renderIn(t, selfservice.Login, "methods/login_flow", "de", selfservice.WithLanguage("fr"))
	assert.Equal(t, "fr", htmlLang(d))

	d = renderIn(t, selfservice.Login, "methods/login_flow", "en",
		selfservice.WithCatalog("en", selfservice.Catalog{"1010022": "Use your password", "link.recovery": "Lost it?"}))
	assert.Contains(t, d.text, "Use your password")
	assert.Contains(t, d.text, "Lost it?")
	assert.Contains(t, d.text, "Send sign in code", "other entries stay")

	es := selfservice.Catalog{"1010022": "Entrar con contraseña", "1010002": "Entrar con {provedor}", "title.login": "Entrar"}
	d = renderIn(t, selfservice.Login, "methods/login_flow", "es-ES, en;q=0.5", selfservice.WithCatalog("es", es))
	assert.Equal(t, "es", htmlLang(d))
	assert.Contains(t, d.text, "Entrar con contraseña")
	assert.Contains(t, d.text, "Sign in with Hydra", "a placeholder the message lacks: Kratos' text")
	assert.NotContains(t, d.text, "{provedor}")
	assert.Contains(t, d.text, "Forgot your password?", "a page text the catalog lacks: English")

	k := newFakeKratos(t)
	for _, opt := range []selfservice.Option{
		selfservice.WithLanguage("xx"),
		selfservice.WithLanguage("de;q=1"),
		selfservice.WithCatalog("", selfservice.Catalog{"a": "b"}),
		selfservice.WithCatalog("es", nil),
		selfservice.WithCatalog("es", selfservice.Catalog{"1010002": "Entrar con {provider"}),
		selfservice.WithCatalog("es", selfservice.Catalog{"1010002": "Entrar con {}"}),
	} {
		auth := methodsAuth(t, k)
		_, err := selfservice.New(auth, opt)
		assert.Error(t, err)
	}
}

// TestReadOnlyLabelsTranslated: the values shown as text (the account on
// a second-factor or code login, whose hidden identifier node Kratos
// sends without a label) are labelled in the page's language.
func TestReadOnlyLabelsTranslated(t *testing.T) {
	k := newFakeKratos(t)
	body := readTestdata(t, "methods/login_code_wrong")
	k.set("/self-service/login/flows", http.StatusOK, body)
	ui := methodsUI(t, k)
	for lang, want := range map[string]string{"de": "Konto", "fr": "Compte", "en": "Account"} {
		rec := serve(ui, http.MethodGet, "/login?flow="+decodeFlow(t, body).ID, map[string]string{"Accept-Language": lang})
		require.Equal(t, http.StatusOK, rec.Code)
		d := parseDoc(t, rec.Body.String())
		dts := d.find(func(n *htmlNode) bool { return n.Data == "dt" })
		require.Len(t, dts, 1, lang)
		require.NotNil(t, dts[0].FirstChild, lang)
		assert.Equal(t, want, dts[0].FirstChild.Data, lang)
		assert.NotContains(t, d.text, "Identifier", lang)
	}
}

// TestReadOnlyEmailLabelTranslated: registration's password step, where
// Kratos v1.3.1 sends the email as a hidden trait without a label, labels
// it in the page's language.
func TestReadOnlyEmailLabelTranslated(t *testing.T) {
	f := decodeFlow(t, readTestdata(t, "methods/registration_flow"))
	for i := range f.UI.Nodes {
		if n := &f.UI.Nodes[i]; n.Attributes.Name == "traits.email" {
			n.Attributes.Type, n.Attributes.Value, n.Attributes.Autocomplete, n.Meta.Label = "hidden", "a@example.com", "", nil
		}
	}
	body, err := json.Marshal(f)
	require.NoError(t, err)
	k := newFakeKratos(t)
	k.set("/self-service/registration/flows", http.StatusOK, body)
	rec := serve(methodsUI(t, k), http.MethodGet, "/registration?flow="+f.ID, map[string]string{"Accept-Language": "de"})
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "<dt>E-Mail</dt><dd>a@example.com</dd>")
}
