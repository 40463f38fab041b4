package selfservice

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"strconv"
	"strings"
)

//go:embed templates/default.html templates/style.css
var assets embed.FS

var defaultTemplates = template.Must(
	template.New("selfservice").Funcs(Funcs()).ParseFS(assets, "templates/default.html"))

var defaultStyle = func() template.CSS {
	b, err := assets.ReadFile("templates/style.css")
	if err != nil {
		panic(err)
	}
	return template.CSS(b) //nolint:gosec // embedded, trusted stylesheet
}()

// Stylesheet returns the CSS of the built-in pages, for an app's own
// pages to look like them: inline it with <style>{{.}}</style> (it is a
// template.CSS, which html/template inserts as is). Its classes are
// prefixed "ks-": ks-header and ks-home (top bar), ks-main and ks-card
// (centred card), ks-links (a row of links), ks-button (primary button,
// also on an <a>), ks-button-secondary and ks-button-danger.
func Stylesheet() template.CSS { return defaultStyle }

// DefaultTemplates returns a fresh copy of the built-in templates, to be
// extended (redefine "header", "node", "style", ...) and passed to
// WithTemplates. The entry point is "page", executed with a *Page.
func DefaultTemplates() *template.Template {
	return template.Must(defaultTemplates.Clone())
}

// Funcs returns the template functions the default templates use, for
// templates written from scratch:
//
//	imgsrc   an img node's src as a URL html/template keeps: data:image/png,
//	         gif, jpeg or webp (TOTP QR codes); anything else is dropped
//	         (the pages' Content-Security-Policy allows data: images only)
func Funcs() template.FuncMap {
	return template.FuncMap{"imgsrc": imgSrc}
}

// imgSrc lets data:image URLs (QR codes) through html/template, which
// would otherwise replace them with "#ZgotmplZ".
// The prefix is compared in ASCII only: Unicode lower-casing would take
// "data:İmage/png" for "data:image/png" (and shift the offsets into src).
func imgSrc(src string) template.URL {
	for _, p := range []string{"data:image/png;base64,", "data:image/gif;base64,", "data:image/jpeg;base64,", "data:image/webp;base64,"} {
		if hasPrefixASCIIFold(src, p) && !strings.ContainsAny(src[len(p):], "\"'<> \t\r\n") {
			return template.URL(src) //nolint:gosec // checked raster image data URL
		}
	}
	return ""
}

// hasPrefixASCIIFold reports whether s starts with prefix, a lower-case
// ASCII string, ASCII letters compared case-insensitively.
func hasPrefixASCIIFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// Page is the data the "page" template is executed with.
type Page struct {
	// SiteName is set with WithSiteName.
	SiteName string
	// Title is the page's heading, e.g. "Sign in".
	Title string
	// Kind is the flow shown, "" on error pages.
	Kind Kind
	// Flow is the flow shown, nil on error pages.
	Flow *Flow
	// Forms are the flow's nodes split into one form per method.
	Forms []Form
	// Error is set on error pages (the /error page, Kratos unavailable).
	Error *PageError
	// Status is the HTTP status code of the response.
	Status int
	// URLs links the pages to each other.
	URLs URLs
	// Style is the default stylesheet, inlined by the "style" template.
	Style template.CSS
	// Nonce is this response's Content-Security-Policy nonce: an inline
	// <style> is applied only with nonce="{{.Nonce}}", and so is a script
	// on a page that has Scripts. The policy allows images only as data:
	// URLs and forms only to Kratos and the app.
	Nonce string
	// Scripts are the scripts of Kratos the page loads: webauthn.js, on
	// pages with security keys or passkeys, and only from Kratos' browser
	// URL. Only a page with Scripts may run script at all (its CSP then
	// has script-src 'nonce-...'), and the default templates then add a
	// small script of their own that calls webauthn.js' functions when a
	// button with data-ks-trigger is clicked.
	Scripts []Script
	// Lang is the page's language ("en", "de", ...): WithLanguage's, or
	// the best match of the request's Accept-Language among the catalogs.
	Lang string
	tr   translator
	// titleKey names Title in the catalogs.
	titleKey string
	// SignOutURL, on a second-factor or refresh login, is a fresh Kratos
	// logout URL (its token bound to this browser's session) that returns
	// to the login page: the "Not you? Sign out" link. "" elsewhere, or
	// when Kratos gave none.
	SignOutURL string
}

// Script is a <script> element of Kratos' to load: its URL and
// Subresource Integrity attributes, as Kratos gave them.
type Script struct {
	Src, Integrity, CrossOrigin, ReferrerPolicy string
}

// T returns the page's text named key in the page's language (English
// when the language's catalog lacks it, key itself when no catalog has
// it), for templates: {{.T "link.recovery"}}. The names are those of
// catalogs/en.json.
func (p *Page) T(key string) string {
	if p.tr.en == nil {
		p.tr.en = builtinCatalogs["en"]
	}
	return p.tr.ui(key)
}

// PageError describes what went wrong, in words meant for users.
type PageError struct {
	// key names the texts in the catalogs ("error.<key>.title" and
	// ".message"); kratosMessage is set when Message is Kratos' own
	// reason, which is kept.
	key           string
	kratosMessage bool

	Title   string
	Message string
	// Kratos is the error Kratos reported, when the page shows one of its
	// errors (on the /error page); its ID identifies the kind of error.
	Kratos *KratosError
}

// URLs are the links pages show. Flow links carry the current flow's
// return_to when it has one.
type URLs struct {
	Home, Login, Registration, Settings, Verification, Recovery, Logout string
}

// Form is one HTML form of a flow: the nodes of one group (method) plus
// the nodes of the "default" group (csrf_token, identifier, traits) that
// it needs, in Kratos' order. Action and Method are the flow's.
type Form struct {
	// Heading is the group's heading in the page's language ("Password",
	// "Passwort"), "" for a group without one.
	Heading string
	Group   string
	Action  string
	Method  string
	Fields  []Field
	// Username, on a form with a password input but no visible username
	// (registration's password step, settings), is the account's
	// identifier, for password managers to save the password under: the
	// default templates put it in a hidden input without a name
	// (autocomplete="username"), which is never submitted.
	Username string
}

// groupTitles are the headings of the settings page's forms.
var groupTitles = map[string]string{
	"profile":       "Profile",
	"password":      "Password",
	"totp":          "Authenticator app",
	"lookup_secret": "Backup codes",
	"webauthn":      "Security keys",
	"passkey":       "Passkeys",
	"oidc":          "Linked accounts",
	"saml":          "Linked accounts",
	"code":          "One-time code",
}

// Title returns an English heading for the form's group, e.g. "Password"
// or "Authenticator app", or "" for a group it does not know. The
// default templates show Heading, the same in the page's language.
func (f Form) Title() string { return groupTitles[f.Group] }

// Field is a node in a form, with the HTML id its input and label share
// (unique on the page).
type Field struct {
	*Node
	HTMLID string
}

// HasErrors reports whether the node has an error message.
func (f Field) HasErrors() bool {
	for _, m := range f.Messages {
		if m.Type == "error" {
			return true
		}
	}
	return false
}

// ButtonClass returns the CSS classes of a button node: "ks-button" plus
// "ks-button-danger" for the buttons that remove a credential (unlink TOTP,
// disable backup codes, remove a security key or passkey, unlink an
// account) and "ks-button-secondary" for "Back" (the "screen" input of a
// two-step registration) and "Resend code".
func (f Field) ButtonClass() string {
	switch f.Attributes.Name {
	case "totp_unlink", "lookup_secret_disable", "webauthn_remove", "passkey_remove", "unlink":
		return "ks-button ks-button-danger"
	case "screen":
		return "ks-button ks-button-secondary"
	}
	if f.IsResend() {
		return "ks-button ks-button-secondary"
	}
	return "ks-button"
}

// webauthnTriggers are the functions of Kratos v1.3.1's webauthn.js that
// its nodes may name in onclickTrigger and onloadTrigger; no other name
// is ever put on a page.
var webauthnTriggers = map[string]bool{
	"oryWebAuthnRegistration":         true,
	"oryWebAuthnLogin":                true,
	"oryPasskeyLogin":                 true,
	"oryPasskeyLoginAutocompleteInit": true,
	"oryPasskeyRegistration":          true,
	"oryPasskeySettingsRegistration":  true,
}

// Trigger returns the webauthn.js function a click on the node calls
// (onclickTrigger), or "" when it has none Kratos defines.
func (f Field) Trigger() string {
	if t := f.Attributes.OnClickTrigger; webauthnTriggers[t] {
		return t
	}
	return ""
}

// OnLoad returns the webauthn.js function to call once the page has
// loaded (onloadTrigger: passkey autofill), or "".
func (f Field) OnLoad() string {
	if t := f.Attributes.OnLoadTrigger; webauthnTriggers[t] {
		return t
	}
	return ""
}

// resendLabel is Kratos' label id of the buttons that send a code again
// (text.InfoNodeLabelResendOTP): named "resend" on login and
// registration, "email" on recovery and verification.
const resendLabel = 1070008

// IsResend reports whether the node is a button that sends a new code.
func (n *Node) IsResend() bool {
	return n.IsSubmit() && (n.Attributes.Name == "resend" || n.Meta.Label != nil && n.Meta.Label.ID == resendLabel)
}

// NoValidate reports whether the button submits its form without the
// browser checking the inputs: "Resend code" (the code input is required,
// but a new code is what the user asks for) and "Back" (the "screen"
// input of a two-step registration).
func (f Field) NoValidate() bool {
	return f.IsResend() || f.IsSubmit() && f.Attributes.Name == "screen"
}

// ReadOnlyValue is something the user already entered, shown as text.
type ReadOnlyValue struct {
	Label, Value string
}

// ReadOnlyValues returns the values of the hidden inputs that carry what
// the user already entered (traits.*, identifier), to be shown as text:
// the email on the password step of a two-step registration, the account
// on a second-factor login. Label is the node's label or, when Kratos
// gives none, the English catalog's "field.<name>" ("field.identifier":
// "Account"), else one made from the name ("traits.email" -> "Email").
// Page.ReadOnlyValues gives the same in the page's language.
func (f *Flow) ReadOnlyValues() []ReadOnlyValue {
	return f.readOnlyValues(translator{en: builtinCatalogs["en"]})
}

// ReadOnlyValues is Flow.ReadOnlyValues with the labels Kratos does not
// give taken from the page's language; the default templates show these.
func (p *Page) ReadOnlyValues() []ReadOnlyValue {
	if p.Flow == nil {
		return nil
	}
	tr := p.tr
	if tr.en == nil {
		tr.en = builtinCatalogs["en"]
	}
	return p.Flow.readOnlyValues(tr)
}

func (f *Flow) readOnlyValues(tr translator) []ReadOnlyValue {
	var out []ReadOnlyValue
	for i := range f.UI.Nodes {
		n := &f.UI.Nodes[i]
		name := n.Attributes.Name
		v, ok := n.Attributes.Value.(string)
		if !ok || v == "" || !n.IsHidden() || !strings.HasPrefix(name, "traits.") && name != "identifier" {
			continue
		}
		label := n.Label()
		if label == "" {
			label, _ = tr.lookup("field." + name)
		}
		if label == "" && len(name) > len("traits.") {
			label = strings.NewReplacer(".", " ", "_", " ").Replace(strings.TrimPrefix(name, "traits."))
			label = strings.ToUpper(label[:1]) + label[1:]
		}
		out = append(out, ReadOnlyValue{Label: label, Value: v})
	}
	return out
}

// Limits of one flow's page. Kratos' real flows have a few dozen nodes
// in at most about ten groups (a settings flow with every method and a
// large identity schema); these leave ample room above that while bounding
// the work a flow can cause: each form repeats the "default" nodes, so a
// page has up to groups × default nodes fields, and a few hundred KB of
// JSON could otherwise ask for a page of tens of MB. Past a limit the page
// is an error page.
const (
	maxNodes  = 4096 // nodes in one flow
	maxGroups = 64   // forms (methods) in one flow
	maxFields = 8192 // fields over all forms, the default nodes counted in each
	// maxPageBytes bounds a rendered page (real ones are tens of KB): the
	// other limits bound counts, this one the sizes of labels and values.
	maxPageBytes = 4 << 20
)

// ErrFlowTooLarge is returned (wrapped) by Flow.Forms for a flow past the
// limits a page is rendered for; the page is then an error page.
var ErrFlowTooLarge = errors.New("selfservice: flow too large to render")

// ErrUnsupportedNode is returned (wrapped) by Flow.Forms for a flow with a
// node the pages cannot make work: a node type other than input, img, a,
// text and script, or a node of the captcha group. Kratos v25.4.0 and
// later (Ory's enterprise build) send "div" nodes as the hooks of captcha
// widgets, which need a third party's script that the pages' policy does
// not load: a form without the widget would only be refused on submit, so
// the page is an error page instead, the same in every language.
var ErrUnsupportedNode = errors.New("selfservice: flow needs a widget the pages cannot show")

// supportedNodeTypes are the node types the pages render (script: by
// loading Kratos' webauthn.js themselves).
var supportedNodeTypes = map[string]bool{"input": true, "img": true, "a": true, "text": true, "script": true}

// Forms splits f's nodes into one form per group (method), in the order
// the groups first appear: a login with password and code gets a password
// form and a code form, a settings flow a profile, a password and a TOTP
// form. Each form repeats the "default" nodes; a form of a redirecting
// method (oidc, saml) gets only the hidden ones, so that the browser does
// not demand the other fields. A form with a password but no visible
// username gets the flow's identifier as Username. Script nodes are left out (the page loads
// Kratos' webauthn.js itself, see Page.Scripts), and a group of scripts
// only gets no form. "Resend code" buttons come last in their form. A
// flow with only default nodes gets one form.
//
// The error wraps ErrFlowTooLarge when the flow has more than 4096 nodes
// or 64 groups, or its forms would have more than 8192 fields in all, and
// ErrUnsupportedNode when a node cannot be shown (see there).
func (f *Flow) Forms() ([]Form, error) {
	nodes := f.UI.Nodes
	if len(nodes) > maxNodes {
		return nil, fmt.Errorf("%w: %d nodes, at most %d", ErrFlowTooLarge, len(nodes), maxNodes)
	}
	for i := range nodes {
		if n := &nodes[i]; !supportedNodeTypes[n.Type] || n.Group == "captcha" {
			return nil, fmt.Errorf("%w: node %d, type %q, group %q", ErrUnsupportedNode, i, n.Type, n.Group)
		}
	}
	// One pass puts each node's index in its group's bucket, so that the
	// forms are built in time linear in their size.
	type bucket struct {
		name  string
		nodes []int
	}
	var (
		defaults []int // indexes of the non-script default nodes
		hidden   int   // how many of them are hidden inputs
		groups   []bucket
		index    = map[string]int{} // group name -> position in groups
	)
	for i := range nodes {
		n := &nodes[i]
		if n.Group == "default" {
			if n.Type != "script" {
				defaults = append(defaults, i)
				if n.IsHidden() {
					hidden++
				}
			}
			continue
		}
		g, ok := index[n.Group]
		if !ok {
			if len(groups) == maxGroups {
				return nil, fmt.Errorf("%w: more than %d groups", ErrFlowTooLarge, maxGroups)
			}
			g = len(groups)
			index[n.Group] = g
			groups = append(groups, bucket{name: n.Group})
		}
		if n.Type != "script" {
			groups[g].nodes = append(groups[g].nodes, i)
		}
	}
	// A group of scripts only (webauthn.js, when the passkey group has the
	// buttons) gets no form: it would only repeat the default inputs,
	// with nothing to submit them. The page loads the scripts itself.
	kept := groups[:0]
	for _, g := range groups {
		if len(g.nodes) > 0 {
			kept = append(kept, g)
		}
	}
	groups = kept
	if len(groups) == 0 {
		groups = []bucket{{name: "default"}}
	}
	total := 0
	for _, g := range groups {
		if redirecting(g.name) {
			total += len(g.nodes) + hidden
		} else {
			total += len(g.nodes) + len(defaults)
		}
	}
	if total > maxFields {
		return nil, fmt.Errorf("%w: %d fields in %d forms, at most %d", ErrFlowTooLarge, total, len(groups), maxFields)
	}
	forms := make([]Form, len(groups))
	for k, g := range groups {
		forms[k] = Form{Group: g.name, Action: f.UI.Action, Method: f.UI.Method, Fields: make([]Field, 0, len(g.nodes)+len(defaults))}
		form := &forms[k]
		add := func(i int) {
			n := &nodes[i]
			if n.Group == "default" && redirecting(g.name) && !n.IsHidden() {
				return
			}
			form.Fields = append(form.Fields, Field{Node: n, HTMLID: htmlID(g.name, n, i)})
		}
		// Both index lists are ascending: merging them keeps Kratos' order.
		d := 0
		for _, i := range g.nodes {
			for ; d < len(defaults) && defaults[d] < i; d++ {
				add(defaults[d])
			}
			add(i)
		}
		for ; d < len(defaults); d++ {
			add(defaults[d])
		}
		lastResend(form.Fields)
	}
	setUsernames(f, forms)
	return forms, nil
}

// setUsernames sets Username on the forms with a password input and no
// visible username input, to the flow's identifier: the first non-empty
// string value of an identifier input, else of a trait input whose
// autocomplete is "username" or "email", else of a trait named username
// or email (Kratos v1.3.1 sends registration's password step the email
// as a hidden trait without autocomplete).
func setUsernames(f *Flow, forms []Form) {
	username := ""
	for _, want := range []func(n *Node) bool{
		func(n *Node) bool { return n.Attributes.Name == "identifier" },
		func(n *Node) bool {
			return strings.HasPrefix(n.Attributes.Name, "traits.") && usernameAutocomplete(n.Attributes.Autocomplete)
		},
		func(n *Node) bool {
			name := n.Attributes.Name
			return strings.HasPrefix(name, "traits.") && (strings.HasSuffix(name, ".email") || strings.HasSuffix(name, ".username"))
		},
	} {
		for i := range f.UI.Nodes {
			n := &f.UI.Nodes[i]
			if v, ok := n.Attributes.Value.(string); ok && v != "" && n.Type == "input" && want(n) {
				username = v
				break
			}
		}
		if username != "" {
			break
		}
	}
	if username == "" {
		return
	}
	for k := range forms {
		password, visible := false, false
		for _, fd := range forms[k].Fields {
			if fd.Type != "input" {
				continue
			}
			password = password || fd.Attributes.Type == "password"
			visible = visible || !fd.IsHidden() && !fd.IsSubmit() && (fd.Attributes.Name == "identifier" || usernameAutocomplete(fd.Attributes.Autocomplete))
		}
		if password && !visible {
			forms[k].Username = username
		}
	}
}

// usernameAutocomplete reports whether an autocomplete attribute names the
// username or the email ("username webauthn" does).
func usernameAutocomplete(a string) bool {
	for _, tok := range strings.Fields(a) {
		if tok == "username" || tok == "email" {
			return true
		}
	}
	return false
}

// lastResend moves "Resend code" buttons after the form's other fields,
// keeping the order of both. Pressing Enter in a form submits with its
// first button, and Kratos sometimes lists "Resend code" before
// "Continue": Enter after typing a code must not send a new one.
func lastResend(fields []Field) {
	out := make([]Field, 0, len(fields))
	var resend []Field
	for _, f := range fields {
		if f.IsResend() {
			resend = append(resend, f)
		} else {
			out = append(out, f)
		}
	}
	if len(resend) > 0 {
		copy(fields, append(out, resend...))
	}
}

// redirecting reports whether a group's method sends the browser to
// another site (social sign-in), so that its form needs no input.
func redirecting(group string) bool { return group == "oidc" || group == "saml" }

// maxIDValue is the longest button value an id spells out; a longer one
// (a security key's challenge, hundreds of characters of JSON) is
// replaced by a short hash of it.
const maxIDValue = 32

// htmlID builds a page-unique, stable id from the form's group and the
// node's name (or id), and for buttons, which share names, their value.
func htmlID(group string, n *Node, i int) string {
	name := n.Attributes.Name
	if name == "" {
		name = n.Attributes.ID
	}
	if name == "" {
		name = strconv.Itoa(i)
	}
	if n.IsSubmit() || n.Attributes.Type == "button" {
		v := n.Attributes.StringValue()
		if len(v) > maxIDValue {
			sum := sha256.Sum256([]byte(v))
			v = hex.EncodeToString(sum[:6])
		}
		name += "-" + v
	}
	var b strings.Builder
	b.WriteString("ks-")
	for _, s := range []string{group, "-", name} {
		for _, r := range s {
			switch {
			case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '_':
				b.WriteRune(r)
			default:
				b.WriteByte('_')
			}
		}
	}
	return b.String()
}

// Secrets returns the list in a text's context (lookup secret codes), or
// nil.
func (t *Text) Secrets() []string {
	if t == nil || len(t.Context) == 0 {
		return nil
	}
	var c struct {
		Secrets []Text `json:"secrets"`
	}
	if json.Unmarshal(t.Context, &c) != nil {
		return nil
	}
	out := make([]string, 0, len(c.Secrets))
	for _, s := range c.Secrets {
		out = append(out, s.Text)
	}
	return out
}
