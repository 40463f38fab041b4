package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/kratosauth/kratosauth/otelkratosauth"
)

// telemetry is the app's OpenTelemetry setup: providers that record only
// what the configuration asks for, the kratosauth Observer, and the
// /metrics handler when METRICS=1.
type telemetry struct {
	observer *otelkratosauth.Observer
	metrics  http.Handler // nil without METRICS=1
	wrap     func(http.Handler) http.Handler
	shutdown func(context.Context) error
}

// newTelemetry builds the providers. traceOut receives the spans with
// TRACES=stdout (os.Stdout when nil).
func newTelemetry(cfg config, traceOut io.Writer) (*telemetry, error) {
	var (
		tp        trace.TracerProvider = tracenoop.NewTracerProvider()
		mp        metric.MeterProvider = metricnoop.NewMeterProvider()
		shutdowns []func(context.Context) error
		t         = &telemetry{}
	)
	switch cfg.Traces {
	case "":
	case "stdout":
		if traceOut == nil {
			traceOut = os.Stdout
		}
		exp, err := stdouttrace.New(stdouttrace.WithWriter(traceOut))
		if err != nil {
			return nil, err
		}
		sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
		tp, shutdowns = sdk, append(shutdowns, sdk.Shutdown)
	default:
		return nil, fmt.Errorf("TRACES=%q: want stdout or nothing", cfg.Traces)
	}
	if cfg.Metrics {
		// A registry of its own: /metrics shows the app's OpenTelemetry
		// metrics, not the Go runtime's default collectors.
		reg := prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			return nil, err
		}
		sdk := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
		mp, shutdowns = sdk, append(shutdowns, sdk.Shutdown)
		t.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	t.shutdown = func(ctx context.Context) error {
		var errs []error
		for _, s := range shutdowns {
			errs = append(errs, s(ctx)) // flushes the spans not exported yet
		}
		return errors.Join(errs...)
	}

	// W3C traceparent, read from incoming requests by otelhttp and sent to
	// Kratos by the Observer, so Kratos' own traces join the app's.
	prop := propagation.TraceContext{}
	var err error
	t.observer, err = otelkratosauth.NewObserver(
		otelkratosauth.WithTracerProvider(tp),
		otelkratosauth.WithMeterProvider(mp),
		otelkratosauth.WithPropagators(prop))
	if err != nil {
		return nil, err
	}
	// otelhttp around the whole router starts each request's server span,
	// which the whoami client span is a child of. Span names take the path:
	// this app's paths are a fixed set (flow IDs are in the query).
	t.wrap = func(h http.Handler) http.Handler {
		return otelhttp.NewHandler(h, "http.server",
			otelhttp.WithTracerProvider(tp),
			otelhttp.WithMeterProvider(mp),
			otelhttp.WithPropagators(prop),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
	}
	return t, nil
}
