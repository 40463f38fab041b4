package kratosauth

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// warnEvery bounds how often one cache warning is logged: with a shared
// store down, every request would log the same failure.
const warnEvery = 10 * time.Second

// warnLimiter lets each message through at most once per warnEvery, and
// counts what it held back.
type warnLimiter struct {
	mu   sync.Mutex
	last map[string]warnState
}

type warnState struct {
	at         time.Time
	suppressed int
}

// warn logs msg with err at WARN, unless msg was logged less than warnEvery
// ago; the next one logged says how many were held back.
func (a *Authenticator) warn(msg string, err error) {
	l := &a.warnings
	now := time.Now()
	l.mu.Lock()
	if l.last == nil {
		l.last = make(map[string]warnState)
	}
	st := l.last[msg]
	if !st.at.IsZero() && now.Sub(st.at) < warnEvery {
		st.suppressed++
		l.last[msg] = st
		l.mu.Unlock()
		return
	}
	l.last[msg] = warnState{at: now}
	l.mu.Unlock()
	attrs := []slog.Attr{slog.String("error", err.Error())}
	if st.suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", st.suppressed))
	}
	a.cfg.logger.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
}
