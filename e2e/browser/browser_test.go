package browser

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

// chromiumPath is Debian's chromium package; no other browser is used.
const chromiumPath = "/usr/bin/chromium"

// stepTimeout bounds every browser step (navigation, form submission and
// the wait for the page it leads to).
const stepTimeout = 20 * time.Second

// TestBrowserSelfService drives headless Chromium through the self-service
// flows of the examples/chi app against a real Kratos, as a person would:
// every form is filled and submitted in the browser, every redirect is the
// browser's own. Screenshots of each step go to
// <repo root>/.artifacts/browser/NN-step.png.
func TestBrowserSelfService(t *testing.T) {
	requireChromium(t)
	root, err := kratostest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}

	appURL := "http://127.0.0.1:" + freePort(t)
	k := kratostest.Start(t, kratostest.Options{AppURL: appURL}) // skips without the binary
	startApp(t, root, k.PublicURL, appURL)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kratos log tail (%s):\n%s", k.LogPath, tail(k.LogPath, 30))
		}
	})

	b := newBrowser(t, filepath.Join(root, ".artifacts", "browser"), appURL, 3*time.Minute)
	email := kratostest.UniqueEmail("browser")
	const password = "correct horse battery staple 42"
	const newPassword = "an even better passphrase 43"

	// 1. Signed out, the home page says so.
	b.step("home-signed-out", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(appURL+"/")); err != nil {
			return err
		}
		return b.waitFor(ctx, "the home page, signed out", func(p page) bool {
			return p.URL == appURL+"/" && strings.Contains(p.Text, "You are not signed in.")
		})
	})

	// 2. /registration goes through Kratos' browser endpoint and comes back
	// with ?flow=: the profile step asks for the email only.
	b.step("registration-profile", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(appURL+"/registration")); err != nil {
			return err
		}
		return b.waitFor(ctx, "the rendered registration form (profile step)", func(p page) bool {
			return p.Path() == "/registration" && isUUID(p.Query("flow")) &&
				p.Has(`form input[name="traits.email"]`) && p.Has(`button[name="method"][value="profile"]`) &&
				!p.Has(`input[name="password"]`)
		})
	})

	// 3. Submitting the email shows the password step of the same flow.
	b.step("registration-password", func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`input[name="traits.email"]`), email),
			chromedp.Click(chromedp.CSS(`button[name="method"][value="profile"]`)),
		); err != nil {
			return err
		}
		return b.waitFor(ctx, "the password step of the registration", func(p page) bool {
			return p.Path() == "/registration" && p.Has(`input[name="password"]`) &&
				p.Has(`button[name="method"][value="password"]`)
		})
	})

	// 4. Choosing a password signs the new identity in (Kratos' session
	// hook) and sends the browser back to the app's home page, which shows
	// the email.
	b.step("registered-home", func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
			chromedp.Click(chromedp.CSS(`button[name="method"][value="password"]`)),
		); err != nil {
			return err
		}
		return b.waitFor(ctx, "the home page, signed in as "+email, func(p page) bool {
			return p.URL == appURL+"/" && strings.Contains(p.Text, "Signed in as "+email)
		})
	})

	// 5. The protected dashboard shows the email.
	b.step("dashboard", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(appURL+"/dashboard")); err != nil {
			return err
		}
		return b.waitFor(ctx, "the dashboard for "+email, func(p page) bool {
			return p.URL == appURL+"/dashboard" && strings.Contains(p.Text, "Welcome, "+email)
		})
	})

	// 6. /logout ends the Kratos session and lands on the home page, signed
	// out.
	b.step("logged-out", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(appURL+"/logout")); err != nil {
			return err
		}
		return b.waitFor(ctx, "the home page after logout, signed out", func(p page) bool {
			return p.URL == appURL+"/" && strings.Contains(p.Text, "You are not signed in.")
		})
	})

	// 7. An unknown (or expired) flow id is replaced by a fresh flow: the
	// URL ends up with another flow id and the login form is rendered.
	// (Done signed out: a signed-in browser's new login flow would send it
	// straight back to the app.)
	b.step("unknown-flow-replaced", func(ctx context.Context) error {
		stale := newUUID(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(appURL+"/login?flow="+stale)); err != nil {
			return err
		}
		return b.waitFor(ctx, "a fresh login flow instead of "+stale, func(p page) bool {
			id := p.Query("flow")
			return p.Path() == "/login" && isUUID(id) && id != stale && p.Has(`input[name="identifier"]`)
		})
	})

	// 8. Signed out, the protected dashboard sends the browser to the
	// rendered login page.
	b.step("dashboard-redirects-to-login", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(appURL+"/dashboard")); err != nil {
			return err
		}
		return b.waitFor(ctx, "the rendered login page", func(p page) bool {
			return strings.HasPrefix(p.URL, appURL+"/login?") && isUUID(p.Query("flow")) &&
				p.Has(`input[name="identifier"]`) && p.Has(`input[name="password"]`) &&
				p.Has(`button[name="method"][value="password"]`)
		})
	})

	// 9. Signing in there brings the browser back to the dashboard (the
	// return_to the app put on the login flow).
	b.step("login-returns-to-dashboard", func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`input[name="identifier"]`), email),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
			chromedp.Click(chromedp.CSS(`button[name="method"][value="password"]`)),
		); err != nil {
			return err
		}
		return b.waitFor(ctx, "the dashboard after login, for "+email, func(p page) bool {
			return p.URL == appURL+"/dashboard" && strings.Contains(p.Text, "Welcome, "+email)
		})
	})

	// 10. The settings page renders the password and TOTP forms.
	b.step("settings", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(appURL+"/settings")); err != nil {
			return err
		}
		return b.waitFor(ctx, "the rendered settings page", func(p page) bool {
			return p.Path() == "/settings" && isUUID(p.Query("flow")) &&
				p.Has(`form.ks-group-password input[name="password"]`) &&
				p.Has(`form.ks-group-totp input[name="totp_code"]`) &&
				p.Has(`code.ks-secret`)
		})
	})

	// 11. Changing the password through the form succeeds.
	b.step("settings-password-changed", func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`form.ks-group-password input[name="password"]`), newPassword),
			chromedp.Click(chromedp.CSS(`button[name="method"][value="password"]`)),
		); err != nil {
			return err
		}
		return b.waitFor(ctx, "the settings page with the saved message", func(p page) bool {
			return p.Path() == "/settings" && strings.Contains(p.Text, "Your changes have been saved")
		})
	})

	// 12. TOTP: the secret shown as text on the page gives the code; after
	// submitting it, the page says saved and offers to unlink TOTP instead.
	b.step("settings-totp-enabled", func(ctx context.Context) error {
		secret, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`code.ks-secret`)))
		if err != nil {
			return err
		}
		secret = strings.TrimSpace(secret)
		if secret == "" {
			return fmt.Errorf("empty TOTP secret on the settings page")
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`input[name="totp_code"]`), kratostest.TOTPCode(secret, time.Now())),
			chromedp.Click(chromedp.CSS(`button[name="method"][value="totp"]`)),
		); err != nil {
			return err
		}
		return b.waitFor(ctx, "the settings page with TOTP enabled", func(p page) bool {
			return p.Path() == "/settings" && strings.Contains(p.Text, "Your changes have been saved") &&
				p.Has(`button[name="totp_unlink"]`) && !p.Has(`input[name="totp_code"]`)
		})
	})

	// 13. Enrolling TOTP raised the session to aal2, and the dashboard
	// says so.
	b.step("dashboard-aal2", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(appURL+"/dashboard")); err != nil {
			return err
		}
		return b.waitFor(ctx, "the dashboard with an aal2 session", func(p page) bool {
			return p.URL == appURL+"/dashboard" && strings.Contains(p.Text, "Welcome, "+email+" (session at aal2)")
		})
	})

	// 14. Signing out again, then in with the old password: refused.
	b.step("old-password-refused", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(appURL+"/logout")); err != nil {
			return err
		}
		if err := b.waitFor(ctx, "the home page after logout, signed out", func(p page) bool {
			return p.URL == appURL+"/" && strings.Contains(p.Text, "You are not signed in.")
		}); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(appURL+"/login")); err != nil {
			return err
		}
		if err := b.waitFor(ctx, "the rendered login page", func(p page) bool {
			return p.Path() == "/login" && isUUID(p.Query("flow")) && p.Has(`input[name="identifier"]`)
		}); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`input[name="identifier"]`), email),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
			chromedp.Click(chromedp.CSS(`button[name="method"][value="password"]`)),
		); err != nil {
			return err
		}
		return b.waitFor(ctx, "the login page saying the credentials are invalid", func(p page) bool {
			return p.Path() == "/login" && strings.Contains(p.Text, "The provided credentials are invalid")
		})
	})

	// 15. The new password signs in (aal1: only the password was given).
	b.step("new-password-signs-in", func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.Clear(chromedp.CSS(`input[name="identifier"]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name="identifier"]`), email),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), newPassword),
			chromedp.Click(chromedp.CSS(`button[name="method"][value="password"]`)),
		); err != nil {
			return err
		}
		if err := b.waitFor(ctx, "the home page, signed in as "+email, func(p page) bool {
			return p.URL == appURL+"/" && strings.Contains(p.Text, "Signed in as "+email)
		}); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(appURL+"/dashboard")); err != nil {
			return err
		}
		return b.waitFor(ctx, "the dashboard with an aal1 session", func(p page) bool {
			return p.URL == appURL+"/dashboard" && strings.Contains(p.Text, "Welcome, "+email+" (session at aal1)")
		})
	})

	// 16. The error page shows one of Kratos' errors.
	b.step("error-page", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(appURL+"/error?id=stub:500")); err != nil {
			return err
		}
		return b.waitFor(ctx, "the error page", func(p page) bool {
			return p.Path() == "/error" && strings.Contains(p.Text, "Something went wrong")
		})
	})

	// Every self-service page the browser was shown carried the security
	// headers (each step also failed on any CSP violation).
	b.checkSecurityHeaders("/registration", "/login", "/settings", "/error")
}

// requireChromium skips the test when Debian's chromium is not installed,
// or fails it when KRATOSAUTH_E2E=1.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := fmt.Sprintf("browser test needs Debian's chromium at %s (%v); install it with scripts/deps.sh", chromiumPath, err)
		if os.Getenv("KRATOSAUTH_E2E") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// startApp builds examples/chi and runs it on appURL against Kratos; it
// is stopped at cleanup. env entries (KEY=value) are added to, and
// override, its environment. It returns the path of the app's log.
func startApp(t *testing.T, root, kratosURL, appURL string, env ...string) (logPath string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "app")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// examples/chi is a module of its own (it brings OpenTelemetry): build
	// it from its directory.
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(root, "examples", "chi")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build examples/chi: %v\n%s", err, out)
	}

	logPath = filepath.Join(dir, "app.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"KRATOS_PUBLIC_URL="+kratosURL,
		"KRATOS_BROWSER_URL="+kratosURL,
		"APP_URL="+appURL,
		"ADDR="+strings.TrimPrefix(appURL, "http://"),
	)
	cmd.Env = append(cmd.Env, env...) // the last of a repeated key wins
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logFile.Close()
		if t.Failed() {
			t.Logf("app log tail (%s):\n%s", logPath, tail(logPath, 30))
		}
	})

	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-done:
			t.Fatalf("examples/chi exited before serving /healthz:\n%s", tail(logPath, 30))
		default:
		}
		if resp, err := client.Get(appURL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return logPath
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("examples/chi not serving %s/healthz after 30s:\n%s", appURL, tail(logPath, 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// browser is one headless Chromium (one tab) with a fresh profile.
type browser struct {
	t         *testing.T
	ctx       context.Context
	shots     string // screenshot directory
	n         int    // steps taken
	lastState page

	appURL string
	// axe is axe-core's source (e2e/browser/node_modules, pinned by
	// package-lock.json), run on every page state a step ends on.
	axe string
	mu  sync.Mutex
	// violations are the Content-Security-Policy violations reported
	// since the last step ended.
	violations []string
	// documents are the self-service pages (HTML documents) the browser
	// received, by path, with their security headers.
	documents []document
}

// document is a self-service page the browser received.
type document struct {
	path, csp, referrerPolicy string
}

// selfServicePaths are the pages of package selfservice in examples/chi.
var selfServicePaths = map[string]bool{
	"/login": true, "/registration": true, "/settings": true, "/verification": true,
	"/recovery": true, "/error": true, "/logout": true,
}

// reportViolations is run in every document before its own content: the
// securitypolicyviolation event of a blocked style, image, script, form
// post or frame goes to the console, where the test reads it. (DevTools'
// scripts are exempt from the page's CSP.)
const reportViolations = `document.addEventListener("securitypolicyviolation", e =>
	console.error("CSP violation: " + e.effectiveDirective + " blocked " + (e.blockedURI || "inline") +
		" on " + e.documentURI + " (" + e.disposition + ")"), true);`

func newBrowser(t *testing.T, shots, appURL string, lifetime time.Duration) *browser {
	t.Helper()
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(shots, "*.png"))
	for _, f := range old {
		_ = os.Remove(f)
	}

	logPath := filepath.Join(t.TempDir(), "chromium.log")
	chromeLog, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, // also hides scrollbars and mutes audio
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true), // not chromedp.DisableGPU: no SwiftShader either
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(chromeLog),
	}
	// The whole browser session is bounded too, on top of each step.
	life, cancelLife := context.WithTimeout(context.Background(), lifetime)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(life, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	// Closes the tab and the browser and waits for Chromium to exit, before
	// the profile directory (an earlier TempDir) is removed.
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		cancelLife()
		chromeLog.Close()
		if t.Failed() {
			t.Logf("chromium log tail (%s):\n%s", logPath, tail(logPath, 20))
		}
	})
	// The first Do starts the browser. It must not run under a timeout of
	// its own (that would end the browser with it), so a watchdog bounds it.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v\n%s", chromiumPath, err, tail(logPath, 20))
		}
	case <-time.After(30 * time.Second):
		cancelCtx()
		<-started
		t.Fatalf("%s did not start within 30s:\n%s", chromiumPath, tail(logPath, 20))
	}
	b := &browser{t: t, ctx: ctx, shots: shots, appURL: appURL, axe: loadAxe(t)}
	if err := chromedp.Listen(ctx, b.onEvent); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		// A headless page never has the system's focus, so :focus would
		// never match: the audit's focus check needs it emulated.
		if _, err := cdp.Call(ctx, tg, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: reportViolations})
		return err
	})); err != nil {
		t.Fatal(err)
	}
	return b
}

// onEvent records CSP violations, from the injected listener (console) and
// from Chromium's own console messages, and the self-service documents
// received. It runs on chromedp's reading goroutine: it only appends.
func (b *browser) onEvent(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *cdpruntime.EventConsoleAPICalled:
		for _, a := range ev.Args {
			if s := string(a.Value); strings.Contains(s, "CSP violation") {
				b.violations = append(b.violations, s)
			}
		}
	case *cdplog.EventEntryAdded:
		if e := ev.Entry; e != nil && (strings.Contains(e.Text, "Content Security Policy") || e.Source == cdplog.EntrySourceViolation && e.Level == cdplog.EntryLevelError) {
			b.violations = append(b.violations, string(e.Source)+": "+e.Text)
		}
	case *network.EventResponseReceived:
		r := ev.Response
		if ev.Type != network.ResourceTypeDocument || r == nil || !strings.HasPrefix(r.URL, b.appURL+"/") {
			return
		}
		u, err := url.Parse(r.URL)
		if err != nil || !selfServicePaths[u.Path] {
			return
		}
		d := document{path: u.Path}
		for k, v := range r.Headers {
			s, _ := v.(string)
			switch strings.ToLower(k) {
			case "content-security-policy":
				d.csp = s
			case "referrer-policy":
				d.referrerPolicy = s
			}
		}
		b.documents = append(b.documents, d)
	}
}

// takeViolations returns and forgets the CSP violations reported so far.
func (b *browser) takeViolations() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := b.violations
	b.violations = nil
	return v
}

// checkSecurityHeaders fails the test unless every self-service page
// received had the strict CSP and Referrer-Policy: no-referrer, and
// pages were received at each of the paths.
func (b *browser) checkSecurityHeaders(paths ...string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := map[string]bool{}
	for _, d := range b.documents {
		seen[d.path] = true
		directives := map[string]string{}
		for _, dir := range strings.Split(d.csp, ";") {
			if f := strings.Fields(dir); len(f) > 0 {
				directives[f[0]] = strings.Join(f[1:], " ")
			}
		}
		for name, want := range map[string]string{"default-src": "'none'", "frame-ancestors": "'none'", "base-uri": "'none'", "img-src": "data:"} {
			if directives[name] != want {
				b.t.Errorf("%s: CSP %s is %q, want %q (policy %q)", d.path, name, directives[name], want, d.csp)
			}
		}
		if !strings.HasPrefix(directives["style-src"], "'nonce-") || !strings.HasPrefix(directives["form-action"], "'self' ") {
			b.t.Errorf("%s: CSP style-src %q, form-action %q", d.path, directives["style-src"], directives["form-action"])
		}
		// Script, on the pages with security keys or passkeys only, by the
		// same nonce and nothing else.
		if src, ok := directives["script-src"]; ok && src != directives["style-src"] {
			b.t.Errorf("%s: CSP script-src %q, want the style nonce %q alone", d.path, src, directives["style-src"])
		}
		if d.referrerPolicy != "no-referrer" {
			b.t.Errorf("%s: Referrer-Policy %q, want no-referrer", d.path, d.referrerPolicy)
		}
	}
	for _, p := range paths {
		if !seen[p] {
			b.t.Errorf("no self-service page at %s was received (pages: %v)", p, seen)
		}
	}
}

// step runs one bounded step, then saves a screenshot NN-name.png (also
// when the step failed, as NN-name-FAILED.png). A failed step ends the
// test: the later steps depend on it.
func (b *browser) step(name string, f func(ctx context.Context) error) {
	b.t.Helper()
	b.n++
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	start := time.Now()
	err := f(ctx)
	if v := b.takeViolations(); len(v) > 0 {
		msg := "Content-Security-Policy violations:\n" + strings.Join(v, "\n")
		if err != nil {
			msg = err.Error() + "\n" + msg // the violation may be why the step failed
		}
		err = errors.New(msg)
	}
	took := time.Since(start).Round(time.Millisecond)
	// The page the step ends on, in the light and the dark color scheme:
	// an accessibility audit and a screenshot of each.
	file := fmt.Sprintf("%02d-%s.png", b.n, name)
	if err != nil {
		file = fmt.Sprintf("%02d-%s-FAILED.png", b.n, name)
	}
	if err == nil {
		err = b.audit(ctx, "light")
	}
	shot := b.screenshot(file)
	if err == nil {
		if err = b.colorScheme(ctx, "dark"); err == nil {
			err = b.audit(ctx, "dark")
			b.screenshot(fmt.Sprintf("%02d-%s-dark.png", b.n, name))
			if e := b.colorScheme(ctx, ""); err == nil {
				err = e
			}
		}
	}
	if err != nil {
		b.t.Fatalf("step %02d %s: %v\n(screenshot: %s)", b.n, name, err, shot)
	}
	b.t.Logf("step %02d %s: ok in %v, audited in %v (%s)", b.n, name, took, time.Since(start).Round(time.Millisecond)-took, shot)
}

// colorScheme emulates prefers-color-scheme: "dark", "light", or "" for
// the browser's own (light, headless).
func (b *browser) colorScheme(ctx context.Context, scheme string) error {
	return chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		p := emulation.SetEmulatedMediaParams{}
		if scheme != "" {
			p.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
		}
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, p)
		return err
	}))
}

// loadAxe reads axe-core from e2e/browser/node_modules (scripts/deps.sh
// installs it with npm ci); without it the test is skipped, or fails when
// KRATOSAUTH_E2E=1.
func loadAxe(t *testing.T) string {
	t.Helper()
	root, err := kratostest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "e2e", "browser", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		msg := fmt.Sprintf("axe-core not installed (%v); run scripts/deps.sh (npm ci in e2e/browser)", err)
		if os.Getenv("KRATOSAUTH_E2E") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return string(b)
}

// auditJS runs axe-core on the page, and the checks axe cannot make:
// every focusable control shows a focus outline, every input has a
// <label> tied to it, and every error message is in a live region (role
// alert or aria-live), with its input marked invalid and described by it.
// It returns the problems found, as text.
const auditJS = `(async () => {
	const problems = [];
	const r = await axe.run(document, {resultTypes: ["violations"]});
	for (const v of r.violations) {
		if (v.impact === "serious" || v.impact === "critical") {
			problems.push("axe " + v.impact + " " + v.id + ": " + v.help + " [" +
				v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ") + "]");
		}
	}
	const active = document.activeElement;
	for (const el of document.querySelectorAll("a[href], button:not([disabled]), input:not([type=hidden]):not([disabled])")) {
		el.focus();
		const s = getComputedStyle(el);
		if (document.activeElement === el && (s.outlineStyle === "none" || parseFloat(s.outlineWidth) < 1) && s.boxShadow === "none") {
			problems.push("no visible focus: " + el.outerHTML.slice(0, 120));
		}
	}
	// Focus goes back where it was, so that the screenshots show no ring.
	if (active && active !== document.body) active.focus(); else if (document.activeElement) document.activeElement.blur();
	for (const el of document.querySelectorAll("input:not([type=hidden]):not([hidden])")) {
		if (!el.labels || el.labels.length === 0) problems.push("input without a label: " + el.outerHTML.slice(0, 120));
	}
	for (const m of document.querySelectorAll(".ks-message.ks-error")) {
		if (!m.closest("[role=alert], [aria-live]")) problems.push("error not in a live region: " + m.textContent.slice(0, 80));
		const list = m.closest("ul[id]");
		const input = list && document.querySelector("[aria-describedby~='" + list.id + "']");
		if (list && list.id.endsWith("-messages") && (!input || input.tagName === "INPUT" && input.getAttribute("aria-invalid") !== "true")) {
			problems.push("error not tied to its input: " + m.textContent.slice(0, 80));
		}
	}
	return problems;
})()`

// audit runs auditJS on the current page when it is one of the app's,
// and fails on any problem; axe-core is injected once per document.
func (b *browser) audit(ctx context.Context, scheme string) error {
	url, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
	if err != nil || !strings.HasPrefix(url, b.appURL) {
		return err
	}
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe === "object"`))
	if err != nil {
		return err
	}
	if !loaded {
		// Through DevTools, so the page's Content-Security-Policy does not
		// apply: axe is the test's, not the page's.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](b.axe+";true")); err != nil {
			return fmt.Errorf("injecting axe-core: %w", err)
		}
	}
	problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](auditJS, chromedp.EvalAwaitPromise))
	if err != nil {
		return fmt.Errorf("accessibility audit: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("accessibility (%s color scheme) of %s:\n%s", scheme, url, strings.Join(problems, "\n"))
	}
	return nil
}

// screenshot saves a full-page PNG of the current page into the artifacts
// directory and returns its path, or a note on why it could not.
func (b *browser) screenshot(file string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "none: " + err.Error()
	}
	path := filepath.Join(b.shots, file)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "none: " + err.Error()
	}
	return path
}

// page is what the browser shows: its URL, visible text and the selectors
// of waitFor's conditions that match an element.
type page struct {
	URL, Text string
	ReadyDone bool
	has       map[string]bool
}

func (p page) Path() string {
	u, err := url.Parse(p.URL)
	if err != nil {
		return ""
	}
	return u.Path
}

func (p page) Query(key string) string {
	u, err := url.Parse(p.URL)
	if err != nil {
		return ""
	}
	return u.Query().Get(key)
}

// Has reports whether an element matches the CSS selector. A selector the
// probe did not look up yet reads as absent and is recorded, so that
// waitFor looks it up on its next poll and does not trust this one.
func (p page) Has(sel string) bool {
	v, ok := p.has[sel]
	if !ok {
		p.has[sel] = false // asked for: the next probe looks it up
		return false
	}
	return v
}

// waitFor polls the current page (every 100ms, until ctx ends) until the
// fully loaded page satisfies cond. Selectors cond asks about with Has are
// looked up from the next poll on.
func (b *browser) waitFor(ctx context.Context, what string, cond func(page) bool) error {
	sels := map[string]bool{}
	for {
		p, err := b.probe(ctx, sels)
		if err == nil {
			b.lastState = p
			known := len(sels)
			ok := p.ReadyDone && cond(p)
			for s := range p.has {
				sels[s] = true
			}
			// A condition is only trusted once every selector it asked
			// about was looked up.
			if ok && len(sels) == known {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			p := b.lastState
			return fmt.Errorf("waiting for %s: %w\nlast URL: %s\nlast page text: %.600s", what, ctx.Err(), p.URL, p.Text)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// probe reads the URL, the readiness, the visible text and whether each
// selector matches, in one evaluation so that they describe one page.
func (b *browser) probe(ctx context.Context, sels map[string]bool) (page, error) {
	list := make([]string, 0, len(sels))
	for s := range sels {
		list = append(list, s)
	}
	type result struct {
		URL   string          `json:"url"`
		Ready string          `json:"ready"`
		Text  string          `json:"text"`
		Has   map[string]bool `json:"has"`
	}
	js := fmt.Sprintf(`(() => {
		const sels = %s, has = {};
		for (const s of sels) has[s] = document.querySelector(s) !== null;
		return {url: location.href, ready: document.readyState,
			text: document.body ? document.body.innerText : "", has};
	})()`, jsonStrings(list))
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	res, err := chromedp.Run(pctx, chromedp.Evaluate[result](js))
	if err != nil {
		return page{}, err
	}
	if res.Has == nil {
		res.Has = map[string]bool{}
	}
	return page{URL: res.URL, Text: res.Text, ReadyDone: res.Ready == "complete", has: res.Has}, nil
}

// jsonStrings encodes ss as a JavaScript array literal.
func jsonStrings(ss []string) string {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, "%q", s) // Go and JS string escapes agree for these ASCII selectors
	}
	buf.WriteByte(']')
	return buf.String()
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func isUUID(s string) bool { return uuidRE.MatchString(s) }

// newUUID returns a random version 4 UUID.
func newUUID(t *testing.T) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
