package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/kratosauthtest"
)

func TestTelemetryConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := loadConfig(env(map[string]string{"METRICS": "1", "TRACES": "stdout"}))
	require.NoError(t, err)
	assert.True(t, cfg.Metrics)
	assert.Equal(t, "stdout", cfg.Traces)

	_, _, err = newApp(config{KratosPublicURL: "http://127.0.0.1:4433", Traces: "jaeger"}, slog.New(slog.DiscardHandler))
	assert.ErrorContains(t, err, `TRACES="jaeger"`)

	// Without METRICS=1 there is no /metrics.
	kratos := kratosauthtest.NewServer(t)
	h, cleanup, err := newApp(config{KratosPublicURL: kratos.URL, KratosBrowserURL: kratos.URL, AppURL: "http://127.0.0.1:4455", SessionCacheTTL: time.Minute}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer cleanup()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Equal(t, http.StatusNotFound, w.Code)
}

// METRICS=1 and TRACES=stdout: /metrics has the four metrics a dashboard
// needs, and the whoami span is printed as a child of the request's span,
// its context sent to Kratos.
func TestTelemetry(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	var spans bytes.Buffer
	h, cleanup, err := newApp(config{
		KratosPublicURL: kratos.URL, KratosBrowserURL: kratos.URL, AppURL: "http://127.0.0.1:4455", SessionCacheTTL: time.Minute,
		Metrics: true, Traces: "stdout", traceOut: &spans,
	}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	user := kratos.Login(kratosauthtest.WithTraits(map[string]string{"email": "ada@example.com"}))

	get := func(path, token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Accept", "application/json")
		if token != "" {
			r.Header.Set("X-Session-Token", token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	require.Equal(t, http.StatusOK, get("/api/me", user.Token).Code) // miss
	require.Equal(t, http.StatusOK, get("/api/me", user.Token).Code) // hit
	require.Equal(t, http.StatusUnauthorized, get("/api/me", "").Code)
	traceparent := kratos.LastRequest().Header.Get("Traceparent")

	w := get("/metrics", "")
	require.Equal(t, http.StatusOK, w.Code)
	metrics := w.Body.String()
	for _, line := range []string{
		`kratosauth_session_checks_total{kratosauth_cache="hit",kratosauth_outcome="ok",otel_scope_name="github.com/kratosauth/kratosauth/otelkratosauth"`,
		`kratosauth_session_checks_total{kratosauth_cache="miss",kratosauth_outcome="ok",otel_scope_name="github.com/kratosauth/kratosauth/otelkratosauth"`,
		`kratosauth_session_checks_total{kratosauth_cache="none",kratosauth_outcome="no_credentials",otel_scope_name="github.com/kratosauth/kratosauth/otelkratosauth"`,
		`kratosauth_whoami_duration_seconds_count{http_response_status_code="200",otel_scope_name="github.com/kratosauth/kratosauth/otelkratosauth"`,
		`kratosauth_cache_entries{otel_scope_name="github.com/kratosauth/kratosauth/otelkratosauth"`,
		`kratosauth_cache_evictions_total{otel_scope_name="github.com/kratosauth/kratosauth/otelkratosauth"`,
		`http_server_request_duration_seconds_count{`,
	} {
		assert.Contains(t, metrics, line)
	}
	assert.NotContains(t, metrics, user.Token[len("ory_st_"):])

	cleanup() // flushes the spans
	type span struct {
		Name        string
		SpanKind    int
		SpanContext struct{ TraceID, SpanID string }
		Parent      struct{ TraceID, SpanID string }
		Attributes  []struct {
			Key   string
			Value struct{ Value any }
		}
	}
	byName := map[string][]span{}
	dec := json.NewDecoder(&spans)
	for {
		var s span
		if err := dec.Decode(&s); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		byName[s.Name] = append(byName[s.Name], s)
	}
	require.Len(t, byName["GET /api/me"], 3, "one server span per request: %v", byName)
	require.Len(t, byName["GET /sessions/whoami"], 1, "one whoami call")
	whoami, request := byName["GET /sessions/whoami"][0], byName["GET /api/me"][0]
	assert.Equal(t, request.SpanContext.TraceID, whoami.SpanContext.TraceID)
	assert.Equal(t, request.SpanContext.SpanID, whoami.Parent.SpanID, "the whoami span is the request span's child")
	assert.Equal(t, "00-"+whoami.SpanContext.TraceID+"-"+whoami.SpanContext.SpanID+"-01", traceparent)
	attrs := map[string]any{}
	for _, a := range whoami.Attributes {
		attrs[a.Key] = a.Value.Value
	}
	assert.Equal(t, kratos.URL+"/sessions/whoami", attrs["url.full"])
	assert.EqualValues(t, 200, attrs["http.response.status_code"])
	assert.False(t, strings.Contains(spans.String(), user.Token), "no credential in the spans")
}
