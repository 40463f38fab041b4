package kratosauth

import (
	"encoding/json"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/allegro/bigcache/v3"

	"github.com/kratosauth/kratosauth/cache"
)

// BenchmarkCacheMemory fills the default store (cache.Memory on fastcache,
// 128 MB) with 100,000 copies of the recorded session under distinct keys,
// then times full garbage collections: ns/op is one runtime.GC() (the
// whole cycle, marking included) and pause-ns/GC the stop-the-world pauses
// of it. "empty" is the same with an empty cache. The default store keeps
// its entries outside the Go heap (heap-MB moves little with the sessions), so
// "100k-grow" uses a cache.BigCache whose shards start small: its
// heap-B/session is the live heap's growth per session (entry, key,
// bigcache's headers and index, and the slack of shards that grow by
// doubling). entry-B is the encoded entry alone, json-B the recorded
// whoami body.
func BenchmarkCacheMemory(b *testing.B) {
	var body []byte
	for _, r := range recordedResponses(b) {
		if r.name == "whoami_200_token.meta.json" {
			body = r.body
		}
	}
	var s Session
	if err := json.Unmarshal(body, &s); err != nil {
		b.Fatal(err)
	}
	s.ExpiresAt = time.Now().Add(time.Hour)
	entry, _ := encodeEntry(&s, s.ExpiresAt)
	for _, tc := range []struct {
		name string
		n    int
		grow bool
	}{{"empty", 0, false}, {"100k", 100_000, false}, {"100k-grow", 100_000, true}} {
		n := tc.n
		b.Run(tc.name, func(b *testing.B) {
			opts := []Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
			before := liveHeap()
			if tc.grow {
				// A BigCache store (not the default store): bigcache's
				// DefaultConfig, whose shards start nearly empty and grow
				// (doubling) with what is stored, so that the heap's growth
				// shows what the sessions take.
				cfg := bigcache.DefaultConfig(DefaultCacheTTL)
				cfg.HardMaxCacheSize = DefaultCacheSizeMB
				cfg.MaxEntrySize = 1024
				cfg.MaxEntriesInWindow = 1024
				cfg.Verbose = false
				store, err := cache.NewBigCacheWithConfig(cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer store.Close()
				before = liveHeap()
				opts = append(opts, WithCache(store))
			}
			a, err := New("http://127.0.0.1:1", opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			for i := range n {
				key := credential{token: "ory_st_" + strconv.Itoa(i)}.digest(a.namespace)
				t, _ := a.begin(&key)
				a.store(&key, &s, -1, t)
			}
			after := liveHeap()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			pause0, gc0 := ms.PauseTotalNs, ms.NumGC
			b.ResetTimer()
			for b.Loop() {
				runtime.GC()
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.PauseTotalNs-pause0)/float64(ms.NumGC-gc0), "pause-ns/GC")
			b.ReportMetric(float64(after)/(1<<20), "heap-MB")
			if n > 0 {
				if got := a.cfg.store.(cache.StatsReporter).Stats().Entries; got != int64(n) {
					b.Fatalf("cache holds %d sessions, want %d", got, n)
				}
				if tc.grow {
					b.ReportMetric(float64(int64(after)-int64(before))/float64(n), "heap-B/session")
				}
				b.ReportMetric(float64(len(entry)), "entry-B")
				b.ReportMetric(float64(len(body)), "json-B")
			}
			runtime.KeepAlive(a)
		})
	}
}

// liveHeap is the heap in live objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
