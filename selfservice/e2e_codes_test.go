package selfservice_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
	"github.com/kratosauth/kratosauth/selfservice"
)

// startCodesE2E is startE2E with Kratos' courier delivering to a capture
// server: the tests read the real codes. opts change Kratos' options.
func startCodesE2E(t *testing.T, opts ...func(*kratostest.Options)) (*e2e, *kratostest.Courier) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := "http://" + ln.Addr().String()
	courier := kratostest.StartCourier(t)
	o := kratostest.Options{AppURL: app, CourierURL: courier.URL, AllMethods: true}
	for _, opt := range opts {
		opt(&o)
	}
	k := kratostest.Start(t, o)
	auth, err := kratosauth.New(k.PublicURL, kratosauth.WithAppURL(app), kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	ui, err := selfservice.New(auth)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "app page "+r.URL.Path) })
	srv := httptest.NewUnstartedServer(mux)
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return &e2e{k: k, app: app, auth: auth, ui: ui}, courier
}

// TestE2ECodeExpired: with codes that live two seconds, a code typed too
// late is refused on the rendered page, in words, and a new code can be
// sent from it; the new code works.
func TestE2ECodeExpired(t *testing.T) {
	t.Setenv("SELFSERVICE_METHODS_CODE_CONFIG_LIFESPAN", "2s") // read by the Kratos process
	e, courier := startCodesE2E(t)
	const password = "correct horse battery staple 42"
	email := kratostest.UniqueEmail("expired")
	if p := e.register(t, newBrowser(t), email, password, ""); p.status != http.StatusOK {
		t.Fatalf("registration: %d at %s", p.status, p.url)
	}

	b := newBrowser(t)
	p := b.get(e.app + "/recovery")
	n := courier.Count()
	p = b.submit(p, "method", "code", map[string]string{"email": email})
	e.flowPage(t, p, selfservice.Recovery)
	code := courier.WaitFor(t, email, "recovery_code", n, 15*time.Second).Code()
	time.Sleep(2500 * time.Millisecond)
	p = b.submit(p, "method", "code", map[string]string{"code": code})
	// Kratos answers with a fresh flow that says the last one expired
	// (4060005) and asks for the address again; from v26.2.0 on, like a
	// wrong code (4060006), at the same step.
	e.flowPage(t, p, selfservice.Recovery)
	if e.k.Version.ExpiredRecoveryCodeIsInvalid {
		if !strings.Contains(p.body, `data-message-id="4060006"`) || !strings.Contains(parseDoc(t, p.body).text, "invalid") {
			t.Fatalf("expired code: not refused: %s", parseDoc(t, p.body).text)
		}
	} else if !strings.Contains(p.body, `data-message-id="4060005"`) || !strings.Contains(parseDoc(t, p.body).text, "expired") {
		t.Fatalf("expired code: no expiry message: %s", parseDoc(t, p.body).text)
	}
	n = courier.Count()
	if e.k.Version.ExpiredRecoveryCodeIsInvalid {
		p = b.submit(p, "email", email, nil) // "Resend code"
	} else {
		p = b.submit(p, "method", "code", map[string]string{"email": email})
	}
	code = courier.WaitFor(t, email, "recovery_code", n, 15*time.Second).Code()
	p = b.submit(p, "method", "code", map[string]string{"code": code})
	e.flowPage(t, p, selfservice.Settings)
	if !strings.Contains(parseDoc(t, p.body).text, "You successfully recovered your account") {
		t.Fatalf("recovery with a fresh code: %s", parseDoc(t, p.body).text)
	}

	// Sign-in by code: a late code is refused with words on the login page.
	b = newBrowser(t)
	p = b.get(e.app + "/login")
	n = courier.Count()
	p = b.submit(p, "method", "code", map[string]string{"identifier": email})
	e.flowPage(t, p, selfservice.Login)
	code = courier.WaitFor(t, email, "login_code", n, 15*time.Second).Code()
	time.Sleep(2500 * time.Millisecond)
	p = b.submit(p, "method", "code", map[string]string{"code": code})
	e.flowPage(t, p, selfservice.Login)
	if b.sessionCookie(e.k.PublicURL) != nil {
		t.Fatal("a late code signed in")
	}
	if txt := parseDoc(t, p.body).text; !strings.Contains(txt, "expired") {
		t.Fatalf("late login code: %s", txt)
	}
}

// TestE2EVerifyAddressOnLogin: with require_verified_address, a password
// login of an unverified identity is refused on the login page (v1.3.1, in
// words), or continues on the verification page with the code sent
// (v25.4.0 and later: Kratos' continue_with hand-off, a redirect for
// browsers); the code verifies the address, and the login then succeeds.
func TestE2EVerifyAddressOnLogin(t *testing.T) {
	e, courier := startCodesE2E(t, func(o *kratostest.Options) { o.RequireVerifiedLogin = true })
	const password = "correct horse battery staple 42"
	email := kratostest.UniqueEmail("unverified")
	n := courier.Count()
	e.register(t, newBrowser(t), email, password, "")
	// The registration's own code (show_verification_ui) arrives first.
	courier.WaitFor(t, email, "verification_code", n, 15*time.Second)

	login := func(b *browser) page {
		p := b.get(e.app + "/login")
		e.flowPage(t, p, selfservice.Login)
		return b.submit(p, "method", "password", map[string]string{"identifier": email, "password": password})
	}
	b := newBrowser(t)
	n = courier.Count()
	p := login(b)
	if b.sessionCookie(e.k.PublicURL) != nil {
		if s, err := e.authenticate(b.sessionCookie(e.k.PublicURL)); err == nil && s != nil {
			t.Fatal("an unverified identity signed in")
		}
	}
	if !e.k.Version.VerifyAddressOnLogin {
		e.flowPage(t, p, selfservice.Login)
		if !strings.Contains(p.body, `data-message-id="4000010"`) {
			t.Fatalf("no 'verify your address' message on the login page: %s", parseDoc(t, p.body).text)
		}
		return
	}
	e.flowPage(t, p, selfservice.Verification)
	code := courier.WaitFor(t, email, "verification_code", n, 15*time.Second).Code()
	p = b.submit(p, "method", "code", map[string]string{"code": code})
	if !strings.Contains(p.body, `data-message-id="1080002"`) {
		t.Fatalf("code not accepted: %d %s: %s", p.status, p.url, parseDoc(t, p.body).text)
	}
	b = newBrowser(t)
	login(b)
	c := b.sessionCookie(e.k.PublicURL)
	if c == nil {
		t.Fatal("no session after the address was verified")
	}
	if _, err := e.authenticate(c); err != nil {
		t.Fatalf("session after verification: %v", err)
	}
}
