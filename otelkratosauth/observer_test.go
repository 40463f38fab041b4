package otelkratosauth_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/kratosauthtest"
	"github.com/kratosauth/kratosauth/otelkratosauth"
)

// rig is an Authenticator observed with the SDK: spans go to an in-memory
// exporter as they end, metrics are read on demand.
type rig struct {
	kratos *kratosauthtest.Server
	auth   *kratosauth.Authenticator
	obs    *otelkratosauth.Observer
	spans  *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
	tracer trace.Tracer

	mu      sync.Mutex
	secrets []string // every credential sent, to look for in the telemetry
}

func newRig(t *testing.T, opts ...kratosauth.Option) *rig {
	t.Helper()
	r := &rig{kratos: kratosauthtest.NewServer(t), spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(r.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
	r.tracer = tp.Tracer("app")
	obs, err := otelkratosauth.NewObserver(otelkratosauth.WithTracerProvider(tp), otelkratosauth.WithMeterProvider(mp),
		otelkratosauth.WithPropagators(propagation.TraceContext{}))
	require.NoError(t, err)
	r.obs = obs
	r.auth, err = kratosauth.New(r.kratos.URL, append([]kratosauth.Option{kratosauth.WithObserver(obs),
		kratosauth.WithLogger(discardLogger)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.auth.Close() })
	reg, err := obs.ObserveCache(r.auth)
	require.NoError(t, err)
	t.Cleanup(func() { _ = reg.Unregister() })
	return r
}

// login signs a user in and remembers the credentials as secrets.
func (r *rig) login(opts ...kratosauthtest.SessionOption) kratosauthtest.Credentials {
	c := r.kratos.Login(opts...)
	r.mu.Lock()
	r.secrets = append(r.secrets, c.Token, c.Cookie.Value)
	r.mu.Unlock()
	return c
}

func (r *rig) secret(s string) string {
	r.mu.Lock()
	r.secrets = append(r.secrets, s)
	r.mu.Unlock()
	return s
}

// request is a request with a token, a cookie or nothing (both empty).
func request(token string, cookie *http.Cookie) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("X-Session-Token", token)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	return req
}

// serve runs req through g inside a server span, as otelhttp would, and
// returns that span's context and the spans exported by the call.
func (r *rig) serve(t *testing.T, g *kratosauth.Guard, req *http.Request) (trace.SpanContext, []sdktrace.ReadOnlySpan) {
	t.Helper()
	r.spans.Reset()
	ctx, span := r.tracer.Start(req.Context(), "GET /dashboard", trace.WithSpanKind(trace.SpanKindServer))
	_, _ = g.Check(httptest.NewRecorder(), req.WithContext(ctx))
	span.End()
	return span.SpanContext(), r.spanStubs()
}

func (r *rig) spanStubs() []sdktrace.ReadOnlySpan {
	stubs := r.spans.GetSpans()
	out := make([]sdktrace.ReadOnlySpan, len(stubs))
	for i := range stubs {
		out[i] = stubs.Snapshots()[i]
	}
	return out
}

// checkEvent returns the attributes of the request span's one
// session-check event.
func checkEvent(t *testing.T, spans []sdktrace.ReadOnlySpan, sc trace.SpanContext) map[string]string {
	t.Helper()
	for _, s := range spans {
		if s.SpanContext().SpanID() != sc.SpanID() {
			continue
		}
		require.Len(t, s.Events(), 1, "one event per check")
		ev := s.Events()[0]
		assert.Equal(t, "kratosauth.session.check", ev.Name)
		return attrMap(ev.Attributes)
	}
	t.Fatalf("no request span in %d spans", len(spans))
	return nil
}

// whoamiSpan returns the one whoami span, or nil.
func whoamiSpan(t *testing.T, spans []sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
	t.Helper()
	var found sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindClient {
			require.Nil(t, found, "at most one whoami span per request")
			found = s
		}
	}
	return found
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

var discardLogger = slog.New(slog.DiscardHandler)

// Every outcome and cache state, through a Guard, each in its own server
// span: the check event, the whoami client span (when Kratos was asked)
// with its parent, attributes and status, and the trace context Kratos
// received.
func TestTracesEveryOutcome(t *testing.T) {
	r := newRig(t, kratosauth.WithNegativeCacheTTL(time.Minute), kratosauth.WithTimeout(200*time.Millisecond))
	require := require.New(t)
	user := r.login()
	mfa := r.login(kratosauthtest.WithSecondFactorPending())
	port := r.kratos.URL[strings.LastIndexByte(r.kratos.URL, ':')+1:]
	whoamiURL := r.kratos.URL + "/sessions/whoami"

	type want struct {
		event  map[string]string
		whoami map[string]string // nil: no whoami call
		err    bool              // the whoami span's status is Error
	}
	guard := r.auth.RequireSession()
	cases := []struct {
		name  string
		setup func()
		guard *kratosauth.Guard
		req   func() *http.Request
		want  want
	}{{
		name: "miss",
		req:  func() *http.Request { return request(user.Token, nil) },
		want: want{
			event:  map[string]string{"kratosauth.outcome": "ok", "kratosauth.cache": "miss", "kratosauth.aal": "aal1"},
			whoami: map[string]string{"http.response.status_code": "200", "kratosauth.outcome": "ok"},
		},
	}, {
		name: "hit",
		req:  func() *http.Request { return request(user.Token, nil) },
		want: want{event: map[string]string{"kratosauth.outcome": "ok", "kratosauth.cache": "hit", "kratosauth.aal": "aal1"}},
	}, {
		name: "cookie miss",
		req:  func() *http.Request { return request("", user.Cookie) },
		want: want{
			event:  map[string]string{"kratosauth.outcome": "ok", "kratosauth.cache": "miss", "kratosauth.aal": "aal1"},
			whoami: map[string]string{"http.response.status_code": "200", "kratosauth.outcome": "ok"},
		},
	}, {
		name: "no credentials",
		req:  func() *http.Request { return request("", nil) },
		want: want{event: map[string]string{"kratosauth.outcome": "no_credentials", "kratosauth.cache": "none"}},
	}, {
		name: "invalid",
		req:  func() *http.Request { return request(r.secret("ory_st_notasessiontoken0123456789ab"), nil) },
		want: want{
			event:  map[string]string{"kratosauth.outcome": "invalid", "kratosauth.cache": "miss"},
			whoami: map[string]string{"http.response.status_code": "401", "error.type": "401", "kratosauth.outcome": "invalid"},
			err:    true,
		},
	}, {
		name: "negative",
		req:  func() *http.Request { return request("ory_st_notasessiontoken0123456789ab", nil) },
		want: want{event: map[string]string{"kratosauth.outcome": "invalid", "kratosauth.cache": "negative"}},
	}, {
		name: "aal2 required by Kratos",
		req:  func() *http.Request { return request(mfa.Token, nil) },
		want: want{
			event:  map[string]string{"kratosauth.outcome": "aal2_required", "kratosauth.cache": "miss"},
			whoami: map[string]string{"http.response.status_code": "403", "error.type": "403", "kratosauth.outcome": "aal2_required"},
			err:    true,
		},
	}, {
		name:  "aal2 required by the route",
		guard: r.auth.RequireAAL(kratosauth.AAL2),
		req:   func() *http.Request { return request(user.Token, nil) },
		want:  want{event: map[string]string{"kratosauth.outcome": "aal2_required", "kratosauth.cache": "hit"}},
	}, {
		name:  "anonymous",
		guard: r.auth.LoadSession(),
		req:   func() *http.Request { return request("", nil) },
		want:  want{event: map[string]string{"kratosauth.outcome": "anonymous", "kratosauth.cache": "none"}},
	}, {
		name: "invalid: inactive session in a 200",
		setup: func() {
			s := kratosauthtest.NewSession()
			s.Active = false
			r.kratos.Fail(kratosauthtest.Raw(http.StatusOK, nil, kratosauthtest.WhoamiBody(s)))
		},
		req: func() *http.Request { return request(r.login().Token, nil) },
		want: want{ // the call worked: no error.type
			event:  map[string]string{"kratosauth.outcome": "invalid", "kratosauth.cache": "miss"},
			whoami: map[string]string{"http.response.status_code": "200", "kratosauth.outcome": "invalid"},
		},
	}, {
		name:  "unavailable: 502",
		setup: func() { r.kratos.Fail(kratosauthtest.Status(http.StatusBadGateway)) },
		req:   func() *http.Request { return request(r.login().Token, nil) },
		want: want{
			event:  map[string]string{"kratosauth.outcome": "unavailable", "kratosauth.cache": "miss"},
			whoami: map[string]string{"http.response.status_code": "502", "error.type": "502", "kratosauth.outcome": "unavailable"},
			err:    true,
		},
	}, {
		name:  "unavailable: unreachable",
		setup: func() { r.kratos.Fail(kratosauthtest.Unreachable()) },
		req:   func() *http.Request { return request(r.login().Token, nil) },
		want: want{
			event:  map[string]string{"kratosauth.outcome": "unavailable", "kratosauth.cache": "miss"},
			whoami: map[string]string{"error.type": "connection_error", "kratosauth.outcome": "unavailable"},
			err:    true,
		},
	}, {
		name:  "unavailable: timeout",
		setup: func() { r.kratos.Fail(kratosauthtest.Slow(5 * time.Second)) },
		req:   func() *http.Request { return request(r.login().Token, nil) },
		want: want{
			event:  map[string]string{"kratosauth.outcome": "unavailable", "kratosauth.cache": "miss"},
			whoami: map[string]string{"error.type": "timeout", "kratosauth.outcome": "unavailable"},
			err:    true,
		},
	}, {
		name:  "unavailable: unusable answer",
		setup: func() { r.kratos.Fail(kratosauthtest.Raw(http.StatusOK, nil, []byte("<html>proxy page</html>"))) },
		req:   func() *http.Request { return request(r.login().Token, nil) },
		want: want{
			event:  map[string]string{"kratosauth.outcome": "unavailable", "kratosauth.cache": "miss"},
			whoami: map[string]string{"http.response.status_code": "200", "error.type": "invalid_response", "kratosauth.outcome": "unavailable"},
			err:    true,
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.kratos.Recover()
			if tc.setup != nil {
				tc.setup()
			}
			g := guard
			if tc.guard != nil {
				g = tc.guard
			}
			parent, spans := r.serve(t, g, tc.req())
			assert.Equal(t, tc.want.event, checkEvent(t, spans, parent))

			ws := whoamiSpan(t, spans)
			if tc.want.whoami == nil {
				assert.Nil(t, ws, "no whoami call")
				return
			}
			require.NotNil(ws, "a whoami span")
			assert.Equal(t, "GET /sessions/whoami", ws.Name())
			assert.Equal(t, parent.TraceID(), ws.SpanContext().TraceID())
			assert.Equal(t, parent.SpanID(), ws.Parent().SpanID(), "child of the request's span")
			want := map[string]string{
				"http.request.method": "GET",
				"server.address":      "127.0.0.1",
				"server.port":         port,
				"url.full":            whoamiURL,
				"url.template":        "/sessions/whoami",
			}
			for k, v := range tc.want.whoami {
				want[k] = v
			}
			assert.Equal(t, want, attrMap(ws.Attributes()))
			if tc.want.err {
				assert.Equal(t, codes.Error, ws.Status().Code)
				assert.Equal(t, tc.want.whoami["error.type"], ws.Status().Description)
			} else {
				assert.Equal(t, codes.Unset, ws.Status().Code)
			}
			last := r.kratos.LastRequest()
			require.NotNil(last)
			assert.Equal(t, fmt.Sprintf("00-%s-%s-01", ws.SpanContext().TraceID(), ws.SpanContext().SpanID()),
				last.Header.Get("Traceparent"), "Kratos received the whoami span's context")
		})
	}
	r.kratos.Recover()
	r.assertNoSecrets(t)
}

// A stale session served during an outage, and requests sharing one call.
func TestTracesStaleAndShared(t *testing.T) {
	r := newRig(t, kratosauth.WithCacheTTL(50*time.Millisecond), kratosauth.WithStaleIfError(time.Hour))
	user := r.login()
	guard := r.auth.RequireSession()
	r.serve(t, guard, request(user.Token, nil))
	time.Sleep(100 * time.Millisecond) // past the cache deadline
	r.kratos.Fail(kratosauthtest.Status(http.StatusServiceUnavailable))
	parent, spans := r.serve(t, guard, request(user.Token, nil))
	assert.Equal(t, map[string]string{"kratosauth.outcome": "ok", "kratosauth.cache": "stale", "kratosauth.aal": "aal1"}, checkEvent(t, spans, parent))
	require.NotNil(t, whoamiSpan(t, spans))
	assert.Equal(t, "503", attrMap(whoamiSpan(t, spans).Attributes())["error.type"])
	r.kratos.Recover()

	// Five requests, one whoami call: one span, under the request that made it.
	other := r.login()
	r.kratos.Fail(kratosauthtest.Slow(200 * time.Millisecond))
	r.spans.Reset()
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			ctx, span := r.tracer.Start(context.Background(), "GET /dashboard", trace.WithSpanKind(trace.SpanKindServer))
			_, _ = guard.Check(httptest.NewRecorder(), request(other.Token, nil).WithContext(ctx))
			span.End()
		})
	}
	wg.Wait()
	spans = r.spanStubs()
	caches := map[string]int{}
	var miss trace.SpanContext
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindServer {
			ev := attrMap(s.Events()[0].Attributes)
			caches[ev["kratosauth.cache"]]++
			if ev["kratosauth.cache"] == "miss" {
				miss = s.SpanContext()
			}
		}
	}
	assert.Equal(t, map[string]int{"miss": 1, "shared": 4}, caches)
	ws := whoamiSpan(t, spans)
	require.NotNil(t, ws)
	assert.Equal(t, miss.SpanID(), ws.Parent().SpanID(), "the whoami span is the calling request's child")
	r.assertNoSecrets(t)
}

// A client that hangs up before Kratos answers: the check is "canceled",
// and the whoami call it started goes on, still under its span.
func TestTracesCanceled(t *testing.T) {
	r := newRig(t)
	user := r.login()
	r.kratos.Fail(kratosauthtest.Slow(300 * time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	parent, spans := r.serve(t, r.auth.RequireSession(), request(user.Token, nil).WithContext(ctx))
	assert.Equal(t, map[string]string{"kratosauth.outcome": "canceled", "kratosauth.cache": "none"}, checkEvent(t, spans, parent))

	require.Eventually(t, func() bool { return whoamiSpan(t, r.spanStubs()) != nil }, 5*time.Second, 10*time.Millisecond)
	ws := whoamiSpan(t, r.spanStubs())
	assert.Equal(t, parent.SpanID(), ws.Parent().SpanID())
	assert.Equal(t, "200", attrMap(ws.Attributes())["http.response.status_code"])
	r.assertNoSecrets(t)
}

// Metrics of a known sequence of checks: the counter by outcome and cache
// state, the whoami histogram by status code and error type, shared
// requests, and the cache's entries and evictions.
func TestMetrics(t *testing.T) {
	r := newRig(t, kratosauth.WithNegativeCacheTTL(time.Minute))
	guard := r.auth.RequireSession()
	user := r.login()
	check := func(req *http.Request) { _, _ = guard.Check(httptest.NewRecorder(), req) }

	check(request(user.Token, nil))                                             // ok miss, 200
	check(request(user.Token, nil))                                             // ok hit
	check(request(user.Token, nil))                                             // ok hit
	check(request("", nil))                                                     // no_credentials none
	check(request(r.secret("ory_st_bad0123456789abcdefghijk"), nil))            // invalid miss, 401
	check(request("ory_st_bad0123456789abcdefghijk", nil))                      // invalid negative
	_, _ = r.auth.LoadSession().Check(httptest.NewRecorder(), request("", nil)) // anonymous none
	r.kratos.Fail(kratosauthtest.RateLimited(time.Second))
	check(request(r.login().Token, nil)) // unavailable miss, 429
	r.kratos.Fail(kratosauthtest.Slow(200 * time.Millisecond))
	other := r.login()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { check(request(other.Token, nil)) }) // 1 ok miss, 2 ok shared; 200
	}
	wg.Wait()
	r.kratos.Recover()

	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	require.Len(t, rm.ScopeMetrics, 1)
	assert.Equal(t, otelkratosauth.ScopeName, rm.ScopeMetrics[0].Scope.Name)
	ms := map[string]metricdata.Metrics{}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		ms[m.Name] = m
	}

	checks := ms["kratosauth.session.checks"]
	assert.Equal(t, "{check}", checks.Unit)
	assert.Equal(t, map[string]int64{
		"ok/miss":             2,
		"ok/hit":              2,
		"ok/shared":           2,
		"no_credentials/none": 1,
		"invalid/miss":        1,
		"invalid/negative":    1,
		"anonymous/none":      1,
		"unavailable/miss":    1,
	}, sumByAttrs(t, checks, "kratosauth.outcome", "kratosauth.cache"))

	assert.Equal(t, map[string]int64{"": 2}, sumByAttrs(t, ms["kratosauth.whoami.shared"]))

	dur := ms["kratosauth.whoami.duration"]
	assert.Equal(t, "s", dur.Unit)
	h, ok := dur.Data.(metricdata.Histogram[float64])
	require.True(t, ok)
	counts := map[string]uint64{}
	for _, dp := range h.DataPoints {
		a := attrMap(dp.Attributes.ToSlice())
		counts[a["http.response.status_code"]+"/"+a["error.type"]] += dp.Count
		assert.Positive(t, dp.Sum)
		if a["error.type"] == "" && a["http.response.status_code"] == "200" {
			longest, ok := dp.Max.Value()
			assert.True(t, ok)
			assert.GreaterOrEqual(t, longest, 0.19, "the slow call lasted 200 ms")
		}
	}
	assert.Equal(t, map[string]uint64{"200/": 2, "401/401": 1, "429/429": 1}, counts)

	// Sessions and the remembered refusal.
	assert.Equal(t, map[string]int64{"": 3}, gaugeByAttrs(t, ms["kratosauth.cache.entries"]))
	assert.Equal(t, map[string]int64{"": 0}, sumByAttrs(t, ms["kratosauth.cache.evictions"]))
	r.assertNoSecrets(t)
	assertNoSecretsIn(t, r.secrets, rm)
}

// A full cache (a 1 MB BigCache: 1024 shards of about 1 KB) evicts, and
// the counter says so.
func TestMetricsEvictions(t *testing.T) {
	// A store of 1 MB that 300 sessions overflow (the default store keeps
	// at least 32 MB).
	store, err := cache.NewBigCache(time.Minute, 1)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	r := newRig(t, kratosauth.WithCache(store))
	guard := r.auth.RequireSession()
	for range 300 {
		_, _ = guard.Check(httptest.NewRecorder(), request(r.login().Token, nil))
	}
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	evictions := sumByAttrs(t, metricNamed(t, rm, "kratosauth.cache.evictions"))[""]
	entries := gaugeByAttrs(t, metricNamed(t, rm, "kratosauth.cache.entries"))[""]
	stats, ok := r.auth.CacheStats()
	require.True(t, ok)
	assert.Positive(t, evictions)
	assert.Equal(t, stats.Evictions, evictions)
	assert.Equal(t, stats.Entries, entries)
	assert.Less(t, entries, int64(300))
}

func metricNamed(t *testing.T, rm metricdata.ResourceMetrics, name string) metricdata.Metrics {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return metricdata.Metrics{}
}

// sumByAttrs returns a Sum's values keyed by the given attributes' values
// joined with "/".
func sumByAttrs(t *testing.T, m metricdata.Metrics, keys ...string) map[string]int64 {
	t.Helper()
	s, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is a Sum[int64]: %T", m.Name, m.Data)
	assert.True(t, s.IsMonotonic, m.Name)
	return byAttrs(s.DataPoints, keys)
}

func gaugeByAttrs(t *testing.T, m metricdata.Metrics, keys ...string) map[string]int64 {
	t.Helper()
	g, ok := m.Data.(metricdata.Gauge[int64])
	require.True(t, ok, "%s is a Gauge[int64]: %T", m.Name, m.Data)
	return byAttrs(g.DataPoints, keys)
}

func byAttrs(dps []metricdata.DataPoint[int64], keys []string) map[string]int64 {
	out := map[string]int64{}
	for _, dp := range dps {
		a := attrMap(dp.Attributes.ToSlice())
		var parts []string
		for _, k := range keys {
			parts = append(parts, a[k])
		}
		out[strings.Join(parts, "/")] += dp.Value
	}
	return out
}

// assertNoSecrets checks every attribute of every span and event exported
// so far for the credentials sent.
func (r *rig) assertNoSecrets(t *testing.T) {
	t.Helper()
	for _, s := range r.spanStubs() {
		assertNoSecretsIn(t, r.secrets, s.Attributes(), s.Name(), s.Status().Description)
		for _, ev := range s.Events() {
			assertNoSecretsIn(t, r.secrets, ev.Attributes)
		}
	}
}

// assertNoSecretsIn fails if any secret, or any 12-character piece of one,
// appears in the printed values.
func assertNoSecretsIn(t *testing.T, secrets []string, values ...any) {
	t.Helper()
	require.NotEmpty(t, secrets)
	text := fmt.Sprintf("%+v", values)
	for _, s := range secrets {
		for i := 0; i+12 <= len(s); i += 6 {
			if piece := s[i : i+12]; strings.Contains(text, piece) {
				t.Errorf("telemetry holds part of a credential: %q", piece)
				break
			}
		}
	}
}

// The check event names the session's level, including one that Kratos
// v1.3 never gives, and carries WithAttributes' attributes, as the metrics do.
func TestCheckEventAttributes(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	obs, err := otelkratosauth.NewObserver(otelkratosauth.WithTracerProvider(tp), otelkratosauth.WithMeterProvider(mp),
		otelkratosauth.WithAttributes(attribute.String("app.kratos", "customers")))
	require.NoError(t, err)

	for _, aal := range []string{kratosauth.AAL1, kratosauth.AAL2, "aal3"} {
		ctx, span := tp.Tracer("app").Start(context.Background(), "request")
		obs.SessionChecked(ctx, kratosauth.SessionCheck{Session: &kratosauth.Session{AuthenticatorAssuranceLevel: aal}, Cache: kratosauth.CacheHit})
		span.End()
	}
	ctx, span := tp.Tracer("app").Start(context.Background(), "request")
	obs.SessionChecked(ctx, kratosauth.SessionCheck{Err: &kratosauth.Error{Kind: kratosauth.ErrCanceled}})
	obs.SessionChecked(ctx, kratosauth.SessionCheck{Err: context.Canceled}) // not a kratosauth error: never happens
	span.End()

	var got []map[string]string
	for _, s := range spans.GetSpans() {
		for _, ev := range s.Events {
			got = append(got, attrMap(ev.Attributes))
		}
	}
	hit := func(aal string) map[string]string {
		return map[string]string{"kratosauth.outcome": "ok", "kratosauth.cache": "hit", "kratosauth.aal": aal, "app.kratos": "customers"}
	}
	assert.Equal(t, []map[string]string{hit("aal1"), hit("aal2"), hit("aal3"),
		{"kratosauth.outcome": "canceled", "kratosauth.cache": "none", "app.kratos": "customers"},
		{"kratosauth.outcome": "_OTHER", "kratosauth.cache": "none", "app.kratos": "customers"},
	}, got)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	assert.Equal(t, map[string]int64{"ok/hit/customers": 3, "canceled/none/customers": 1, "_OTHER/none/customers": 1},
		sumByAttrs(t, metricNamed(t, rm, "kratosauth.session.checks"), "kratosauth.outcome", "kratosauth.cache", "app.kratos"))
}

func TestOptionsAndObserveCacheErrors(t *testing.T) {
	for name, opt := range map[string]otelkratosauth.Option{
		"nil option":      nil,
		"tracer provider": otelkratosauth.WithTracerProvider(nil),
		"meter provider":  otelkratosauth.WithMeterProvider(nil),
		"propagators":     otelkratosauth.WithPropagators(nil),
	} {
		_, err := otelkratosauth.NewObserver(opt)
		assert.Error(t, err, name)
	}

	obs, err := otelkratosauth.NewObserver()
	require.NoError(t, err)
	_, err = obs.ObserveCache(nil)
	assert.ErrorContains(t, err, "nil Authenticator")
	auth, err := kratosauth.New("http://127.0.0.1:4433", kratosauth.WithObserver(obs))
	require.NoError(t, err)
	defer auth.Close()
	reg, err := obs.ObserveCache(auth)
	require.NoError(t, err)
	defer reg.Unregister()
	_, err = obs.ObserveCache(auth)
	assert.ErrorContains(t, err, "one Observer per Authenticator")
}
