package selfservice_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
	"github.com/kratosauth/kratosauth/selfservice"
)

// e2e is a real Kratos plus an app serving the self-service pages, a home
// page at "/" and a catch-all that echoes the path.
type e2e struct {
	k    *kratostest.Server
	app  string // app base URL
	auth *kratosauth.Authenticator
	ui   *selfservice.Handler
}

// startE2E starts Kratos (skipped when the binary is missing, unless
// KRATOSAUTH_E2E=1) with its ui_urls pointing at a fresh app server.
func startE2E(t *testing.T) *e2e {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := "http://" + ln.Addr().String()
	k := kratostest.Start(t, kratostest.Options{AppURL: app}) // skips without the binary
	auth, err := kratosauth.New(k.PublicURL, kratosauth.WithAppURL(app), kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	ui, err := selfservice.New(auth, selfservice.WithSiteName("E2E"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "app page "+r.URL.Path)
	})
	srv := httptest.NewUnstartedServer(mux)
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return &e2e{k: k, app: app, auth: auth, ui: ui}
}

// browser is a cookie-keeping client that, like a browser, follows
// redirects and asks for HTML. Kratos and the app share the host
// 127.0.0.1, so they share cookies as they would share a domain.
type browser struct {
	t      *testing.T
	c      *http.Client
	follow bool
}

func newBrowser(t *testing.T) *browser {
	return &browser{t: t, c: &http.Client{Jar: newJar(t), Timeout: 30 * time.Second}}
}

// noFollow returns a browser with the same cookies that stops at redirects.
func (b *browser) noFollow() *browser {
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: b.t, c: &c}
}

type page struct {
	status int
	url    *url.URL
	header http.Header
	body   string
}

func (b *browser) do(method, u string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{resp.StatusCode, resp.Request.URL, resp.Header, string(out)}
}

func (b *browser) get(u string) page { return b.do(http.MethodGet, u, nil) }

// submit fills and posts the form that has the submit button name=value,
// the way a browser would: to the form's action, with its method.
func (b *browser) submit(p page, button, value string, fill map[string]string) page {
	b.t.Helper()
	d := parseDoc(b.t, p.body)
	f := d.formWith(b.t, button, value)
	return b.do(strings.ToUpper(f.method), f.action, f.values(button, value, fill))
}

// sessionCookie returns the browser's ory_kratos_session cookie for Kratos.
func (b *browser) sessionCookie(kratosURL string) *http.Cookie {
	u, _ := url.Parse(kratosURL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == kratostest.SessionCookieName {
			return c
		}
	}
	return nil
}

// flowPage checks that p is the rendered page of a flow of kind and
// returns the flow id.
func (e *e2e) flowPage(t *testing.T, p page, kind selfservice.Kind) string {
	t.Helper()
	if p.status != http.StatusOK || p.url.Path != "/"+string(kind) || p.url.Query().Get("flow") == "" {
		t.Fatalf("want the %s page, got %d at %s: %.300s", kind, p.status, p.url, p.body)
	}
	if !strings.HasPrefix(p.url.String(), e.app) {
		t.Fatalf("page %s not on the app", p.url)
	}
	checkE2EHeaders(t, p.header, e.k.PublicURL)
	d := parseDoc(t, p.body)
	if len(d.forms) == 0 {
		t.Fatalf("%s page has no form: %s", kind, d.text)
	}
	for _, f := range d.forms {
		if !strings.HasPrefix(f.action, e.k.PublicURL+"/self-service/"+string(kind)+"?flow=") {
			t.Errorf("form action %q does not post to Kratos' flow", f.action)
		}
		if f.values("", "", nil).Get("csrf_token") == "" {
			t.Errorf("%s form without csrf_token", kind)
		}
	}
	return p.url.Query().Get("flow")
}

func (e *e2e) authenticate(c *http.Cookie) (*kratosauth.Session, error) {
	req := httptest.NewRequest(http.MethodGet, e.app+"/", nil)
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	return e.auth.Authenticate(req)
}

// register signs up a new identity through the rendered registration
// pages (profile step, then password step).
func (e *e2e) register(t *testing.T, b *browser, email, password, returnTo string) page {
	t.Helper()
	u := e.app + "/registration"
	if returnTo != "" {
		u += "?return_to=" + url.QueryEscape(returnTo)
	}
	p := b.get(u)
	e.flowPage(t, p, selfservice.Registration)
	p = b.submit(p, "method", "profile", map[string]string{"traits.email": email})
	e.flowPage(t, p, selfservice.Registration)
	return b.submit(p, "method", "password", map[string]string{"password": password})
}

func TestE2E(t *testing.T) {
	e := startE2E(t)
	ctx := context.Background()
	const password = "correct horse battery staple 42"

	t.Run("every browser flow renders", func(t *testing.T) {
		for _, kind := range []selfservice.Kind{selfservice.Login, selfservice.Registration, selfservice.Verification, selfservice.Recovery} {
			b := newBrowser(t)
			// The first stop is Kratos' browser endpoint, with return_to.
			first := b.noFollow().get(e.app + "/" + string(kind) + "?return_to=/next")
			want := e.k.PublicURL + "/self-service/" + string(kind) + "/browser?return_to=" + url.QueryEscape(e.app+"/next")
			if first.status != http.StatusSeeOther || first.header.Get("Location") != want {
				t.Fatalf("%s: %d %q, want 303 %q", kind, first.status, first.header.Get("Location"), want)
			}
			p := b.get(e.app + "/" + string(kind) + "?return_to=/next")
			id := e.flowPage(t, p, kind)
			// The flow was fetched with the browser's cookies (else 403).
			f, err := e.ui.Client().GetFlow(ctx, cookieRequest(b, e.k.PublicURL), kind, id)
			if err != nil {
				t.Fatalf("%s: GetFlow with the browser's cookies: %v", kind, err)
			}
			if f.ReturnTo != e.app+"/next" || f.ID != id {
				t.Errorf("%s: flow %s return_to %q", kind, f.ID, f.ReturnTo)
			}
			// Without them Kratos refuses: a fresh flow is the answer.
			if _, err := e.ui.Client().GetFlow(ctx, httptest.NewRequest("GET", "/", nil), kind, id); !errors.Is(err, selfservice.ErrFlowExpired) {
				t.Errorf("%s: GetFlow without cookies: %v, want ErrFlowExpired", kind, err)
			}
		}
	})

	t.Run("unknown or foreign flow id starts a fresh flow", func(t *testing.T) {
		b := newBrowser(t)
		r := b.noFollow().get(e.app + "/login?flow=6f1c1c52-3f0e-4c4b-9a51-000000000000")
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), e.k.PublicURL+"/self-service/login/browser") {
			t.Fatalf("unknown id: %d %q", r.status, r.header.Get("Location"))
		}
		p := b.get(e.app + "/login?flow=6f1c1c52-3f0e-4c4b-9a51-000000000000")
		first := e.flowPage(t, p, selfservice.Login)

		// Another browser (no CSRF cookie) opening this flow gets its own.
		other := newBrowser(t)
		p = other.get(e.app + "/login?flow=" + first)
		if id := e.flowPage(t, p, selfservice.Login); id == first {
			t.Error("another browser was shown the first browser's flow")
		}
	})

	email := kratostest.UniqueEmail("ss-reg")
	var regBrowser *browser
	t.Run("registration through the rendered form", func(t *testing.T) {
		b := newBrowser(t)
		p := e.register(t, b, email, password, "/welcome")
		if p.status != http.StatusOK || p.url.String() != e.app+"/welcome" {
			t.Fatalf("after registration: %d at %s: %.300s", p.status, p.url, p.body)
		}
		c := b.sessionCookie(e.k.PublicURL)
		if c == nil {
			t.Fatal("no ory_kratos_session cookie after registration")
		}
		s, err := e.authenticate(c)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		if tr, _ := kratosauth.Traits[map[string]string](s); tr["email"] != email {
			t.Errorf("session traits %v", tr)
		}
		regBrowser = b
	})

	t.Run("registration errors are shown", func(t *testing.T) {
		b := newBrowser(t)
		p := b.get(e.app + "/registration")
		p = b.submit(p, "method", "profile", map[string]string{"traits.email": kratostest.UniqueEmail("ss-short")})
		p = b.submit(p, "method", "password", map[string]string{"password": "short"})
		e.flowPage(t, p, selfservice.Registration)
		if !strings.Contains(parseDoc(t, p.body).text, "at least 8 characters") {
			t.Errorf("no password message: %s", parseDoc(t, p.body).text)
		}
	})

	t.Run("login through the rendered form", func(t *testing.T) {
		b := newBrowser(t)
		p := b.get(e.app + "/login?return_to=/after-login")
		e.flowPage(t, p, selfservice.Login)
		bad := b.submit(p, "method", "password", map[string]string{"identifier": email, "password": "wrong password 123"})
		e.flowPage(t, bad, selfservice.Login)
		if !strings.Contains(bad.body, "The provided credentials are invalid") {
			t.Fatalf("wrong password: no message: %s", parseDoc(t, bad.body).text)
		}
		p = b.submit(bad, "method", "password", map[string]string{"identifier": email, "password": password})
		if p.status != http.StatusOK || p.url.String() != e.app+"/after-login" {
			t.Fatalf("after login: %d at %s: %.300s", p.status, p.url, p.body)
		}
		if _, err := e.authenticate(b.sessionCookie(e.k.PublicURL)); err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
	})

	t.Run("settings without a session goes to login", func(t *testing.T) {
		b := newBrowser(t)
		p := b.get(e.app + "/settings")
		e.flowPage(t, p, selfservice.Login)
	})

	t.Run("settings: password change and TOTP through the rendered forms", func(t *testing.T) {
		if regBrowser == nil {
			t.Skip("registration failed")
		}
		b := regBrowser
		p := b.get(e.app + "/settings")
		e.flowPage(t, p, selfservice.Settings)
		p = b.submit(p, "method", "password", map[string]string{"password": password + "!"})
		e.flowPage(t, p, selfservice.Settings)
		if !strings.Contains(p.body, "Your changes have been saved") {
			t.Fatalf("password change: %s", parseDoc(t, p.body).text)
		}

		d := parseDoc(t, p.body)
		secrets := d.find(func(n *htmlNode) bool { return n.Data == "code" && attrOf(n, "class") == "ks-secret" })
		if len(secrets) != 1 || secrets[0].FirstChild == nil {
			t.Fatal("no TOTP secret on the settings page")
		}
		if len(d.find(func(n *htmlNode) bool {
			return n.Data == "img" && strings.HasPrefix(attrOf(n, "src"), "data:image/png;base64,")
		})) != 1 {
			t.Error("no TOTP QR code image")
		}
		secret := secrets[0].FirstChild.Data
		p = b.submit(p, "method", "totp", map[string]string{"totp_code": kratostest.TOTPCode(secret, time.Now())})
		if !strings.Contains(p.body, "Your changes have been saved") {
			t.Fatalf("TOTP enrollment: %s", parseDoc(t, p.body).text)
		}

		// Enrolling TOTP made this session aal2. A new browser signs in with
		// the (new) password, then steps up with the TOTP code, all through
		// the rendered pages.
		b = newBrowser(t)
		p = b.get(e.app + "/login")
		p = b.submit(p, "method", "password", map[string]string{"identifier": email, "password": password + "!"})
		if p.url.String() != e.app+"/" {
			t.Fatalf("password login: %d at %s: %s", p.status, p.url, parseDoc(t, p.body).text)
		}
		p = b.get(e.app + "/login?aal=aal2&return_to=/secure")
		e.flowPage(t, p, selfservice.Login)
		if !strings.Contains(p.body, "Second factor") {
			t.Errorf("aal2 login page title: %s", parseDoc(t, p.body).text)
		}
		p = b.submit(p, "method", "totp", map[string]string{"totp_code": kratostest.TOTPCode(secret, time.Now())})
		if p.url.String() != e.app+"/secure" {
			t.Fatalf("after aal2 login: %d at %s: %s", p.status, p.url, parseDoc(t, p.body).text)
		}
		s, err := e.authenticate(b.sessionCookie(e.k.PublicURL))
		if err != nil || s.AuthenticatorAssuranceLevel != kratosauth.AAL2 {
			t.Fatalf("after aal2 login: %v %+v", err, s)
		}
	})

	t.Run("recovery and verification forms submit", func(t *testing.T) {
		for _, kind := range []selfservice.Kind{selfservice.Recovery, selfservice.Verification} {
			b := newBrowser(t)
			p := b.get(e.app + "/" + string(kind))
			e.flowPage(t, p, kind)
			p = b.submit(p, "method", "code", map[string]string{"email": email})
			e.flowPage(t, p, kind)
			if !strings.Contains(p.body, `name="code"`) {
				t.Errorf("%s: no code input after sending the email: %s", kind, parseDoc(t, p.body).text)
			}
		}
	})

	t.Run("logout evicts the cached session", func(t *testing.T) {
		b := newBrowser(t)
		p := e.register(t, b, kratostest.UniqueEmail("ss-logout"), password, "")
		if p.status != http.StatusOK {
			t.Fatalf("registration: %d at %s", p.status, p.url)
		}
		c := b.sessionCookie(e.k.PublicURL)
		if _, err := e.authenticate(c); err != nil { // now cached
			t.Fatal(err)
		}
		r := b.noFollow().get(e.app + "/logout")
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), e.k.PublicURL+"/self-service/logout?token=") {
			t.Fatalf("logout: %d %q", r.status, r.header.Get("Location"))
		}
		p = b.get(r.header.Get("Location"))
		if p.url.String() != e.app+"/" {
			t.Errorf("after logout at %s", p.url)
		}
		if _, err := e.authenticate(c); !errors.Is(err, kratosauth.ErrInvalidSession) {
			t.Fatalf("old session after logout: %v, want ErrInvalidSession", err)
		}
		// Without a session: home.
		r = b.noFollow().get(e.app + "/logout")
		if r.status != http.StatusSeeOther || r.header.Get("Location") != e.app+"/" {
			t.Errorf("logout without session: %d %q", r.status, r.header.Get("Location"))
		}
	})

	t.Run("errors endpoint", func(t *testing.T) {
		b := newBrowser(t)
		p := b.get(e.app + "/error?id=stub:500")
		if p.status != http.StatusInternalServerError || !strings.Contains(p.body, "Something went wrong") {
			t.Errorf("stub:500: %d %s", p.status, p.body)
		}
		p = b.get(e.app + "/error?id=6f1c1c52-3f0e-4c4b-9a51-000000000000")
		if p.status != http.StatusNotFound {
			t.Errorf("unknown error id: %d", p.status)
		}
		// A real error: Kratos refuses a foreign return_to and sends the
		// browser to the error page.
		p = b.get(e.k.PublicURL + "/self-service/login/browser?return_to=https://evil.example/")
		if p.url.Path != "/error" || p.status != http.StatusBadRequest || !strings.Contains(p.body, "Invalid return address") {
			t.Errorf("forbidden return_to: %d at %s: %s", p.status, p.url, parseDoc(t, p.body).text)
		}
		ec, err := e.ui.Client().GetError(ctx, p.url.Query().Get("id"))
		if err != nil || ec.Error.ID != "self_service_flow_return_to_forbidden" {
			t.Errorf("GetError: %v %+v", err, ec)
		}
	})

	t.Run("Kratos down shows 503", func(t *testing.T) {
		b := newBrowser(t)
		p := b.get(e.app + "/login")
		id := e.flowPage(t, p, selfservice.Login)
		e.k.Stop()
		defer e.k.Restart(t)
		r := b.noFollow().get(e.app + "/login?flow=" + id)
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("Kratos down: %d %q", r.status, r.header.Get("Location"))
		}
		checkE2EHeaders(t, r.header, e.k.PublicURL)
	})
}

// checkE2EHeaders checks a page's CSP lets forms post to the real
// Kratos (and the app) and that flow ids stay out of Referer headers.
func checkE2EHeaders(t *testing.T, h http.Header, kratos string) {
	t.Helper()
	csp := parseCSP(t, h.Get("Content-Security-Policy"))
	if got := strings.Join(csp["form-action"], " "); got != "'self' "+kratos || strings.Join(csp["default-src"], " ") != "'none'" {
		t.Errorf("CSP %q", h.Get("Content-Security-Policy"))
	}
	if h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy %q", h.Get("Referrer-Policy"))
	}
}

// cookieRequest is an app request carrying the browser's cookies.
func cookieRequest(b *browser, base string) *http.Request {
	u, _ := url.Parse(base)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range b.c.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	return req
}

// TestE2EExpiredFlow uses a Kratos whose login flows expire after two
// seconds: an expired flow's page starts a fresh flow with the same
// return_to.
func TestE2EExpiredFlow(t *testing.T) {
	t.Setenv("SELFSERVICE_FLOWS_LOGIN_LIFESPAN", "2s") // read by the Kratos process
	e := startE2E(t)
	b := newBrowser(t)
	p := b.get(e.app + "/login?return_to=/back")
	old := e.flowPage(t, p, selfservice.Login)
	time.Sleep(2500 * time.Millisecond)
	r := b.noFollow().get(e.app + "/login?flow=" + old)
	want := e.k.PublicURL + "/self-service/login/browser?return_to=" + url.QueryEscape(e.app+"/back")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != want {
		t.Fatalf("expired flow: %d %q, want 303 %q", r.status, r.header.Get("Location"), want)
	}
	p = b.get(e.app + "/login?flow=" + old)
	if id := e.flowPage(t, p, selfservice.Login); id == old {
		t.Error("expired flow shown again")
	}
}
