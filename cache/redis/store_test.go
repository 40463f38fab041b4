package rediscache_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/cache"
	rediscache "github.com/kratosauth/kratosauth/cache/redis"
	"github.com/kratosauth/kratosauth/cache/storetest"
	"github.com/kratosauth/kratosauth/internal/testing/redistest"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// The Store's goroutines (connections, breaker probe) end with Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var discard = slog.New(slog.DiscardHandler)

func newStore(t *testing.T, url string, opts ...rediscache.Option) *rediscache.Store {
	t.Helper()
	s, err := rediscache.New(url, append([]rediscache.Option{rediscache.WithLogger(discard)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// The cache.Store contract, with and without the local cache, standalone
// and in a Cluster.
func TestStoreContract(t *testing.T) {
	single := redistest.Start(t)
	cluster := redistest.StartCluster(t, 3)
	for _, tc := range []struct {
		name string
		url  string
		opts []rediscache.Option
	}{
		{"standalone", single.URL, nil},
		{"standalone, no local cache", single.URL, []rediscache.Option{rediscache.WithLocalCacheMB(0)}},
		{"cluster", "redis://" + cluster[0].Addr, []rediscache.Option{rediscache.WithPrefix("c:")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) cache.Store { return newStore(t, tc.url, tc.opts...) })
			storetest.RunClaimer(t, func(t *testing.T) cache.Claimer { return newStore(t, tc.url, tc.opts...) })

			// Many identities' indexes: in a Cluster they and their keys are
			// spread over the nodes, and every call names one key.
			s := newStore(t, tc.url, tc.opts...)
			key := fmt.Sprintf("%x", time.Now().UnixNano())
			for i := range 20 {
				index, k := fmt.Sprintf("%s-ix-%d", key, i), fmt.Sprintf("%s-k-%d", key, i)
				require.NoError(t, s.AddToIndex(index, k, time.Minute))
				put(t, s, k, "e", time.Minute)
				keys, err := s.TakeIndex(index, time.Minute)
				require.NoError(t, err)
				assert.Equal(t, []string{k}, keys)
			}
		})
	}
	v, err := single.Do("PTTL", "kratosauth:nothing")
	require.NoError(t, err)
	assert.Equal(t, "-2", v)
}

// put stores v under k with a fresh ticket.
func put(t *testing.T, s *rediscache.Store, k, v string, ttl time.Duration) {
	t.Helper()
	tk, err := s.Begin(k)
	require.NoError(t, err)
	require.NoError(t, s.Put(k, []byte(v), ttl, tk, time.Minute))
}

func TestStoreKeysAndExpiry(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv.URL)
	put(t, s, "abc", "v", 30*time.Second)
	v, err := srv.Do("GET", "kratosauth:abc")
	require.NoError(t, err)
	runID, err := srv.Info("run_id")
	require.NoError(t, err)
	assert.Equal(t, "0000000000000000"+runID+"v", v, "keys carry the default prefix; values their fence and writer")
	ttl, err := srv.Do("PTTL", "kratosauth:abc")
	require.NoError(t, err)
	ms, _ := strconv.Atoi(ttl)
	assert.InDelta(t, 30000, ms, 1000, "the Redis expiry is the entry's ttl")

	require.NoError(t, s.AddToIndex("id", "abc", 10*time.Second))
	ttl, err = srv.Do("PTTL", "kratosauth:idx:id")
	require.NoError(t, err)
	ms, _ = strconv.Atoi(ttl)
	assert.InDelta(t, 10000, ms, 1000, "the index expires with its last key")
	require.NoError(t, s.AddToIndex("id", "def", 20*time.Second))
	ttl, _ = srv.Do("PTTL", "kratosauth:idx:id")
	ms, _ = strconv.Atoi(ttl)
	assert.InDelta(t, 20000, ms, 1000)
}

// The index's contract (cache.IdentityIndex): expired keys are not
// returned and do not count, a take holds the index, the bound is per index.
func TestStoreIndex(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv.URL, rediscache.WithMaxIndexKeys(3))
	require.NoError(t, s.AddToIndex("alice", "k1", time.Minute))
	require.NoError(t, s.AddToIndex("alice", "k2", time.Minute))
	require.NoError(t, s.AddToIndex("alice", "k1", time.Millisecond), "a shorter add keeps the later expiry")
	require.NoError(t, s.AddToIndex("alice", "gone", time.Millisecond))
	require.NoError(t, s.AddToIndex("bob", "k3", time.Minute))
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, s.AddToIndex("alice", "k4", time.Minute), "the expired key made room")
	assert.ErrorIs(t, s.AddToIndex("alice", "k5", time.Minute), cache.ErrIndexFull)
	require.NoError(t, s.AddToIndex("alice", "k4", time.Minute), "a key already there is no new key")

	keys, err := s.TakeIndex("alice", 200*time.Millisecond)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"k1", "k2", "k4"}, keys)
	assert.ErrorIs(t, s.AddToIndex("alice", "k6", time.Minute), cache.ErrIndexHeld)
	keys, err = s.TakeIndex("alice", 10*time.Millisecond)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"k1", "k2", "k4"}, keys, "the keys stay, and nothing was added while held")
	assert.ErrorIs(t, s.AddToIndex("alice", "k4", time.Minute), cache.ErrIndexHeld, "a shorter take keeps the longer hold")
	time.Sleep(250 * time.Millisecond)
	require.NoError(t, s.AddToIndex("alice", "k4", time.Minute), "the hold ended")
	assert.ErrorIs(t, s.AddToIndex("alice", "k6", time.Minute), cache.ErrIndexFull, "the keys stay until they expire")
	assert.Error(t, s.AddToIndex("alice", "!held", time.Minute))

	keys, err = s.TakeIndex("nobody", time.Minute)
	require.NoError(t, err)
	assert.Empty(t, keys)
	assert.ErrorIs(t, s.AddToIndex("nobody", "k", time.Minute), cache.ErrIndexHeld)
	keys, _ = s.TakeIndex("bob", 0)
	assert.Equal(t, []string{"k3"}, keys)
	require.NoError(t, s.AddToIndex("bob", "k7", time.Minute), "no hold")
}

// Concurrent adds and takes on one index, from several clients: a key
// refused as held is never returned, and every key added is.
func TestStoreIndexIsAtomic(t *testing.T) {
	srv := redistest.Start(t)
	stores := []*rediscache.Store{newStore(t, srv.URL), newStore(t, srv.URL), newStore(t, srv.URL)}
	var mu sync.Mutex
	added, taken := map[string]bool{}, map[string]bool{}
	var wg sync.WaitGroup
	for w, s := range stores {
		wg.Go(func() {
			for i := range 300 {
				k := fmt.Sprintf("%d-%d", w, i)
				err := s.AddToIndex("x", k, time.Minute)
				if err == nil {
					mu.Lock()
					added[k] = true
					mu.Unlock()
				} else {
					assert.ErrorIs(t, err, cache.ErrIndexHeld)
				}
				if i%50 == 0 {
					keys, err := s.TakeIndex("x", time.Millisecond)
					assert.NoError(t, err)
					mu.Lock()
					for _, k := range keys {
						taken[k] = true
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(2 * time.Millisecond)
	keys, err := stores[0].TakeIndex("x", 0)
	require.NoError(t, err)
	require.NotEmpty(t, added)
	assert.ElementsMatch(t, slices.Collect(maps.Keys(added)), keys, "the index holds exactly the keys added")
	for k := range taken {
		assert.True(t, added[k], "%s was refused, and returned", k)
	}
}

// A local hit is this process's memory: Redis is not asked. A write by this
// process is seen by its next read, exactly; a write by another client
// within the invalidation message's delay.
func TestStoreLocalCache(t *testing.T) {
	srv := redistest.Start(t)
	r1, r2 := newStore(t, srv.URL), newStore(t, srv.URL)
	put(t, r1, "k", "v1", time.Minute)
	hits := func() int {
		v, err := srv.Info("keyspace_hits")
		require.NoError(t, err)
		n, _ := strconv.Atoi(v)
		return n
	}
	_, err := r2.Get("k")
	require.NoError(t, err)
	before := hits()
	for range 100 {
		got, err := r2.Get("k")
		require.NoError(t, err)
		require.Equal(t, "v1", string(got))
	}
	assert.Equal(t, before, hits(), "local hits do not reach Redis")

	for i := range 5000 {
		v := "own" + strconv.Itoa(i)
		put(t, r2, "k", v, time.Minute)
		got, err := r2.Get("k")
		require.NoError(t, err)
		require.Equal(t, v, string(got), "this process's write is seen by its next read")
		if i%100 == 0 {
			time.Sleep(1100 * time.Millisecond / 50) // some reads past the bypass, local again
		}
	}

	var stale int
	for i := range 200 {
		v := "other" + strconv.Itoa(i)
		_, _ = r2.Get("k") // a local copy
		put(t, r1, "k", v, time.Minute)
		if got, _ := r2.Get("k"); string(got) != v {
			stale++
		}
		require.Eventually(t, func() bool {
			got, _ := r2.Get("k")
			return string(got) == v
		}, time.Second, 100*time.Microsecond, "another client's write reaches the local copy")
	}
	t.Logf("reads at once after another client's write: %d of 200 stale", stale)
	require.NoError(t, r1.Revoke("k", []byte("revoked"), time.Minute, 0))
	require.Eventually(t, func() bool {
		got, _ := r2.Get("k")
		return string(got) == "revoked"
	}, time.Second, 100*time.Microsecond)
}

func TestNewErrors(t *testing.T) {
	for name, opts := range map[string][]rediscache.Option{
		"nil":           {nil},
		"empty prefix":  {rediscache.WithPrefix("")},
		"zero timeout":  {rediscache.WithTimeout(0)},
		"negative MB":   {rediscache.WithLocalCacheMB(-1)},
		"zero index":    {rediscache.WithMaxIndexKeys(0)},
		"zero failures": {rediscache.WithBreakerFailures(0)},
		"nil logger":    {rediscache.WithLogger(nil)},
		"nil option fn": {rediscache.WithClientOption(nil)},
	} {
		_, err := rediscache.New("redis://127.0.0.1:1", opts...)
		assert.Error(t, err, name)
	}
	_, err := rediscache.New("http://127.0.0.1:6379")
	assert.Error(t, err)
}

// An app starts during a Redis outage: the Store starts unavailable (every
// call a miss, at once) and connects when Redis answers.
func TestStoreStartsDuringAnOutage(t *testing.T) {
	srv := redistest.Start(t)
	srv.Kill()
	var logs logCounter
	s, err := rediscache.New("redis://user:s3cret-pass@"+srv.Addr+"/0", rediscache.WithLogger(logs.logger()))
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Get("k")
	require.ErrorIs(t, err, rediscache.ErrUnavailable)
	assert.NotContains(t, err.Error(), "s3cret-pass")
	assert.Equal(t, 1, logs.count(unavailableMsg))
	srv.Restart(t)
	_, _ = srv.Do("ACL", "SETUSER", "user", "on", ">s3cret-pass", "~*", "+@all")
	require.Eventually(t, func() bool {
		_, err := s.Get("k")
		return errors.Is(err, cache.ErrNotFound)
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, 1, logs.count(reachableMsg))
}

// fleet is n replicas of an app, each with its own Store (its own
// connections and local cache, as separate processes have) on one Redis,
// and kratosauth's default options.
func fleet(t *testing.T, kratosURL, redisURL string, n int, local bool, opts ...kratosauth.Option) []*kratosauth.Authenticator {
	t.Helper()
	out := make([]*kratosauth.Authenticator, n)
	for i := range out {
		var so []rediscache.Option
		if !local {
			so = append(so, rediscache.WithLocalCacheMB(0))
		}
		a, err := kratosauth.New(kratosURL, append([]kratosauth.Option{
			kratosauth.WithCache(newStore(t, redisURL, so...)), kratosauth.WithLogger(discard),
		}, opts...)...)
		require.NoError(t, err)
		t.Cleanup(func() { a.Close() })
		out[i] = a
	}
	return out
}

func status(a *kratosauth.Authenticator, c kratosauthtest.Credentials) string {
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

// variants are the store's two modes: every read a round trip to Redis,
// so a write is seen by every replica's next read; or local copies, which
// Redis invalidates with a message that reaches other replicas within its
// network delay: their next request is taken to come 20 ms after the
// write (a client's round trip to the app; measured delays are far
// shorter, BENCHMARKS.md).
var variants = []struct {
	name        string
	local       bool
	nextRequest time.Duration
}{
	{"round trips", false, 0},
	{"local cache", true, 200 * time.Millisecond}, // invalidation messages lag writes; 20 ms flaked once under -race on 2 busy cores
}

// One truth for the fleet: a session is fetched once for all replicas; a
// logout, a refusal (negative cache) and an identity eviction on one
// replica are seen by every other on its next request.
func TestFleetSharesOneTruth(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) { fleetSharesOneTruth(t, v.local, v.nextRequest) })
	}
}

func fleetSharesOneTruth(t *testing.T, local bool, nextRequest time.Duration) {
	kratos := kratosauthtest.NewServer(t)
	srv := redistest.Start(t)
	replicas := fleet(t, kratos.URL, srv.URL, 3, local, kratosauth.WithNegativeCacheTTL(time.Minute))

	alice := kratos.Login()
	for range 3 {
		for _, r := range replicas {
			require.Equal(t, "ok", status(r, alice))
		}
	}
	assert.Equal(t, 1, kratos.Calls(), "one whoami for the fleet")

	// Logout on replica 1, before Kratos ends the session (as the
	// self-service /logout page does): refused on 2 and 3 at once, and
	// never cached again while Kratos still says yes.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Session-Token", alice.Token)
	replicas[0].Invalidate(r)
	time.Sleep(nextRequest)
	calls := kratos.Calls()
	for _, r := range replicas[1:] {
		assert.Equal(t, "ok", status(r, alice), "asked Kratos, which has not revoked it yet")
	}
	assert.Equal(t, calls+2, kratos.Calls(), "the logout marker is shared: answers are not cached")
	kratos.Revoke(alice)
	for _, r := range replicas {
		assert.Equal(t, "invalid", status(r, alice))
	}

	bogus := kratosauthtest.Credentials{Token: "ory_st_unknown-token-0123456789abcdef"}
	require.Equal(t, "invalid", status(replicas[2], bogus))
	calls = kratos.Calls()
	for _, r := range replicas {
		assert.Equal(t, "invalid", status(r, bogus))
	}
	assert.Equal(t, calls, kratos.Calls(), "the negative cache is shared")

	const id = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	bob1 := kratos.Login(kratosauthtest.WithIdentityID(id))
	bob2 := kratos.Login(kratosauthtest.WithIdentityID(id))
	for _, r := range replicas {
		require.Equal(t, "ok", status(r, bob1))
		require.Equal(t, "ok", status(r, bob2))
	}
	kratos.DisableIdentity(id)
	require.NoError(t, replicas[1].InvalidateIdentity(context.Background(), id))
	time.Sleep(nextRequest)
	for _, r := range replicas {
		assert.Equal(t, "invalid", status(r, bob1), "evicted on replica 2, refused everywhere")
		assert.Equal(t, "invalid", status(r, bob2))
	}
}

// Many logouts racing requests on other replicas: after Invalidate returns,
// no replica serves the session from the cache, however its local cache
// and in-flight requests are timed.
func TestFleetLogoutUnderLoad(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) { fleetLogoutUnderLoad(t, v.local, v.nextRequest) })
	}
}

func fleetLogoutUnderLoad(t *testing.T, local bool, nextRequest time.Duration) {
	kratos := kratosauthtest.NewServer(t)
	srv := redistest.Start(t)
	replicas := fleet(t, kratos.URL, srv.URL, 3, local)
	for range 30 {
		c := kratos.Login()
		for _, r := range replicas {
			require.Equal(t, "ok", status(r, c))
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, r := range replicas[1:] {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
						status(r, c)
					}
				}
			})
		}
		kratos.Revoke(c)
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("X-Session-Token", c.Token)
		// Under load a call to Redis can time out: the logout is then not
		// done (Invalidate says so) and the app would ask the user to retry.
		require.Eventually(t, func() bool { return replicas[0].Invalidate(req) == nil }, 5*time.Second, 10*time.Millisecond)
		time.Sleep(nextRequest)
		for _, r := range replicas {
			assert.Equal(t, "invalid", status(r, c))
		}
		close(stop)
		wg.Wait()
		for _, r := range replicas {
			assert.Equal(t, "invalid", status(r, c))
		}
	}
}

// A Redis outage is not an outage of the app: with Redis dead or hung,
// every request is answered by Kratos (never a 5xx or a 401), requests stop
// waiting on Redis once the breaker opens, failures are logged once, not
// per request, and the shared cache comes back by itself with Redis.
func TestRedisOutage(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	srv := redistest.Start(t)
	var logs logCounter
	var replicas []*kratosauth.Authenticator
	for range 2 {
		s := newStore(t, srv.URL, rediscache.WithLogger(logs.logger()))
		a, err := kratosauth.New(kratos.URL, kratosauth.WithCache(s), kratosauth.WithLogger(logs.logger()))
		require.NoError(t, err)
		t.Cleanup(func() { a.Close() })
		replicas = append(replicas, a)
	}
	alice := kratos.Login()
	require.Equal(t, "ok", status(replicas[0], alice))
	require.Equal(t, "ok", status(replicas[1], alice))
	require.Equal(t, 1, kratos.Calls())

	for _, tc := range []struct {
		name       string
		fail, undo func()
	}{
		{"killed", srv.Kill, func() {}},
		{"hung", srv.Pause, srv.Resume},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fail()
			// A hung Redis keeps the connections open: local copies are
			// served until the keep-alive ping times out (about a second),
			// then every request asks Kratos.
			var n, slow int
			for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); n++ {
				start := time.Now()
				for _, r := range replicas {
					require.Equal(t, "ok", status(r, alice), "request %d", n)
				}
				if time.Since(start) >= rediscache.DefaultTimeout {
					slow++ // waited out a Redis call's timeout
				}
				time.Sleep(5 * time.Millisecond)
			}
			// Each store's breaker opens after 3 failed calls: at most 6
			// requests can have waited on Redis.
			assert.LessOrEqual(t, slow, 6, "of %d: only requests before the breakers opened waited on Redis", n)
			assert.Equal(t, 2, logs.count(unavailableMsg), "logged once per store")
			assert.LessOrEqual(t, logs.count("kratosauth: session cache read failed"), 2, "rate-limited")

			tc.undo()
			srv.Restart(t) // empty
			require.Eventually(t, func() bool {
				c := kratos.Login() // a session neither replica has seen
				calls := kratos.Calls()
				ok := status(replicas[0], c) == "ok" && status(replicas[1], c) == "ok"
				return ok && kratos.Calls() == calls+1
			}, 15*time.Second, 50*time.Millisecond, "shared again: one whoami for both replicas")
			assert.Equal(t, 2, logs.count(reachableMsg))
			logs.reset()
		})
	}
}

const (
	unavailableMsg = "rediscache: Redis unavailable; sessions are checked with Kratos until it answers again"
	reachableMsg   = "rediscache: Redis reachable again; the shared cache is back"
)

// logCounter counts log records by message.
type logCounter struct {
	mu   sync.Mutex
	msgs map[string]int
}

func (l *logCounter) logger() *slog.Logger { return slog.New(l) }
func (l *logCounter) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msgs[msg]
}
func (l *logCounter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = nil
}
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

// A Redis at maxmemory with noeviction refuses writes but reads: a logout
// cannot be recorded, and Invalidate says so (the app must not report it
// done); the error replies do not open the breaker, so cached sessions are
// still served from Redis.
func TestRedisRefusingWrites(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	srv := redistest.Start(t)
	replicas := fleet(t, kratos.URL, srv.URL, 2, true)
	alice, bob := kratos.Login(), kratos.Login()
	for _, c := range []kratosauthtest.Credentials{alice, bob} {
		require.Equal(t, "ok", status(replicas[0], c))
		require.Equal(t, "ok", status(replicas[1], c))
	}
	require.Equal(t, 2, kratos.Calls())
	for _, args := range [][]string{{"CONFIG", "SET", "maxmemory-policy", "noeviction"}, {"CONFIG", "SET", "maxmemory", "1"}} {
		_, err := srv.Do(args...)
		require.NoError(t, err)
	}
	_, err := srv.Do("SET", "x", "y")
	require.ErrorContains(t, err, "OOM", "Redis refuses writes")

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Session-Token", alice.Token)
	assert.ErrorContains(t, replicas[0].Invalidate(r), "OOM", "the logout was not recorded")
	for range 10 {
		assert.Equal(t, "ok", status(replicas[1], bob))
	}
	assert.Equal(t, 2, kratos.Calls(), "bob is still served from the cache: the breaker stayed closed")

	_, err = srv.Do("CONFIG", "SET", "maxmemory", "0")
	require.NoError(t, err)
	require.NoError(t, replicas[0].Invalidate(r), "recorded once Redis takes writes again")
	time.Sleep(200 * time.Millisecond) // the next request, past the local copy's invalidation delay (SECURITY.md)
	assert.Equal(t, "ok", status(replicas[1], alice))
	assert.Equal(t, 3, kratos.Calls(), "alice's entry is revoked: replica 2 asked Kratos")
}

// A restarted Redis has lost its fences: a ticket taken before the restart
// is refused after it (the run_id changed), even on a key never revoked.
func TestStoreRefusesTicketsOfAnotherInstance(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv.URL, rediscache.WithLocalCacheMB(0))
	old, err := s.Begin("k")
	require.NoError(t, err)
	srv.Restart(t)
	require.Eventually(t, func() bool {
		_, err := s.Begin("k")
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "the store reconnects")
	assert.ErrorIs(t, s.Put("k", []byte("answer"), time.Minute, old, time.Minute), cache.ErrFenced)
	_, err = s.Get("k")
	assert.ErrorIs(t, err, cache.ErrNotFound)
	put(t, s, "k", "new", time.Minute)
}

// A value that is not the Store's (no fence prefix) is never overwritten
// by Put, and read as an error, not as an entry.
func TestStoreForeignValues(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv.URL, rediscache.WithLocalCacheMB(0))
	_, err := srv.Do("SET", "kratosauth:k", "short")
	require.NoError(t, err)
	_, err = s.Get("k")
	assert.Error(t, err)
	assert.NotErrorIs(t, err, cache.ErrNotFound)
	tk, err := s.Begin("k")
	require.NoError(t, err)
	_, err = srv.Do("SET", "kratosauth:k", "not-a-fence-at-all")
	require.NoError(t, err)
	assert.ErrorIs(t, s.Put("k", []byte("e"), time.Minute, tk, time.Minute), cache.ErrFenced)
	require.NoError(t, s.Revoke("k", []byte("m"), time.Minute, 0))
	got, err := s.Get("k")
	require.NoError(t, err)
	assert.Equal(t, "m", string(got))
}
