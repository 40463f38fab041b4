// Command chi is a small web app whose routes are protected by Ory Kratos
// sessions with kratosauth's chi middleware.
//
//	GET /healthz    200
//	GET /           public page; shows the signed-in email when there is one
//	GET /dashboard  needs a session: browsers without one go to Kratos' login
//	GET /api/me     needs a session: JSON, or a JSON 401/503 error
//	GET /admin      with KETO_READ_URL only: needs the Ory Keto permission
//	                Group:admins#members (admin.go); others signed in get a
//	                403 page (browsers) or a JSON 403, and 503 if Keto is down
//	/login, /registration, /settings, /verification, /recovery, /error,
//	/logout         Kratos' self-service pages (package selfservice)
//	POST /hooks/kratos  with KRATOS_WEBHOOK_KEY only: Kratos' web_hook after
//	                a password change or a recovery, which evicts the
//	                identity's cached sessions (shared.go)
//
// Configuration (environment): KRATOS_PUBLIC_URL (http://127.0.0.1:4433),
// KRATOS_BROWSER_URL (http://localhost:4433 with the default public URL,
// else the public URL), APP_URL (http://localhost:4455),
// ADDR (127.0.0.1:4455), SESSION_CACHE_TTL (1m), KETO_READ_URL (Keto's
// read API, e.g. http://127.0.0.1:4466; none: no /admin), KETO_ALLOW_TTL
// (5s), METRICS (1: serve OpenTelemetry metrics in Prometheus' format at
// GET /metrics), TRACES (stdout: print spans as JSON, a whoami call's under
// its request's; telemetry.go), FORM_ACTION_ORIGINS (space-separated
// origins of social sign-in providers, and of the pages they redirect
// through, for the pages' CSP form-action; none).
//
// With REDIS_URL (e.g. redis://127.0.0.1:6379/0) sessions are cached in
// Redis (package rediscache), shared by every replica of the app: one
// whoami per session for the fleet, and a logout (/logout) on one replica
// is seen by all. Without it, each process has its own in-memory cache.
// KRATOS_WEBHOOK_KEY is the value Kratos sends in the X-Kratos-Webhook-Key
// header (docs/fleet.md, "Many replicas, one truth").
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/kratosauth/kratosauth"
	kratoschi "github.com/kratosauth/kratosauth/adapters/chi"
	"github.com/kratosauth/kratosauth/selfservice"
)

type config struct {
	KratosPublicURL  string
	KratosBrowserURL string
	AppURL           string
	Addr             string
	SessionCacheTTL  time.Duration
	KetoReadURL      string
	KetoAllowTTL     time.Duration
	RedisURL         string // "": the default in-process cache
	WebhookKey       string // "": no /hooks/kratos
	Metrics          bool
	Traces           string

	traceOut io.Writer // where TRACES=stdout writes; os.Stdout when nil
	// FormActionOrigins are selfservice.WithFormActionOrigins'.
	FormActionOrigins []string
}

// loadConfig reads the configuration from the environment; the URLs are
// checked by kratosauth.New.
func loadConfig(getenv func(string) string) (config, error) {
	get := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	cfg := config{
		KratosPublicURL: get("KRATOS_PUBLIC_URL", "http://127.0.0.1:4433"),
		AppURL:          get("APP_URL", "http://localhost:4455"),
		Addr:            get("ADDR", "127.0.0.1:4455"),
		Metrics:         getenv("METRICS") == "1",
		Traces:          getenv("TRACES"),
	}
	// Browsers reach Kratos on the app's host, so that its cookies reach
	// the app: by default localhost, where passkeys work (a WebAuthn
	// relying party id cannot be an IP address), as make demo runs it.
	browser := cfg.KratosPublicURL
	if getenv("KRATOS_PUBLIC_URL") == "" {
		browser = "http://localhost:4433"
	}
	cfg.KratosBrowserURL = get("KRATOS_BROWSER_URL", browser)
	ttl, err := time.ParseDuration(get("SESSION_CACHE_TTL", "1m"))
	if err != nil {
		return cfg, fmt.Errorf("SESSION_CACHE_TTL: %w", err)
	}
	cfg.SessionCacheTTL = ttl
	loadSharedConfig(&cfg, get)
	if err := loadKetoConfig(&cfg, get); err != nil {
		return cfg, err
	}
	if v := getenv("FORM_ACTION_ORIGINS"); v != "" {
		cfg.FormActionOrigins = strings.Fields(v)
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return cfg, fmt.Errorf("ADDR: %w", err)
	}
	return cfg, nil
}

// newApp returns the app's handler and a function releasing its resources.
func newApp(cfg config, logger *slog.Logger) (http.Handler, func(), error) {
	tel, err := newTelemetry(cfg, cfg.traceOut)
	if err != nil {
		return nil, nil, err
	}
	permOpts, closePerms, err := sharedCache{cfg, logger}.with(permissionOptions(cfg))
	if err != nil {
		_ = tel.shutdown(context.Background())
		return nil, nil, err
	}
	auth, err := kratosauth.New(cfg.KratosPublicURL, append([]kratosauth.Option{
		kratosauth.WithBrowserURL(cfg.KratosBrowserURL),
		kratosauth.WithAppURL(cfg.AppURL),
		kratosauth.WithCacheTTL(cfg.SessionCacheTTL),
		kratosauth.WithLogger(logger),
		kratosauth.WithObserver(tel.observer)}, permOpts...)...)
	if err != nil {
		closePerms()
		_ = tel.shutdown(context.Background())
		return nil, nil, err
	}
	cacheMetrics, err := tel.observer.ObserveCache(auth)
	if err != nil {
		auth.Close()
		closePerms()
		_ = tel.shutdown(context.Background())
		return nil, nil, err
	}
	cleanup := func() {
		_ = cacheMetrics.Unregister()
		auth.Close()
		closePerms()
		if err := tel.shutdown(context.Background()); err != nil {
			logger.Warn("flushing telemetry", "error", err)
		}
	}
	ui, err := selfservice.New(auth, selfservice.WithSiteName("kratosauth example"),
		selfservice.WithFormActionOrigins(cfg.FormActionOrigins...))
	if err != nil {
		cleanup()
		return nil, nil, err
	}

	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	if tel.metrics != nil {
		r.Method(http.MethodGet, "/metrics", tel.metrics)
	}
	kratoschi.Public(r, auth, func(r chi.Router) {
		r.Get("/", home)
	})
	kratoschi.Protected(r, auth, func(r chi.Router) {
		r.Get("/dashboard", dashboard)
		r.Get("/api/me", me)
	})
	if cfg.KetoReadURL != "" {
		r.With(kratoschi.RequirePermission(auth, "Group", "members", adminObject)).Get("/admin", admin)
	}
	// Self-service pages, /logout included: it drops the session from the
	// cache (auth.Invalidate) and sends the browser to Kratos' logout URL.
	ui.Register(r)
	hook, err := webhook(cfg, auth)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	if hook != nil {
		r.Method(http.MethodPost, "/hooks/kratos", hook)
	}

	return tel.wrap(r), cleanup, nil
}

type traits struct {
	Email string `json:"email"`
}

func email(s *kratosauth.Session) string {
	t, _ := kratosauth.Traits[traits](s)
	return t.Email
}

func home(w http.ResponseWriter, r *http.Request) {
	var signedInAs string
	if s, ok := kratoschi.Session(r.Context()); ok {
		signedInAs = email(s)
	}
	render(w, "home", signedInAs)
}

func dashboard(w http.ResponseWriter, r *http.Request) {
	s, _ := kratoschi.Session(r.Context()) // always there behind RequireSession
	render(w, "dashboard", map[string]string{"Email": email(s), "AAL": s.AuthenticatorAssuranceLevel})
}

func me(w http.ResponseWriter, r *http.Request) {
	s, _ := kratoschi.Session(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"identity_id": s.Identity.ID,
		"email":       email(s),
		"session_id":  s.ID,
		"aal":         s.AuthenticatorAssuranceLevel,
	})
}

// pages are the app's own pages, styled like the self-service pages with
// their stylesheet.
var pages = template.Must(template.New("").Funcs(template.FuncMap{"css": selfservice.Stylesheet}).Parse(`
{{define "top"}}<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} · kratosauth example</title><style>{{css}}</style>
<header class="ks-header"><a class="ks-home" href="/">kratosauth example (chi)</a></header>
<main class="ks-main"><section class="ks-card" aria-labelledby="title"><h1 id="title">{{.}}</h1>{{end}}
{{define "home"}}{{template "top" "Home"}}
{{if .}}<p>Signed in as <b>{{.}}</b>.</p>
<nav class="ks-links"><a href="/dashboard">Dashboard</a> <a href="/settings">Settings</a> <a href="/logout">Sign out</a></nav>
{{else}}<p>You are not signed in.</p>
<div class="ks-actions"><a class="ks-button" href="/login">Sign in</a></div>
<div class="ks-actions"><a class="ks-button ks-button-secondary" href="/registration">Sign up</a></div>
{{end}}</section></main>{{end}}
{{define "dashboard"}}{{template "top" "Dashboard"}}
<p>Welcome, <b>{{.Email}}</b> (session at {{.AAL}}).</p>
<nav class="ks-links"><a href="/">Home</a> <a href="/settings">Settings</a> <a href="/logout">Sign out</a></nav>
</section></main>{{end}}
`))

func render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // pages show personal data
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		slog.Error("rendering page", "page", name, "error", err)
	}
}

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("exiting", "error", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	handler, cleanup, err := newApp(cfg, logger)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	defer cleanup()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String(), "app_url", cfg.AppURL, "kratos", cfg.KratosPublicURL)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
