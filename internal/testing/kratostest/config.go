// Package kratostest runs a real Ory Kratos (the version $KRATOS_VERSION
// names, else the default of versions.txt; built at
// <repo>/.bin/kratos-VERSION by scripts/kratos.sh build VERSION) for
// end-to-end tests and provides helpers that drive its self-service and
// admin APIs.
//
// The Kratos configuration lives in kratos.yml.tmpl and identity.schema.json
// (embedded); WriteConfig renders them and is the single source of truth for
// both the tests and scripts/kratos.sh (through cmd/kratosconfig).
package kratostest

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"time"
)

//go:embed kratos.yml.tmpl
var configTemplate string

//go:embed identity.schema.json
var identitySchema []byte

// identityMethodsSchema is the schema with Options.AllMethods: the email
// is also the identifier of one-time codes (sign-in by code), of security
// keys, and the display name of passkeys.
//
//go:embed identity.methods.schema.json
var identityMethodsSchema []byte

// oidcMapper maps the claims of the OIDC provider (Options.OIDC) to the
// identity's traits: the email claim is the email trait.
const oidcMapper = `local claims = std.extVar('claims');
{
  identity: {
    traits: {
      email: claims.email,
    },
  },
}
`

// courierBody is the Jsonnet template of the courier's HTTP requests
// (Options.CourierURL): the whole message, template data (the code)
// included, as JSON.
const courierBody = "function(ctx) ctx\n"

// Defaults used when the corresponding Options field is empty.
const (
	DefaultPublicPort  = 4433
	DefaultAdminPort   = 4434
	DefaultAppURL      = "http://127.0.0.1:4455"
	DefaultRequiredAAL = "aal1"
)

// Options configures a Kratos instance.
type Options struct {
	// Version is the Kratos release: its binary runs, and the config is
	// rendered for it. "" means CurrentVersion ($KRATOS_VERSION, else the
	// default).
	Version string
	// PublicPort and AdminPort are the ports Kratos listens on (127.0.0.1).
	// 0 means: Start picks free ports; WriteConfig uses 4433/4434.
	PublicPort, AdminPort int
	// AppURL is the (not running) application's base URL, without a
	// trailing slash; UI and return URLs hang off it.
	// Default http://127.0.0.1:4455.
	AppURL string
	// RequiredAAL is session.whoami.required_aal: "aal1" (default) or
	// "highest_available".
	RequiredAAL string
	// Dir holds the rendered config, the identity schema, the SQLite
	// database and the log. "" means t.TempDir() in Start; WriteConfig
	// requires it.
	Dir string
	// Webhook, when set, makes Kratos revoke an identity's other sessions
	// after a password change (settings) and after a recovery, then call
	// the app's kratosauth webhook (kratosauth.NewWebhookHandler) with
	// the identity's ID, as docs/fleet.md configures it.
	Webhook *Webhook
	// Tokenizer holds session.whoami.tokenizer.templates by name, for
	// whoami?tokenize_as=NAME; nil (the default) configures none.
	Tokenizer map[string]TokenizerTemplate

	// Host is the host of Kratos' public base URL (serve.public.base_url),
	// the address browsers use: "127.0.0.1" (default) or "localhost".
	// WebAuthn needs "localhost" (a relying party id cannot be an IP
	// address), with AppURL on localhost too. Kratos listens on 127.0.0.1
	// either way, and PublicURL stays on 127.0.0.1.
	Host string
	// CourierURL, when set, is where Kratos delivers its messages (the
	// codes of verification, recovery and sign-in): an HTTP POST of each
	// message as JSON (courier.delivery_strategy http), sent by the courier
	// that then runs inside `kratos serve`. See StartCourier.
	CourierURL string
	// AllMethods enables, besides password, TOTP and codes for recovery
	// and verification: sign-up and sign-in by one-time code
	// (passwordless), backup codes (lookup_secret), security keys
	// (webauthn, second factor) and passkeys, for the relying party of
	// AppURL's host; and shows the verification page after a password
	// registration (show_verification_ui). It uses the identity schema
	// identity.methods.schema.json.
	AllMethods bool
	// RequireVerifiedLogin adds the require_verified_address hook after
	// password logins: an identity without a verified address is not
	// signed in (Version.VerifyAddressOnLogin says what it gets instead).
	RequireVerifiedLogin bool
	// OIDC, when set, adds a social sign-in provider (oidc method,
	// Kratos' generic provider); its email claim becomes the email trait.
	OIDC *OIDCProvider
	// SessionLifespan and EarliestPossibleExtend are session.lifespan
	// (default 24h) and session.earliest_possible_extend (default: Kratos'
	// own, the lifespan), as Go durations.
	SessionLifespan, EarliestPossibleExtend time.Duration
}

// TokenizerTemplate is one of Kratos' tokenizer templates
// (session.whoami.tokenizer.templates.NAME). Kratos signs with the first key
// of the JWKS file and caches the file for an hour, the claims mapper too:
// to rotate keys, rewrite the file and Restart.
type TokenizerTemplate struct {
	// TTL is the tokens' lifetime in Kratos' duration syntax ("10m", "1s").
	TTL string
	// SubjectSource is where the token's sub comes from: "" (Kratos'
	// default, the identity id) or "external_id" (Kratos v25.4.0 and
	// later; a session whose identity has none cannot be tokenized).
	SubjectSource string
	// JWKSFile is the absolute path of a JWKS with private keys (jwks_url
	// file://...).
	JWKSFile string
	// ClaimsMapperFile is the absolute path of a Jsonnet claims mapper
	// (claims_mapper_url file://...), or "" for none.
	ClaimsMapperFile string
}

var (
	templateName = regexp.MustCompile(`^[a-zA-Z0-9-_.]+$`)
	kratosTTL    = regexp.MustCompile(`^([0-9]+(ns|us|ms|s|m|h))+$`)
	// webhookBodyURL is a Jsonnet template inline, as the config takes it.
	webhookBodyURL = regexp.MustCompile(`^base64://[A-Za-z0-9+/]+=*$`)
)

func (o Options) checkTokenizer() error {
	for name, t := range o.Tokenizer {
		if !templateName.MatchString(name) {
			return fmt.Errorf("kratostest: invalid tokenizer template name %q", name)
		}
		if t.SubjectSource != "" && t.SubjectSource != "external_id" {
			return fmt.Errorf("kratostest: tokenizer template %s: SubjectSource must be empty or external_id, got %q", name, t.SubjectSource)
		}
		if !kratosTTL.MatchString(t.TTL) {
			return fmt.Errorf("kratostest: tokenizer template %s: invalid TTL %q", name, t.TTL)
		}
		files := []string{t.JWKSFile}
		if t.ClaimsMapperFile != "" {
			files = append(files, t.ClaimsMapperFile)
		}
		for _, f := range files {
			if !filepath.IsAbs(f) || strings.ContainsAny(f, "?#% \"'\n") {
				return fmt.Errorf("kratostest: tokenizer template %s: %q must be an absolute path without URL-unsafe characters", name, f)
			}
		}
	}
	return nil
}

// Webhook is where Kratos' web_hook action calls the app, and the API key
// it sends in the X-Kratos-Webhook-Key header.
type Webhook struct {
	URL, APIKey string
	// Body is the body template (a base64:// Jsonnet URL); "" is
	// WebhookBody.
	Body string
}

// WebhookBody is the web_hook's body template, the Jsonnet
// `function(ctx) { identity_id: ctx.identity.id }` (base64), which
// README's configuration uses too.
const WebhookBody = "base64://ZnVuY3Rpb24oY3R4KSB7IGlkZW50aXR5X2lkOiBjdHguaWRlbnRpdHkuaWQgfQ=="

// WebhookSessionBody is the body template
// `function(ctx) { session: ctx.session }` (base64): the session Kratos
// v25.4.0 and later give settings and recovery hooks
// (Version.SettingsHookSession).
const WebhookSessionBody = "base64://ZnVuY3Rpb24oY3R4KSB7IHNlc3Npb246IGN0eC5zZXNzaW9uIH0="

// OIDCProvider is an OpenID Connect provider for Kratos' oidc method.
type OIDCProvider struct {
	// ID is the provider id in Kratos' URLs (callback: <public base
	// URL>/self-service/methods/oidc/callback/<ID>); Label is its name on
	// the buttons.
	ID, Label string
	// IssuerURL is the provider's issuer (discovery at
	// <IssuerURL>.well-known/openid-configuration).
	IssuerURL string
	// ClientID and ClientSecret are Kratos' OAuth 2.0 client at the
	// provider.
	ClientID, ClientSecret string
}

// CallbackURL returns Kratos' redirect URI for provider id, with Kratos'
// public base URL base (no trailing slash).
func CallbackURL(base, id string) string {
	return strings.TrimRight(base, "/") + "/self-service/methods/oidc/callback/" + id
}

// ConfigFile and SchemaFile are the names WriteConfig writes inside the dir.
const (
	ConfigFile = "kratos.yml"
	SchemaFile = "identity.schema.json"
)

// WriteConfig renders the Kratos config and identity schema into dir
// (created if needed) and returns the config's path. o.Dir is ignored;
// zero ports default to 4433/4434.
func WriteConfig(dir string, o Options) (cfgPath string, err error) {
	if dir == "" {
		return "", errors.New("kratostest: WriteConfig: empty dir")
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if o.PublicPort == 0 {
		o.PublicPort = DefaultPublicPort
	}
	if o.AdminPort == 0 {
		o.AdminPort = DefaultAdminPort
	}
	if o.AppURL == "" {
		o.AppURL = DefaultAppURL
	}
	o.AppURL = strings.TrimRight(o.AppURL, "/")
	if u, perr := url.Parse(o.AppURL); perr != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("kratostest: invalid AppURL %q", o.AppURL)
	}
	if o.RequiredAAL == "" {
		o.RequiredAAL = DefaultRequiredAAL
	}
	if o.RequiredAAL != "aal1" && o.RequiredAAL != "highest_available" {
		return "", fmt.Errorf("kratostest: RequiredAAL must be aal1 or highest_available, got %q", o.RequiredAAL)
	}
	if err := o.checkTokenizer(); err != nil {
		return "", err
	}
	version, err := LookupVersion(o.Version)
	if err != nil {
		return "", err
	}
	for name, t := range o.Tokenizer {
		if t.SubjectSource != "" && !version.ExternalID {
			return "", fmt.Errorf("kratostest: tokenizer template %s: Kratos %s has no subject_source", name, version.Name)
		}
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Host != "127.0.0.1" && o.Host != "localhost" {
		return "", fmt.Errorf("kratostest: Host must be 127.0.0.1 or localhost, got %q", o.Host)
	}
	appURL, _ := url.Parse(o.AppURL)
	if o.AllMethods && !strings.EqualFold(appURL.Hostname(), o.Host) {
		// Kratos' cookies are set on Host and must reach the app, and
		// WebAuthn's relying party id (AppURL's host) must be a domain
		// for passkeys: localhost, never 127.0.0.1.
		return "", fmt.Errorf("kratostest: AllMethods: AppURL %q must be on Host %q (Kratos' cookies must reach the app; use localhost for passkeys)", o.AppURL, o.Host)
	}
	// The values below go into YAML unquoted: refuse anything that could
	// change its structure.
	for _, v := range []string{o.CourierURL, o.AppURL} {
		if !yamlSafe(v) {
			return "", fmt.Errorf("kratostest: %q cannot be put in the config", v)
		}
	}
	if o.OIDC != nil {
		for _, v := range []string{o.OIDC.ID, o.OIDC.Label, o.OIDC.IssuerURL, o.OIDC.ClientID, o.OIDC.ClientSecret} {
			if v == "" || !yamlSafe(v) {
				return "", fmt.Errorf("kratostest: OIDC provider value %q cannot be put in the config", v)
			}
		}
	}
	if strings.ContainsAny(dir, "?#% \"'\n") {
		return "", fmt.Errorf("kratostest: dir %q contains characters unsafe for a DSN/file URL", dir)
	}
	tmpl, err := template.New(ConfigFile).Option("missingkey=error").Parse(configTemplate)
	if err != nil {
		return "", err
	}
	if w := o.Webhook; w != nil {
		if u, perr := url.Parse(w.URL); perr != nil || u.Scheme == "" || u.Host == "" {
			return "", fmt.Errorf("kratostest: invalid Webhook.URL %q", w.URL)
		}
		if w.APIKey == "" || strings.ContainsAny(w.APIKey+w.URL, "\"\n\\") {
			return "", errors.New("kratostest: Webhook.APIKey must be set, and both fields plain text")
		}
		if w.Body != "" && !webhookBodyURL.MatchString(w.Body) {
			return "", fmt.Errorf("kratostest: Webhook.Body %q is not a base64:// URL", w.Body)
		}
	}
	webhookBody := WebhookBody
	if o.Webhook != nil && o.Webhook.Body != "" {
		webhookBody = o.Webhook.Body
	}
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, struct {
		Version                 Version
		Dir                     string
		PublicPort, AdminPort   int
		AppURL, RequiredAAL     string
		Webhook                 *Webhook
		WebhookBody             string
		Tokenizer               map[string]TokenizerTemplate
		Host, RPID              string
		CourierURL, CourierBody string
		AllMethods              bool
		RequireVerifiedLogin    bool
		OIDC                    *OIDCProvider
		SessionLifespan         time.Duration
		EarliestPossibleExtend  time.Duration
	}{version, filepath.ToSlash(dir), o.PublicPort, o.AdminPort, o.AppURL, o.RequiredAAL, o.Webhook, webhookBody, o.Tokenizer,
		o.Host, appURL.Hostname(), o.CourierURL, base64.StdEncoding.EncodeToString([]byte(courierBody)),
		o.AllMethods, o.RequireVerifiedLogin, o.OIDC, o.SessionLifespan, o.EarliestPossibleExtend})
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	schema := identitySchema
	if o.AllMethods {
		schema = identityMethodsSchema
	}
	if err := os.WriteFile(filepath.Join(dir, SchemaFile), schema, 0o644); err != nil {
		return "", err
	}
	if o.OIDC != nil {
		if err := os.WriteFile(filepath.Join(dir, "oidc.jsonnet"), []byte(oidcMapper), 0o644); err != nil {
			return "", err
		}
	}
	cfgPath = filepath.Join(dir, ConfigFile)
	if err := os.WriteFile(cfgPath, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	return cfgPath, nil
}

// yamlSafe reports whether s can stand unquoted in the YAML config: URL
// and identifier characters only.
func yamlSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte(".-_~:/?=&%+", b) >= 0) {
			return false
		}
	}
	return true
}

// Binary returns the Kratos binary of CurrentVersion: $KRATOS_BIN if set,
// else VersionBinary. It returns an error if the file does not exist.
func Binary() (string, error) {
	if p := os.Getenv("KRATOS_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("kratostest: $KRATOS_BIN: %w", err)
		}
		return p, nil
	}
	v, err := CurrentVersion()
	if err != nil {
		return "", err
	}
	return VersionBinary(v.Name)
}

// VersionBinary returns <repo root>/.bin/kratos-VERSION for version name
// ("": the default), where the repo root is the first directory at or above
// the working directory that contains tools/kratos, or an error if the file
// does not exist.
func VersionBinary(name string) (string, error) {
	v, err := LookupVersion(name)
	if err != nil {
		return "", err
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, ".bin", "kratos-"+v.Name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("kratostest: %w (build it with scripts/kratos.sh build %s)", err, v.Name)
	}
	return p, nil
}

// RepoRoot walks up from the working directory to the directory that
// contains tools/kratos.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fi, err := os.Stat(filepath.Join(dir, "tools", "kratos")); err == nil && fi.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("kratostest: repo root (dir containing tools/kratos) not found above the working directory")
		}
		dir = parent
	}
}
