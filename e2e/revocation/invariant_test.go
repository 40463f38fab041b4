package revocation

import (
	"fmt"
	"sync"
	"time"
)

// The checker judges every request once it has finished, by the invariant
// doc.go states: an admission is a violation when the request started after
// a revocation of its credential took effect, unless the replica's link
// from Redis was held all that time (client-side cache only); a refusal is
// one when Kratos never revoked the credential.

// outcome is how a request ended.
type outcome int

const (
	running outcome = iota
	admitted
	refused     // ErrInvalidSession: logged out
	unavailable // ErrUnavailable: 503
	otherError
)

func (o outcome) String() string {
	return [...]string{"running", "admitted", "refused (401)", "unavailable (503)", "other error"}[o]
}

// request is one Authenticate call on one replica.
type request struct {
	id       int
	replica  int
	token    string
	start    time.Time
	step     int // the step that started it
	getsAt   int // the spy's reads of its key on its replica when it started
	done     chan struct{}
	result   outcome
	err      error
	finished time.Time
}

// revocation is a library call that reported success.
type revocation struct {
	token string
	at    time.Time // when the call returned
	step  int
	what  string
}

// holdInterval is a time a replica's link from Redis was held.
type holdInterval struct{ from, to time.Time } // to zero: still held

// invalidationDelay is how long after a hold ends the invalidation messages
// it held back may take to be read by the client.
const invalidationDelay = 50 * time.Millisecond

// checker keeps what the invariant needs and judges finished requests.
type checker struct {
	mu           sync.Mutex
	revocations  []revocation
	kratosRevoke map[string]time.Time // when Kratos revoked each token
	holds        map[int][]holdInterval
	localCache   bool
	obs          *storeObserver
	keys         map[string]string // token -> store key
}

func newChecker(obs *storeObserver, keys map[string]string, localCache bool) *checker {
	return &checker{kratosRevoke: map[string]time.Time{}, holds: map[int][]holdInterval{}, obs: obs, keys: keys, localCache: localCache}
}

func (c *checker) revoked(r revocation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revocations = append(c.revocations, r)
}

func (c *checker) kratosRevoked(token string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.kratosRevoke[token]; !ok {
		c.kratosRevoke[token] = at
	}
}

func (c *checker) holdDown(replica int, on bool, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.holds[replica]
	switch {
	case on && (len(h) == 0 || !h[len(h)-1].to.IsZero()):
		c.holds[replica] = append(h, holdInterval{from: at})
	case !on && len(h) > 0 && h[len(h)-1].to.IsZero():
		h[len(h)-1].to = at
	}
}

// effective returns the earliest time token's revocation took effect, and
// why; ok is false while it has not.
func (c *checker) effective(token string) (at time.Time, why string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.revocations {
		if r.token == token && (!ok || r.at.Before(at)) {
			at, why, ok = r.at, fmt.Sprintf("%s returned at step %d", r.what, r.step), true
		}
	}
	if kr, revokedAtKratos := c.kratosRevoke[token]; revokedAtKratos {
		if w, recorded := c.obs.revokedBy(c.keys[token], kr); recorded && (!ok || w.Before(at)) {
			at, why, ok = w, "a refusal of the revoked credential was recorded in the store", true
		}
	}
	return at, why, ok
}

// excused reports whether replica may not have heard of a revocation at
// effective time at by start, its link from Redis held all along.
func (c *checker) excused(replica int, at, start time.Time) bool {
	if !c.localCache {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.holds[replica] {
		if h.from.After(at.Add(invalidationDelay)) {
			continue
		}
		if h.to.IsZero() || !h.to.Add(invalidationDelay).Before(start) {
			return true
		}
	}
	return false
}

// check returns the violation req shows, or "".
func (c *checker) check(req *request) string {
	switch req.result {
	case admitted:
		at, why, ok := c.effective(req.token)
		if ok && req.start.After(at) && !c.excused(req.replica, at, req.start) {
			return fmt.Sprintf("req#%d on r%d for %s (step %d) admitted %s after the revocation took effect (%s)",
				req.id, req.replica, req.token, req.step, req.start.Sub(at).Round(time.Millisecond), why)
		}
	case refused:
		c.mu.Lock()
		kr, ok := c.kratosRevoke[req.token]
		c.mu.Unlock()
		if !ok || kr.After(req.finished) {
			return fmt.Sprintf("req#%d on r%d for %s (step %d) refused as logged out, but Kratos never revoked it",
				req.id, req.replica, req.token, req.step)
		}
	}
	return ""
}
