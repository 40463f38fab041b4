package rpcstatus

import (
	"sync/atomic"
	"time"
)

// Recheck decides when a long-lived stream's admission is checked again:
// every interval, on the first message after it; of concurrent messages,
// one runs the check, and a refusal is remembered, so that every later
// message fails too. The zero Recheck never checks again.
type Recheck struct {
	every   time.Duration
	next    atomic.Int64 // UnixNano of the next check; 0: never
	refusal atomic.Pointer[error]
}

// Start arms r to check every interval from now (never when interval is 0).
func (r *Recheck) Start(interval time.Duration) {
	r.every = interval
	if interval > 0 {
		r.next.Store(time.Now().Add(interval).UnixNano())
	}
}

// Due runs check when a check is due, and returns the refusal, now or
// remembered; nil otherwise.
func (r *Recheck) Due(check func() error) error {
	if err := r.refusal.Load(); err != nil {
		return *err
	}
	next := r.next.Load()
	if next == 0 {
		return nil
	}
	now := time.Now().UnixNano()
	if now < next || !r.next.CompareAndSwap(next, now+int64(r.every)) {
		return nil
	}
	err := check()
	if err != nil {
		r.refusal.Store(&err)
	}
	return err
}
