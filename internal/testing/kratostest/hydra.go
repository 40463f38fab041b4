package kratostest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth/internal/testing/proc"
)

// Hydra is a running Ory Hydra v2.3.0 (built at <repo>/.bin/hydra by
// scripts/hydra.sh build): the OpenID Connect provider of social sign-in
// tests. Its login and consent pages are a handler of the harness that
// accepts every request through Hydra's admin API, as the user set with
// SetUser: a test signs in "at the provider" without a form.
type Hydra struct {
	// IssuerURL is the issuer as browsers and Kratos reach it, with a
	// trailing slash (Kratos' issuer_url must match the tokens' iss).
	IssuerURL string
	// PublicURL and AdminURL are Hydra's APIs on 127.0.0.1.
	PublicURL, AdminURL string
	// LoginURL is the origin of the login and consent pages.
	LoginURL string
	// LogPath is Hydra's log.
	LogPath string

	mu    sync.Mutex
	email string // who signs in at the provider
	// Logins counts the login requests the provider accepted.
	logins int
}

// HydraBinary returns $HYDRA_BIN if set, else <repo root>/.bin/hydra, or
// an error if it does not exist.
func HydraBinary() (string, error) {
	if p := os.Getenv("HYDRA_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("kratostest: $HYDRA_BIN: %w", err)
		}
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, ".bin", "hydra")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("kratostest: %w (build it with scripts/hydra.sh build)", err)
	}
	return p, nil
}

const hydraConfig = `# Ory Hydra v2.3.0 for kratosauth's social sign-in tests (kratostest.StartHydra).
log:
  level: warn
serve:
  public:
    host: 127.0.0.1
    port: %d
  admin:
    host: 127.0.0.1
    port: %d
  cookies:
    same_site_mode: Lax
urls:
  self:
    issuer: %s
  login: %s/login
  consent: %s/consent
  error: %s/error
secrets:
  system:
    - kratosauth-test-hydra-system-secret
oidc:
  subject_identifiers:
    supported_types:
      - public
`

// StartHydra migrates and serves a fresh Hydra whose issuer is on host
// ("localhost" or "127.0.0.1"), with its login and consent handler;
// t.Cleanup stops both. Without the binary the test is skipped, or fails
// if KRATOSAUTH_E2E=1.
func StartHydra(t testing.TB, host string) *Hydra {
	t.Helper()
	bin, err := HydraBinary()
	if err != nil {
		msg := fmt.Sprintf("hydra binary not available (%v); run scripts/hydra.sh build or set HYDRA_BIN", err)
		if os.Getenv("KRATOSAUTH_E2E") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if host != "localhost" && host != "127.0.0.1" {
		t.Fatalf("kratostest: StartHydra: host %q", host)
	}
	h := &Hydra{email: "social@example.com"}
	login := httptest.NewServer(http.HandlerFunc(h.serveLoginConsent))
	t.Cleanup(login.Close)
	h.LoginURL = login.URL

	dir := t.TempDir()
	pub, adm := freePort(t), freePort(t)
	for adm == pub {
		adm = freePort(t)
	}
	h.PublicURL = "http://127.0.0.1:" + strconv.Itoa(pub)
	h.AdminURL = "http://127.0.0.1:" + strconv.Itoa(adm)
	h.IssuerURL = "http://" + host + ":" + strconv.Itoa(pub) + "/"
	h.LogPath = filepath.Join(dir, "hydra.log")
	cfg := filepath.Join(dir, "hydra.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, hydraConfig, pub, adm, h.IssuerURL, login.URL, login.URL, login.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "DSN=sqlite://"+filepath.ToSlash(dir)+"/hydra.sqlite?_fk=true&mode=rwc")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mig := exec.CommandContext(ctx, bin, "migrate", "sql", "up", "-e", "--yes")
	mig.Env = env
	if out, err := mig.CombinedOutput(); err != nil {
		t.Fatalf("hydra migrate: %v\n%s", err, out)
	}

	hydra := &proc.Process{Name: "hydra", Bin: bin, Args: []string{"serve", "all", "--dev", "-c", cfg}, Env: env, Dir: dir,
		LogPath: h.LogPath, ReadyURLs: []string{h.PublicURL + "/health/ready"}, ReadyTimeout: ReadyTimeout}
	t.Cleanup(hydra.Stop)
	if err := hydra.Start(); err != nil {
		t.Fatal(err)
	}
	return h
}

// SetUser sets the email of whoever signs in at the provider from now
// on; the subject is derived from it.
func (h *Hydra) SetUser(email string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.email = email
}

// Logins returns how many sign-ins the provider accepted.
func (h *Hydra) Logins() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logins
}

// CreateClient registers an OAuth 2.0 client (authorization code flow,
// scopes openid and email, client_secret_basic) with the redirect URI
// and returns its id and secret.
func (h *Hydra) CreateClient(t testing.TB, redirectURI string) (id, secret string) {
	t.Helper()
	resp, body := do(t, noRedirect(nil), http.MethodPost, h.AdminURL+"/admin/clients", map[string]any{
		"client_name":                "kratos",
		"client_secret":              "kratosauth-test-client-secret",
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code", "id_token"},
		"scope":                      "openid offline email",
		"redirect_uris":              []string{redirectURI},
		"token_endpoint_auth_method": "client_secret_basic",
	}, nil)
	expect(t, resp, body, http.StatusCreated)
	var c struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	decode(t, body, &c)
	if c.ClientID == "" {
		t.Fatalf("hydra: no client_id in %s", body)
	}
	return c.ClientID, c.ClientSecret
}

// serveLoginConsent is Hydra's login and consent UI: it accepts each
// request through the admin API and sends the browser on.
func (h *Hydra) serveLoginConsent(w http.ResponseWriter, r *http.Request) {
	var (
		redirect string
		err      error
	)
	switch r.URL.Path {
	case "/login":
		redirect, err = h.accept("login", r.URL.Query().Get("login_challenge"))
	case "/consent":
		redirect, err = h.accept("consent", r.URL.Query().Get("consent_challenge"))
	default:
		http.Error(w, "provider error: "+r.URL.Query().Get("error")+" "+r.URL.Query().Get("error_description"), http.StatusBadRequest)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, redirect, http.StatusFound)
}

// accept accepts a login or consent challenge and returns where Hydra
// sends the browser next.
func (h *Hydra) accept(kind, challenge string) (string, error) {
	if challenge == "" {
		return "", errors.New("no challenge")
	}
	h.mu.Lock()
	email := h.email
	if kind == "login" {
		h.logins++
	}
	h.mu.Unlock()
	base := h.AdminURL + "/admin/oauth2/auth/requests/" + kind
	q := "?" + kind + "_challenge=" + url.QueryEscape(challenge)
	var req struct {
		RequestedScope    []string `json:"requested_scope"`
		RequestedAudience []string `json:"requested_access_token_audience"`
	}
	if err := hydraCall(http.MethodGet, base+q, nil, &req); err != nil {
		return "", err
	}
	var body any
	if kind == "login" {
		body = map[string]any{"subject": "user:" + strings.ToLower(email), "remember": false}
	} else {
		body = map[string]any{
			"grant_scope":                 req.RequestedScope,
			"grant_access_token_audience": req.RequestedAudience,
			"remember":                    false,
			"session": map[string]any{
				"id_token": map[string]any{"email": email, "email_verified": true},
			},
		}
	}
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	if err := hydraCall(http.MethodPut, base+"/accept"+q, body, &out); err != nil {
		return "", err
	}
	if out.RedirectTo == "" {
		return "", errors.New("hydra: accept without redirect_to")
	}
	return out.RedirectTo, nil
}

func hydraCall(method, u string, in, out any) error {
	var rd *strings.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("hydra %s %s: %s", method, u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
