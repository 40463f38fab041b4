package rediscache

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Probe intervals while the breaker is open: the first probe comes soon (a
// restart takes a second or two), later ones back off.
const (
	probeFirst = 250 * time.Millisecond
	probeMax   = 5 * time.Second
)

// breaker is a circuit breaker: after threshold failed calls in a row it
// opens, and calls fail at once with ErrUnavailable instead of each
// waiting out the timeout on a dead or hung Redis. While open, one
// goroutine pings Redis, backing off from probeFirst to probeMax, and
// closes the breaker when Redis answers; no request pays for the probe.
type breaker struct {
	threshold int32
	logger    *slog.Logger
	ping      func(context.Context) error

	failures atomic.Int32
	open     atomic.Bool

	mu      sync.Mutex
	lastErr error
	stop    chan struct{} // closed by close
	probing sync.WaitGroup
	closed  bool
}

func newBreaker(threshold int, logger *slog.Logger, ping func(context.Context) error) *breaker {
	return &breaker{threshold: int32(threshold), logger: logger, ping: ping, stop: make(chan struct{})}
}

func (b *breaker) allow() error {
	if b.open.Load() {
		return fmt.Errorf("%w: %w", ErrUnavailable, b.cause())
	}
	return nil
}

func (b *breaker) cause() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastErr
}

func (b *breaker) success() {
	if b.failures.Load() != 0 { // no shared write on the usual path
		b.failures.Store(0)
	}
}

func (b *breaker) failure(err error) {
	if b.failures.Add(1) < b.threshold {
		return
	}
	b.trip(err)
}

// trip opens the breaker, logs why and starts the probe.
func (b *breaker) trip(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastErr = err
	if b.closed || b.open.Load() {
		return
	}
	b.open.Store(true)
	b.logger.LogAttrs(context.Background(), slog.LevelWarn,
		"rediscache: Redis unavailable; sessions are checked with Kratos until it answers again",
		slog.String("error", err.Error()))
	b.probing.Add(1)
	go b.probe()
}

// probe pings until Redis answers or the store is closed.
func (b *breaker) probe() {
	defer b.probing.Done()
	wait := probeFirst
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := b.ping(ctx)
		cancel()
		if err == nil {
			b.failures.Store(0)
			b.open.Store(false)
			b.logger.LogAttrs(context.Background(), slog.LevelInfo, "rediscache: Redis reachable again; the shared cache is back")
			return
		}
		b.mu.Lock()
		b.lastErr = err
		b.mu.Unlock()
		wait = min(2*wait, probeMax)
		t.Reset(wait)
	}
}

// close stops the probe and waits for it.
func (b *breaker) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.stop)
	}
	b.mu.Unlock()
	b.probing.Wait()
}
