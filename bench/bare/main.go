// Command bare is the bare case of the app-level comparison in
// scripts/bench.sh for examples/nethttp; bench/bare/chi and bench/bare/gin
// are the same for examples/chi and examples/gin.
//
// It is the example app with nothing changed but one route: the same
// router, self-service mount, the /, /dashboard and /healthz routes and
// http.Server settings (the optional Keto /admin route is off, as in the
// benchmark's example); only GET /api/me is served without RequireSession,
// writing the example's JSON for the fixed session given by -me (the
// example's own /api/me answer), encoded the same way on every request. So the example's /api/me
// req/s over this one's is what kratosauth costs the app: RequireSession,
// Session from the context and Traits, and nothing else.
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

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/selfservice"
)

// me is the example's /api/me answer, whose values the bare handler writes.
type me struct {
	IdentityID string `json:"identity_id"`
	Email      string `json:"email"`
	SessionID  string `json:"session_id"`
	AAL        string `json:"aal"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:4571", "listen address (loopback)")
	kratos := flag.String("kratos", "http://127.0.0.1:4533", "Kratos public URL (for the self-service mount; /api/me never calls it)")
	appURL := flag.String("app-url", "http://127.0.0.1:4455", "the app's URL (as the example's APP_URL)")
	meJSON := flag.String("me", "", "the example's /api/me answer (JSON), written by this /api/me")
	maxDur := flag.Duration("max-duration", 15*time.Minute, "exit after this long")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("bare: -addr %q must be a loopback address", *addr)
	}
	var m me
	if err := json.Unmarshal([]byte(*meJSON), &m); err != nil || m.IdentityID == "" {
		log.Fatalf("bare: -me must be the example's /api/me answer: %q", *meJSON)
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

	// examples/nethttp's newApp.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("GET /{$}", kratoshttp.LoadSession(auth)(http.HandlerFunc(page)))
	mux.Handle("GET /dashboard", kratoshttp.RequireSession(auth)(http.HandlerFunc(page)))
	mux.HandleFunc("GET /api/me", apiMe) // the one difference: no RequireSession
	ui.Register(mux)

	time.AfterFunc(*maxDur, func() {
		log.Printf("bare: -max-duration %s reached, exiting", *maxDur)
		os.Exit(0)
	})
	// The examples' http.Server.
	srv := &http.Server{
		Addr:              *addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	log.Fatal(srv.ListenAndServe())
}
