package otelkratosauth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/kratosauth/kratosauth"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/kratosauth/kratosauth/otelkratosauth"

// Attribute keys of this package; the others are OpenTelemetry's semantic
// conventions.
const (
	// OutcomeKey is a session check's outcome: "ok" (admitted with a
	// session), "anonymous" (LoadSession let a request without a valid
	// session through), "no_credentials", "invalid", "aal2_required",
	// "canceled" or "unavailable" (the sentinel errors of kratosauth). On a
	// whoami span it is what Kratos' answer meant.
	OutcomeKey = attribute.Key("kratosauth.outcome")
	// CacheKey is where a check's answer came from: "hit", "miss",
	// "shared", "stale", "negative" or "none" (kratosauth.CacheState).
	CacheKey = attribute.Key("kratosauth.cache")
	// AALKey is the assurance level of the session a check admitted.
	AALKey = attribute.Key("kratosauth.aal")
)

// CheckEventName is the span event added to a request's span for each
// session check.
const CheckEventName = "kratosauth.session.check"

// Observer is a kratosauth.Observer that records OpenTelemetry traces and
// metrics; see the package documentation for what it records. Build it
// with NewObserver and pass it to kratosauth.New with kratosauth.WithObserver.
// It is safe for concurrent use.
type Observer struct {
	tracer    trace.Tracer
	prop      propagation.TextMapPropagator
	attrs     []attribute.KeyValue
	checks    metric.Int64Counter
	shared    metric.Int64Counter
	duration  metric.Float64Histogram
	entries   metric.Int64ObservableGauge
	evictions metric.Int64ObservableCounter
	meter     metric.Meter
	observing atomic.Bool

	// Options of the counters and the check event, built once: a cache hit
	// then records without allocating (variadic options built per call
	// would).
	checkOpts  [numOutcomes][numCacheStates][]metric.AddOption
	sharedOpts []metric.AddOption
	eventOpts  [numOutcomes][numCacheStates][numAALs][]trace.EventOption
}

var _ kratosauth.Observer = (*Observer)(nil)

// Option configures an Observer.
type Option func(*config) error

type config struct {
	tp    trace.TracerProvider
	mp    metric.MeterProvider
	prop  propagation.TextMapPropagator
	attrs []attribute.KeyValue
}

// WithTracerProvider sets where whoami spans go. Default: the global
// provider (otel.GetTracerProvider), which records nothing until the app
// sets one.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) error {
		if tp == nil {
			return errors.New("otelkratosauth: WithTracerProvider: nil provider")
		}
		c.tp = tp
		return nil
	}
}

// WithMeterProvider sets where the metrics go. Default: the global provider
// (otel.GetMeterProvider), which records nothing until the app sets one.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) error {
		if mp == nil {
			return errors.New("otelkratosauth: WithMeterProvider: nil provider")
		}
		c.mp = mp
		return nil
	}
}

// WithPropagators sets how the trace context is written into the whoami
// request's headers, e.g. propagation.TraceContext{} for W3C traceparent.
// Default: the global propagator (otel.GetTextMapPropagator), which writes
// nothing until the app sets one.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return func(c *config) error {
		if p == nil {
			return errors.New("otelkratosauth: WithPropagators: nil propagator")
		}
		c.prop = p
		return nil
	}
}

// WithAttributes adds attributes to every span, event and measurement, for
// instance to tell the Observers of two Authenticators apart. They are
// recorded as given: never put a credential in them. Default: none.
func WithAttributes(kv ...attribute.KeyValue) Option {
	return func(c *config) error {
		c.attrs = append(c.attrs, kv...)
		return nil
	}
}

// NewObserver returns an Observer recording with the configured providers.
// Its error comes from a nil option or the meter provider refusing an
// instrument.
func NewObserver(opts ...Option) (*Observer, error) {
	var c config
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("otelkratosauth: nil Option")
		}
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.prop == nil {
		c.prop = otel.GetTextMapPropagator()
	}
	o := &Observer{
		tracer: c.tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		meter:  c.mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL)),
		prop:   c.prop,
		attrs:  c.attrs,
	}
	var err error
	if o.checks, err = o.meter.Int64Counter("kratosauth.session.checks",
		metric.WithDescription("Session checks, by outcome and by where the answer came from."),
		metric.WithUnit("{check}")); err != nil {
		return nil, err
	}
	if o.shared, err = o.meter.Int64Counter("kratosauth.whoami.shared",
		metric.WithDescription("Requests that waited for another request's whoami call for the same credential instead of making their own."),
		metric.WithUnit("{request}")); err != nil {
		return nil, err
	}
	if o.duration, err = o.meter.Float64Histogram("kratosauth.whoami.duration",
		metric.WithDescription("Duration of whoami calls to Kratos."),
		metric.WithUnit("s"),
		// http.client.request.duration's buckets: a whoami is an HTTP call.
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)); err != nil {
		return nil, err
	}
	if o.entries, err = o.meter.Int64ObservableGauge("kratosauth.cache.entries",
		metric.WithDescription("Entries in the session cache (sessions and remembered refusals)."),
		metric.WithUnit("{entry}")); err != nil {
		return nil, err
	}
	if o.evictions, err = o.meter.Int64ObservableCounter("kratosauth.cache.evictions",
		metric.WithDescription("Session cache entries dropped to make room."),
		metric.WithUnit("{entry}")); err != nil {
		return nil, err
	}
	for oc := range numOutcomes {
		for cs := range numCacheStates {
			set := attribute.NewSet(append([]attribute.KeyValue{outcomeAttrs[oc], cacheAttrs[cs]}, c.attrs...)...)
			o.checkOpts[oc][cs] = []metric.AddOption{metric.WithAttributeSet(set)}
			for aal, kv := range [numAALs][]attribute.KeyValue{aalNone: nil, aalOne: {AALKey.String(kratosauth.AAL1)}, aalTwo: {AALKey.String(kratosauth.AAL2)}} {
				attrs := slices.Concat([]attribute.KeyValue{outcomeAttrs[oc], cacheAttrs[cs]}, kv, c.attrs)
				o.eventOpts[oc][cs][aal] = []trace.EventOption{trace.WithAttributes(attrs...)}
			}
		}
	}
	o.sharedOpts = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(c.attrs...))}
	return o, nil
}

// ObserveCache reports a's session cache in kratosauth.cache.entries and
// kratosauth.cache.evictions, when its store can tell them
// (Authenticator.CacheStats: the default store can). Call it once, after
// kratosauth.New; the Observer of another Authenticator is another
// Observer (tell them apart with WithAttributes). Unregister the result
// before closing a if the meter provider lives on.
func (o *Observer) ObserveCache(a *kratosauth.Authenticator) (metric.Registration, error) {
	if a == nil {
		return nil, errors.New("otelkratosauth: ObserveCache: nil Authenticator")
	}
	if !o.observing.CompareAndSwap(false, true) {
		// Two caches reported under one attribute set would overwrite
		// each other's figures.
		return nil, errors.New("otelkratosauth: ObserveCache: this Observer already observes a cache; use one Observer per Authenticator")
	}
	opt := metric.WithAttributeSet(attribute.NewSet(o.attrs...))
	reg, err := o.meter.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		if s, ok := a.CacheStats(); ok {
			obs.ObserveInt64(o.entries, s.Entries, opt)
			obs.ObserveInt64(o.evictions, s.Evictions, opt)
		}
		return nil
	}, o.entries, o.evictions)
	if err != nil {
		o.observing.Store(false)
		return nil, err
	}
	return reg, nil
}

// WhoamiStarted implements kratosauth.Observer: it starts the whoami call's
// client span under the span in ctx and writes its trace context into
// req's headers. It reads nothing of req but its method and URL.
func (o *Observer) WhoamiStarted(ctx context.Context, req *http.Request) (context.Context, func(int, error)) {
	start := time.Now()
	ctx, span := o.tracer.Start(ctx, req.Method+" "+req.URL.Path,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(o.requestAttrs(req)...))
	o.prop.Inject(ctx, propagation.HeaderCarrier(req.Header))
	return ctx, func(status int, err error) {
		elapsed := time.Since(start).Seconds()
		errType := errorType(status, err)
		attrs := make([]attribute.KeyValue, 0, 3+len(o.attrs))
		attrs = append(attrs, o.attrs...)
		if status > 0 {
			attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
		}
		if errType != "" {
			attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
		}
		o.duration.Record(ctx, elapsed, metric.WithAttributes(attrs...))
		if span.IsRecording() {
			span.SetAttributes(attrs[len(o.attrs):]...)
			span.SetAttributes(outcomeAttrs[outcomeOf(err, true)])
			if errType != "" {
				span.SetStatus(codes.Error, errType)
			}
		}
		span.End()
	}
}

// requestAttrs are the client span's request attributes. url.full is built
// from the scheme, host and path alone: no user info, query or fragment can
// reach it, whatever the request holds.
func (o *Observer) requestAttrs(req *http.Request) []attribute.KeyValue {
	u := req.URL
	host := u.Hostname()
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			port = n
		}
	}
	method := semconv.HTTPRequestMethodKey.String(req.Method)
	if req.Method == http.MethodGet {
		method = semconv.HTTPRequestMethodGet
	}
	return append([]attribute.KeyValue{
		method,
		semconv.ServerAddress(host),
		semconv.ServerPort(port),
		semconv.URLFull(u.Scheme + "://" + u.Host + u.EscapedPath()),
		semconv.URLTemplate(u.Path),
	}, o.attrs...)
}

// errorType is error.type of a whoami call: the status code from 400 on
// (as the HTTP semantic conventions say), "timeout", "connection_error"
// when no answer came, "invalid_response" for an answer below 400 that
// kratosauth could not use (redirect, oversized or undecodable body), and
// "" for a call that worked, including a valid answer that the session is
// not active.
func errorType(status int, err error) string {
	var ne net.Error
	switch {
	case status >= 400:
		return strconv.Itoa(status)
	case err == nil || !errors.Is(err, kratosauth.ErrUnavailable):
		return ""
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case status == 0:
		return "connection_error"
	}
	return "invalid_response"
}

// SessionChecked implements kratosauth.Observer: it counts the check and
// adds an event to the request's span when it records. Without an SDK it
// costs a context lookup and two no-op calls.
func (o *Observer) SessionChecked(ctx context.Context, c kratosauth.SessionCheck) {
	oc := outcomeOf(c.Err, c.Session != nil)
	cs := int(c.Cache)
	if cs >= numCacheStates {
		cs = 0 // a state newer than this package: counted as "none"
	}
	o.checks.Add(ctx, 1, o.checkOpts[oc][cs]...)
	if c.Cache == kratosauth.CacheShared {
		o.shared.Add(ctx, 1, o.sharedOpts...)
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		aal := aalNone
		if c.Session != nil {
			switch c.Session.AuthenticatorAssuranceLevel {
			case kratosauth.AAL1:
				aal = aalOne
			case kratosauth.AAL2:
				aal = aalTwo
			default: // not a level Kratos v1.3 gives: not worth a prebuilt option
				span.AddEvent(CheckEventName, trace.WithAttributes(append([]attribute.KeyValue{outcomeAttrs[oc], cacheAttrs[cs],
					AALKey.String(c.Session.AuthenticatorAssuranceLevel)}, o.attrs...)...))
				return
			}
		}
		span.AddEvent(CheckEventName, o.eventOpts[oc][cs][aal]...)
	}
}

// Assurance levels of a check event, indexes of Observer.eventOpts.
const (
	aalNone = iota
	aalOne
	aalTwo
	numAALs
)

// Outcomes, indexes of outcomeAttrs.
const (
	outcomeOK = iota
	outcomeAnonymous
	outcomeNoCredentials
	outcomeInvalid
	outcomeAAL2Required
	outcomeCanceled
	outcomeUnavailable
	outcomeOther
	numOutcomes
)

var outcomeAttrs = [numOutcomes]attribute.KeyValue{
	outcomeOK:            OutcomeKey.String("ok"),
	outcomeAnonymous:     OutcomeKey.String("anonymous"),
	outcomeNoCredentials: OutcomeKey.String("no_credentials"),
	outcomeInvalid:       OutcomeKey.String("invalid"),
	outcomeAAL2Required:  OutcomeKey.String("aal2_required"),
	outcomeCanceled:      OutcomeKey.String("canceled"),
	outcomeUnavailable:   OutcomeKey.String("unavailable"),
	outcomeOther:         OutcomeKey.String("_OTHER"),
}

// numCacheStates is the number of kratosauth.CacheState values, none to negative.
const numCacheStates = int(kratosauth.CacheNegative) + 1

var cacheAttrs = func() (a [numCacheStates]attribute.KeyValue) {
	for i := range a {
		a[i] = CacheKey.String(kratosauth.CacheState(i).String())
	}
	return a
}()

// outcomeOf maps a check's error to its outcome. Its Kind is compared
// directly: errors.Is would walk Error.Unwrap, which allocates.
func outcomeOf(err error, withSession bool) int {
	if err == nil {
		if withSession {
			return outcomeOK
		}
		return outcomeAnonymous
	}
	var e *kratosauth.Error
	if !errors.As(err, &e) {
		return outcomeOther
	}
	switch e.Kind {
	case kratosauth.ErrNoCredentials:
		return outcomeNoCredentials
	case kratosauth.ErrInvalidSession:
		return outcomeInvalid
	case kratosauth.ErrAAL2Required:
		return outcomeAAL2Required
	case kratosauth.ErrCanceled:
		return outcomeCanceled
	case kratosauth.ErrUnavailable:
		return outcomeUnavailable
	}
	return outcomeOther
}
