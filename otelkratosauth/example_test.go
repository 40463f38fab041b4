package otelkratosauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/kratosauthtest"
	"github.com/kratosauth/kratosauth/otelkratosauth"
)

// An Authenticator observed with the OpenTelemetry SDK: a request whose
// session Kratos checks, then the same request served from the cache.
// In an app, the providers come with their exporters (OTLP, Prometheus,
// ...), or are the global ones set with otel.SetTracerProvider and
// otel.SetMeterProvider, and otelhttp wraps the router so that the whoami
// span is a child of the request's span.
func Example() {
	kratos := kratosauthtest.NewServer(&testing.T{}) // in a test: the test's *testing.T
	defer kratos.Close()

	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	obs, err := otelkratosauth.NewObserver(
		otelkratosauth.WithTracerProvider(tp),
		otelkratosauth.WithMeterProvider(mp),
		otelkratosauth.WithPropagators(propagation.TraceContext{}))
	if err != nil {
		panic(err)
	}
	auth, err := kratosauth.New(kratos.URL, kratosauth.WithObserver(obs))
	if err != nil {
		panic(err)
	}
	defer auth.Close()
	reg, err := obs.ObserveCache(auth)
	if err != nil {
		panic(err)
	}
	defer reg.Unregister()

	app := kratoshttp.RequireSession(auth)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	user := kratos.Login()
	for range 2 {
		req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
		req.Header.Set("X-Session-Token", user.Token)
		app.ServeHTTP(httptest.NewRecorder(), req)
	}

	for _, s := range spans.GetSpans() {
		fmt.Println("span:", s.Name, s.SpanKind)
	}
	fmt.Println("traceparent sent to Kratos:", kratos.LastRequest().Header.Get("Traceparent") != "")
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, dp := range d.DataPoints {
				fmt.Println(strings.TrimSpace(fmt.Sprint(m.Name, " ", attrs(dp.Attributes))), dp.Value)
			}
		case metricdata.Gauge[int64]:
			for _, dp := range d.DataPoints {
				fmt.Println(m.Name, dp.Value)
			}
		case metricdata.Histogram[float64]:
			for _, dp := range d.DataPoints {
				fmt.Println(m.Name, attrs(dp.Attributes), dp.Count, "call")
			}
		}
	}
	// Unordered output:
	// span: GET /sessions/whoami client
	// traceparent sent to Kratos: true
	// kratosauth.session.checks kratosauth.cache=hit kratosauth.outcome=ok 1
	// kratosauth.session.checks kratosauth.cache=miss kratosauth.outcome=ok 1
	// kratosauth.whoami.duration http.response.status_code=200 1 call
	// kratosauth.cache.entries 1
	// kratosauth.cache.evictions 0
}

// attrs prints an attribute set as sorted key=value words.
func attrs(s attribute.Set) string {
	var out []string
	for _, kv := range s.ToSlice() {
		out = append(out, string(kv.Key)+"="+kv.Value.Emit())
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}
