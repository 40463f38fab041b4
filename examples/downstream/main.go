// Command downstream is a service behind an edge app: it trusts the users
// the edge authenticated with Kratos by verifying, locally, the token Kratos
// made of their session (the edge asks for it with
// kratosauth.WithTokenizeAs and sends it with kratosauth.TokenTransport).
// It never calls Kratos: it needs only the public keys of the tokenizer
// template's JWKS.
//
//	GET /healthz      200
//	GET /api/profile  needs a valid token: the identity, session, e-mail and
//	                  AAL from its claims as JSON; otherwise a JSON 401
//	                  (503 when the JWKS cannot be read)
//
// Configuration (environment): JWKS_URL (file:///etc/kratos/jwks.public.json;
// or http(s)://), KRATOS_ISSUER (http://127.0.0.1:4433/, Kratos'
// serve.public.base_url), AUDIENCE (orders; "-" checks none), ADDR
// (127.0.0.1:4456).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	kratosjwt "github.com/kratosauth/kratosauth/jwtverify"
)

type config struct {
	JWKSURL  string
	Issuer   string
	Audience string // "" checks none
	Addr     string
	// Leeway and MinRefresh are kratosjwt's defaults when zero; tests set them.
	Leeway     time.Duration
	MinRefresh time.Duration
}

func loadConfig(getenv func(string) string) (config, error) {
	get := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	cfg := config{
		JWKSURL:  get("JWKS_URL", "file:///etc/kratos/jwks.public.json"),
		Issuer:   get("KRATOS_ISSUER", "http://127.0.0.1:4433/"),
		Audience: get("AUDIENCE", "orders"),
		Addr:     get("ADDR", "127.0.0.1:4456"),
	}
	if cfg.Audience == "-" {
		cfg.Audience = ""
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return cfg, fmt.Errorf("ADDR: %w", err)
	}
	return cfg, nil
}

// orderClaims are the claims the tokenizer template's claims mapper adds
// (docs/downstream.md).
type orderClaims struct {
	Email string `json:"email"`
	AAL   string `json:"aal"`
}

func newApp(cfg config, logger *slog.Logger) (http.Handler, error) {
	opts := []kratosjwt.Option{kratosjwt.WithIssuer(cfg.Issuer), kratosjwt.WithLogger(logger)}
	if cfg.Audience != "" {
		opts = append(opts, kratosjwt.WithAudience(cfg.Audience))
	}
	if cfg.Leeway > 0 {
		opts = append(opts, kratosjwt.WithLeeway(cfg.Leeway))
	}
	if cfg.MinRefresh > 0 {
		opts = append(opts, kratosjwt.WithMinRefreshInterval(cfg.MinRefresh))
	}
	v, err := kratosjwt.New(cfg.JWKSURL, opts...)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("GET /api/profile", v.Middleware(http.HandlerFunc(profile)))
	return mux, nil
}

func profile(w http.ResponseWriter, r *http.Request) {
	c, _ := kratosjwt.FromContext(r.Context()) // always there behind Middleware
	oc, err := kratosjwt.As[orderClaims](c)
	if err != nil {
		http.Error(w, "unexpected claims", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"identity_id": c.Subject,
		"session_id":  c.SessionID,
		"email":       oc.Email,
		"aal":         oc.AAL,
	})
}

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("downstream", "error", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return err
	}
	h, err := newApp(cfg, logger)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: cfg.Addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("downstream listening", "addr", cfg.Addr, "jwks", cfg.JWKSURL)
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}
