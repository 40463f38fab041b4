package otelkratosauth_test

// What the Observer adds to a cache hit, the request path's common case.
// Run with
//
//	go test -run '^$' -bench CacheHit -benchmem -count 8 . | tee out.txt
//	benchstat -col /observer out.txt
//
// sdk=off: no provider set (the globals are no-ops); observer=off is the
// Authenticator without an Observer, as before this module existed.
// sdk=stdout: the tracing and metrics SDKs with real exporters (stdout,
// written to io.Discard: a batch span processor, a periodic metric reader),
// and a server span around each request as otelhttp makes; the difference
// between observer=off and observer=on is what the Observer adds there,
// exporting its event included. sdk=noexport: the same SDKs exporting
// nothing, to tell the request path's share from the exporter's.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/kratosauthtest"
	"github.com/kratosauth/kratosauth/otelkratosauth"
)

func BenchmarkCacheHit(b *testing.B) {
	kratos := kratosauthtest.NewServer(b)
	user := kratos.Login()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := kratoshttp.Identity(r.Context()); !ok {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	// A browser request with the ~430-character session cookie, as in the
	// root module's BenchmarkRequireSessionCacheHit.
	req := httptest.NewRequest(http.MethodGet, "/private", nil)
	req.Header.Set("Cookie", "csrf_token_82b1b3a6c1f8f4c1e1f3b2f5f0f4a5d6=Qb1xQ2G1hJ0O6t0oKc4ZQe0nq3fR9k3m7Xo2WvY1aBc=; "+
		user.Cookie.Name+"="+user.Cookie.Value)
	req.Header.Set("Accept", "text/html")

	for _, mode := range []string{"off", "noexport", "stdout"} {
		var tp *sdktrace.TracerProvider
		var mp *sdkmetric.MeterProvider
		sdk := mode != "off"
		switch mode {
		case "noexport":
			tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
			mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		case "stdout":
			te, err := stdouttrace.New(stdouttrace.WithWriter(io.Discard))
			if err != nil {
				b.Fatal(err)
			}
			me, err := stdoutmetric.New(stdoutmetric.WithWriter(io.Discard))
			if err != nil {
				b.Fatal(err)
			}
			tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(te))
			mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me)))
		}
		if sdk {
			b.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
		}
		for _, observed := range []bool{false, true} {
			b.Run("sdk="+mode+"/observer="+onOff(observed), func(b *testing.B) {
				var opts []kratosauth.Option
				if observed {
					var oo []otelkratosauth.Option
					if sdk {
						oo = append(oo, otelkratosauth.WithTracerProvider(tp), otelkratosauth.WithMeterProvider(mp))
					}
					obs, err := otelkratosauth.NewObserver(oo...)
					if err != nil {
						b.Fatal(err)
					}
					opts = append(opts, kratosauth.WithObserver(obs))
				}
				auth, err := kratosauth.New(kratos.URL, opts...)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = auth.Close() })
				h := kratoshttp.RequireSession(auth)(handler)
				var serve func()
				w := httptest.NewRecorder()
				if sdk {
					tracer := tp.Tracer("app")
					serve = func() {
						ctx, span := tracer.Start(req.Context(), "GET /private", trace.WithSpanKind(trace.SpanKindServer))
						h.ServeHTTP(w, req.WithContext(ctx))
						span.End()
					}
				} else {
					serve = func() { h.ServeHTTP(w, req) }
				}
				serve() // fills the cache
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
				calls := kratos.Calls()
				b.ReportAllocs()
				for b.Loop() {
					serve()
				}
				if kratos.Calls() != calls {
					b.Fatal("a whoami call during the loop: not all hits")
				}
			})
		}
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
