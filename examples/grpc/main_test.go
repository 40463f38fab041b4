package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// The server against the test kit's fake Kratos, called by the client.
func TestServeAndCall(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	ada := kratos.Login(kratosauthtest.WithTraits(map[string]any{"email": "ada@example.com"}))
	srv, cleanup, err := newServer(config{KratosPublicURL: kratos.URL, SessionCacheTTL: time.Minute, StreamRecheck: 50 * time.Millisecond},
		slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(cleanup)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)

	var out bytes.Buffer
	require.NoError(t, call(context.Background(), &out, ln.Addr().String(), ada.Token, false))
	assert.Equal(t, "signed in as ada@example.com ("+ada.Session.Identity.ID+")\n", out.String())
	out.Reset()
	require.NoError(t, call(context.Background(), &out, ln.Addr().String(), "", false))
	assert.Equal(t, "Unauthenticated NO_CREDENTIALS: no session credentials\n", out.String())
}

func TestLoadConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := loadConfig(env(nil))
	require.NoError(t, err)
	assert.Equal(t, config{KratosPublicURL: "http://127.0.0.1:4433", Addr: "127.0.0.1:4457", HealthAddr: "127.0.0.1:4458",
		SessionCacheTTL: time.Minute, StreamRecheck: 10 * time.Second}, cfg)
	_, err = loadConfig(env(map[string]string{"STREAM_RECHECK": "often"}))
	assert.ErrorContains(t, err, "STREAM_RECHECK")
	_, _, err = newServer(config{KratosPublicURL: "127.0.0.1:4433"}, slog.New(slog.DiscardHandler))
	assert.Error(t, err)
}
