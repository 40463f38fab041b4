package keto_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth/keto"
)

// TestExploreForget lets seeded schedules try to break the invariant of
// Forget: a check that starts after ForgetObject(o) returned answers with
// a decision Keto made after the tuple change that preceded it, never one
// cached or asked before. The fake Keto answers each question after a
// seeded delay with the state it read when the question arrived; a writer
// flips the tuple and forgets the object, while readers check (alone or
// through FilterPermitted). A reader during whose check no flip happened
// must get the state of its start. Failing seeds become regressions here.
func TestExploreForget(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	if testing.Short() {
		seeds = seeds[:3]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { exploreForget(t, seed) })
	}
}

func exploreForget(t *testing.T, seed uint64) {
	var version atomic.Int64 // even: denied, odd: allowed
	var delayMu sync.Mutex
	delays := rand.New(rand.NewPCG(seed, 1))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		allowed := version.Load()%2 == 1
		delayMu.Lock()
		d := time.Duration(delays.IntN(3000)) * time.Microsecond
		delayMu.Unlock()
		time.Sleep(d)
		fmt.Fprintf(w, `{"allowed":%t}`, allowed)
	}))
	t.Cleanup(srv.Close)
	k, err := keto.New(srv.URL, keto.WithAllowTTL(time.Hour), keto.WithDenyTTL(time.Hour), keto.WithMaxConcurrentChecks(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)

	var forgotten atomic.Int64 // the latest version whose Forget has returned
	var writerDone atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer writerDone.Store(true)
		rng := rand.New(rand.NewPCG(seed, 2))
		for range 40 {
			time.Sleep(time.Duration(rng.IntN(4000)) * time.Microsecond)
			v := version.Add(1)
			k.ForgetObject("Doc", "o")
			forgotten.Store(v)
		}
	})
	var violations atomic.Int64
	for reader := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(10+reader)))
			for !writerDone.Load() {
				time.Sleep(time.Duration(rng.IntN(1500)) * time.Microsecond)
				start := forgotten.Load()
				if version.Load() != start {
					continue // a flip not yet forgotten: either answer is right
				}
				var allowed bool
				var err error
				if rng.IntN(2) == 0 {
					allowed, err = k.Check(context.Background(), keto.Tuple{Namespace: "Doc", Object: "o", Relation: "view", SubjectID: "alice"})
				} else {
					var got []string
					got, err = k.FilterPermitted(context.Background(), "Doc", "view", "alice", []string{"o", "other"})
					allowed = len(got) > 0 && got[0] == "o"
				}
				if err != nil {
					t.Errorf("check: %v", err)
					return
				}
				if version.Load() == start && allowed != (start%2 == 1) {
					violations.Add(1)
					t.Errorf("seed %d: version %d (allowed %t) forgotten before the check started and unchanged since, but the check said %t",
						seed, start, start%2 == 1, allowed)
				}
			}
		})
	}
	wg.Wait()
}
