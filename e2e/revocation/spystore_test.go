package revocation

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kratosauth/kratosauth/cache"
)

// This file is the only one that knows the cache.Store interface and the
// optional interfaces kratosauth looks for: a change of the Store's
// methods is adapted here.

// spyStore delegates every call to one replica's store and tells the
// explorer what happened: how many calls are under way (the scheduler waits
// for none), the keys read (calibration, and whether a request has read its
// entry yet), and every revocation written (a logout marker or a recorded
// refusal), per key.
type spyStore struct {
	inner   cache.Store
	replica int
	obs     *storeObserver
}

// storeObserver collects what every replica's spy saw.
type storeObserver struct {
	inFlight  atomic.Int64
	lastWrite atomic.Int64 // Unix nanoseconds when the last write returned

	mu          sync.Mutex
	gets        map[getKey]int                   // reads per replica and key
	revocations map[string][]time.Time           // successful revocation writes per key
	firstGet    chan string                      // calibration: the next key read, if set
	sink        func(format string, args ...any) // the run's transcript
	alias       func(string) string              // key -> token, for the transcript
}

type getKey struct {
	replica int
	key     string
}

func newStoreObserver() *storeObserver {
	return &storeObserver{gets: map[getKey]int{}, revocations: map[string][]time.Time{}}
}

// wrap returns inner behind a spy, offering exactly the interfaces inner has.
func (o *storeObserver) wrap(inner cache.Store, replica int) cache.Store {
	s := &spyStore{inner: inner, replica: replica, obs: o}
	if _, ok := inner.(cache.IdentityIndex); !ok {
		panic("revocation: the store has no identity index")
	}
	return s
}

func (o *storeObserver) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	clear(o.gets)
	clear(o.revocations)
}

func (o *storeObserver) getCount(replica int, key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.gets[getKey{replica, key}]
}

// revokedBy returns the first successful revocation write of key at or
// after from, if any.
func (o *storeObserver) revokedBy(key string, from time.Time) (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, at := range o.revocations[key] {
		if !at.Before(from) {
			return at, true
		}
	}
	return time.Time{}, false
}

func (o *storeObserver) log(replica int, format string, args ...any) {
	o.mu.Lock()
	sink := o.sink
	o.mu.Unlock()
	if sink != nil {
		sink("    r%d %s", replica, fmt.Sprintf(format, args...))
	}
}

func (o *storeObserver) name(key string) string {
	if o.alias != nil {
		if t := o.alias(key); t != "" {
			return t
		}
	}
	if len(key) > 8 {
		return key[:8]
	}
	return key
}

func (s *spyStore) begin() func() {
	s.obs.inFlight.Add(1)
	return func() { s.obs.inFlight.Add(-1) }
}

func (s *spyStore) wrote() { s.obs.lastWrite.Store(time.Now().UnixNano()) }

// describe names an entry for the transcript: kratosauth writes its
// markers as 8 bytes of deadline, 0xff and a reason ('i' logout, 'r'
// Kratos' refusal).
func describe(entry []byte) string {
	if len(entry) == 10 && entry[8] == 0xff {
		return fmt.Sprintf("marker(%c)", entry[9])
	}
	return "session"
}

func (s *spyStore) Get(key string) ([]byte, error) {
	defer s.begin()()
	s.obs.mu.Lock()
	s.obs.gets[getKey{s.replica, key}]++
	if s.obs.firstGet != nil {
		s.obs.firstGet <- key
		s.obs.firstGet = nil
	}
	s.obs.mu.Unlock()
	return s.inner.Get(key)
}

func (s *spyStore) Begin(key string) (cache.Ticket, error) {
	defer s.begin()()
	return s.inner.Begin(key)
}

func (s *spyStore) Put(key string, entry []byte, ttl time.Duration, t cache.Ticket, maxAge time.Duration) error {
	defer s.begin()()
	err := s.inner.Put(key, entry, ttl, t, maxAge)
	s.wrote()
	outcome := errText(err)
	if errors.Is(err, cache.ErrFenced) {
		outcome = "fenced"
	}
	s.obs.log(s.replica, "store put %s %s: %s", s.obs.name(key), describe(entry), outcome)
	return err
}

// Revoke is the store's record of a revocation: a logout marker, or a
// refusal Kratos gave.
func (s *spyStore) Revoke(key string, marker []byte, ttl, fence time.Duration) error {
	defer s.begin()()
	err := s.inner.Revoke(key, marker, ttl, fence)
	s.wrote()
	s.obs.log(s.replica, "store revoke %s %s: %s", s.obs.name(key), describe(marker), errText(err))
	if err == nil {
		s.obs.mu.Lock()
		s.obs.revocations[key] = append(s.obs.revocations[key], time.Now())
		s.obs.mu.Unlock()
	}
	return err
}

func (s *spyStore) Close() error { return s.inner.Close() }

func (s *spyStore) AddToIndex(index, key string, ttl time.Duration) error {
	defer s.begin()()
	err := s.inner.(cache.IdentityIndex).AddToIndex(index, key, ttl)
	s.wrote()
	s.obs.log(s.replica, "store index %s: %v", s.obs.name(key), errText(err))
	return err
}

func (s *spyStore) TakeIndex(index string, hold time.Duration) ([]string, error) {
	defer s.begin()()
	keys, err := s.inner.(cache.IdentityIndex).TakeIndex(index, hold)
	s.wrote()
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = s.obs.name(k)
	}
	s.obs.log(s.replica, "store take index: %v %v", names, errText(err))
	return keys, err
}

func errText(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, cache.ErrIndexHeld):
		return "held"
	case errors.Is(err, cache.ErrIndexFull):
		return "full"
	}
	return "error"
}
