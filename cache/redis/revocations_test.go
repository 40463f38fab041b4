package rediscache_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	rediscache "github.com/kratosauth/kratosauth/cache/redis"
	"github.com/kratosauth/kratosauth/internal/testing/redistest"
)

var _ kratosauth.RevocationSink = (*rediscache.Store)(nil)

// waitRevoked polls l for sid and returns how long it took from start.
func waitRevoked(t *testing.T, l *rediscache.RevocationList, sid string, within time.Duration, start ...time.Time) time.Duration {
	t.Helper()
	if len(start) == 0 {
		start = append(start, time.Now())
	}
	for {
		revoked, err := l.Revoked(sid)
		if err == nil && revoked {
			return time.Since(start[0])
		}
		if time.Since(start[0]) > within {
			t.Fatalf("%s not revoked within %s (last error %v)", sid, within, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// A revocation reaches a following list at once; a list started later
// learns it from the stream; one past its until is not in force; while
// Redis is away longer than the maximum lag the list cannot tell, and once
// back it is current again, revocations made meanwhile included.
func TestRevocationList(t *testing.T) {
	rds := redistest.Start(t)
	edge := newStore(t, rds.URL)
	downstream := newStore(t, rds.URL)
	ctx := context.Background()
	l := downstream.NewRevocationList(time.Second)
	t.Cleanup(l.Close)
	for {
		if _, err := l.Revoked("x"); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	var delays []time.Duration
	for i := range 50 {
		sid := fmt.Sprintf("s-%d", i)
		start := time.Now()
		require.NoError(t, edge.RevokeSession(ctx, sid, time.Now().Add(time.Hour)))
		delays = append(delays, waitRevoked(t, l, sid, time.Second, start))
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	t.Logf("revocation to list: p50 %s, max %s", delays[len(delays)/2], delays[len(delays)-1])
	revoked, err := l.Revoked("never-revoked")
	require.NoError(t, err)
	assert.False(t, revoked)

	require.NoError(t, edge.RevokeSession(ctx, "short", time.Now().Add(300*time.Millisecond)))
	waitRevoked(t, l, "short", time.Second)
	time.Sleep(350 * time.Millisecond)
	revoked, err = l.Revoked("short")
	require.NoError(t, err)
	assert.False(t, revoked, "a revocation past its until is not in force")

	late := newStore(t, rds.URL).NewRevocationList(time.Second)
	t.Cleanup(late.Close)
	waitRevoked(t, late, "s-0", 2*time.Second)
	assert.Equal(t, 50, late.Len(), "a list started later has every revocation in force")

	rds.Pause()
	time.Sleep(1500 * time.Millisecond)
	_, err = l.Revoked("s-1")
	assert.ErrorIs(t, err, rediscache.ErrRevocationsStale)
	rds.Resume()
	require.NoError(t, edge.RevokeSession(ctx, "after-outage", time.Now().Add(time.Hour)))
	waitRevoked(t, l, "after-outage", 3*time.Second)
}

// BenchmarkRevocationListRevoked is the per-verification cost of the
// revocation check: a lookup among 20,000 revoked sessions.
func BenchmarkRevocationListRevoked(b *testing.B) {
	rds := redistest.Start(b)
	s, err := rediscache.New(rds.URL, rediscache.WithTimeout(time.Second))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := range 20_000 {
		if err := s.RevokeSession(ctx, fmt.Sprintf("9f2d7c1e-3b4a-4c5d-8e6f-%012d", i), time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	l := s.NewRevocationList(0)
	defer l.Close()
	for _, err := l.Revoked("x"); l.Len() < 20_000 || err != nil; _, err = l.Revoked("x") {
		time.Sleep(10 * time.Millisecond)
	}
	sid := "9f2d7c1e-3b4a-4c5d-8e6f-0a1b2c3d4e5f"
	b.ReportAllocs()
	for b.Loop() {
		if revoked, err := l.Revoked(sid); err != nil || revoked {
			b.Fatal(revoked, err)
		}
	}
}
