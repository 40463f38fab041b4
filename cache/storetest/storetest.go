// Package storetest checks that a cache.Store keeps its contract, fencing
// above all: run it from the tests of any Store,
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) cache.Store { return newMyStore(t) })
//	}
//
// Each subtest gets a new store from newStore, and uses keys of its own.
package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth/cache"
)

// maxAge is the ticket age the subtests allow, far beyond their run time.
const maxAge = time.Minute

// Run runs the contract's subtests against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) cache.Store) {
	t.Run("GetPutRevoke", func(t *testing.T) { getPutRevoke(t, newStore(t)) })
	t.Run("RevokeFencesEarlierTickets", func(t *testing.T) { revokeFences(t, newStore(t)) })
	t.Run("FenceInTheFuture", func(t *testing.T) { futureFence(t, newStore(t)) })
	t.Run("PutKeepsTheFence", func(t *testing.T) { putKeepsFence(t, newStore(t)) })
	t.Run("LaterRevokeKeepsAnEarlierLongerFence", func(t *testing.T) { revokeKeepsLongerFence(t, newStore(t)) })
	t.Run("OldOrForeignTicket", func(t *testing.T) { oldOrForeignTicket(t, newStore(t)) })
	t.Run("ConcurrentRevocationsWin", func(t *testing.T) { concurrent(t, newStore(t)) })
}

func key(*testing.T) string {
	return fmt.Sprintf("storetest-%x-%d", rand.Uint64(), time.Now().UnixNano())
}

func begin(t *testing.T, s cache.Store, k string) cache.Ticket {
	t.Helper()
	tk, err := s.Begin(k)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return tk
}

func get(t *testing.T, s cache.Store, k string) string {
	t.Helper()
	v, err := s.Get(k)
	if errors.Is(err, cache.ErrNotFound) {
		return "<none>"
	}
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return string(v)
}

func getPutRevoke(t *testing.T, s cache.Store) {
	k := key(t)
	if got := get(t, s, k); got != "<none>" {
		t.Fatalf("Get of a new key = %q, want ErrNotFound", got)
	}
	if err := s.Put(k, []byte("entry\x00\xff"), time.Minute, begin(t, s, k), maxAge); err != nil {
		t.Fatalf("Put: %v", err)
	}
	for range 2 {
		v, err := s.Get(k)
		if err != nil || string(v) != "entry\x00\xff" {
			t.Fatalf("Get after Put = %q, %v", v, err)
		}
		v[0] = 'X' // the caller owns its copy
	}
	if err := s.Revoke(k, []byte("marker"), time.Minute, 0); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if got := get(t, s, k); got != "marker" {
		t.Fatalf("Get after Revoke = %q, want the marker", got)
	}
}

// A Put whose ticket was issued before a Revoke is refused, however late
// it comes; one issued after is stored.
func revokeFences(t *testing.T, s cache.Store) {
	k := key(t)
	before := begin(t, s, k)
	if err := s.Revoke(k, []byte("marker"), time.Minute, 0); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if err := s.Put(k, []byte("old answer"), time.Minute, before, maxAge); !errors.Is(err, cache.ErrFenced) {
		t.Fatalf("Put with a ticket from before the revocation: %v, want ErrFenced", err)
	}
	if got := get(t, s, k); got != "marker" {
		t.Fatalf("after a fenced Put, Get = %q, want the marker", got)
	}
	after := begin(t, s, k)
	if err := s.Put(k, []byte("new answer"), time.Minute, after, maxAge); err != nil {
		t.Fatalf("Put with a ticket from after the revocation: %v", err)
	}
	if got := get(t, s, k); got != "new answer" {
		t.Fatalf("Get = %q", got)
	}
}

// A fence in the future refuses every ticket issued before it.
func futureFence(t *testing.T, s cache.Store) {
	k := key(t)
	if err := s.Revoke(k, []byte("logout"), time.Minute, time.Minute); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if err := s.Put(k, []byte("answer"), time.Minute, begin(t, s, k), maxAge); !errors.Is(err, cache.ErrFenced) {
		t.Fatalf("Put within the fence: %v, want ErrFenced", err)
	}
}

// An entry written over a marker keeps the marker's fence: a ticket older
// than the revocation is still refused afterwards.
func putKeepsFence(t *testing.T, s cache.Store) {
	k := key(t)
	old := begin(t, s, k)
	if err := s.Revoke(k, []byte("refused"), time.Minute, 0); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if err := s.Put(k, []byte("new"), time.Minute, begin(t, s, k), maxAge); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := s.Put(k, []byte("old"), time.Minute, old, maxAge); !errors.Is(err, cache.ErrFenced) {
		t.Fatalf("Put with the older ticket after a newer write: %v, want ErrFenced", err)
	}
	if got := get(t, s, k); got != "new" {
		t.Fatalf("Get = %q, want the newer entry", got)
	}
}

// A refusal after a logout does not shorten the logout's fence.
func revokeKeepsLongerFence(t *testing.T, s cache.Store) {
	k := key(t)
	if err := s.Revoke(k, []byte("logout"), time.Minute, time.Minute); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if err := s.Revoke(k, []byte("refused"), time.Second, 0); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if err := s.Put(k, []byte("answer"), time.Minute, begin(t, s, k), maxAge); !errors.Is(err, cache.ErrFenced) {
		t.Fatalf("Put within the first fence: %v, want ErrFenced", err)
	}
}

func oldOrForeignTicket(t *testing.T, s cache.Store) {
	k := key(t)
	tk := begin(t, s, k)
	time.Sleep(20 * time.Millisecond)
	if err := s.Put(k, []byte("late"), time.Minute, tk, 10*time.Millisecond); !errors.Is(err, cache.ErrFenced) {
		t.Fatalf("Put with a ticket older than maxAge: %v, want ErrFenced", err)
	}
	foreign := tk
	foreign.Epoch += "-other"
	if err := s.Put(k, []byte("foreign"), time.Minute, foreign, maxAge); !errors.Is(err, cache.ErrFenced) {
		t.Fatalf("Put with another epoch's ticket: %v, want ErrFenced", err)
	}
	future := begin(t, s, k)
	future.At += int64(time.Hour)
	if err := s.Put(k, []byte("future"), time.Minute, future, maxAge); !errors.Is(err, cache.ErrFenced) {
		t.Fatalf("Put with a ticket from the future: %v, want ErrFenced", err)
	}
	if got := get(t, s, k); got != "<none>" {
		t.Fatalf("Get = %q, want nothing stored", got)
	}
}

// Writers and revokers race on a few keys. A Put that was called after a
// Revoke of its key had returned, with a ticket taken before that Revoke
// was called, must be refused: the revocation came after the ticket.
func concurrent(t *testing.T, s cache.Store) {
	keys := []string{key(t), key(t)}
	var clock atomic.Int64 // orders the calls as this test sees them
	type span struct{ start, end int64 }
	var mu sync.Mutex
	revokes := map[string][]span{}
	type put struct {
		ticket span  // Begin's call
		called int64 // Put's call
	}
	puts := map[string][]put{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range 200 {
				k := keys[r.IntN(len(keys))]
				if r.IntN(3) == 0 {
					start := clock.Add(1)
					if err := s.Revoke(k, []byte("m"), time.Minute, 0); err != nil {
						t.Errorf("Revoke: %v", err)
						return
					}
					mu.Lock()
					revokes[k] = append(revokes[k], span{start, clock.Add(1)})
					mu.Unlock()
					continue
				}
				b := clock.Add(1)
				tk, err := s.Begin(k)
				if err != nil {
					t.Errorf("Begin: %v", err)
					return
				}
				ticket := span{b, clock.Add(1)}
				time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond) // the whoami call
				called := clock.Add(1)
				err = s.Put(k, []byte("e"), time.Minute, tk, maxAge)
				if errors.Is(err, cache.ErrFenced) {
					continue
				}
				if err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				mu.Lock()
				puts[k] = append(puts[k], put{ticket, called})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for k, ps := range puts {
		for _, p := range ps {
			for _, rv := range revokes[k] {
				if rv.start > p.ticket.end && rv.end < p.called {
					t.Errorf("a Put with a ticket from before a revocation was stored after the revocation returned (ticket %v, revocation %v, put called at %d)", p.ticket, rv, p.called)
				}
			}
		}
	}
}
