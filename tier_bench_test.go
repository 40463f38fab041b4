package kratosauth

import (
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// cachedRequests returns an Authenticator with the default store of mb
// megabytes holding n sessions, and a request carrying each one's token.
func cachedRequests(tb testing.TB, n, mb int) (*Authenticator, []*http.Request) {
	a, err := New("http://127.0.0.1:1", WithCacheSizeMB(mb), WithCacheTTL(10*time.Minute), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	reqs := make([]*http.Request, n)
	for i := range n {
		tok := fmt.Sprintf("ory_st_%032d", i)
		key := credential{token: tok}.digest(a.namespace)
		t, _ := a.begin(&key)
		a.store(&key, fillSession(i), -1, t)
		reqs[i] = httptest.NewRequest(http.MethodGet, "/", nil)
		reqs[i].Header.Set("X-Session-Token", tok)
	}
	return a, reqs
}

// BenchmarkCacheHitTiers is Authenticate of a cached session: "hot", one
// session asked for again and again (always in the hot tier); "store",
// 40,000 sessions asked for in turn with a 32 MB store, whose hot tier
// (2 MB) holds about fifteen hundred: nearly every hit is a store read and a
// decode. hot-% is the share of hits the hot tier answered.
func BenchmarkCacheHitTiers(b *testing.B) {
	for _, tc := range []struct {
		name string
		n    int
	}{{"hot", 1}, {"store", 40_000}} {
		b.Run(tc.name, func(b *testing.B) {
			a, reqs := cachedRequests(b, tc.n, 32)
			i := 0
			hot := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r := reqs[i]
				if i++; i == len(reqs) {
					i = 0
				}
				if _, err := a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			for _, r := range reqs[:min(len(reqs), 1000)] {
				key := credential{token: r.Header.Get("X-Session-Token")}.digest(a.namespace)
				if _, ok := a.hot.get(&key, time.Now()); ok {
					hot++
				}
			}
			b.ReportMetric(100*float64(hot)/float64(min(len(reqs), 1000)), "hot-%")
		})
	}
}

// BenchmarkHotTierAdmission measures the hot tier's share of hits under a
// Zipf-like load (session k asked for about 1/(k+1) as often as session 0)
// over 100,000 sessions with the default size (128 MB: a 2 MB hot tier,
// about 1,500 sessions):
// TinyLFU admission against admitting every session and evicting at random.
func BenchmarkHotTierAdmission(b *testing.B) {
	for _, policy := range []string{"tinylfu", "random"} {
		b.Run(policy, func(b *testing.B) {
			a, reqs := cachedRequests(b, 100_000, DefaultCacheSizeMB)
			a.hot.admitAll = policy == "random"
			rng := rand.New(rand.NewPCG(1, 2))
			logN := math.Log(float64(len(reqs)) + 1)
			pick := func() *http.Request {
				return reqs[min(int(math.Exp(rng.Float64()*logN))-1, len(reqs)-1)]
			}
			for range 100_000 { // the tier settles
				_, _ = a.Authenticate(pick())
			}
			hot, total := 0, 0
			b.ResetTimer()
			for b.Loop() {
				r := pick()
				key := credential{token: r.Header.Get("X-Session-Token")}.digest(a.namespace)
				if _, ok := a.hot.get(&key, time.Now()); ok {
					hot++
				}
				total++
				if _, err := a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(100*float64(hot)/float64(total), "hot-%")
		})
	}
}
