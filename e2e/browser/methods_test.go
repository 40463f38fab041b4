package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

// TestBrowserMethods drives Chromium through every sign-in method of a
// Kratos that has them all (kratostest.Options.AllMethods), with the real
// messages of its courier, a DevTools virtual authenticator as the
// passkey and security key, and a real Ory Hydra as the social sign-in
// provider. Kratos, the app and Hydra are on localhost: a WebAuthn
// relying party id cannot be an IP address.
func TestBrowserMethods(t *testing.T) {
	requireChromium(t)
	root, err := kratostest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	courier := kratostest.StartCourier(t)
	hydra := kratostest.StartHydra(t, "localhost") // skips (or fails) without the binary
	appPort := freePort(t)
	appURL := "http://localhost:" + appPort
	kratosPort, _ := strconv.Atoi(freePort(t))
	clientID, secret := hydra.CreateClient(t, kratostest.CallbackURL("http://localhost:"+strconv.Itoa(kratosPort), "hydra"))
	k := kratostest.Start(t, kratostest.Options{
		PublicPort: kratosPort, Host: "localhost", AppURL: appURL,
		CourierURL: courier.URL, AllMethods: true,
		OIDC: &kratostest.OIDCProvider{ID: "hydra", Label: "Hydra", IssuerURL: hydra.IssuerURL, ClientID: clientID, ClientSecret: secret},
	})
	// Social sign-in leaves the pages by a form post to Kratos, which
	// redirects to Hydra, which redirects to its login and consent pages:
	// the CSP's form-action covers the whole chain of redirects.
	appLog := startApp(t, root, k.PublicURL, appURL,
		"KRATOS_BROWSER_URL="+k.BrowserURL,
		"ADDR=127.0.0.1:"+appPort,
		"FORM_ACTION_ORIGINS="+strings.TrimSuffix(hydra.IssuerURL, "/")+" "+hydra.LoginURL)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kratos log tail (%s):\n%s", k.LogPath, tail(k.LogPath, 30))
			t.Logf("hydra log tail (%s):\n%s", hydra.LogPath, tail(hydra.LogPath, 30))
		}
	})

	b := newBrowser(t, filepath.Join(root, ".artifacts", "browser-methods"), appURL, 8*time.Minute)
	authenticator := b.addVirtualAuthenticator()
	w := walk{b: b, app: appURL, courier: courier}

	// ---- Codes: verification after registration, sign-in, recovery ----
	email := kratostest.UniqueEmail("codes")
	const password = "correct horse battery staple 42"
	const newPassword = "recovered horse battery staple 43"

	b.step("code-registration", func(ctx context.Context) error {
		if err := w.open(ctx, "/registration", "the registration form", `input[name="traits.email"]`); err != nil {
			return err
		}
		if err := w.submit(ctx, `button[name="method"][value="profile"]`, map[string]string{`input[name="traits.email"]`: email}); err != nil {
			return err
		}
		// The password form carries the email for password managers.
		if err := b.waitFor(ctx, "the credential choice", func(p page) bool {
			return p.Has(`input[name="password"]`) && p.Has(`button[name="passkey_register_trigger"]`) &&
				p.Has(`form.ks-group-password input[autocomplete="username"][value="`+email+`"]`)
		}); err != nil {
			return err
		}
		w.mark()
		if err := w.submit(ctx, `button[name="method"][value="password"]`, map[string]string{`input[name="password"]`: password}); err != nil {
			return err
		}
		// The step ends on the next page, not on one being left (the audit
		// would run during the navigation).
		return b.waitFor(ctx, "the verification page", func(p page) bool { return p.Path() == "/verification" })
	})
	// Kratos' show_verification_ui hook: the page says the code is sent.
	b.step("verification-code-sent", func(ctx context.Context) error {
		return b.waitFor(ctx, "the verification page, code sent", func(p page) bool {
			return p.Path() == "/verification" && strings.Contains(p.Text, "An email containing a verification code has been sent") &&
				p.Has(`input[name="code"]`)
		})
	})
	b.step("verification-code-wrong", func(ctx context.Context) error {
		if err := w.submit(ctx, `button[name="method"][value="code"]`, map[string]string{`input[name="code"]`: "000000"}); err != nil {
			return err
		}
		return b.waitFor(ctx, "the verification page, wrong code", func(p page) bool {
			return p.Path() == "/verification" && strings.Contains(p.Text, "The verification code is invalid or has already been used") &&
				p.Has(`input[name="code"][aria-invalid="true"], [role="alert"]`)
		})
	})
	b.step("verification-done", func(ctx context.Context) error {
		code, err := w.code(email, "verification_code")
		if err != nil {
			return err
		}
		if err := w.submit(ctx, `button[name="method"][value="code"]`, map[string]string{`input[name="code"]`: code}); err != nil {
			return err
		}
		return b.waitFor(ctx, "the verification page, verified", func(p page) bool {
			return p.Path() == "/verification" && strings.Contains(p.Text, "You successfully verified your email address")
		})
	})
	b.step("code-login-sent", func(ctx context.Context) error {
		if err := w.signOut(ctx); err != nil {
			return err
		}
		if err := w.open(ctx, "/login", "the login form", `form.ks-group-code input[name="identifier"]`); err != nil {
			return err
		}
		w.mark()
		if err := w.submit(ctx, `form.ks-group-code button[name="method"][value="code"]`, map[string]string{`form.ks-group-code input[name="identifier"]`: email}); err != nil {
			return err
		}
		return b.waitFor(ctx, "the login page, code sent", func(p page) bool {
			return p.Path() == "/login" && strings.Contains(p.Text, "An email containing a code has been sent") && p.Has(`input[name="code"]`)
		})
	})
	b.step("code-login-done", func(ctx context.Context) error {
		code, err := w.code(email, "login_code")
		if err != nil {
			return err
		}
		if err := w.submit(ctx, `button[name="method"][value="code"]`, map[string]string{`input[name="code"]`: code}); err != nil {
			return err
		}
		return w.signedInAs(ctx, email)
	})
	b.step("recovery-code-sent", func(ctx context.Context) error {
		if err := w.signOut(ctx); err != nil {
			return err
		}
		if err := w.open(ctx, "/recovery", "the recovery form", `input[name="email"]`); err != nil {
			return err
		}
		w.mark()
		if err := w.submit(ctx, `button[name="method"][value="code"]`, map[string]string{`input[name="email"]`: email}); err != nil {
			return err
		}
		return b.waitFor(ctx, "the recovery page, code sent", func(p page) bool {
			return p.Path() == "/recovery" && strings.Contains(p.Text, "An email containing a recovery code has been sent") && p.Has(`input[name="code"]`)
		})
	})
	b.step("recovery-settings", func(ctx context.Context) error {
		code, err := w.code(email, "recovery_code")
		if err != nil {
			return err
		}
		if err := w.submit(ctx, `button[name="method"][value="code"]`, map[string]string{`input[name="code"]`: code}); err != nil {
			return err
		}
		return b.waitFor(ctx, "the settings page after recovery", func(p page) bool {
			return p.Path() == "/settings" && strings.Contains(p.Text, "You successfully recovered your account") &&
				p.Has(`form.ks-group-password input[name="password"]`) &&
				p.Has(`form.ks-group-password input[autocomplete="username"][value="`+email+`"]`)
		})
	})
	b.step("recovery-new-password", func(ctx context.Context) error {
		if err := w.submit(ctx, `button[name="method"][value="password"]`, map[string]string{`form.ks-group-password input[name="password"]`: newPassword}); err != nil {
			return err
		}
		if err := w.saved(ctx); err != nil {
			return err
		}
		if err := w.signOut(ctx); err != nil {
			return err
		}
		return w.passwordLogin(ctx, email, newPassword)
	})

	// ---- Backup codes: generate, show, confirm, use at aal2 ----
	var backup []string
	b.step("backup-codes-shown", func(ctx context.Context) error {
		if err := w.open(ctx, "/settings", "the settings page", `button[name="lookup_secret_regenerate"]`); err != nil {
			return err
		}
		if err := w.submit(ctx, `button[name="lookup_secret_regenerate"]`, nil); err != nil {
			return err
		}
		if err := b.waitFor(ctx, "the backup codes", func(p page) bool {
			return p.Path() == "/settings" && p.Has(`ul.ks-secrets code`) && p.Has(`button[name="lookup_secret_confirm"]`)
		}); err != nil {
			return err
		}
		codes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("ul.ks-secrets code")].map(c => c.textContent.trim())`))
		if err != nil {
			return err
		}
		if len(codes) < 10 {
			return fmt.Errorf("%d backup codes shown: %v", len(codes), codes)
		}
		backup = codes
		return nil
	})
	b.step("backup-codes-confirmed", func(ctx context.Context) error {
		if err := w.submit(ctx, `button[name="lookup_secret_confirm"]`, nil); err != nil {
			return err
		}
		return b.waitFor(ctx, "backup codes saved", func(p page) bool {
			return p.Path() == "/settings" && strings.Contains(p.Text, "Your changes have been saved") && p.Has(`button[name="lookup_secret_reveal"]`)
		})
	})
	b.step("aal2-backup-code-page", func(ctx context.Context) error {
		if err := w.signOut(ctx); err != nil {
			return err
		}
		if err := w.passwordLogin(ctx, email, newPassword); err != nil {
			return err
		}
		return w.open(ctx, "/login?aal=aal2&return_to=/dashboard", "the second-factor page", `input[name="lookup_secret"]`, `a.ks-signout`)
	})
	b.step("aal2-backup-code-used", func(ctx context.Context) error {
		if err := w.submit(ctx, `button[name="method"][value="lookup_secret"]`, map[string]string{`input[name="lookup_secret"]`: backup[0]}); err != nil {
			return err
		}
		return w.dashboard(ctx, email, "aal2")
	})
	// A refresh login offers a way out too, through Kratos' logout flow.
	b.step("refresh-not-you-sign-out", func(ctx context.Context) error {
		if err := w.open(ctx, "/login?refresh=true", "the refresh login", `a.ks-signout`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a.ks-signout`))); err != nil {
			return err
		}
		if err := b.waitFor(ctx, "a fresh login page after signing out", func(p page) bool {
			return p.Path() == "/login" && isUUID(p.Query("flow")) && p.Has(`input[name="password"]`) && !p.Has(`a.ks-signout`)
		}); err != nil {
			return err
		}
		return w.signedOut(ctx)
	})
	// The second-factor page's way out.
	b.step("aal2-not-you-sign-out", func(ctx context.Context) error {
		if err := w.passwordLogin(ctx, email, newPassword); err != nil {
			return err
		}
		if err := w.open(ctx, "/login?aal=aal2", "the second-factor page", `a.ks-signout`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a.ks-signout`))); err != nil {
			return err
		}
		if err := b.waitFor(ctx, "a first-factor login after signing out", func(p page) bool {
			return p.Path() == "/login" && p.Has(`input[name="password"]`) && !p.Has(`input[name="lookup_secret"]`)
		}); err != nil {
			return err
		}
		return w.signedOut(ctx)
	})

	// ---- Passkeys and security keys (virtual authenticator) ----
	pkEmail := kratostest.UniqueEmail("passkey")
	b.step("passkey-registration", func(ctx context.Context) error {
		if err := w.open(ctx, "/registration", "the registration form", `input[name="traits.email"]`); err != nil {
			return err
		}
		if err := w.submit(ctx, `button[name="method"][value="profile"]`, map[string]string{`input[name="traits.email"]`: pkEmail}); err != nil {
			return err
		}
		if err := w.open(ctx, "", "the passkey button", `button[name="passkey_register_trigger"]`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[name="passkey_register_trigger"]`))); err != nil {
			return err
		}
		return w.signedInAs(ctx, pkEmail)
	})
	// The login page asks for a passkey as soon as it has loaded
	// (onloadTrigger: passkey autofill, WebAuthn's conditional mediation),
	// which the virtual authenticator answers at once.
	b.step("passkey-login-autofill", func(ctx context.Context) error {
		if err := w.signOut(ctx); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(w.app+"/login")); err != nil {
			return err
		}
		return w.signedInAs(ctx, pkEmail)
	})
	// In a browser without passkey autofill, the button (onclickTrigger).
	b.step("passkey-login-button", func(ctx context.Context) error {
		if err := w.signOut(ctx); err != nil {
			return err
		}
		remove, err := b.onNewDocument(ctx, `PublicKeyCredential.isConditionalMediationAvailable = async () => false;`)
		if err != nil {
			return err
		}
		defer remove()
		if err := w.open(ctx, "/login", "the login page", `button[name="passkey_login_trigger"]`); err != nil {
			return err
		}
		if cma, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`PublicKeyCredential.isConditionalMediationAvailable()`, chromedp.EvalAwaitPromise)); err != nil || cma {
			return fmt.Errorf("passkey autofill still available (%v)", err)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[name="passkey_login_trigger"]`))); err != nil {
			return err
		}
		return w.signedInAs(ctx, pkEmail)
	})
	b.step("security-key-added", func(ctx context.Context) error {
		if err := w.open(ctx, "/settings", "the settings page", `input[name="webauthn_register_displayname"]`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`input[name="webauthn_register_displayname"]`), "test key"),
			chromedp.Click(chromedp.CSS(`button[name="webauthn_register_trigger"]`)),
		); err != nil {
			return err
		}
		return b.waitFor(ctx, "the security key saved", func(p page) bool {
			return p.Path() == "/settings" && strings.Contains(p.Text, "Your changes have been saved") && p.Has(`button[name="webauthn_remove"]`)
		})
	})
	// The second-factor page labels the account, whose hidden identifier
	// Kratos sends without a label for a security key, in German too.
	b.step("german-second-factor", func(ctx context.Context) error {
		if err := w.signOut(ctx); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(w.app+"/login")); err != nil {
			return err
		}
		if err := w.signedInAs(ctx, pkEmail); err != nil { // passkey autofill
			return err
		}
		if err := b.acceptLanguage(ctx, "de-DE,de;q=0.9"); err != nil {
			return err
		}
		defer func() { _ = b.acceptLanguage(b.ctx, "en") }()
		if err := w.open(ctx, "/login?aal=aal2", "the German second-factor page", `html[lang="de"]`, `button[name="webauthn_login_trigger"]`); err != nil {
			return err
		}
		labels, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("dl.ks-readonly dt")].map(e => e.textContent)`))
		if err != nil {
			return err
		}
		if fmt.Sprint(labels) != "[Konto]" || strings.Contains(b.lastState.Text, "Identifier") || !strings.Contains(b.lastState.Text, pkEmail) {
			return fmt.Errorf("the account is labelled %q on the German second-factor page:\n%s", labels, b.lastState.Text)
		}
		return nil
	})
	b.step("aal2-security-key", func(ctx context.Context) error {
		if err := w.signOut(ctx); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(w.app+"/login")); err != nil {
			return err
		}
		if err := w.signedInAs(ctx, pkEmail); err != nil { // passkey autofill
			return err
		}
		if err := w.open(ctx, "/login?aal=aal2&return_to=/dashboard", "the second-factor page", `button[name="webauthn_login_trigger"]`, `a.ks-signout`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[name="webauthn_login_trigger"]`))); err != nil {
			return err
		}
		return w.dashboard(ctx, pkEmail, "aal2")
	})
	b.step("security-key-removed", func(ctx context.Context) error {
		if err := w.open(ctx, "/settings", "the settings page", `button[name="webauthn_remove"]`); err != nil {
			return err
		}
		if err := w.submit(ctx, `button[name="webauthn_remove"]`, nil); err != nil {
			return err
		}
		return b.waitFor(ctx, "the security key removed", func(p page) bool {
			return p.Path() == "/settings" && strings.Contains(p.Text, "Your changes have been saved") &&
				!p.Has(`button[name="webauthn_remove"]`) && p.Has(`button[name="webauthn_register_trigger"]`)
		})
	})

	// ---- Social sign-in through Hydra ----
	// A browser without the passkey (else the login page's passkey
	// autofill signs it in at once).
	b.clearCredentials(authenticator)
	social := kratostest.UniqueEmail("social")
	hydra.SetUser(social)
	b.step("oidc-registration", func(ctx context.Context) error {
		if err := w.signOut(ctx); err != nil {
			return err
		}
		if err := w.open(ctx, "/registration", "the registration form", `button[name="provider"][value="hydra"]`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[name="provider"][value="hydra"]`))); err != nil {
			return err
		}
		return w.signedInAs(ctx, social)
	})
	b.step("oidc-login", func(ctx context.Context) error {
		if err := w.signOut(ctx); err != nil {
			return err
		}
		before := hydra.Logins()
		if err := w.open(ctx, "/login", "the login form", `button[name="provider"][value="hydra"]`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[name="provider"][value="hydra"]`))); err != nil {
			return err
		}
		if err := w.signedInAs(ctx, social); err != nil {
			return err
		}
		if hydra.Logins() != before+1 {
			return errors.New("the sign-in did not go through the provider")
		}
		return nil
	})
	b.step("oidc-unlink", func(ctx context.Context) error {
		if err := w.open(ctx, "/settings", "the settings page", `form.ks-group-password input[name="password"]`); err != nil {
			return err
		}
		// Kratos v1.3.1 keeps the only credential; later versions count the
		// sign-in by e-mail code and offer the unlink at once.
		if k.Version.CodeSignInCountsForUnlink {
			if err := b.waitFor(ctx, "unlink offered (the e-mail code signs in too)", func(p page) bool {
				return p.Has(`button[name="unlink"][value="hydra"]`)
			}); err != nil {
				return err
			}
		} else if err := b.waitFor(ctx, "no unlink while the provider is the only credential", func(p page) bool {
			return !p.Has(`button[name="unlink"]`)
		}); err != nil {
			return err
		}
		if err := w.submit(ctx, `button[name="method"][value="password"]`, map[string]string{`form.ks-group-password input[name="password"]`: password}); err != nil {
			return err
		}
		if err := b.waitFor(ctx, "the password saved, unlink offered", func(p page) bool {
			return strings.Contains(p.Text, "Your changes have been saved") && p.Has(`button[name="unlink"][value="hydra"]`)
		}); err != nil {
			return err
		}
		if err := w.submit(ctx, `button[name="unlink"][value="hydra"]`, nil); err != nil {
			return err
		}
		return b.waitFor(ctx, "the provider unlinked", func(p page) bool {
			return p.Path() == "/settings" && strings.Contains(p.Text, "Your changes have been saved") &&
				p.Has(`button[name="link"][value="hydra"]`) && !p.Has(`button[name="unlink"]`)
		})
	})

	// ---- A browser that prefers German gets German pages ----
	b.step("german-login", func(ctx context.Context) error {
		if err := w.signOut(ctx); err != nil {
			return err
		}
		if err := b.acceptLanguage(ctx, "de-DE,de;q=0.9,en;q=0.5"); err != nil {
			return err
		}
		if err := w.open(ctx, "/login", "the German login page", `html[lang="de"]`, `input[name="password"]`); err != nil {
			return err
		}
		return b.waitFor(ctx, "German labels", func(p page) bool {
			for _, s := range []string{"Anmelden", "Mit Passwort anmelden", "Passwort", "Anmeldecode senden", "Mit Passkey anmelden", "Mit Hydra anmelden", "Passwort vergessen?"} {
				if !strings.Contains(p.Text, s) {
					return false
				}
			}
			return !strings.Contains(p.Text, "Sign in with password")
		})
	})
	b.step("german-recovery-code-sent", func(ctx context.Context) error {
		if err := w.open(ctx, "/recovery", "the German recovery page", `html[lang="de"]`, `input[name="email"]`); err != nil {
			return err
		}
		w.mark()
		if err := w.submit(ctx, `button[name="method"][value="code"]`, map[string]string{`input[name="email"]`: email}); err != nil {
			return err
		}
		if err := b.waitFor(ctx, "the German recovery page, code sent", func(p page) bool {
			return strings.Contains(p.Text, "Wir haben einen Wiederherstellungscode") && strings.Contains(p.Text, "Wiederherstellungscode") &&
				strings.Contains(p.Text, "Code erneut senden")
		}); err != nil {
			return err
		}
		return b.acceptLanguage(ctx, "en")
	})
	// Kratos' webauthn.js blocked (as when Kratos lacks the app's origin in
	// its CORS origins): the page says so and disables the buttons.
	b.step("webauthn-js-blocked", func(ctx context.Context) error {
		if err := b.blockURLs(ctx, "*://*:*/.well-known/ory/webauthn.js"); err != nil {
			return err
		}
		defer func() { _ = b.blockURLs(b.ctx) }()
		if err := w.open(ctx, "/login", "the login page", `button[name="passkey_login_trigger"]`); err != nil {
			return err
		}
		return b.waitFor(ctx, "the notice, and the passkey button disabled", func(p page) bool {
			return p.Has(`#ks-webauthn-unavailable:not([hidden])`) && p.Has(`button[name="passkey_login_trigger"][disabled]`) &&
				strings.Contains(p.Text, "Security keys and passkeys cannot be used right now") &&
				p.Has(`form.ks-group-password input[name="password"]:not([disabled])`)
		})
	})

	b.checkSecurityHeaders("/registration", "/verification", "/login", "/recovery", "/settings")

	// A walk through every method logs no warning and no error.
	if bad := logLines(t, appLog, func(l string) bool {
		return strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR")
	}); len(bad) > 0 {
		t.Errorf("the app logged warnings or errors on a successful walk:\n%s", strings.Join(bad, "\n"))
	}

	// A misconfigured relying party (rp.origins with Kratos' URL instead
	// of the app's): the user sees "Something went wrong", the app's log
	// has Kratos' reason.
	cfg, err := os.ReadFile(k.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	origins := "origins:\n            - " + appURL + "\n"
	if strings.Count(string(cfg), origins) != 2 {
		t.Fatalf("the config has no webauthn and passkey rp.origins %q:\n%s", origins, cfg)
	}
	cfg = []byte(strings.ReplaceAll(string(cfg), origins, "origins:\n            - "+k.BrowserURL+"\n"))
	if err := os.WriteFile(k.ConfigPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	k.Restart(t)
	b.step("webauthn-misconfigured", func(ctx context.Context) error {
		if err := w.open(ctx, "/registration", "the registration form", `input[name="traits.email"]`); err != nil {
			return err
		}
		if err := w.submit(ctx, `button[name="method"][value="profile"]`, map[string]string{`input[name="traits.email"]`: kratostest.UniqueEmail("misconfigured")}); err != nil {
			return err
		}
		if err := w.open(ctx, "", "the passkey button", `button[name="passkey_register_trigger"]`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[name="passkey_register_trigger"]`))); err != nil {
			return err
		}
		if err := b.waitFor(ctx, "the error page", func(p page) bool {
			return p.Path() == "/error" && strings.Contains(p.Text, "Something went wrong") && !strings.Contains(p.Text, "origin")
		}); err != nil {
			return err
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if len(logLines(t, appLog, func(l string) bool {
				return strings.Contains(l, "level=ERROR") && strings.Contains(l, "Unable to create WebAuthn credential")
			})) > 0 {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("no ERROR with Kratos' reason in the app's log:\n%s", tail(appLog, 10))
			}
		}
	})
}

// logLines returns the lines of the log at path that match.
func logLines(t *testing.T, path string, match func(line string) bool) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if match(l) {
			out = append(out, l)
		}
	}
	return out
}

// blockURLs makes the browser fail every request matching a pattern (a
// URLPattern: "*://*:*/x.js") from now on; none unblocks.
func (b *browser) blockURLs(ctx context.Context, patterns ...string) error {
	p := network.SetBlockedURLsParams{URLPatterns: []*network.BlockPattern{}}
	for _, u := range patterns {
		p.URLPatterns = append(p.URLPatterns, &network.BlockPattern{URLPattern: u, Block: true})
	}
	return chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetBlockedURLs, p)
		return err
	}))
}

// walk holds what the steps of TestBrowserMethods share.
type walk struct {
	b       *browser
	app     string
	courier *kratostest.Courier
	seen    int // courier messages before the last mark
}

// mark remembers how many messages the courier has: code waits for a
// message sent after it.
func (w *walk) mark() { w.seen = w.courier.Count() }

// code returns the code of the first message of the template to email
// since the last mark.
func (w *walk) code(email, template string) (string, error) {
	m, ok := w.courier.Await(email, template, w.seen, 15*time.Second)
	if !ok {
		return "", fmt.Errorf("no %s message to %s (messages: %d)", template, email, w.courier.Count())
	}
	w.seen = w.courier.Count()
	return m.Code(), nil
}

// open navigates to path (unless "") and waits until the page has every
// selector.
func (w *walk) open(ctx context.Context, path, what string, sels ...string) error {
	if path != "" {
		if err := chromedp.Do(ctx, chromedp.Navigate(w.app+path)); err != nil {
			return err
		}
	}
	return w.b.waitFor(ctx, what, func(p page) bool {
		for _, s := range sels {
			if !p.Has(s) {
				return false
			}
		}
		return strings.HasPrefix(p.URL, w.app)
	})
}

// submit fills the inputs (selector -> text) and clicks the button.
func (w *walk) submit(ctx context.Context, button string, fill map[string]string) error {
	var acts []chromedp.Action[chromedp.Void]
	for sel, v := range fill {
		acts = append(acts, chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), v))
	}
	return chromedp.Do(ctx, append(acts, chromedp.Click(chromedp.CSS(button)))...)
}

func (w *walk) saved(ctx context.Context) error {
	return w.b.waitFor(ctx, "the settings page, saved", func(p page) bool {
		return p.Path() == "/settings" && strings.Contains(p.Text, "Your changes have been saved")
	})
}

func (w *walk) signedInAs(ctx context.Context, email string) error {
	return w.b.waitFor(ctx, "the home page, signed in as "+email, func(p page) bool {
		return p.URL == w.app+"/" && strings.Contains(p.Text, "Signed in as "+email)
	})
}

func (w *walk) dashboard(ctx context.Context, email, aal string) error {
	return w.b.waitFor(ctx, "the dashboard at "+aal, func(p page) bool {
		return p.URL == w.app+"/dashboard" && strings.Contains(p.Text, "Welcome, "+email+" (session at "+aal+")")
	})
}

func (w *walk) signedOut(ctx context.Context) error {
	if err := chromedp.Do(ctx, chromedp.Navigate(w.app+"/")); err != nil {
		return err
	}
	return w.b.waitFor(ctx, "the home page, signed out", func(p page) bool {
		return p.URL == w.app+"/" && strings.Contains(p.Text, "You are not signed in.")
	})
}

func (w *walk) signOut(ctx context.Context) error {
	if err := chromedp.Do(ctx, chromedp.Navigate(w.app+"/logout")); err != nil {
		return err
	}
	return w.b.waitFor(ctx, "the home page after logout", func(p page) bool {
		return p.URL == w.app+"/" && strings.Contains(p.Text, "You are not signed in.")
	})
}

func (w *walk) passwordLogin(ctx context.Context, email, password string) error {
	if err := w.open(ctx, "/login", "the login page", `form.ks-group-password input[name="password"]`); err != nil {
		return err
	}
	if err := w.submit(ctx, `button[name="method"][value="password"]`, map[string]string{
		`form.ks-group-password input[name="identifier"]`: email,
		`form.ks-group-password input[name="password"]`:   password,
	}); err != nil {
		return err
	}
	return w.signedInAs(ctx, email)
}

// acceptLanguage makes the browser send this Accept-Language from now on.
func (b *browser) acceptLanguage(ctx context.Context, v string) error {
	return chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": v}})
		return err
	}))
}

// onNewDocument runs js in every document from now on, before the
// page's scripts, until remove is called.
func (b *browser) onNewDocument(ctx context.Context, js string) (remove func(), err error) {
	var id cdppage.ScriptIdentifier
	err = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		res, err := cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: js})
		if err == nil {
			id = res.Identifier
		}
		return err
	}))
	return func() {
		_ = chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, cdppage.RemoveScriptToEvaluateOnNewDocument, cdppage.RemoveScriptToEvaluateOnNewDocumentParams{Identifier: id})
			return err
		}))
	}, err
}

// addVirtualAuthenticator gives the tab a CTAP2 authenticator with
// resident keys and user verification that answers at once: passkeys and
// security keys without a person touching anything.
func (b *browser) addVirtualAuthenticator() webauthn.AuthenticatorID {
	b.t.Helper()
	var id webauthn.AuthenticatorID
	err := chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		res, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                webauthn.Ctap2versionCtap21,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		}})
		if err == nil {
			id = res.AuthenticatorID
		}
		return err
	}))
	if err != nil {
		b.t.Fatalf("virtual authenticator: %v", err)
	}
	return id
}

// clearCredentials removes every credential of the virtual authenticator.
func (b *browser) clearCredentials(id webauthn.AuthenticatorID) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, webauthn.ClearCredentials, webauthn.ClearCredentialsParams{AuthenticatorID: id})
		return err
	})); err != nil {
		b.t.Fatalf("clearing the virtual authenticator: %v", err)
	}
}
