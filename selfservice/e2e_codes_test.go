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
	"github.com/kratosauth/kratosauth/internal/kratostest"
	"github.com/kratosauth/kratosauth/selfservice"
)

// startCodesE2E is startE2E with Kratos' courier delivering to a capture
// server: the tests read the real codes.
func startCodesE2E(t *testing.T) (*e2e, *kratostest.Courier) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := "http://" + ln.Addr().String()
	courier := kratostest.StartCourier(t)
	k := kratostest.Start(t, kratostest.Options{AppURL: app, CourierURL: courier.URL, AllMethods: true})
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
