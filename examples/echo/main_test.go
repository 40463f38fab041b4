package main

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/internal/testing/exampletest"
)

// app builds the example for the shared checks (internal/testing/exampletest),
// with change applied to its test configuration.
func app(change func(*config)) exampletest.NewApp {
	return func(kratosPublicURL, appURL string) (http.Handler, func(), error) {
		cfg := config{
			KratosPublicURL:  kratosPublicURL,
			KratosBrowserURL: kratosPublicURL,
			AppURL:           appURL,
			SessionCacheTTL:  time.Minute,
		}
		if change != nil {
			change(&cfg)
		}
		return newApp(cfg, slog.New(slog.DiscardHandler))
	}
}

func TestApp(t *testing.T) { exampletest.Run(t, "echo", app(nil)) }

// The same app against the test kit's fake Kratos: fast, no Kratos to run.
func TestAppWithFakeKratos(t *testing.T) { exampletest.RunFake(t, app(nil)) }

// KRATOS_WEBHOOK_KEY without REDIS_URL: one replica; Kratos' call evicts.
func TestAppWithWebhook(t *testing.T) {
	exampletest.RunWebhook(t, app(func(c *config) { c.WebhookKey = exampletest.WebhookKey }))
}

// Three instances on one Redis (REDIS_URL), as replicas.
func TestAppWithRedis(t *testing.T) {
	exampletest.RunShared(t, "echo", func(kratosPublicURL, appURL, redisURL string) (http.Handler, func(), error) {
		return app(func(c *config) { c.RedisURL = redisURL })(kratosPublicURL, appURL)
	})
}

func TestLoadConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := loadConfig(env(nil))
	require.NoError(t, err)
	assert.Equal(t, config{
		KratosPublicURL:  "http://127.0.0.1:4433",
		KratosBrowserURL: "http://127.0.0.1:4433",
		AppURL:           "http://127.0.0.1:4455",
		Addr:             "127.0.0.1:4455",
		SessionCacheTTL:  time.Minute,
		KetoAllowTTL:     5 * time.Second,
	}, cfg)

	_, err = loadConfig(env(map[string]string{"SESSION_CACHE_TTL": "soon"}))
	assert.ErrorContains(t, err, "SESSION_CACHE_TTL")
	_, err = loadConfig(env(map[string]string{"ADDR": "4455"}))
	assert.ErrorContains(t, err, "ADDR")
	_, err = loadConfig(env(map[string]string{"KETO_ALLOW_TTL": "briefly"}))
	assert.ErrorContains(t, err, "KETO_ALLOW_TTL")
	_, _, err = newApp(config{KratosPublicURL: "127.0.0.1:4433", AppURL: "http://127.0.0.1:4455"}, slog.New(slog.DiscardHandler))
	assert.ErrorContains(t, err, "Kratos public URL")
}
