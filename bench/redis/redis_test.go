package redisbench

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/cache"
	rediscache "github.com/kratosauth/kratosauth/cache/redis"
	"github.com/kratosauth/kratosauth/internal/testing/redistest"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

var discard = slog.New(slog.DiscardHandler)

// entry is the size of a typical kratosauth entry (BENCHMARKS.md: 564 B).
var entry = make([]byte, 564)

// BenchmarkGet is one Store.Get of a cached entry: the cost a cache hit
// pays to its store, before decoding.
func BenchmarkGet(b *testing.B) {
	srv := redistest.Start(b)
	big, err := cache.NewBigCache(time.Minute, 64)
	require.NoError(b, err)
	defer big.Close()
	// A long timeout: on a loaded machine a round trip can pass 100 ms,
	// and a benchmark must measure, not fall back.
	local := newStore(b, srv.URL, rediscache.WithTimeout(5*time.Second))
	remote := newStore(b, srv.URL, rediscache.WithLocalCacheMB(0), rediscache.WithTimeout(5*time.Second))
	gr := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer gr.Close()
	// go-redis' client-side cache (experimental in v9.23; RESP3, DB 0 only).
	grLocal := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 3,
		ClientSideCacheConfig: &goredis.ClientSideCacheConfig{MaxEntries: 100000}})
	defer grLocal.Close()
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	require.NoError(b, err)
	defer rc.Close()

	const key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, s := range []cache.Store{big, local} {
		tk, err := s.Begin(key)
		require.NoError(b, err)
		require.NoError(b, s.Put(key, entry, time.Hour, tk, time.Minute))
	}
	time.Sleep(1100 * time.Millisecond) // past the store's read-through of its own writes

	for _, bc := range []struct {
		name string
		get  func() error
	}{
		{"bigcache", func() error { _, err := big.Get(key); return err }},
		{"rueidis-local", func() error { _, err := local.Get(key); return err }},
		{"rueidis-roundtrip", func() error { _, err := remote.Get(key); return err }},
		{"rueidis-raw-roundtrip", func() error {
			return rc.Do(context.Background(), rc.B().Get().Key("kratosauth:"+key).Build()).Error()
		}},
		{"goredis-roundtrip", func() error {
			return gr.Get(context.Background(), "kratosauth:"+key).Err()
		}},
		{"goredis-local", func() error {
			return grLocal.Get(context.Background(), "kratosauth:"+key).Err()
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := bc.get(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bc.get(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkWrite is what caching one whoami answer costs in Redis: the
// ticket taken before asking Kratos and the fenced write (two scripts, two
// round trips), next to a plain SET of the same entry.
func BenchmarkWrite(b *testing.B) {
	srv := redistest.Start(b)
	s := newStore(b, srv.URL, rediscache.WithLocalCacheMB(0), rediscache.WithTimeout(5*time.Second))
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	require.NoError(b, err)
	defer rc.Close()
	const key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	b.Run("begin+put", func(b *testing.B) {
		for b.Loop() {
			t, err := s.Begin(key)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Put(key, entry, time.Minute, t, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("revoke", func(b *testing.B) {
		for b.Loop() {
			if err := s.Revoke(key, entry[:10], time.Minute, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-set", func(b *testing.B) {
		for b.Loop() {
			if err := rc.Do(context.Background(), rc.B().Set().Key("kratosauth:"+key).Value(rueidis.BinaryString(entry)).Px(time.Minute).Build()).Error(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRequireSessionCacheHit is a request through RequireSession whose
// session is cached: in the default store (with its hot tier of decoded
// sessions), in Redis read from the local cache, and in Redis over a round
// trip.
func BenchmarkRequireSessionCacheHit(b *testing.B) {
	srv := redistest.Start(b)
	kratos := kratosauthtest.NewServer(b)
	user := kratos.Login()
	for _, bc := range []struct {
		name string
		opts []kratosauth.Option
	}{
		{"default", nil},
		{"redis-local", []kratosauth.Option{kratosauth.WithCache(newStore(b, srv.URL, rediscache.WithTimeout(5*time.Second)))}},
		{"redis-roundtrip", []kratosauth.Option{kratosauth.WithCache(newStore(b, srv.URL, rediscache.WithLocalCacheMB(0), rediscache.WithTimeout(5*time.Second)))}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			a, err := kratosauth.New(kratos.URL, append(bc.opts, kratosauth.WithLogger(discard))...)
			require.NoError(b, err)
			defer a.Close()
			h := a.RequireSession().Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(user.Cookie)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(b, http.StatusOK, w.Code)
			time.Sleep(1100 * time.Millisecond)
			calls := kratos.Calls()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			require.Equal(b, calls, kratos.Calls(), "every request a hit")
		})
	}
}

// TestFleetWhoamiCalls counts whoami calls for sessions used on a fleet of
// replicas during one cache TTL, each request landing on a random replica:
// with the default store every replica asks Kratos once per session, with
// a shared Redis the fleet asks once.
func TestFleetWhoamiCalls(t *testing.T) {
	srv := redistest.Start(t)
	const sessions, requests = 50, 20 // per session, within the TTL
	for _, replicas := range []int{1, 3, 10} {
		for _, shared := range []bool{false, true} {
			kratos := kratosauthtest.NewServer(t)
			var fleet []*kratosauth.Authenticator
			for range replicas {
				opts := []kratosauth.Option{kratosauth.WithLogger(discard)}
				if shared {
					opts = append(opts, kratosauth.WithCache(newStore(t, srv.URL, rediscache.WithPrefix("fleet"+strconv.Itoa(replicas)+":"))))
				}
				a, err := kratosauth.New(kratos.URL, opts...)
				require.NoError(t, err)
				defer a.Close()
				fleet = append(fleet, a)
			}
			for range sessions {
				c := kratos.Login()
				for range requests {
					r := httptest.NewRequest(http.MethodGet, "/", nil)
					r.Header.Set("X-Session-Token", c.Token)
					_, err := fleet[rand.IntN(replicas)].Authenticate(r)
					require.NoError(t, err)
				}
			}
			store := "default"
			if shared {
				store = "redis"
			}
			perSession := float64(kratos.Calls()) / sessions
			t.Logf("replicas %2d  store %-7s  whoami per session per TTL: %.2f", replicas, store, perSession)
			if shared {
				require.Equal(t, 1.0, perSession)
			} else {
				require.LessOrEqual(t, perSession, float64(replicas))
			}
		}
	}
}

// TestRedisMemoryPerSession caches MEMORY_SESSIONS sessions (default 2000)
// of distinct identities through kratosauth and reads Redis' used_memory
// before and after: the entry, its key and the identity index's member and
// key, with Redis' own overhead.
func TestRedisMemoryPerSession(t *testing.T) {
	n := 2000
	if v := os.Getenv("MEMORY_SESSIONS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	srv := redistest.Start(t)
	kratos := kratosauthtest.NewServer(t)
	a, err := kratosauth.New(kratos.URL, kratosauth.WithCache(newStore(t, srv.URL, rediscache.WithTimeout(5*time.Second))), kratosauth.WithLogger(discard))
	require.NoError(t, err)
	defer a.Close()
	used := func() int {
		v, err := srv.Info("used_memory")
		require.NoError(t, err)
		n, _ := strconv.Atoi(v)
		return n
	}
	before := used()
	for i := range n {
		c := kratos.Login(kratosauthtest.WithTraits(map[string]string{"email": fmt.Sprintf("user-%d@example.com", i)}))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(c.Cookie)
		_, err := a.Authenticate(r)
		require.NoError(t, err)
	}
	keys, err := srv.Do("DBSIZE")
	require.NoError(t, err)
	perSession := float64(used()-before) / float64(n)
	t.Logf("%d sessions, %s keys: %.0f bytes of Redis memory per cached session (entry + index)", n, keys, perSession)
	require.Equal(t, strconv.Itoa(2*n), keys, "an entry and an index per session (one session per identity)")
	require.Less(t, perSession, 4096.0)
}

func newStore(tb testing.TB, url string, opts ...rediscache.Option) *rediscache.Store {
	s, err := rediscache.New(url, append([]rediscache.Option{rediscache.WithLogger(discard)}, opts...)...)
	require.NoError(tb, err)
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestInvalidationDelay measures how soon another replica's local copy
// follows a write: a replica reads a key (a local copy), another replica
// writes it, and the first reads it again after a pause standing for its
// next request's arrival. It reports how many of those reads were stale at
// each pause; with no pause, it also times how long until the new value
// shows (polling every 10 µs).
func TestInvalidationDelay(t *testing.T) {
	srv := redistest.Start(t)
	r1 := newStore(t, srv.URL, rediscache.WithTimeout(5*time.Second))
	r2 := newStore(t, srv.URL, rediscache.WithTimeout(5*time.Second))
	gw := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer gw.Close()
	gr := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 3,
		ClientSideCacheConfig: &goredis.ClientSideCacheConfig{MaxEntries: 1000}})
	defer gr.Close()
	ctx := context.Background()
	for _, c := range []struct {
		name string
		set  func(v []byte) error
		get  func() ([]byte, error)
	}{
		{"rueidis (rediscache)", func(v []byte) error { return r1.Revoke("k", v, time.Minute, 0) }, func() ([]byte, error) { return r2.Get("k") }},
		{"go-redis", func(v []byte) error { return gw.Set(ctx, "kratosauth:k", v, time.Minute).Err() },
			func() ([]byte, error) { return gr.Get(ctx, "kratosauth:k").Bytes() }},
	} {
		invalidationDelay(t, c.name, c.set, c.get)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("load average: %s", load)
}

func invalidationDelay(t *testing.T, name string, set func([]byte) error, get func() ([]byte, error)) {
	const rounds = 500
	require.NoError(t, set([]byte("start")))
	time.Sleep(1100 * time.Millisecond) // past the writer's read-through of its own write
	for _, pause := range []time.Duration{0, 50 * time.Microsecond, 200 * time.Microsecond, time.Millisecond} {
		var stale int
		var delays []time.Duration
		for i := range rounds {
			v := []byte(strconv.Itoa(i))
			_, _ = get() // a local copy
			require.NoError(t, set(v))
			wrote := time.Now()
			if pause > 0 {
				time.Sleep(pause)
			}
			got, err := get()
			require.NoError(t, err)
			if string(got) != string(v) {
				stale++
			}
			if pause == 0 {
				for deadline := wrote.Add(time.Second); string(got) != string(v) && time.Now().Before(deadline); {
					time.Sleep(10 * time.Microsecond)
					got, _ = get()
				}
				delays = append(delays, time.Since(wrote))
			}
		}
		if pause == 0 {
			slices.Sort(delays)
			t.Logf("%-20s pause %-6v stale %3d/%d; new value seen after p50 %v, p99 %v, max %v", name, pause, stale, rounds,
				delays[rounds/2].Round(time.Microsecond), delays[rounds*99/100].Round(time.Microsecond), delays[rounds-1].Round(time.Microsecond))
		} else {
			t.Logf("%-20s pause %-6v stale %3d/%d", name, pause, stale, rounds)
		}
	}
}
