// Package otelkratosauth exports what a kratosauth Authenticator does as
// OpenTelemetry traces and metrics. It implements kratosauth.Observer.
//
//	obs, err := otelkratosauth.NewObserver() // the global providers; or WithTracerProvider, WithMeterProvider
//	...
//	auth, err := kratosauth.New("http://127.0.0.1:4433", kratosauth.WithObserver(obs))
//	...
//	reg, err := obs.ObserveCache(auth) // cache size and evictions
//	...
//	defer reg.Unregister()
//
// Traces: each whoami call is an HTTP client span ("GET /sessions/whoami",
// current semantic conventions) under the span of the request that made
// it, and its trace context goes to Kratos in the request's headers (the
// configured propagator, by default the global one). Each session check
// adds a "kratosauth.session.check" event to the request's span, with its
// outcome, cache state and the session's assurance level.
//
// Metrics:
//
//	kratosauth.session.checks  counter    {check}   by kratosauth.outcome, kratosauth.cache
//	kratosauth.whoami.duration histogram  s         by http.response.status_code, error.type
//	kratosauth.whoami.shared   counter    {request} requests that waited for another's whoami call
//	kratosauth.cache.entries   gauge      {entry}   sessions held (ObserveCache)
//	kratosauth.cache.evictions counter    {entry}   entries dropped for room (ObserveCache)
//
// No attribute ever holds a credential: the whoami request's Cookie,
// Authorization and X-Session-Token headers are never read, url.full is
// only the whoami URL's scheme, host and path, and no session or identity
// ID is recorded.
//
// It is a module of its own so that users who do not export telemetry never
// download OpenTelemetry.
package otelkratosauth
