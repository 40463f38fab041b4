package kratosauth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
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

// Scripted regressions of what the revocation explorer (e2e/revocation)
// found on replicas sharing one store: each is an answer Kratos gave before
// a revocation that must not be cached after it.

// heldAnswers is a whoami transport whose next call, once armed, reaches
// Kratos (which answers then) but whose answer is held until released: an
// answer fetched before a logout and delivered after it.
type heldAnswers struct {
	armed   atomic.Bool
	arrived chan struct{}
	release chan struct{}
}

func newHeldAnswers() *heldAnswers {
	return &heldAnswers{arrived: make(chan struct{}, 1), release: make(chan struct{})}
}

func (h *heldAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if h.armed.CompareAndSwap(true, false) {
		h.arrived <- struct{}{}
		<-h.release
	}
	return resp, err
}

// startHeld starts a check of c on a in the background, whose answer Kratos
// gives now and which arrives when the returned function is called; that
// function returns the check's result.
func startHeld(t *testing.T, a *kratosauth.Authenticator, h *heldAnswers, c kratosauthtest.Credentials) func() string {
	t.Helper()
	h.armed.Store(true)
	done := make(chan string, 1)
	go func() { done <- check(a, c) }()
	select {
	case <-h.arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the whoami call never reached Kratos")
	}
	return func() string {
		close(h.release)
		return <-done
	}
}

// With the negative cache, a refusal that replaced the logout marker was
// overwritten by an admission fetched before the logout: every replica
// then served the session from the cache.
func TestOldAdmitNeverOverwritesRefusal(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	store := newBigCache(t)
	held := newHeldAnswers()
	opts := []kratosauth.Option{kratosauth.WithCache(store), kratosauth.WithNegativeCacheTTL(time.Minute), kratosauth.WithLogger(discard)}
	r1 := newAuth(t, kratos.URL, opts...)
	r2 := newAuth(t, kratos.URL, append(opts, kratosauth.WithHTTPClient(&http.Client{Transport: held}))...)
	alice := kratos.Login()

	deliver := startHeld(t, r2, held, alice) // Kratos admits Alice; the answer is on its way
	require.NoError(t, invalidate(r1, alice))
	kratos.Revoke(alice)
	require.Equal(t, "invalid", check(r1, alice), "Kratos refuses; the refusal is cached")
	assert.Equal(t, "ok", deliver(), "the request that asked before the logout is answered")

	calls := kratos.Calls()
	for _, r := range []*kratosauth.Authenticator{r1, r2} {
		assert.Equal(t, "invalid", check(r, alice), "the answer from before the logout was cached")
	}
	assert.LessOrEqual(t, kratos.Calls(), calls+2)
}

// An answer delivered after the logout marker of a past implementation
// would have expired (the cache TTL) but within the whoami timeout is still
// refused: the fence lasts TTL + timeout.
func TestLateAnswerAfterTheTTLIsNotCached(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	store := newBigCache(t)
	held := newHeldAnswers()
	opts := []kratosauth.Option{kratosauth.WithCache(store), kratosauth.WithCacheTTL(100 * time.Millisecond),
		kratosauth.WithTimeout(2 * time.Second), kratosauth.WithLogger(discard)}
	r1 := newAuth(t, kratos.URL, opts...)
	r2 := newAuth(t, kratos.URL, append(opts, kratosauth.WithHTTPClient(&http.Client{Transport: held}))...)
	alice := kratos.Login()

	deliver := startHeld(t, r2, held, alice)
	require.NoError(t, invalidate(r1, alice))
	kratos.Revoke(alice)
	time.Sleep(300 * time.Millisecond) // past the TTL, within the timeout
	assert.Equal(t, "ok", deliver())
	assert.Equal(t, "invalid", check(r1, alice), "the answer from before the logout was cached")
}

// lostReplies is a shared store whose Puts run but answer with an error, as
// a Redis whose reply comes after the client's timeout.
type lostReplies struct {
	*cache.BigCache
	lose atomic.Bool
}

var errTimeout = errors.New("i/o timeout")

func (s *lostReplies) Put(k string, e []byte, ttl time.Duration, t cache.Ticket, maxAge time.Duration) error {
	err := s.BigCache.Put(k, e, ttl, t, maxAge)
	if s.lose.Load() {
		return errTimeout
	}
	return err
}

// A session written by a Put whose reply was lost is still in its
// identity's index: InvalidateIdentity finds and evicts it.
func TestEntryWithLostReplyIsStillEvicted(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	store := &lostReplies{BigCache: newBigCache(t)}
	r1 := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithLogger(discard))
	r2 := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithLogger(discard))
	const id = "0d7bd1a4-3d42-4b0e-9b11-7f6f0e8c2a55"
	bob := kratos.Login(kratosauthtest.WithIdentityID(id))

	store.lose.Store(true)
	require.Equal(t, "ok", check(r1, bob))
	store.lose.Store(false)
	require.Equal(t, "ok", check(r2, bob))
	require.Equal(t, 1, kratos.Calls(), "the entry is in the store despite the lost reply")

	kratos.DisableIdentity(id)
	require.NoError(t, r1.InvalidateIdentity(context.Background(), id))
	assert.Equal(t, "invalid", check(r2, bob), "the entry escaped the index")
}

// Kratos writes identity IDs in lower case and reads them in any: an
// eviction by the upper-case form evicts the same identity.
func TestInvalidateIdentityIgnoresASCIICase(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL, kratosauth.WithLogger(discard))
	const id = "0d7bd1a4-3d42-4b0e-9b11-7f6f0e8c2a55"
	bob := kratos.Login(kratosauthtest.WithIdentityID(id))
	require.Equal(t, "ok", check(a, bob))
	kratos.DisableIdentity(id)
	require.NoError(t, a.InvalidateIdentity(context.Background(), strings.ToUpper(id)))
	assert.Equal(t, "invalid", check(a, bob), "the upper-case ID evicted nothing")
}

// A session revoked in Kratos alone (an admin, another app) is refused by
// Kratos on replica 1; an admission replica 2 fetched before that is not
// cached after it, with or without the negative cache.
func TestRefusalFencesEarlierAdmits(t *testing.T) {
	for name, neg := range map[string]time.Duration{"no negative cache": 0, "negative cache": time.Minute} {
		t.Run(name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			store := newBigCache(t)
			held := newHeldAnswers()
			opts := []kratosauth.Option{kratosauth.WithCache(store), kratosauth.WithLogger(discard)}
			if neg > 0 {
				opts = append(opts, kratosauth.WithNegativeCacheTTL(neg))
			}
			r1 := newAuth(t, kratos.URL, opts...)
			r2 := newAuth(t, kratos.URL, append(opts, kratosauth.WithHTTPClient(&http.Client{Transport: held}))...)
			alice := kratos.Login()

			deliver := startHeld(t, r2, held, alice)
			kratos.Revoke(alice)
			require.Equal(t, "invalid", check(r1, alice))
			assert.Equal(t, "ok", deliver())
			assert.Equal(t, "invalid", check(r2, alice), "the admission from before the refusal was cached")
		})
	}
}

// A request that starts after a logout does not share a whoami call that
// started before it: that call's answer may predate the logout. (The
// fence keeps such an answer out of the cache; this keeps it from the
// requests that come after the revocation.)
func TestRequestAfterRevocationDoesNotJoinEarlierCall(t *testing.T) {
	for name, shared := range map[string]bool{"same replica": false, "other replica": true} {
		t.Run(name, func(t *testing.T) {
			kratos := kratosauthtest.NewServer(t)
			store := newBigCache(t)
			held := newHeldAnswers()
			opts := []kratosauth.Option{kratosauth.WithCache(store), kratosauth.WithLogger(discard)}
			r2 := newAuth(t, kratos.URL, append(opts, kratosauth.WithHTTPClient(&http.Client{Transport: held}))...)
			r1 := r2
			if shared {
				r1 = newAuth(t, kratos.URL, opts...)
			}
			alice := kratos.Login()

			deliver := startHeld(t, r2, held, alice) // admitted by Kratos, answer on its way
			require.NoError(t, invalidate(r1, alice))
			kratos.Revoke(alice)
			after := make(chan string, 1)
			go func() { after <- check(r2, alice) }()
			select {
			case got := <-after:
				assert.Equal(t, "invalid", got)
			case <-time.After(3 * time.Second):
				t.Error("the request after the logout waited for the call from before it")
			}
			assert.Equal(t, "ok", deliver())
		})
	}
}

// Callers that cannot trust a shared answer (here: the store is down, so
// nothing is cached) share one second call: Kratos gets at most two calls
// for a burst on one credential, not one per request.
func TestDoubtfulJoinersShareOneCall(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL, kratosauth.WithCache(downStore{}), kratosauth.WithLogger(discard))
	alice := kratos.Login()
	kratos.Fail(kratosauthtest.Slow(200 * time.Millisecond))
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.Equal(t, "ok", check(a, alice))
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, kratos.Calls(), 2, "each doubtful caller asked Kratos on its own")
}
