package selfservice

import (
	"encoding/json"
	"strconv"
	"time"
)

// Kind names a Kratos self-service flow. Its value is the path segment
// Kratos uses (/self-service/<kind>/browser) and the page's default path.
type Kind string

// The self-service flows a browser can go through.
const (
	Login        Kind = "login"
	Registration Kind = "registration"
	Settings     Kind = "settings"
	Verification Kind = "verification"
	Recovery     Kind = "recovery"
)

// allKinds lists every flow kind, in the order pages are linked.
var allKinds = [...]Kind{Login, Registration, Settings, Verification, Recovery}

func (k Kind) valid() bool {
	switch k {
	case Login, Registration, Settings, Verification, Recovery:
		return true
	}
	return false
}

// Flow is a Kratos v1.x self-service flow (login, registration, settings,
// verification or recovery) as returned by GET /self-service/<kind>/flows.
// Fields keep Kratos' JSON names; fields this package does not use are
// ignored.
type Flow struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"` // "browser" or "api"
	ExpiresAt  time.Time `json:"expires_at"`
	IssuedAt   time.Time `json:"issued_at"`
	RequestURL string    `json:"request_url"`
	ReturnTo   string    `json:"return_to,omitempty"`
	// State is the flow's state, e.g. "choose_method", "sent_email",
	// "passed_challenge" or "success" (settings).
	State json.RawMessage `json:"state,omitempty"`
	// Refresh and RequestedAAL are set on login flows.
	Refresh      bool      `json:"refresh,omitempty"`
	RequestedAAL string    `json:"requested_aal,omitempty"`
	UI           Container `json:"ui"`
}

// StateString returns State as a string ("" when absent).
func (f *Flow) StateString() string {
	var s string
	if json.Unmarshal(f.State, &s) != nil {
		return ""
	}
	return s
}

// CSRFToken returns the value of the flow's csrf_token node, if any.
func (f *Flow) CSRFToken() string {
	for _, n := range f.UI.Nodes {
		if n.Attributes.Name == "csrf_token" {
			return n.Attributes.StringValue()
		}
	}
	return ""
}

// Container is a flow's "ui": where and how the form is submitted, its
// fields (nodes) and the messages about the whole form.
type Container struct {
	Action   string `json:"action"`
	Method   string `json:"method"`
	Nodes    []Node `json:"nodes"`
	Messages []Text `json:"messages,omitempty"`
}

// Node is one element of a flow's form: an input (including hidden inputs
// and submit buttons), an image, a link, a text or a script.
type Node struct {
	// Type is "input", "img", "a", "text", "script" or "div".
	Type string `json:"type"`
	// Group is the method the node belongs to: "default" (shared by all
	// methods, e.g. csrf_token and identifier), "password", "totp",
	// "lookup_secret", "code", "profile", "oidc", ...
	Group      string     `json:"group"`
	Attributes Attributes `json:"attributes"`
	Messages   []Text     `json:"messages,omitempty"`
	Meta       Meta       `json:"meta"`
}

// Label returns the node's label text, or "".
func (n *Node) Label() string {
	if n.Meta.Label == nil {
		return ""
	}
	return n.Meta.Label.Text
}

// IsSubmit reports whether the node is a submit button.
func (n *Node) IsSubmit() bool {
	return n.Type == "input" && n.Attributes.Type == "submit"
}

// IsHidden reports whether the node is a hidden input.
func (n *Node) IsHidden() bool {
	return n.Type == "input" && n.Attributes.Type == "hidden"
}

// Attributes holds the attributes of every node type; which ones are set
// depends on the node's type (NodeType).
type Attributes struct {
	NodeType string `json:"node_type"`
	ID       string `json:"id,omitempty"`

	// input
	Name         string `json:"name,omitempty"`
	Type         string `json:"type,omitempty"`
	Value        any    `json:"value,omitempty"`
	Required     bool   `json:"required,omitempty"`
	Disabled     bool   `json:"disabled,omitempty"`
	Pattern      string `json:"pattern,omitempty"`
	Autocomplete string `json:"autocomplete,omitempty"`
	MaxLength    int    `json:"maxlength,omitempty"`
	// OnClickTrigger and OnLoadTrigger name a function of Kratos'
	// webauthn.js to call when the button is clicked or the page has
	// loaded (WebAuthn and passkeys). Kratos' older onclick and onload
	// attributes (JavaScript source) are never read: the pages' CSP
	// blocks inline handlers, and they would need eval.
	OnClickTrigger string `json:"onclickTrigger,omitempty"`
	OnLoadTrigger  string `json:"onloadTrigger,omitempty"`

	// img
	Src    string `json:"src,omitempty"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`

	// a
	Href  string `json:"href,omitempty"`
	Title *Text  `json:"title,omitempty"`

	// text
	Text *Text `json:"text,omitempty"`

	// script (Src above): Kratos' webauthn.js
	Integrity      string `json:"integrity,omitempty"`
	CrossOrigin    string `json:"crossorigin,omitempty"`
	ReferrerPolicy string `json:"referrerpolicy,omitempty"`
}

// StringValue returns an input's value as the string a form would submit:
// strings as they are, numbers and booleans formatted, null as "".
func (a *Attributes) StringValue() string {
	switch v := a.Value.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// HasValue reports whether the input has a (non-null) value.
func (a *Attributes) HasValue() bool { return a.Value != nil }

// Checked reports whether a checkbox input's value is true.
func (a *Attributes) Checked() bool {
	v, ok := a.Value.(bool)
	return ok && v
}

// Meta holds a node's label.
type Meta struct {
	Label *Text `json:"label,omitempty"`
}

// Text is a Kratos UI text: a message id, its English text and the values
// the text was built from (Context), for translation.
type Text struct {
	ID      int64           `json:"id"`
	Text    string          `json:"text"`
	Type    string          `json:"type"` // "info", "error" or "success"
	Context json.RawMessage `json:"context,omitempty"`
}

// KratosError is the error object Kratos returns in error bodies and in
// GET /self-service/errors.
type KratosError struct {
	ID      string         `json:"id,omitempty"`
	Code    int            `json:"code,omitempty"`
	Status  string         `json:"status,omitempty"`
	Reason  string         `json:"reason,omitempty"`
	Message string         `json:"message,omitempty"`
	Details map[string]any `json:"details,omitempty"`
}

// ErrorContainer is a user-facing error stored by Kratos, as returned by
// GET /self-service/errors?id=.
type ErrorContainer struct {
	ID        string      `json:"id"`
	Error     KratosError `json:"error"`
	CreatedAt time.Time   `json:"created_at"`
}
