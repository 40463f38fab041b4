package rediscache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// The revocation feed is one Redis stream, prefix+"revoked": an entry per
// revoked session (fields sid and until, Unix milliseconds), appended by
// the edge (Store.RevokeSession, a kratosauth.RevocationSink) and read by
// downstream services (RevocationList). A stream is both the snapshot a
// service reads when it starts or reconnects (XRANGE) and the live feed it
// blocks on (XREAD BLOCK), with no message lost in between: a reader asks
// for what follows the last ID it saw. Entries older than
// RevocationRetention are trimmed as new ones are added.
const (
	// RevocationRetention is how long a revocation stays in the stream:
	// at least the longest tokenizer template ttl a downstream accepts.
	RevocationRetention = 24 * time.Hour
	// DefaultRevocationMaxLag is how stale a RevocationList may be before
	// it answers "cannot tell": see NewRevocationList.
	DefaultRevocationMaxLag = 5 * time.Second

	revocationBlock = 500 * time.Millisecond // one XREAD's wait: also the list's heartbeat
)

// ErrRevocationsStale is returned by RevocationList.Revoked when the list
// has not heard from Redis for longer than its maximum lag.
var ErrRevocationsStale = errors.New("rediscache: revocation list is not current")

func (s *Store) revocationKey() string { return s.cfg.prefix + "revoked" }

// RevokeSession implements kratosauth.RevocationSink: it appends sessionID
// to the revocation stream, for readers to keep until until (bounded by
// RevocationRetention). The stream's entries older than the retention are
// trimmed in the same call.
func (s *Store) RevokeSession(_ context.Context, sessionID string, until time.Time) error {
	if sessionID == "" {
		return errors.New("rediscache: RevokeSession: empty session ID")
	}
	minID := strconv.FormatInt(time.Now().Add(-RevocationRetention).UnixMilli(), 10)
	return s.do("revoke session", func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return c.Do(ctx, c.B().Xadd().Key(s.revocationKey()).Minid().Almost().Threshold(minID).Id("*").
			FieldValue().FieldValue("sid", sessionID).FieldValue("until", strconv.FormatInt(until.UnixMilli(), 10)).Build())
	})
}

// RevocationList is a downstream service's local copy of the revocation
// stream: Revoked is a map lookup, never a network call. A goroutine reads
// the stream once when the list starts (every revocation still in force,
// those made before the service started included) and then blocks on it for
// what follows, so a revocation reaches the list within Redis' round trip.
type RevocationList struct {
	s      *Store
	maxLag time.Duration

	mu      sync.RWMutex
	revoked map[string]int64 // session ID -> until, Unix milliseconds
	synced  atomic.Int64     // Unix nanoseconds of the last successful read

	stop context.CancelFunc
	done chan struct{}
}

// NewRevocationList starts a list that follows the store's revocation
// stream. While it cannot read the stream for longer than maxLag (0:
// DefaultRevocationMaxLag), Revoked answers ErrRevocationsStale: a
// verifier then refuses tokens as unavailable (503) rather than accept
// one whose session may have been revoked meanwhile. Close it before the
// store.
func (s *Store) NewRevocationList(maxLag time.Duration) *RevocationList {
	if maxLag <= 0 {
		maxLag = DefaultRevocationMaxLag
	}
	ctx, stop := context.WithCancel(context.Background())
	l := &RevocationList{s: s, maxLag: maxLag, revoked: map[string]int64{}, stop: stop, done: make(chan struct{})}
	go l.follow(ctx)
	return l
}

// Revoked reports whether sessionID was revoked (and its revocation is
// still in force), or ErrRevocationsStale.
func (l *RevocationList) Revoked(sessionID string) (bool, error) {
	if lag := time.Now().UnixNano() - l.synced.Load(); lag > int64(l.maxLag) {
		return false, fmt.Errorf("%w: last read %s ago", ErrRevocationsStale, time.Duration(lag).Round(time.Millisecond))
	}
	l.mu.RLock()
	until, ok := l.revoked[sessionID]
	l.mu.RUnlock()
	return ok && time.Now().UnixMilli() < until, nil
}

// Len is the number of revocations the list holds.
func (l *RevocationList) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.revoked)
}

// Close stops following the stream.
func (l *RevocationList) Close() {
	l.stop()
	<-l.done
}

// follow reads the stream from its start, then what follows, until ctx
// ends. After a failure it reads again from the last ID it saw.
func (l *RevocationList) follow(ctx context.Context) {
	defer close(l.done)
	last := "0-0" // the whole stream first: the snapshot
	lastSweep := time.Now()
	for ctx.Err() == nil {
		next, caughtUp, err := l.read(ctx, last)
		if err != nil {
			select { // Redis down or not yet reached: try again shortly
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		last = next
		if caughtUp { // a snapshot read in pages is current after its last page
			l.synced.Store(time.Now().UnixNano())
		}
		if time.Since(lastSweep) > time.Minute {
			l.sweep()
			lastSweep = time.Now()
		}
	}
}

// readPage is how many entries one read takes.
const readPage = 10000

// read takes the entries after last (waiting up to revocationBlock for
// some) and returns the last ID seen, and whether nothing is left to read.
func (l *RevocationList) read(ctx context.Context, last string) (string, bool, error) {
	conn := l.s.conn.Load()
	if conn == nil {
		return last, false, errors.New("rediscache: not connected")
	}
	c := *conn
	ctx, cancel := context.WithTimeout(ctx, revocationBlock+l.s.cfg.timeout+time.Second)
	defer cancel()
	res, err := c.Do(ctx, c.B().Xread().Count(readPage).Block(revocationBlock.Milliseconds()).Streams().Key(l.s.revocationKey()).Id(last).Build()).AsXRead()
	if rueidis.IsRedisNil(err) {
		return last, true, nil // nothing new within the block time
	}
	if err != nil {
		return last, false, err
	}
	entries := res[l.s.revocationKey()]
	now := time.Now().UnixMilli()
	l.mu.Lock()
	for _, e := range entries {
		until, err := strconv.ParseInt(e.FieldValues["until"], 10, 64)
		if sid := e.FieldValues["sid"]; sid != "" && err == nil && until > now && until > l.revoked[sid] {
			l.revoked[sid] = until
		}
		last = e.ID
	}
	l.mu.Unlock()
	return last, len(entries) < readPage, nil
}

// sweep drops revocations no longer in force.
func (l *RevocationList) sweep() {
	now := time.Now().UnixMilli()
	l.mu.Lock()
	defer l.mu.Unlock()
	for sid, until := range l.revoked {
		if until <= now {
			delete(l.revoked, sid)
		}
	}
}
