package kratosauth_test

// Benchmarks of the request path. Run them with
//
//	go test -run '^$' -bench . -benchmem -count 6 . | benchstat -
//
// (scripts/bench.sh does this). The pair BenchmarkBareHandler /
// BenchmarkRequireSessionCacheHit is the cost RequireSession adds to a
// request whose session is cached: same handler, same request (a browser
// request with a real-length Kratos cookie), same ResponseWriter.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// benchKratos is the benchmarks' Kratos: kratosauthtest's fake, whose
// session cookies have the length of Kratos' ory_kratos_session (428
// base64url characters, see kratosauthtest/recorded/session_cookie.meta.json).
// It keeps nothing per request but the last one, so it can serve millions.
func benchKratos(b *testing.B) *kratosauthtest.Server { return kratosauthtest.NewServer(b) }

// benchRequest is a browser request as it arrives from Kratos' login: the
// CSRF cookie first, then the session cookie of c.
func benchRequest(c kratosauthtest.Credentials) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/private", nil)
	r.Header.Set("Cookie", "csrf_token_82b1b3a6c1f8f4c1e1f3b2f5f0f4a5d6=Qb1xQ2G1hJ0O6t0oKc4ZQe0nq3fR9k3m7Xo2WvY1aBc=; "+c.Cookie.Name+"="+c.Cookie.Value)
	r.Header.Set("Accept", "text/html")
	return r
}

func benchAuth(b *testing.B, kratosURL string, opts ...kratosauth.Option) *kratosauth.Authenticator {
	a, err := kratosauth.New(kratosURL, append([]kratosauth.Option{kratosauth.WithAppURL("https://app.example.com")}, opts...)...)
	require.NoError(b, err)
	b.Cleanup(func() { _ = a.Close() })
	return a
}

// discardWriter is a ResponseWriter that allocates nothing per request, so
// the benchmarks count only what the handler chain allocates.
type discardWriter struct {
	h      http.Header
	status int
}

func newDiscardWriter() *discardWriter { return &discardWriter{h: http.Header{}} }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

var okBody = []byte("ok")

// appHandler is the handler under test in both benchmarks of the pair: it
// looks for a session (as handlers behind RequireSession do) and writes a
// short body.
var appHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if id, ok := kratoshttp.Identity(r.Context()); ok && id.ID == "" {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(okBody)
})

func serveLoop(b *testing.B, h http.Handler, r *http.Request) {
	w := newDiscardWriter()
	h.ServeHTTP(w, r) // warm: the first call fills the cache
	require.Contains(b, []int{0, http.StatusOK}, w.status)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

func BenchmarkBareHandler(b *testing.B) {
	serveLoop(b, appHandler, benchRequest(benchKratos(b).Login()))
}

func BenchmarkRequireSessionCacheHit(b *testing.B) {
	kratos := benchKratos(b)
	a := benchAuth(b, kratos.URL)
	serveLoop(b, kratoshttp.RequireSession(a)(appHandler), benchRequest(kratos.Login()))
	require.Equal(b, 1, kratos.Calls(), "whoami calls: every other request is a cache hit")
}

// The Parallel variants run on every core (GOMAXPROCS goroutines), each
// goroutine with its own session, as concurrent users are: ns/op falling
// with more cores, as for the bare handler, means no lock contention.
func BenchmarkBareHandlerParallel(b *testing.B) {
	parallelLoop(b, benchKratos(b), appHandler)
}

func BenchmarkRequireSessionCacheHitParallel(b *testing.B) {
	kratos := benchKratos(b)
	a := benchAuth(b, kratos.URL)
	parallelLoop(b, kratos, kratoshttp.RequireSession(a)(appHandler))
}

func parallelLoop(b *testing.B, kratos *kratosauthtest.Server, h http.Handler) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := benchRequest(kratos.Login())
		w := newDiscardWriter()
		h.ServeHTTP(w, r) // warm this goroutine's session
		for pb.Next() {
			h.ServeHTTP(w, r)
		}
		assert.Contains(b, []int{0, http.StatusOK}, w.status)
	})
}

// BenchmarkWhoamiRoundTrip is the floor of a cache miss: one GET
// /sessions/whoami over loopback with the session cookie, reading the
// body, with a keep-alive client; nothing else.
func BenchmarkWhoamiRoundTrip(b *testing.B) {
	kratos := benchKratos(b)
	c := kratos.Login()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.Cleanup(client.CloseIdleConnections)
	cookie := c.Cookie.Name + "=" + c.Cookie.Value
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() { // plain checks: testify's would be measured too
		req, _ := http.NewRequest(http.MethodGet, kratos.URL+"/sessions/whoami", nil)
		req.Header["Cookie"] = []string{cookie}
		req.Header["Accept"] = []string{"application/json"}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("whoami: %d", resp.StatusCode)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkWhoamiRoundTripDecode is the round trip plus decoding the body
// into a Session, which every middleware has to do with a whoami answer.
func BenchmarkWhoamiRoundTripDecode(b *testing.B) {
	kratos := benchKratos(b)
	c := kratos.Login()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.Cleanup(client.CloseIdleConnections)
	cookie := c.Cookie.Name + "=" + c.Cookie.Value
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() { // plain checks: testify's would be measured too
		req, _ := http.NewRequest(http.MethodGet, kratos.URL+"/sessions/whoami", nil)
		req.Header["Cookie"] = []string{cookie}
		req.Header["Accept"] = []string{"application/json"}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("whoami: %d", resp.StatusCode)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var s kratosauth.Session
		if err := json.Unmarshal(body, &s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequireSessionCacheMiss is RequireSession with the cache off:
// every request is a whoami round trip plus the library's work
// (credential extraction, singleflight, body cap, JSON decode, checks).
func BenchmarkRequireSessionCacheMiss(b *testing.B) {
	kratos := benchKratos(b)
	a := benchAuth(b, kratos.URL, kratosauth.WithCacheTTL(0))
	serveLoop(b, kratoshttp.RequireSession(a)(appHandler), benchRequest(kratos.Login()))
}
