package main

// Many replicas, one truth (docs/fleet.md): with REDIS_URL, sessions are cached in
// Redis, shared by every replica; with KRATOS_WEBHOOK_KEY, POST
// /hooks/kratos receives Kratos' web_hook after a password change or a
// recovery and evicts the identity's sessions on every replica.

import (
	"log/slog"
	"net/http"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/cache/redis"
)

// loadSharedConfig reads REDIS_URL (none: the default in-process cache)
// and KRATOS_WEBHOOK_KEY (none: no /hooks/kratos).
func loadSharedConfig(cfg *config, get func(key, def string) string) {
	cfg.RedisURL = get("REDIS_URL", "")
	cfg.WebhookKey = get("KRATOS_WEBHOOK_KEY", "")
}

type sharedCache struct {
	cfg    config
	logger *slog.Logger
}

// with adds the Redis store to the Authenticator's options (nothing
// without REDIS_URL), and closes it after closeRest, so after the
// Authenticator's Close (which leaves a store it was given open).
func (c sharedCache) with(opts []kratosauth.Option, closeRest func(), err error) ([]kratosauth.Option, func(), error) {
	if err != nil || c.cfg.RedisURL == "" {
		return opts, closeRest, err
	}
	store, err := rediscache.New(c.cfg.RedisURL, rediscache.WithLogger(c.logger))
	if err != nil {
		closeRest()
		return nil, nil, err
	}
	return append(opts, kratosauth.WithCache(store)), func() { closeRest(); store.Close() }, nil
}

// webhook is the handler of POST /hooks/kratos; nil without KRATOS_WEBHOOK_KEY.
func webhook(cfg config, auth *kratosauth.Authenticator) (http.Handler, error) {
	if cfg.WebhookKey == "" {
		return nil, nil
	}
	opts := []kratosauth.WebhookOption{kratosauth.WebhookAPIKey("X-Kratos-Webhook-Key", cfg.WebhookKey)}
	if cfg.RedisURL == "" {
		// The in-process cache: this app must run as one replica, or an
		// eviction would reach only the replica Kratos called.
		opts = append(opts, kratosauth.WebhookSingleReplica())
	}
	return kratosauth.NewWebhookHandler(auth, opts...)
}
