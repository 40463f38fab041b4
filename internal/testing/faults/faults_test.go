package faults_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/internal/testing/faults"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

const (
	appURL  = "http://127.0.0.1:4455"
	timeout = 500 * time.Millisecond
)

// TestFaults puts the fault proxy between kratosauth and a real Kratos and
// checks, for every fault, what API clients and browsers see through
// kratoshttp.RequireSession, that nothing leaks, and that the next healthy
// request succeeds.
func TestFaults(t *testing.T) {
	srv := kratostest.Start(t, kratostest.Options{})
	token, _ := srv.RegisterAPI(t, kratostest.UniqueEmail("faults"), "faults-password-Qz7!x")
	_, cookie := srv.RegisterBrowser(t, kratostest.UniqueEmail("faults-browser"), "faults-password-Qz7!x")
	http.DefaultTransport.(*http.Transport).CloseIdleConnections() // kratostest's helper clients

	cases := []struct {
		fault       faults.Fault
		api, browse int // statuses seen by an API client and by a browser
	}{
		{faults.Refused, 503, 503},
		{faults.ResetMidBody, 503, 503},
		{faults.SlowHeaders, 503, 503},
		{faults.SlowBody, 503, 503},
		{faults.Status500, 503, 503},
		{faults.Status502, 503, 503},
		{faults.Status503, 503, 503},
		{faults.TooManyRequests, 503, 503},
		{faults.TruncatedJSON, 503, 503},
		{faults.Inactive, 401, 303},
		{faults.Expired, 401, 303},
		{faults.Redirect, 503, 503},
		{faults.Huge, 503, 503},
	}
	for _, tc := range cases {
		t.Run(tc.fault.String(), func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()

			// Where Redirect points: it must never see a request.
			var stolen atomic.Int64
			thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				stolen.Add(1)
				if r.Header.Get("Cookie") != "" || r.Header.Get("X-Session-Token") != "" {
					t.Errorf("the credential reached the redirect target: %v", r.Header)
				}
			}))
			proxy, err := faults.New(srv.PublicURL)
			if err != nil {
				t.Fatal(err)
			}
			proxy.RedirectTo = thief.URL + "/sessions/whoami"
			auth, err := kratosauth.New(proxy.URL,
				kratosauth.WithAppURL(appURL),
				kratosauth.WithTimeout(timeout),
				kratosauth.WithCacheTTL(0), // every request asks Kratos
				kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			app := httptest.NewServer(kratoshttp.RequireSession(auth)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				id, _ := kratoshttp.Identity(r.Context())
				io.WriteString(w, id.ID)
			})))
			tr := &http.Transport{}
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

			get := func(browser bool) *http.Response {
				t.Helper()
				req, _ := http.NewRequest(http.MethodGet, app.URL+"/private?p=1", nil)
				if browser {
					req.Header.Set("Accept", "text/html,*/*;q=0.8")
					req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
				} else {
					req.Header.Set("Accept", "application/json")
					req.Header.Set("X-Session-Token", token)
				}
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if took := time.Since(start); took > timeout+time.Second {
					t.Errorf("request took %v with a whoami timeout of %v", took, timeout)
				}
				return resp
			}
			healthy := func(when string) {
				t.Helper()
				for _, browser := range []bool{false, true} {
					if resp := get(browser); resp.StatusCode != http.StatusOK {
						t.Fatalf("%s, browser=%v: healthy Kratos answered %d", when, browser, resp.StatusCode)
					}
				}
			}

			healthy("before the fault")
			if err := proxy.Set(tc.fault); err != nil {
				t.Fatal(err)
			}
			for _, browser := range []bool{false, true} {
				resp := get(browser)
				want := tc.api
				if browser {
					want = tc.browse
				}
				if resp.StatusCode != want {
					t.Errorf("browser=%v: status %d, want %d", browser, resp.StatusCode, want)
				}
				switch {
				case resp.StatusCode == http.StatusSeeOther:
					loc := resp.Header.Get("Location")
					if !strings.HasPrefix(loc, proxy.URL+"/self-service/login/browser?return_to=http%3A%2F%2F127.0.0.1%3A4455%2Fprivate") {
						t.Errorf("redirect to %q", loc)
					}
				case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Location") != "":
					t.Errorf("an outage redirected to %q", resp.Header.Get("Location"))
				}
				if tc.fault == faults.TooManyRequests && resp.Header.Get("Retry-After") != "7" {
					t.Errorf("Retry-After %q, want Kratos' 7", resp.Header.Get("Retry-After"))
				}
			}
			if err := proxy.Set(faults.None); err != nil {
				t.Fatal(err)
			}
			healthy("after the fault")
			if n := stolen.Load(); n != 0 {
				t.Errorf("the redirect target got %d requests", n)
			}

			app.Close()
			tr.CloseIdleConnections()
			if err := auth.Close(); err != nil {
				t.Error(err)
			}
			if err := proxy.Close(); err != nil {
				t.Error(err)
			}
			thief.Close()
			goleak.VerifyNone(t, leaks)
		})
	}
}

// TestProxyRefusesWhileRefused checks the proxy itself: Refused really
// refuses connections, and None serves again on the same address.
func TestProxyRefusesWhileRefused(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	kratos := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "kratos") }))
	defer kratos.Close()
	p, err := faults.New(kratos.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	if err := p.Set(faults.Refused); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(p.URL); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("want connection refused, got %v", err)
	}
	if err := p.Set(faults.None); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "kratos" {
		t.Fatalf("got %q", b)
	}
}
