package kratosauth_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// check authenticates c with a and returns "ok" or the error's kind.
func check(a *kratosauth.Authenticator, c kratosauthtest.Credentials) string {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Session-Token", c.Token)
	_, err := a.Authenticate(r)
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, kratosauth.ErrInvalidSession):
		return "invalid"
	case errors.Is(err, kratosauth.ErrUnavailable):
		return "unavailable"
	}
	return err.Error()
}

func invalidate(a *kratosauth.Authenticator, c kratosauthtest.Credentials) error {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Session-Token", c.Token)
	return a.Invalidate(r)
}

// InvalidateIdentity evicts every cached session of one identity, and only
// those: Kratos revoked them (revoke_active_sessions, an admin), and the
// cache would otherwise serve them for its TTL.
func TestInvalidateIdentity(t *testing.T) {
	for name, store := range map[string]func(t *testing.T) []kratosauth.Option{
		"default store": func(*testing.T) []kratosauth.Option { return nil },
		"shared store": func(t *testing.T) []kratosauth.Option {
			return []kratosauth.Option{kratosauth.WithCache(newBigCache(t))}
		},
	} {
		t.Run(name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			a := newAuth(t, kratos.URL, append(store(t), kratosauth.WithLogger(discard))...)
			const aliceID = "7a0c4c27-3a5c-4d5e-9f0e-2b1d9b3a4c5d"
			alice1 := kratos.Login(kratosauthtest.WithIdentityID(aliceID))
			alice2 := kratos.Login(kratosauthtest.WithIdentityID(aliceID))
			bob := kratos.Login()
			for _, c := range []kratosauthtest.Credentials{alice1, alice2, bob, alice1, alice2, bob} {
				require.Equal(t, "ok", check(a, c))
			}
			require.Equal(t, 3, kratos.Calls())

			kratos.Revoke(alice1)
			kratos.Revoke(alice2)
			require.Equal(t, "ok", check(a, alice1), "cached: Kratos is not asked")
			require.NoError(t, a.InvalidateIdentity(context.Background(), aliceID))
			assert.Equal(t, "invalid", check(a, alice1))
			assert.Equal(t, "invalid", check(a, alice2))
			calls := kratos.Calls()
			assert.Equal(t, "ok", check(a, bob), "another identity's session stays cached")
			assert.Equal(t, calls, kratos.Calls())

			// A new session of the identity is served, but not cached while
			// the eviction holds (TTL + timeout).
			alice3 := kratos.Login(kratosauthtest.WithIdentityID(aliceID))
			assert.Equal(t, "ok", check(a, alice3))
			assert.Equal(t, "ok", check(a, alice3))
			assert.Equal(t, calls+2, kratos.Calls())
			assert.NoError(t, a.InvalidateIdentity(context.Background(), "b7ad1c2e-0000-4000-8000-000000000000"), "an identity with nothing cached")
		})
	}
}

// A whoami call under way when the identity is evicted answers the request
// that made it, but its answer, fetched before the eviction, is not cached.
func TestInvalidateIdentityRacingWhoami(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL, kratosauth.WithLogger(discard))
	const id = "0d8f6a43-59c3-4a36-b0e1-6c2f2d0a9e71"
	alice := kratos.Login(kratosauthtest.WithIdentityID(id))
	kratos.Fail(kratosauthtest.Slow(300 * time.Millisecond))
	done := make(chan string)
	go func() { done <- check(a, alice) }()
	time.Sleep(100 * time.Millisecond) // the whoami call is under way
	require.NoError(t, a.InvalidateIdentity(context.Background(), id))
	require.Equal(t, "ok", <-done)
	kratos.Recover()
	assert.Equal(t, "ok", check(a, alice))
	assert.Equal(t, 2, kratos.Calls(), "the answer fetched before the eviction was not cached")
}

func TestInvalidateIdentityErrors(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	ctx := context.Background()

	plain := newAuth(t, kratos.URL, kratosauth.WithCache(plainStore{newBigCache(t)}))
	assert.ErrorIs(t, plain.InvalidateIdentity(ctx, "x"), kratosauth.ErrIdentityIndexUnsupported)
	_, err := kratosauth.NewWebhookHandler(plain, kratosauth.WebhookAPIKey("X-Key", "0123456789abcdef"))
	assert.ErrorIs(t, err, kratosauth.ErrIdentityIndexUnsupported, "refused when the app starts, not when Kratos calls")

	off := newAuth(t, kratos.URL, kratosauth.WithCacheTTL(0))
	assert.NoError(t, off.InvalidateIdentity(ctx, "x"), "no cache, nothing to evict")
	assert.Error(t, off.InvalidateIdentity(ctx, ""))

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, newAuth(t, kratos.URL).InvalidateIdentity(canceled, "x"), context.Canceled)

	broken := &failingIndex{BigCache: newBigCache(t)}
	b := newAuth(t, kratos.URL, kratosauth.WithCache(broken), kratosauth.WithLogger(discard))
	broken.takeErr = errors.New("store down")
	assert.ErrorContains(t, b.InvalidateIdentity(ctx, "x"), "store down")
}

// A session whose key cannot be indexed is not cached: no eviction could
// find it. Nothing of it is left in the store.
func TestUnindexedSessionsAreNotCached(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	store := &failingIndex{BigCache: newBigCache(t), addErr: cache.ErrIndexFull}
	a := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithLogger(discard))
	alice := kratos.Login()
	for range 3 {
		require.Equal(t, "ok", check(a, alice))
	}
	assert.Equal(t, 3, kratos.Calls(), "every request asks Kratos")

	store.addErr = nil
	require.Equal(t, "ok", check(a, alice), "nothing was cached while the index failed")
	require.Equal(t, 4, kratos.Calls())
}

// Replicas sharing a store share logouts, refusals and evictions: what one
// replica writes, the others read before their next request. Here the
// replicas are two Authenticators of one Kratos (so one namespace) on one
// store; cache/redis runs the same against a real Redis.
func TestSharedStoreIsOneTruth(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	store := newBigCache(t)
	r1 := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithNegativeCacheTTL(time.Minute), kratosauth.WithLogger(discard))
	r2 := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithNegativeCacheTTL(time.Minute), kratosauth.WithLogger(discard))

	alice := kratos.Login()
	require.Equal(t, "ok", check(r1, alice))
	require.Equal(t, "ok", check(r2, alice))
	require.Equal(t, 1, kratos.Calls(), "one whoami for the fleet")

	invalidate(r1, alice) // logout on replica 1...
	kratos.Revoke(alice)
	assert.Equal(t, "invalid", check(r2, alice), "...refused on replica 2")

	bogus := kratosauthtest.Credentials{Token: "ory_st_not-a-session-token-0123456789"}
	require.Equal(t, "invalid", check(r1, bogus))
	calls := kratos.Calls()
	assert.Equal(t, "invalid", check(r2, bogus), "the negative cache is shared")
	assert.Equal(t, calls, kratos.Calls())

	const id = "3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b"
	bob := kratos.Login(kratosauthtest.WithIdentityID(id))
	require.Equal(t, "ok", check(r1, bob))
	require.Equal(t, "ok", check(r2, bob))
	kratos.DisableIdentity(id)
	require.NoError(t, r2.InvalidateIdentity(context.Background(), id))
	assert.Equal(t, "invalid", check(r1, bob), "evicted on replica 2, refused on replica 1")
}

// Cache failures are logged, but not once per request.
func TestCacheWarningsAreRateLimited(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	var logs logCounter
	a := newAuth(t, kratos.URL, kratosauth.WithCache(downStore{}), kratosauth.WithLogger(logs.logger()))
	alice := kratos.Login()
	for range 50 {
		require.Equal(t, "ok", check(a, alice), "a store down is a miss: Kratos answers")
	}
	assert.Equal(t, 50, kratos.Calls())
	assert.Equal(t, 1, logs.count("kratosauth: session cache read failed"))
	assert.Equal(t, 1, logs.count("kratosauth: session cache unavailable; the answer is not cached"))
}

func newBigCache(t *testing.T) *cache.BigCache {
	s, err := cache.NewBigCache(time.Minute, 8)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// plainStore is a Store without an identity index.
type plainStore struct{ b *cache.BigCache }

func (p plainStore) Get(k string) ([]byte, error)         { return p.b.Get(k) }
func (p plainStore) Begin(k string) (cache.Ticket, error) { return p.b.Begin(k) }
func (p plainStore) Put(k string, e []byte, ttl time.Duration, t cache.Ticket, maxAge time.Duration) error {
	return p.b.Put(k, e, ttl, t, maxAge)
}
func (p plainStore) Revoke(k string, m []byte, ttl, fence time.Duration) error {
	return p.b.Revoke(k, m, ttl, fence)
}
func (p plainStore) Close() error { return nil }

// failingIndex is a BigCache whose index fails on demand.
type failingIndex struct {
	*cache.BigCache
	addErr, takeErr error
}

func (f *failingIndex) AddToIndex(index, key string, ttl time.Duration) error {
	if f.addErr != nil {
		return f.addErr
	}
	return f.BigCache.AddToIndex(index, key, ttl)
}

func (f *failingIndex) TakeIndex(index string, hold time.Duration) ([]string, error) {
	if f.takeErr != nil {
		return nil, f.takeErr
	}
	return f.BigCache.TakeIndex(index, hold)
}

// downStore fails every call, as a store whose server is down.
type downStore struct{}

var errDown = errors.New("store down")

func (downStore) Get(string) ([]byte, error)         { return nil, errDown }
func (downStore) Begin(string) (cache.Ticket, error) { return cache.Ticket{}, errDown }
func (downStore) Close() error                       { return nil }
func (downStore) Revoke(string, []byte, time.Duration, time.Duration) error {
	return errDown
}
func (downStore) Put(string, []byte, time.Duration, cache.Ticket, time.Duration) error {
	return errDown
}
func (downStore) AddToIndex(string, string, time.Duration) error { return errDown }
func (downStore) TakeIndex(string, time.Duration) ([]string, error) {
	return nil, errDown
}

// logCounter counts log records by message.
type logCounter struct {
	mu   sync.Mutex
	msgs map[string]int
}

func (l *logCounter) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msgs[msg]
}

var discard = slog.New(slog.DiscardHandler)

func (l *logCounter) logger() *slog.Logger { return slog.New(l) }

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCounter) WithGroup(string) slog.Handler            { return l }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.msgs == nil {
		l.msgs = map[string]int{}
	}
	l.msgs[r.Message]++
	return nil
}

// A logout the store cannot record is an error the app sees: it must not
// tell the user they are signed out while other replicas serve the session.
func TestUnrecordedLogoutIsAnError(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	store := &refusingRevokes{BigCache: newBigCache(t)}
	r1 := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithLogger(discard))
	r2 := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithLogger(discard))
	alice := kratos.Login()
	require.Equal(t, "ok", check(r1, alice))
	store.refuse.Store(true)
	assert.ErrorIs(t, invalidate(r1, alice), errDown, "the logout was not recorded")
	assert.Equal(t, "ok", check(r2, alice), "and replica 2 still serves it: the app must not report the logout as done")
	assert.Equal(t, 1, kratos.Calls())

	store.refuse.Store(false)
	require.NoError(t, invalidate(r1, alice), "tried again once the store is back")
	kratos.Revoke(alice)
	assert.Equal(t, "invalid", check(r2, alice))
}

// refusingRevokes is a shared store that, once refuse is set, fails every
// Revoke.
type refusingRevokes struct {
	*cache.BigCache
	refuse atomic.Bool
}

func (r *refusingRevokes) Revoke(k string, m []byte, ttl, fence time.Duration) error {
	if r.refuse.Load() {
		return errDown
	}
	return r.BigCache.Revoke(k, m, ttl, fence)
}

// A logout on another replica that lands between a replica's ticket and
// its write of the session fences the write: the session is not cached.
func TestLogoutBetweenTicketAndWrite(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	store := &putHook{BigCache: newBigCache(t)}
	r1 := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithLogger(discard))
	r2 := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithLogger(discard))
	alice := kratos.Login()
	store.beforePut = func() { require.NoError(t, invalidate(r1, alice)) } // replica 1's logout lands now
	require.Equal(t, "ok", check(r2, alice), "answered with what Kratos said before the logout")
	assert.Equal(t, "ok", check(r2, alice))
	assert.Equal(t, 2, kratos.Calls(), "not cached: the logout fenced the write")
	assert.Equal(t, "ok", check(r1, alice))
	assert.Equal(t, 3, kratos.Calls(), "nor cached afterwards, for the cache TTL")
}

// putHook is a shared store that runs beforePut once, as another process's
// write landing just before a Put.
type putHook struct {
	*cache.BigCache
	beforePut func()
}

func (s *putHook) Put(k string, e []byte, ttl time.Duration, t cache.Ticket, maxAge time.Duration) error {
	if f := s.beforePut; f != nil {
		s.beforePut = nil
		f()
	}
	return s.BigCache.Put(k, e, ttl, t, maxAge)
}
