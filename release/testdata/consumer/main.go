// Command consumer is what a user of kratosauth writes after
//
//	go get github.com/kratosauth/kratosauth@VERSION github.com/kratosauth/kratosauth/adapters/gin@VERSION \
//		github.com/kratosauth/kratosauth/otelkratosauth@VERSION github.com/kratosauth/kratosauth/cache/redis@VERSION
//	go get github.com/kratosauth/kratosauth/jwtverify@VERSION
//
// TestInstall builds it in a fresh module, outside this repository, from
// module zips served by a local module proxy. It sends one request with a
// session and one without through each adapter (net/http, chi, gin) to a
// fake Kratos whoami, and exits non-zero unless they get 200 and 401 and
// otelkratosauth's metrics counted them, and through an Authenticator
// whose cache is a Redis store with no Redis running (a Redis outage is not
// the app's); then the same for a downstream service's token check (jwt.go).
package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/kratosauth/kratosauth"
	kratoschi "github.com/kratosauth/kratosauth/adapters/chi"
	kratosgin "github.com/kratosauth/kratosauth/adapters/gin"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	rediscache "github.com/kratosauth/kratosauth/cache/redis"
	"github.com/kratosauth/kratosauth/otelkratosauth"
)

const (
	token      = "ory_st_consumer0123456789abcdef0123"
	identityID = "9f425a8d-7efc-4768-8f23-7647a74fdf13"
)

// whoami answers like Kratos v1.3.1: the session for the one token it knows,
// 401 for anything else.
func whoami(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path != "/sessions/whoami" || r.Header.Get("X-Session-Token") != token {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"code":401,"status":"Unauthorized","reason":"No valid session credentials found in the request.","message":"The request could not be authorized"}}`)
		return
	}
	now := time.Now().UTC()
	fmt.Fprintf(w, `{"id":"0b5c0a4e-3f7c-4b8e-9a53-2f8f3a0c7d11","active":true,"expires_at":%q,"authenticated_at":%q,`+
		`"issued_at":%q,"authenticator_assurance_level":"aal1","identity":{"id":%q,"schema_id":"default","state":"active","traits":{"email":"ada@example.com"}}}`,
		now.Add(time.Hour).Format(time.RFC3339), now.Format(time.RFC3339), now.Format(time.RFC3339), identityID)
}

func main() {
	kratos := httptest.NewServer(http.HandlerFunc(whoami))
	defer kratos.Close()

	reader := sdkmetric.NewManualReader()
	obs, err := otelkratosauth.NewObserver(otelkratosauth.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		fail("otelkratosauth.NewObserver: %v", err)
	}
	auth, err := kratosauth.New(kratos.URL, kratosauth.WithCacheTTL(0), kratosauth.WithObserver(obs))
	if err != nil {
		fail("kratosauth.New: %v", err)
	}
	defer auth.Close()

	hello := func(w http.ResponseWriter, r *http.Request) {
		id, ok := kratosauth.IdentityFromContext(r.Context())
		if !ok {
			http.Error(w, "no identity in the context", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, id.ID)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /me", kratoshttp.RequireSession(auth)(http.HandlerFunc(hello)))

	router := chi.NewRouter()
	kratoschi.Protected(router, auth, func(r chi.Router) { r.Get("/me", hello) })

	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	engine.GET("/me", kratosgin.RequireSession(auth), func(c *gin.Context) {
		id, ok := kratosgin.Identity(c)
		if !ok {
			c.String(http.StatusInternalServerError, "no identity in the gin context")
			return
		}
		c.String(http.StatusOK, id.ID)
	})

	store, err := rediscache.New("redis://127.0.0.1:1/0") // nothing listens there
	if err != nil {
		fail("rediscache.New: %v", err)
	}
	defer store.Close()
	shared, err := kratosauth.New(kratos.URL, kratosauth.WithCache(store))
	if err != nil {
		fail("kratosauth.New with the Redis store: %v", err)
	}
	defer shared.Close()
	redisMux := http.NewServeMux()
	redisMux.Handle("GET /me", kratoshttp.RequireSession(shared)(http.HandlerFunc(hello)))

	for _, a := range []struct {
		name string
		h    http.Handler
	}{{"net/http", mux}, {"chi", router}, {"gin", engine}, {"redis store, Redis down", redisMux}} {
		with := serve(a.h, token)
		without := serve(a.h, "")
		if with.Code != http.StatusOK || with.Body.String() != identityID {
			fail("%s with a session: %d %q, want 200 %q", a.name, with.Code, with.Body.String(), identityID)
		}
		if without.Code != http.StatusUnauthorized || !strings.Contains(without.Body.String(), `"code":401`) {
			fail("%s without a session: %d %q, want a 401 JSON error", a.name, without.Code, without.Body.String())
		}
		fmt.Printf("%s: 200 with a session, 401 without\n", a.name)
	}
	checkJWT()
	checkRPC(kratos.URL)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		fail("collecting metrics: %v", err)
	}
	var checks int64
	var calls uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if m.Name == "kratosauth.session.checks" {
					for _, dp := range d.DataPoints {
						checks += dp.Value
					}
				}
			case metricdata.Histogram[float64]:
				if m.Name == "kratosauth.whoami.duration" {
					for _, dp := range d.DataPoints {
						calls += dp.Count
					}
				}
			}
		}
	}
	fmt.Printf("otelkratosauth: %d session checks counted, %d whoami calls timed\n", checks, calls)

	// The versions this binary was built from, for the test to check that
	// they came from the proxy and not from a replacement.
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fail("no build info")
	}
	for _, d := range info.Deps {
		if strings.HasPrefix(d.Path, "github.com/kratosauth/") {
			replaced := ""
			if d.Replace != nil {
				replaced = " => " + d.Replace.Path + " " + d.Replace.Version
			}
			fmt.Printf("dep %s %s%s\n", d.Path, d.Version, replaced)
		}
	}
}

func serve(h http.Handler, tok string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/me", nil)
	req.Header.Set("Accept", "application/json")
	if tok != "" {
		req.Header.Set("X-Session-Token", tok)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "consumer: "+format+"\n", args...)
	os.Exit(1)
}
