package selfservice

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// A Catalog is the pages' text in one language: Kratos' messages under
// their ids (ui.text.id, in decimal: "1010001" is "Sign in") and the
// pages' own texts under names ("title.login", "link.recovery", ...; see
// catalogs/en.json for every name). A text may use the values of a
// Kratos message's context as {name}: "Sign in with {provider}". A
// message whose catalog entry names a value the message does not have is
// shown in Kratos' English, never with a placeholder.
type Catalog map[string]string

//go:embed catalogs/*.json
var catalogFS embed.FS

// builtinCatalogs are the catalogs shipped: English, German and French.
var builtinCatalogs = func() map[string]Catalog {
	out := map[string]Catalog{}
	for _, lang := range []string{"en", "de", "fr"} {
		b, err := catalogFS.ReadFile("catalogs/" + lang + ".json")
		if err != nil {
			panic(err)
		}
		var c Catalog
		if err := json.Unmarshal(b, &c); err != nil {
			panic(fmt.Sprintf("selfservice: catalogs/%s.json: %v", lang, err))
		}
		out[lang] = c
	}
	return out
}()

// Languages returns the languages of the built-in catalogs ("de", "en",
// "fr").
func Languages() []string {
	out := make([]string, 0, len(builtinCatalogs))
	for l := range builtinCatalogs {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// BuiltinCatalog returns a copy of the built-in catalog of lang, or nil:
// a starting point for an app's own wording or a new language.
func BuiltinCatalog(lang string) Catalog {
	c, ok := builtinCatalogs[lang]
	if !ok {
		return nil
	}
	out := make(Catalog, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

// verbatim are Kratos messages whose text is data, never translated: a
// TOTP secret, a backup code, the list of backup codes.
var verbatim = map[int64]bool{1050006: true, 1050009: true, 1050015: true}

// translator translates into one language; its fallback is English.
type translator struct {
	lang    string
	cat, en Catalog
}

// ui returns the page text of key: this language's, else English, else
// the key itself (a template asking for an unknown name shows the name).
func (tr translator) ui(key string) string {
	if s, ok := tr.cat[key]; ok {
		return s
	}
	if s, ok := tr.en[key]; ok {
		return s
	}
	return key
}

// lookup is ui for a text that may be missing: ok is false when neither
// this language nor English has key.
func (tr translator) lookup(key string) (string, bool) {
	if s, ok := tr.cat[key]; ok {
		return s, true
	}
	s, ok := tr.en[key]
	return s, ok
}

// message translates a Kratos message in place: the catalog's text for
// its id with the context's values filled in. Without an entry in this
// language, or with a value missing, the text stays Kratos' own English.
func (tr translator) message(t *Text) {
	if t == nil || verbatim[t.ID] {
		return
	}
	s, ok := tr.cat[strconv.FormatInt(t.ID, 10)]
	if !ok {
		return
	}
	if out, ok := fill(s, t.Context); ok {
		t.Text = out
	}
}

// fill replaces each {name} in s with the context's value of name (a
// string, number or boolean); ok is false when one is missing or not such
// a value, or a brace is unmatched.
func fill(s string, context json.RawMessage) (string, bool) {
	if !strings.Contains(s, "{") {
		return s, true
	}
	var ctx map[string]any
	if len(context) > 0 && json.Unmarshal(context, &ctx) != nil {
		return "", false
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", false
		}
		b.WriteString(s[:i])
		switch v := ctx[s[i+1:i+j]].(type) {
		case string:
			b.WriteString(v)
		case float64:
			b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
		case bool:
			b.WriteString(strconv.FormatBool(v))
		default:
			return "", false
		}
		s = s[i+j+1:]
	}
}

// placeholdersOK reports whether every brace of s encloses a name:
// "{", "}" and "{a{b}" are refused, as fill would never use such a text.
func placeholdersOK(s string) bool {
	open := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			if open {
				return false
			}
			open = true
		case '}':
			if !open || s[i-1] == '{' {
				return false
			}
			open = false
		}
	}
	return !open
}

// translateFlow translates every text of the flow that the pages show:
// its messages, and its nodes' labels, messages, link titles and texts.
func (tr translator) translateFlow(f *Flow) {
	for i := range f.UI.Messages {
		tr.message(&f.UI.Messages[i])
	}
	for i := range f.UI.Nodes {
		n := &f.UI.Nodes[i]
		tr.message(n.Meta.Label)
		for j := range n.Messages {
			tr.message(&n.Messages[j])
		}
		tr.message(n.Attributes.Title)
		tr.message(n.Attributes.Text)
	}
}

// normLang lowercases a language tag and checks it is one: letters,
// digits and hyphens, e.g. "de", "pt-br".
func normLang(tag string) (string, bool) {
	tag = strings.ToLower(strings.TrimSpace(tag))
	if tag == "" || len(tag) > 35 {
		return "", false
	}
	for i := 0; i < len(tag); i++ {
		b := tag[i]
		if !('a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-') {
			return "", false
		}
	}
	return tag, true
}

// negotiate picks the language of a request from its Accept-Language
// header among the available ones: the first tag by preference (q) that
// is available, or whose primary language is ("de-CH" -> "de"); "en" when
// none is.
func negotiate(header string, available map[string]Catalog) string {
	type pref struct {
		tag string
		q   float64
		i   int
	}
	var prefs []pref
	for i, part := range strings.Split(header, ",") {
		if i >= 32 { // a header can be long; the first few choices are enough
			break
		}
		tag, params, _ := strings.Cut(part, ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		tag, ok := normLang(tag)
		if !ok || q == 0 {
			continue
		}
		prefs = append(prefs, pref{tag, q, i})
	}
	sort.SliceStable(prefs, func(a, b int) bool { return prefs[a].q > prefs[b].q })
	for _, p := range prefs {
		if _, ok := available[p.tag]; ok {
			return p.tag
		}
		if primary, _, _ := strings.Cut(p.tag, "-"); available[primary] != nil {
			return primary
		}
	}
	return "en"
}
