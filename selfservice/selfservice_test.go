package selfservice_test

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/selfservice"
)

var recordedFlows = []struct {
	file string
	kind selfservice.Kind
}{
	{"login_flow", selfservice.Login},
	{"login_flow_error", selfservice.Login},
	{"registration_flow", selfservice.Registration},
	{"registration_flow_error", selfservice.Registration},
	{"settings_flow", selfservice.Settings},
	{"verification_flow", selfservice.Verification},
	{"recovery_flow", selfservice.Recovery},
}

// TestRenderRecordedFlows renders every recorded Kratos flow and checks that
// the page keeps every node: form action and method, the csrf_token with
// its exact value, inputs with labels, submit buttons with name and value,
// images, texts and messages.
func TestRenderRecordedFlows(t *testing.T) {
	for _, tc := range recordedFlows {
		t.Run(tc.file, func(t *testing.T) {
			body := readTestdata(t, tc.file)
			flow := decodeFlow(t, body)
			k := newFakeKratos(t)
			k.set("/self-service/"+string(tc.kind)+"/flows", http.StatusOK, body)
			ui, _ := newTestUI(t, k.URL)

			rec := serve(ui, http.MethodGet, "/"+string(tc.kind)+"?flow="+flow.ID, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if got := rec.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", got)
			}
			if q := k.lastRequest().URL.Query().Get("id"); q != flow.ID {
				t.Errorf("fetched id %q, want %q", q, flow.ID)
			}
			d := parseDoc(t, rec.Body.String())
			if len(d.forms) == 0 {
				t.Fatal("no form rendered")
			}
			for _, f := range d.forms {
				if f.action != flow.UI.Action || !strings.EqualFold(f.method, flow.UI.Method) {
					t.Errorf("form action/method %q %q, want %q %q", f.action, f.method, flow.UI.Action, flow.UI.Method)
				}
				csrf := 0
				for _, e := range f.elems {
					if e.attrs["name"] == "csrf_token" {
						csrf++
						if e.attrs["type"] != "hidden" || e.attrs["value"] != flow.CSRFToken() || flow.CSRFToken() == "" {
							t.Errorf("csrf_token input %v, want hidden with %q", e.attrs, flow.CSRFToken())
						}
					}
				}
				if csrf != 1 {
					t.Errorf("form has %d csrf_token inputs, want 1", csrf)
				}
			}
			for _, m := range flow.UI.Messages {
				if !strings.Contains(d.text, m.Text) {
					t.Errorf("form message %q not shown", m.Text)
				}
			}
			for _, n := range flow.UI.Nodes {
				checkNode(t, d, n)
			}
		})
	}
}

func checkNode(t *testing.T, d *doc, n selfservice.Node) {
	t.Helper()
	a := n.Attributes
	for _, m := range n.Messages {
		if !strings.Contains(d.text, m.Text) {
			t.Errorf("node %s: message %q not shown", a.Name, m.Text)
		}
	}
	switch n.Type {
	case "input":
		var found []elem
		for _, f := range d.forms {
			for _, e := range f.elems {
				if e.attrs["name"] == a.Name && (!n.IsSubmit() || e.attrs["value"] == a.StringValue()) {
					found = append(found, e)
				}
			}
		}
		if len(found) == 0 {
			t.Errorf("input node %s (%s) not rendered", a.Name, a.Type)
			return
		}
		e := found[0]
		switch {
		case n.IsSubmit():
			if e.tag != "button" || e.attrs["type"] != "submit" {
				t.Errorf("submit node %s=%s rendered as %v", a.Name, a.StringValue(), e)
			}
			if n.Label() != "" && !strings.Contains(d.text, n.Label()) {
				t.Errorf("button label %q not shown", n.Label())
			}
		case n.IsHidden():
			if e.attrs["value"] != a.StringValue() {
				t.Errorf("hidden %s value %q, want %q", a.Name, e.attrs["value"], a.StringValue())
			}
		default:
			if e.attrs["type"] != a.Type {
				t.Errorf("input %s type %q, want %q", a.Name, e.attrs["type"], a.Type)
			}
			if a.Required != e.has("required") {
				t.Errorf("input %s required=%v, want %v", a.Name, e.has("required"), a.Required)
			}
			if a.Type != "password" && a.HasValue() && e.attrs["value"] != a.StringValue() {
				t.Errorf("input %s value %q, want %q", a.Name, e.attrs["value"], a.StringValue())
			}
			if a.Type == "password" && e.has("value") {
				t.Errorf("password input %s carries a value", a.Name)
			}
			if a.Autocomplete != "" && e.attrs["autocomplete"] != a.Autocomplete {
				t.Errorf("input %s autocomplete %q, want %q", a.Name, e.attrs["autocomplete"], a.Autocomplete)
			}
			label, ok := d.labelFor(e.attrs["id"])
			if !ok || e.attrs["id"] == "" {
				t.Errorf("input %s has no <label for>", a.Name)
			} else if n.Label() != "" && label != n.Label() {
				t.Errorf("input %s label %q, want %q", a.Name, label, n.Label())
			}
		}
	case "img":
		imgs := d.find(func(h *htmlNode) bool { return h.Data == "img" && attrOf(h, "src") == a.Src })
		if len(imgs) == 0 {
			t.Errorf("img node %s not rendered with its src", a.ID)
		} else if attrOf(imgs[0], "alt") != n.Label() {
			t.Errorf("img alt %q, want %q", attrOf(imgs[0], "alt"), n.Label())
		}
	case "text":
		if a.Text == nil || !strings.Contains(d.text, a.Text.Text) {
			t.Errorf("text node %s not shown", a.ID)
		}
	case "a":
		if len(d.find(func(h *htmlNode) bool { return h.Data == "a" && attrOf(h, "href") == a.Href })) == 0 {
			t.Errorf("link node %s not rendered", a.ID)
		}
	}
}

func TestSettingsFlowFormsPerMethod(t *testing.T) {
	body := readTestdata(t, "settings_flow")
	flow := decodeFlow(t, body)
	forms, err := flow.Forms()
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, f := range forms {
		groups = append(groups, f.Group)
	}
	if got := strings.Join(groups, ","); got != "profile,password,totp" {
		t.Fatalf("forms %s, want profile,password,totp", got)
	}
	k := newFakeKratos(t)
	k.set("/self-service/settings/flows", http.StatusOK, body)
	ui, _ := newTestUI(t, k.URL)
	d := parseDoc(t, serve(ui, http.MethodGet, "/settings?flow="+flow.ID, nil).Body.String())
	// The TOTP form must submit totp_code and method=totp, and the password
	// form must not require the TOTP code (one form per method).
	v := d.formWith(t, "method", "totp").values("method", "totp", map[string]string{"totp_code": "123456"})
	if v.Get("totp_code") != "123456" || v.Get("csrf_token") != flow.CSRFToken() || v.Has("password") {
		t.Errorf("totp form submits %v", v)
	}
	v = d.formWith(t, "method", "password").values("method", "password", map[string]string{"password": "pw"})
	if v.Has("totp_code") || v.Get("password") != "pw" || v.Get("method") != "password" {
		t.Errorf("password form submits %v", v)
	}
	// The QR code is a data: URL that must survive html/template.
	if !strings.Contains(serve(ui, http.MethodGet, "/settings?flow="+flow.ID, nil).Body.String(), `src="data:image/png;base64,`) {
		t.Error("TOTP QR code data URL not rendered")
	}
}

func TestNoFlowRedirectsToBrowserFlow(t *testing.T) {
	k := newFakeKratos(t)
	ui, _ := newTestUI(t, k.URL)
	tests := []struct {
		target, want string
	}{
		{"/login", testBrowserURL + "/self-service/login/browser"},
		{"/login?return_to=/dashboard%3Fx%3D1&aal=aal2&refresh=true",
			testBrowserURL + "/self-service/login/browser?aal=aal2&refresh=true&return_to=" + url.QueryEscape(testAppURL+"/dashboard?x=1")},
		{"/login?return_to=https://evil.example/&aal=aal9&refresh=1", testBrowserURL + "/self-service/login/browser"},
		{"/registration?return_to=" + url.QueryEscape(testAppURL+"/welcome"),
			testBrowserURL + "/self-service/registration/browser?return_to=" + url.QueryEscape(testAppURL+"/welcome")},
		{"/registration?aal=aal2&refresh=true", testBrowserURL + "/self-service/registration/browser"},
		{"/settings", testBrowserURL + "/self-service/settings/browser"},
		{"/verification?return_to=//evil.example", testBrowserURL + "/self-service/verification/browser"},
		{"/recovery", testBrowserURL + "/self-service/recovery/browser"},
		{"/login?flow=", testBrowserURL + "/self-service/login/browser"},
	}
	for _, tc := range tests {
		rec := serve(ui, http.MethodGet, tc.target, map[string]string{"Host": "evil.example"})
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != tc.want {
			t.Errorf("GET %s: %d %q, want 303 %q", tc.target, rec.Code, rec.Header().Get("Location"), tc.want)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: redirect is cacheable", tc.target)
		}
	}
	if n := k.requests(); n != 0 {
		t.Errorf("%d calls to Kratos, want none", n)
	}
}

func TestExpiredOrUnknownFlowStartsFreshFlow(t *testing.T) {
	tests := []struct {
		name, file string
		status     int
		want       string
	}{
		{"expired 410", "error_expired", http.StatusGone,
			testBrowserURL + "/self-service/login/browser?return_to=" + url.QueryEscape("http://127.0.0.1:4455/dashboard")},
		{"unknown 404", "error_not_found", http.StatusNotFound, testBrowserURL + "/self-service/login/browser?return_to=" + url.QueryEscape(testAppURL+"/x")},
		{"csrf 403", "error_csrf", http.StatusForbidden, testBrowserURL + "/self-service/login/browser?return_to=" + url.QueryEscape(testAppURL+"/x")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKratos(t)
			k.set("/self-service/login/flows", tc.status, readTestdata(t, tc.file))
			// The recorded 410 names the recording's app URL as return_to.
			auth, err := kratosauth.New(k.URL, kratosauth.WithBrowserURL(testBrowserURL),
				kratosauth.WithAppURL(map[bool]string{true: "http://127.0.0.1:4455", false: testAppURL}[tc.status == http.StatusGone]),
				kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			defer auth.Close()
			ui, err := selfservice.New(auth)
			if err != nil {
				t.Fatal(err)
			}
			rec := serve(ui, http.MethodGet, "/login?flow=0b2d4b0e-6c39-4c57-9a7e-8d0f0a0c0b0a&return_to=/x", nil)
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != tc.want {
				t.Fatalf("%d %q, want 303 %q", rec.Code, rec.Header().Get("Location"), tc.want)
			}
		})
	}
}

func TestMalformedFlowIDStartsFreshFlowWithoutCallingKratos(t *testing.T) {
	k := newFakeKratos(t)
	ui, _ := newTestUI(t, k.URL)
	rec := serve(ui, http.MethodGet, "/login?flow=../../admin%26x", nil)
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), testBrowserURL+"/self-service/login/browser") {
		t.Fatalf("%d %q", rec.Code, rec.Header().Get("Location"))
	}
	if k.requests() != 0 {
		t.Error("malformed id sent to Kratos")
	}
}

// TestRestartLoopEnds: when fresh flows keep failing (Kratos' cookies never
// reach the app), the page ends on an error instead of looping.
func TestRestartLoopEnds(t *testing.T) {
	k := newFakeKratos(t)
	k.set("/self-service/login/flows", http.StatusForbidden, readTestdata(t, "error_csrf"))
	ui, _ := newTestUI(t, k.URL)
	srv := httptest.NewServer(ui)
	defer srv.Close()
	jar := newJar(t)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var last *http.Response
	for i := 0; i < 6; i++ {
		resp, err := c.Get(srv.URL + "/login?flow=0b2d4b0e-6c39-4c57-9a7e-8d0f0a0c0b0a")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		last = resp
		if resp.StatusCode != http.StatusSeeOther {
			break
		}
	}
	if last.StatusCode != http.StatusInternalServerError {
		t.Fatalf("after repeated failures: status %d, want the error page (500)", last.StatusCode)
	}
	// The counter is reset, so the next attempt redirects again.
	resp, err := c.Get(srv.URL + "/login?flow=0b2d4b0e-6c39-4c57-9a7e-8d0f0a0c0b0a")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after the error page: %d, want 303", resp.StatusCode)
	}
}

func TestKratosUnavailableShows503(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"500", 500, `{"error":{"code":500,"message":"db at 10.0.0.7:5432 is down","reason":"secret internal detail"}}`},
		{"502 html", 502, `<html>bad gateway</html>`},
		{"429", 429, `{}`},
		{"200 not json", 200, `not json`},
		{"200 no id", 200, `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKratos(t)
			k.set("/self-service/login/flows", tc.status, []byte(tc.body))
			ui, _ := newTestUI(t, k.URL)
			rec := serve(ui, http.MethodGet, "/login?flow=0b2d4b0e-6c39-4c57-9a7e-8d0f0a0c0b0a", nil)
			check503(t, rec)
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		k := newFakeKratos(t)
		k.Close()
		ui, _ := newTestUI(t, k.URL)
		for _, target := range []string{"/login?flow=0b2d4b0e-6c39-4c57-9a7e-8d0f0a0c0b0a", "/error?id=0b2d4b0e-6c39-4c57-9a7e-8d0f0a0c0b0a", "/logout"} {
			check503(t, serve(ui, http.MethodGet, target, nil))
		}
	})
	t.Run("timeout", func(t *testing.T) {
		block := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-block:
			case <-r.Context().Done():
			}
		}))
		defer slow.Close()
		defer close(block)
		// The pages use the Authenticator's timeout (kratosauth.WithTimeout).
		auth, err := kratosauth.New(slow.URL, kratosauth.WithTimeout(50*time.Millisecond), kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		defer auth.Close()
		ui, err := selfservice.New(auth)
		if err != nil {
			t.Fatal(err)
		}
		check503(t, serve(ui, http.MethodGet, "/login?flow=0b2d4b0e-6c39-4c57-9a7e-8d0f0a0c0b0a", nil))
	})
}

func check503(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d (Location %q), want 503", rec.Code, rec.Header().Get("Location"))
	}
	body := rec.Body.String()
	for _, leak := range []string{"10.0.0.7", "secret internal", "127.0.0.1", "connection refused", "deadline"} {
		if strings.Contains(body, leak) {
			t.Errorf("503 page leaks %q", leak)
		}
	}
	if !strings.Contains(body, "Service unavailable") {
		t.Errorf("503 page: %s", body)
	}
}

// TestOnlyCookiesForwarded: Kratos gets the browser's Kratos cookies and
// nothing else of the browser's request: no header, no other cookie.
func TestOnlyCookiesForwarded(t *testing.T) {
	body := readTestdata(t, "login_flow")
	flow := decodeFlow(t, body)
	k := newFakeKratos(t)
	k.set("/self-service/login/flows", http.StatusOK, body)
	ui, _ := newTestUI(t, k.URL)
	serve(ui, http.MethodGet, "/login?flow="+flow.ID, map[string]string{
		"Cookie":          "_ga=GA1.2.3; csrf_token_abc=tok; app_session=secret; ory_kratos_session=sess; ory_kratos_continuity=cont",
		"Authorization":   "Bearer app-secret",
		"X-Session-Token": "tok",
		"X-Forwarded-For": "1.2.3.4",
		"Referer":         testAppURL + "/private",
	})
	r := k.lastRequest()
	if got := r.Header.Get("Cookie"); got != "csrf_token_abc=tok; ory_kratos_session=sess; ory_kratos_continuity=cont" {
		t.Errorf("Cookie %q", got)
	}
	for _, h := range []string{"Authorization", "X-Session-Token", "X-Forwarded-For", "Referer"} {
		if r.Header.Get(h) != "" {
			t.Errorf("%s forwarded to Kratos", h)
		}
	}
	if r.Header.Get("Accept") != "application/json" {
		t.Errorf("Accept %q", r.Header.Get("Accept"))
	}
}

func TestSettingsWithoutSessionGoesToLogin(t *testing.T) {
	k := newFakeKratos(t)
	k.set("/self-service/settings/flows", http.StatusUnauthorized, readTestdata(t, "error_settings_no_session"))
	ui, _ := newTestUI(t, k.URL)
	rec := serve(ui, http.MethodGet, "/settings?flow=0b2d4b0e-6c39-4c57-9a7e-8d0f0a0c0b0a", nil)
	want := testBrowserURL + "/self-service/login/browser?return_to=" + url.QueryEscape(testAppURL+"/settings")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != want {
		t.Fatalf("%d %q, want 303 %q", rec.Code, rec.Header().Get("Location"), want)
	}
}

func TestKratosRedirects(t *testing.T) {
	tests := []struct {
		name, to, want string
	}{
		{"step-up on Kratos", testBrowserURL + "/self-service/login/browser?aal=aal2", testBrowserURL + "/self-service/login/browser?aal=aal2"},
		{"foreign origin ignored", "https://evil.example/self-service/login/browser", testBrowserURL + "/self-service/settings/browser"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKratos(t)
			k.set("/self-service/settings/flows", http.StatusForbidden,
				[]byte(`{"error":{"id":"session_aal2_required","code":403,"status":"Forbidden"},"redirect_browser_to":"`+tc.to+`"}`))
			ui, _ := newTestUI(t, k.URL)
			rec := serve(ui, http.MethodGet, "/settings?flow=0b2d4b0e-6c39-4c57-9a7e-8d0f0a0c0b0a", nil)
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != tc.want {
				t.Fatalf("%d %q, want 303 %q", rec.Code, rec.Header().Get("Location"), tc.want)
			}
		})
	}
}

func TestErrorPage(t *testing.T) {
	k := newFakeKratos(t)
	k.set("/self-service/errors", http.StatusOK, readTestdata(t, "error_container"))
	ui, _ := newTestUI(t, k.URL)
	rec := serve(ui, http.MethodGet, "/error?id=stub:500", nil)
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d", rec.Code)
	}
	if body := rec.Body.String(); strings.Contains(body, "stub error") || !strings.Contains(body, "Something went wrong") {
		t.Errorf("5xx error page shows Kratos' reason or no title: %s", body)
	}
	if got := k.lastRequest().URL.Query().Get("id"); got != "stub:500" {
		t.Errorf("fetched id %q", got)
	}

	k.set("/self-service/errors", http.StatusOK, []byte(`{"id":"x","error":{"id":"security_csrf_violation","code":403,"status":"Forbidden","reason":"r"}}`))
	rec = serve(ui, http.MethodGet, "/error?id=0b2d4b0e-6c39-4c57-9a7e-8d0f0a0c0b0a", nil)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "could not be verified") {
		t.Errorf("csrf error page: %d %s", rec.Code, rec.Body)
	}

	k.set("/self-service/errors", http.StatusNotFound, readTestdata(t, "error_container_not_found"))
	for _, target := range []string{"/error?id=0b2d4b0e-6c39-4c57-9a7e-8d0f0a0c0b0a", "/error"} {
		rec = serve(ui, http.MethodGet, target, nil)
		if rec.Code != http.StatusNotFound || rec.Header().Get("Location") != "" || !strings.Contains(rec.Body.String(), "Error not found") {
			t.Errorf("GET %s: %d %q", target, rec.Code, rec.Header().Get("Location"))
		}
	}
}

func TestLogout(t *testing.T) {
	k := newFakeKratos(t)
	k.set("/self-service/logout/browser", http.StatusOK, readTestdata(t, "logout_flow"))
	ui, auth := newTestUI(t, k.URL)
	user := k.Login()
	cookie := map[string]string{"Cookie": user.Cookie.Name + "=" + user.Cookie.Value}

	authenticate := func() {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Cookie", cookie["Cookie"])
		if _, err := auth.Authenticate(req); err != nil {
			t.Fatal(err)
		}
	}
	authenticate()
	authenticate()
	if k.Calls() != 1 {
		t.Fatalf("whoami called %d times, want 1 (cached)", k.Calls())
	}
	rec := serve(ui, http.MethodGet, "/logout?return_to=/bye", cookie)
	// logout_url is on the recorded Kratos (127.0.0.1:4433), not the
	// browser URL: the handler rebuilds it on the browser URL.
	want := testBrowserURL + "/self-service/logout?token=ory_lo_t0dZoRV8O0uJGb1ItqgMdYPouvz0hsLU"
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), strings.SplitN(want, "?", 2)[0]) ||
		!strings.Contains(rec.Header().Get("Location"), "token=ory_lo_") {
		t.Fatalf("%d %q, want 303 %q", rec.Code, rec.Header().Get("Location"), want)
	}
	if got := k.lastRequest().URL.Query().Get("return_to"); got != testAppURL+"/bye" {
		t.Errorf("return_to sent to Kratos %q", got)
	}
	authenticate()
	if k.Calls() != 2 {
		t.Errorf("whoami called %d times after logout, want 2 (cache evicted)", k.Calls())
	}

	k.set("/self-service/logout/browser", http.StatusUnauthorized, readTestdata(t, "error_no_session"))
	rec = serve(ui, http.MethodGet, "/logout", nil)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != testAppURL+"/" {
		t.Errorf("logout without session: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	if rec := serve(ui, http.MethodPut, "/logout", nil); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("PUT /logout: %d", rec.Code)
	}
}

func TestClient(t *testing.T) {
	k := newFakeKratos(t)
	k.set("/self-service/errors", http.StatusOK, readTestdata(t, "error_container"))
	k.set("/self-service/login/flows", http.StatusGone, readTestdata(t, "error_expired"))
	ui, _ := newTestUI(t, k.URL)
	c := ui.Client()
	ctx := context.Background()

	e, err := c.GetError(ctx, "stub:500")
	if err != nil || e.Error.Code != 500 || e.Error.Reason != "This is a stub error." {
		t.Errorf("GetError: %v %+v", err, e)
	}
	_, err = c.GetFlow(ctx, httptest.NewRequest("GET", "/", nil), selfservice.Login, "0b2d4b0e-6c39-4c57-9a7e-8d0f0a0c0b0a")
	var se *selfservice.Error
	if !errors.Is(err, selfservice.ErrFlowExpired) || !errors.As(err, &se) || se.Status != 410 ||
		se.Kratos.ID != "self_service_flow_expired" || se.ReturnTo != "http://127.0.0.1:4455/dashboard" {
		t.Errorf("GetFlow expired: %v %+v", err, se)
	}
	if _, err := c.GetFlow(ctx, nil, "nope", "x"); err == nil {
		t.Error("GetFlow with unknown kind: no error")
	}
}

// safeReturnToTests are SafeReturnTo cases for the app URL
// safeReturnToApp; they seed FuzzSafeReturnTo too.
var safeReturnToTests = []struct {
	in, want string // want "" = rejected
}{
	{"/dashboard", "https://app.example.com/base/dashboard"},
	{"/dashboard?tab=1&x=%2F", "https://app.example.com/base/dashboard?tab=1&x=%2F"},
	{"https://app.example.com/base", "https://app.example.com/base"},
	{"https://app.example.com/base/a/b?c=d", "https://app.example.com/base/a/b?c=d"},
	{"HTTPS://APP.example.com/base/x", "https://app.example.com/base/x"},
	{"https://app.example.com/base/x#frag", "https://app.example.com/base/x"},
	{"https://app.example.com:443/base/x", "https://app.example.com/base/x"}, // default port
	{"/", "https://app.example.com/base/"},
	{"", ""},
	{"//evil.example", ""},
	{"//evil.example/base", ""},
	{"///evil.example", ""},
	{"/\\evil.example", ""},
	{"\\\\evil.example", ""},
	{"https:evil.example", ""},
	{"https:/evil.example", ""},
	{"https:app.example.com/base", ""},
	{"http://app.example.com/base/x", ""},    // wrong scheme
	{"https://app.example.com:444/base", ""}, // wrong port
	{"https://app.example.com.evil.example/base", ""},
	{"https://evil.example/base", ""},
	{"https://user@app.example.com/base", ""},
	{"https://app.example.com@evil.example/base", ""},
	{"https://app.example.com/other", ""}, // outside the app's path
	{"https://app.example.com/basement", ""},
	{"https://app.example.com/base/../admin", ""},
	{"/../admin", ""},
	{"/%2e%2e/admin", ""},
	{"/x%5c..", ""},
	{"/x\r\nSet-Cookie: a=b", ""},
	{"/x\ty", ""},
	{"/x y", ""},
	{"/x\x00", ""},
	{"/x\x7f", ""},
	{"javascript:alert(1)", ""},
	{"data:text/html,hi", ""},
	{"relative/path", ""},
	{"?q=1", ""},
	{"/" + strings.Repeat("a", 3000), ""},
	{"/" + strings.Repeat("a", 2040), ""}, // short enough, but not once resolved
}

const safeReturnToApp = "https://app.example.com/base"

func TestSafeReturnTo(t *testing.T) {
	auth, err := kratosauth.New("http://kratos:4433", kratosauth.WithAppURL(safeReturnToApp))
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	c, err := selfservice.NewClient(auth)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range safeReturnToTests {
		got, ok := c.SafeReturnTo(tc.in)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("SafeReturnTo(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}

	// Without an app URL, nothing is accepted.
	bare, err := kratosauth.New("http://kratos:4433")
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	c, _ = selfservice.NewClient(bare)
	if got, ok := c.SafeReturnTo("/dashboard"); ok {
		t.Errorf("without app URL: %q accepted", got)
	}
}

func TestRoutingAndMethods(t *testing.T) {
	k := newFakeKratos(t)
	ui, _ := newTestUI(t, k.URL, selfservice.WithBasePath("/auth/"))
	if got := strings.Join(ui.Paths(), " "); got != "/auth/login /auth/registration /auth/settings /auth/verification /auth/recovery /auth/error /auth/logout" {
		t.Errorf("Paths %s", got)
	}
	if got := ui.URL("login"); got != testAppURL+"/auth/login" {
		t.Errorf("URL(login) %s", got)
	}
	for target, want := range map[string]int{
		"/auth/login":    http.StatusSeeOther,
		"/login":         http.StatusNotFound,
		"/auth/unknown":  http.StatusNotFound,
		"/auth/login/":   http.StatusNotFound,
		"/auth":          http.StatusNotFound,
		"/auth/recovery": http.StatusSeeOther,
	} {
		if rec := serve(ui, http.MethodGet, target, nil); rec.Code != want {
			t.Errorf("GET %s: %d, want %d", target, rec.Code, want)
		}
	}
	rec := serve(ui, http.MethodPost, "/auth/login", nil)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /auth/login: %d %q", rec.Code, rec.Header().Get("Allow"))
	}

	mux := http.NewServeMux()
	ui.Register(mux)
	if rec := serve(mux, http.MethodGet, "/auth/registration", nil); rec.Code != http.StatusSeeOther {
		t.Errorf("via ServeMux: %d", rec.Code)
	}
	if rec := serve(ui.FlowHandler(selfservice.Recovery), http.MethodGet, "/anything", nil); !strings.Contains(rec.Header().Get("Location"), "/self-service/recovery/browser") {
		t.Errorf("FlowHandler: %q", rec.Header().Get("Location"))
	}
}

func TestOptions(t *testing.T) {
	auth, err := kratosauth.New("http://kratos:4433")
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	bad := map[string]selfservice.Option{
		"base path without slash": selfservice.WithBasePath("auth"),
		"base path //":            selfservice.WithBasePath("//evil"),
		"nil templates":           selfservice.WithTemplates(nil),
		"templates without page":  selfservice.WithTemplates(template.Must(template.New("x").Parse("x"))),
		"empty site name":         selfservice.WithSiteName(" "),
		"nil option":              nil,
	}
	for name, opt := range bad {
		if _, err := selfservice.New(auth, opt); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := selfservice.New(nil); err == nil {
		t.Error("nil Authenticator: no error")
	}
}

func TestCustomTemplates(t *testing.T) {
	body := readTestdata(t, "login_flow")
	flow := decodeFlow(t, body)
	k := newFakeKratos(t)
	k.set("/self-service/login/flows", http.StatusOK, body)
	tmpl := template.Must(selfservice.DefaultTemplates().Parse(`{{define "header"}}<header id="custom">{{.SiteName}}</header>{{end}}`))
	ui, _ := newTestUI(t, k.URL, selfservice.WithTemplates(tmpl), selfservice.WithSiteName("Acme"))
	out := serve(ui, http.MethodGet, "/login?flow="+flow.ID, nil).Body.String()
	if !strings.Contains(out, `<header id="custom">Acme</header>`) || !strings.Contains(out, flow.CSRFToken()[:10]) {
		t.Errorf("custom header not used: %s", out)
	}
	// The defaults are not changed by the override.
	plain, _ := newTestUI(t, k.URL)
	if strings.Contains(serve(plain, http.MethodGet, "/login?flow="+flow.ID, nil).Body.String(), "custom") {
		t.Error("DefaultTemplates returned the shared set")
	}

	broken := template.Must(template.New("page").Parse(`{{.Nope}}`))
	ui, _ = newTestUI(t, k.URL, selfservice.WithTemplates(broken))
	rec := serve(ui, http.MethodGet, "/login?flow="+flow.ID, nil)
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "Nope") {
		t.Errorf("broken template: %d %s", rec.Code, rec.Body)
	}
}

func TestHostileNodeValuesAreEscaped(t *testing.T) {
	body := []byte(`{"id":"0b2d4b0e-6c39-4c57-9a7e-8d0f0a0c0b0a","type":"browser","ui":{"action":"http://127.0.0.1:4433/self-service/login?flow=1","method":"POST",
	"messages":[{"id":1,"text":"<script>alert(1)</script>","type":"error"}],
	"nodes":[
	 {"type":"input","group":"default","attributes":{"name":"csrf_token","type":"hidden","value":"\"><script>x</script>","node_type":"input"},"messages":[],"meta":{}},
	 {"type":"input","group":"default","attributes":{"name":"traits.n","type":"number","value":42,"node_type":"input"},"messages":[],"meta":{"label":{"id":1,"text":"N","type":"info"}}},
	 {"type":"input","group":"default","attributes":{"name":"traits.ok","type":"checkbox","value":true,"node_type":"input"},"messages":[],"meta":{"label":{"id":1,"text":"OK","type":"info"}}},
	 {"type":"img","group":"totp","attributes":{"src":"javascript:alert(1)","id":"i","node_type":"img"},"messages":[],"meta":{}},
	 {"type":"a","group":"totp","attributes":{"href":"javascript:alert(1)","id":"a","title":{"id":1,"text":"go","type":"info"},"node_type":"a"},"messages":[],"meta":{}},
	 {"type":"script","group":"totp","attributes":{"src":"https://evil.example/x.js","id":"s","node_type":"script"},"messages":[],"meta":{}}
	]}}`)
	k := newFakeKratos(t)
	k.set("/self-service/login/flows", http.StatusOK, body)
	ui, _ := newTestUI(t, k.URL)
	out := serve(ui, http.MethodGet, "/login?flow=0b2d4b0e-6c39-4c57-9a7e-8d0f0a0c0b0a", nil).Body.String()
	for _, bad := range []string{"<script", "javascript:", "evil.example"} {
		if strings.Contains(out, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	d := parseDoc(t, out)
	v := d.forms[0].values("", "", nil)
	if v.Get("csrf_token") != `"><script>x</script>` || v.Get("traits.n") != "42" || v.Get("traits.ok") != "true" {
		t.Errorf("form values %v", v)
	}
}
