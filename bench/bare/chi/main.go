//go:build ignore

// Command chi is bench/bare for examples/chi: the example app with nothing
// changed but GET /api/me, served without RequireSession, writing the
// example's JSON for the fixed session given by -me. Same chi router,
// global middleware (middleware.Recoverer), route groups, self-service
// mount, other routes, http.Server settings, and the same otelhttp handler
// around the router with no-op providers, as the example runs without
// METRICS or TRACES (-otelhttp=false leaves it out, to show its own cost).
//
// The build constraint keeps it out of the root module, which must not
// require OpenTelemetry (scripts/test.sh checks): scripts/bench.sh builds
// it as a file, in the workspace (go.work), which has otelhttp through
// examples/chi at the example's version:
//
//	go build -o bare-chi ./bench/bare/chi/main.go
//
// It listens on loopback only and exits by itself after -max-duration.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/kratosauth/kratosauth"
	kratoschi "github.com/kratosauth/kratosauth/adapters/chi"
	"github.com/kratosauth/kratosauth/selfservice"
)

type me struct {
	IdentityID string `json:"identity_id"`
	Email      string `json:"email"`
	SessionID  string `json:"session_id"`
	AAL        string `json:"aal"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:4572", "listen address (loopback)")
	kratos := flag.String("kratos", "http://127.0.0.1:4533", "Kratos public URL (for the self-service mount; /api/me never calls it)")
	appURL := flag.String("app-url", "http://127.0.0.1:4455", "the app's URL (as the example's APP_URL)")
	meJSON := flag.String("me", "", "the example's /api/me answer (JSON), written by this /api/me")
	withOtel := flag.Bool("otelhttp", true, "wrap the router in otelhttp with no-op providers, as examples/chi does")
	maxDur := flag.Duration("max-duration", 15*time.Minute, "exit after this long")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("bare-chi: -addr %q must be a loopback address", *addr)
	}
	var m me
	if err := json.Unmarshal([]byte(*meJSON), &m); err != nil || m.IdentityID == "" {
		log.Fatalf("bare-chi: -me must be the example's /api/me answer: %q", *meJSON)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	auth, err := kratosauth.New(*kratos,
		kratosauth.WithAppURL(*appURL),
		kratosauth.WithCacheTTL(time.Minute),
		kratosauth.WithLogger(logger))
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	ui, err := selfservice.New(auth, selfservice.WithSiteName("kratosauth example"))
	if err != nil {
		log.Fatal(err)
	}

	// The example's handler of /api/me, with the session's values fixed.
	apiMe := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"identity_id": m.IdentityID,
			"email":       m.Email,
			"session_id":  m.SessionID,
			"aal":         m.AAL,
		})
	}
	page := func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "page") }

	r := chi.NewRouter() // examples/chi's newApp (the optional Keto /admin route is off there too)
	r.Use(middleware.Recoverer)
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	kratoschi.Public(r, auth, func(r chi.Router) { r.Get("/", page) })
	r.Group(func(r chi.Router) { // the one difference: no RequireSession in this group
		r.Get("/dashboard", page)
		r.Get("/api/me", apiMe)
	})
	ui.Register(r)

	var h http.Handler = r
	if *withOtel { // examples/chi's telemetry.go without METRICS and TRACES
		h = otelhttp.NewHandler(r, "http.server",
			otelhttp.WithTracerProvider(tracenoop.NewTracerProvider()),
			otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
			otelhttp.WithPropagators(propagation.TraceContext{}),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
	}

	time.AfterFunc(*maxDur, func() {
		log.Printf("bare-chi: -max-duration %s reached, exiting", *maxDur)
		os.Exit(0)
	})
	srv := &http.Server{ // the examples' http.Server
		Addr:              *addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	log.Fatal(srv.ListenAndServe())
}
