package kratosauth

import (
	"context"
	"errors"
	"net/http"

	"github.com/kratosauth/kratosauth/cache"
)

// An Observer is told what an Authenticator does, to export metrics and
// traces; package otelkratosauth (its own module) implements it with
// OpenTelemetry. Its methods run on the request path: they must be fast,
// safe for concurrent use, and must never record credentials (the whoami
// request's Cookie, Authorization and X-Session-Token headers).
// Without an Observer (the default) the Authenticator pays one nil check.
type Observer interface {
	// WhoamiStarted is called before each whoami call with the outgoing
	// request (an Observer may add trace-propagation headers to it); done
	// is called when the call ended, with the response's status code (0
	// when there was none) and the call's error, nil or an *Error.
	WhoamiStarted(ctx context.Context, req *http.Request) (_ context.Context, done func(statusCode int, err error))
	// SessionChecked is called once per session check (each Authenticate
	// call, each request through a Guard) with its outcome.
	SessionChecked(ctx context.Context, c SessionCheck)
}

// SessionCheck is the outcome of one session check.
type SessionCheck struct {
	// Err is nil when the request was admitted, else the *Error (match it
	// with errors.Is against the sentinel errors). A LoadSession request
	// that goes on without a session is admitted with Session nil. A valid
	// session refused by a Guard's rules (ErrForbidden, or ErrUnavailable
	// from the permission service) comes with its Session.
	Err error
	// Session is the session the request was admitted with, or nil.
	Session *Session
	// Cache says where the answer came from.
	Cache CacheState
}

// CacheState says where a session check's answer came from.
type CacheState uint8

const (
	// CacheNone: the cache was not consulted (no credential, or one Kratos
	// could never accept).
	CacheNone CacheState = iota
	// CacheHit: a fresh cached session.
	CacheHit
	// CacheMiss: this request asked Kratos.
	CacheMiss
	// CacheShared: this request waited for another request's whoami call
	// for the same credential (singleflight).
	CacheShared
	// CacheStale: Kratos failed and a session past its cache deadline was
	// served (WithStaleIfError).
	CacheStale
	// CacheNegative: a refusal remembered by WithNegativeCacheTTL.
	CacheNegative
)

// String returns "none", "hit", "miss", "shared", "stale" or "negative".
func (c CacheState) String() string {
	switch c {
	case CacheHit:
		return "hit"
	case CacheMiss:
		return "miss"
	case CacheShared:
		return "shared"
	case CacheStale:
		return "stale"
	case CacheNegative:
		return "negative"
	}
	return "none"
}

// WithObserver sets an Observer for metrics and traces, such as
// otelkratosauth.NewObserver. Default: none.
func WithObserver(o Observer) Option {
	return func(c *config) error {
		if o == nil {
			return errors.New("kratosauth: WithObserver: nil observer")
		}
		c.observer = o
		return nil
	}
}

// observe reports a check to the Observer, if any.
func (a *Authenticator) observe(ctx context.Context, res authResult, err error) {
	if a.cfg.observer != nil {
		a.cfg.observer.SessionChecked(ctx, SessionCheck{Err: err, Session: res.session, Cache: res.cache})
	}
}

// CacheStats returns the session cache's figures when its store can tell
// them (cache.StatsReporter; the default store can), for metrics.
func (a *Authenticator) CacheStats() (cache.Stats, bool) {
	if sr, ok := a.cfg.store.(cache.StatsReporter); ok {
		return sr.Stats(), true
	}
	return cache.Stats{}, false
}
