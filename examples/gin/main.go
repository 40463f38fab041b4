// Command gin is a small web app whose routes are protected by Ory Kratos
// sessions with kratosauth's gin middleware.
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
// read API, e.g. http://127.0.0.1:4466; none: no /admin), KETO_ALLOW_TTL (5s).
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
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/adapters/gin"
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
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return cfg, fmt.Errorf("ADDR: %w", err)
	}
	return cfg, nil
}

// newApp returns the app's handler and a function releasing its resources.
func newApp(cfg config, logger *slog.Logger) (http.Handler, func(), error) {
	permOpts, closePerms, err := sharedCache{cfg, logger}.with(permissionOptions(cfg))
	if err != nil {
		return nil, nil, err
	}
	auth, err := kratosauth.New(cfg.KratosPublicURL, append([]kratosauth.Option{
		kratosauth.WithBrowserURL(cfg.KratosBrowserURL),
		kratosauth.WithAppURL(cfg.AppURL),
		kratosauth.WithCacheTTL(cfg.SessionCacheTTL),
		kratosauth.WithLogger(logger)}, permOpts...)...)
	if err != nil {
		closePerms()
		return nil, nil, err
	}
	ui, err := selfservice.New(auth, selfservice.WithSiteName("kratosauth example"))
	if err != nil {
		auth.Close()
		closePerms()
		return nil, nil, err
	}

	r := gin.New()
	r.Use(gin.Recovery())
	r.SetHTMLTemplate(pages)
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok\n") })
	r.GET("/", kratosgin.LoadSession(auth), home)
	private := r.Group("/", kratosgin.RequireSession(auth))
	private.GET("/dashboard", dashboard)
	private.GET("/api/me", me)
	if cfg.KetoReadURL != "" {
		r.GET("/admin", kratosgin.RequirePermission(auth, "Group", "members", adminObject), admin)
	}
	// Self-service pages, /logout included: it drops the session from the
	// cache (auth.Invalidate) and sends the browser to Kratos' logout URL.
	kratosgin.RegisterSelfService(r, ui)
	hook, err := webhook(cfg, auth)
	if err != nil {
		auth.Close()
		closePerms()
		return nil, nil, err
	}
	if hook != nil {
		r.POST("/hooks/kratos", gin.WrapH(hook))
	}

	return r, func() { auth.Close(); closePerms() }, nil
}

type traits struct {
	Email string `json:"email"`
}

func email(s *kratosauth.Session) string {
	t, _ := kratosauth.Traits[traits](s)
	return t.Email
}

func home(c *gin.Context) {
	var signedInAs string
	if s, ok := kratosgin.Session(c); ok {
		signedInAs = email(s)
	}
	c.Header("Cache-Control", "no-store") // pages show personal data
	c.HTML(http.StatusOK, "home", signedInAs)
}

func dashboard(c *gin.Context) {
	s, _ := kratosgin.Session(c) // always there behind RequireSession
	c.Header("Cache-Control", "no-store")
	c.HTML(http.StatusOK, "dashboard", gin.H{"Email": email(s), "AAL": s.AuthenticatorAssuranceLevel})
}

func me(c *gin.Context) {
	s, _ := kratosgin.Session(c)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{
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
<header class="ks-header"><a class="ks-home" href="/">kratosauth example (gin)</a></header>
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

func main() {
	gin.SetMode(gin.ReleaseMode)
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
