// Command echo is a small web app whose routes are protected by Ory Kratos
// sessions with kratosauth's echo middleware (the routes of examples/gin).
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
// KRATOS_BROWSER_URL (the public URL), APP_URL (http://127.0.0.1:4455),
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
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"

	"github.com/kratosauth/kratosauth"
	kratosecho "github.com/kratosauth/kratosauth/adapters/echo"
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
		AppURL:          get("APP_URL", "http://127.0.0.1:4455"),
		Addr:            get("ADDR", "127.0.0.1:4455"),
	}
	cfg.KratosBrowserURL = get("KRATOS_BROWSER_URL", cfg.KratosPublicURL)
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

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(echomw.Recover())
	e.Renderer = renderer{}
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/", home, kratosecho.LoadSession(auth))
	private := e.Group("", kratosecho.RequireSession(auth))
	private.GET("/dashboard", dashboard)
	private.GET("/api/me", me)
	if cfg.KetoReadURL != "" {
		e.GET("/admin", admin, kratosecho.RequirePermission(auth, "Group", "members", adminObject))
	}
	// Self-service pages, /logout included: it drops the session from the
	// cache (auth.Invalidate) and sends the browser to Kratos' logout URL.
	kratosecho.RegisterSelfService(e, ui)
	hook, err := webhook(cfg, auth)
	if err != nil {
		auth.Close()
		closePerms()
		return nil, nil, err
	}
	if hook != nil {
		e.POST("/hooks/kratos", echo.WrapHandler(hook))
	}

	return e, func() { auth.Close(); closePerms() }, nil
}

type traits struct {
	Email string `json:"email"`
}

func email(s *kratosauth.Session) string {
	t, _ := kratosauth.Traits[traits](s)
	return t.Email
}

func home(c echo.Context) error {
	var signedInAs string
	if s, ok := kratosecho.Session(c); ok {
		signedInAs = email(s)
	}
	c.Response().Header().Set("Cache-Control", "no-store") // pages show personal data
	return c.Render(http.StatusOK, "home", signedInAs)
}

func dashboard(c echo.Context) error {
	s, _ := kratosecho.Session(c) // always there behind RequireSession
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Render(http.StatusOK, "dashboard", map[string]string{"Email": email(s), "AAL": s.AuthenticatorAssuranceLevel})
}

func me(c echo.Context) error {
	s, _ := kratosecho.Session(c)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]string{
		"identity_id": s.Identity.ID,
		"email":       email(s),
		"session_id":  s.ID,
		"aal":         s.AuthenticatorAssuranceLevel,
	})
}

// renderer renders the app's pages for c.Render.
type renderer struct{}

func (renderer) Render(w io.Writer, name string, data any, _ echo.Context) error {
	return pages.ExecuteTemplate(w, name, data)
}

// pages are the app's own pages, styled like the self-service pages with
// their stylesheet.
var pages = template.Must(template.New("").Funcs(template.FuncMap{"css": selfservice.Stylesheet}).Parse(`
{{define "top"}}<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} · kratosauth example</title><style>{{css}}</style>
<header class="ks-header"><a class="ks-home" href="/">kratosauth example (echo)</a></header>
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
