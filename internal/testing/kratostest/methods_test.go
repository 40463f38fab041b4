package kratostest

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAllMethods: a Kratos with every method, its courier delivering to a
// capture server and Hydra as its social sign-in provider, starts; its
// flows offer each method, and a recovery code arrives at the courier.
func TestAllMethods(t *testing.T) {
	courier := StartCourier(t)
	hydra := StartHydra(t, "localhost")
	pub := freePort(t)
	id, secret := hydra.CreateClient(t, CallbackURL("http://localhost:"+itoa(pub), "hydra"))
	s := Start(t, Options{
		PublicPort: pub, Host: "localhost", AppURL: "http://localhost:4455",
		CourierURL: courier.URL, AllMethods: true,
		OIDC: &OIDCProvider{ID: "hydra", Label: "Hydra", IssuerURL: hydra.IssuerURL, ClientID: id, ClientSecret: secret},
	})
	if s.BrowserURL != "http://localhost:"+itoa(pub) {
		t.Errorf("BrowserURL %s", s.BrowserURL)
	}
	email := UniqueEmail("methods")
	jar, _ := s.RegisterBrowser(t, email, testPassword)
	c := noRedirect(jar)
	groups := func(path string) map[string]bool {
		cl := noRedirect(nil)
		if strings.Contains(path, "settings") {
			cl = c
		}
		f := s.getFlow(t, cl, path, nil)
		g := map[string]bool{}
		for _, n := range f.UI.Nodes {
			g[n.Group] = true
		}
		return g
	}
	for _, want := range []string{"password", "code", "passkey", "oidc"} {
		if g := groups("/self-service/login/browser"); !g[want] {
			t.Errorf("login flow has no %s group: %v", want, g)
		}
	}
	g := groups("/self-service/settings/browser")
	for _, want := range []string{"password", "totp", "lookup_secret", "webauthn", "passkey", "oidc"} {
		if !g[want] {
			t.Errorf("settings flow has no %s group: %v", want, g)
		}
	}

	n := courier.Count()
	f := s.getFlow(t, noRedirect(nil), "/self-service/recovery/api", nil)
	resp, body := do(t, noRedirect(nil), http.MethodPost, f.UI.Action, map[string]any{"method": "code", "email": email}, nil)
	expect(t, resp, body, http.StatusOK)
	m := courier.WaitFor(t, email, "recovery_code", n, 20*time.Second)
	if code := m.Code(); len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		t.Errorf("recovery code %q in %+v", code, m)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
