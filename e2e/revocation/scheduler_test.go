package revocation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/cache"
	rediscache "github.com/kratosauth/kratosauth/cache/redis"
	"github.com/kratosauth/kratosauth/internal/testing/redistest"
)

// The fleet's settings: short, so that TTLs expire within a schedule.
const (
	cacheTTL      = 1500 * time.Millisecond
	negativeTTL   = 1500 * time.Millisecond
	whoamiTimeout = time.Second
	webhookKey    = "explorer-webhook-key-0123456789abcdef"
	kratosURL     = "http://kratos.test"
	stepsPerRun   = 24
)

// identity is one of Kratos' identities and its sessions' tokens.
type identity struct {
	name, id string
	sessions []string
}

// identities are what Kratos knows.
var identities = []identity{
	{"A", "3f0c6a8e-1b2d-4c5e-8f90-a1b2c3d4e5f6", []string{"A1", "A2"}},
	{"B", "7d41e2b9-5a6c-4e8f-9012-b3c4d5e6f708", []string{"B1"}},
}

func identityOf(token string) (name, id string) {
	for _, i := range identities {
		if slices.Contains(i.sessions, token) {
			return i.name, i.id
		}
	}
	panic("unknown token " + token)
}

func allTokens() []string {
	var out []string
	for _, i := range identities {
		out = append(out, i.sessions...)
	}
	return out
}

// mode is the store the replicas share.
type mode struct {
	name       string
	redis      bool // one rediscache.Store per replica, each through its own faultProxy
	localCache bool // rueidis' client-side cache
}

var modes = []mode{
	{name: "mem"}, // one cache.BigCache shared by all replicas
	{name: "redis", redis: true},
	{name: "redis-local", redis: true, localCache: true},
}

func modeNamed(name string) (mode, bool) {
	for _, m := range modes {
		if m.name == name {
			return m, true
		}
	}
	return mode{}, false
}

// schedule is one run: the fleet's shape and its steps. Steps are
// generated from the seed when the schedule has none.
type schedule struct {
	mode     mode
	quiet    bool // no Redis faults, no negative cache
	seed     uint64
	replicas int
	negative bool
	steps    []step
}

func (s schedule) header() string {
	neg := "off"
	if s.negative {
		neg = "on"
	}
	return fmt.Sprintf("mode=%s replicas=%d negative=%s", s.mode.name, s.replicas, neg)
}

// String is the schedule as -schedule replays it.
func (s schedule) String() string {
	parts := make([]string, len(s.steps))
	for i, st := range s.steps {
		parts[i] = st.String()
	}
	return s.header() + ": " + strings.Join(parts, "; ")
}

// parseSchedule reads what String wrote.
func parseSchedule(text string) (schedule, error) {
	head, body, ok := strings.Cut(text, ":")
	if !ok {
		return schedule{}, errors.New("schedule: no ':' after the header")
	}
	var s schedule
	for f := range strings.FieldsSeq(head) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "mode":
			m, ok := modeNamed(v)
			if !ok {
				return schedule{}, fmt.Errorf("schedule: unknown mode %q", v)
			}
			s.mode = m
		case "replicas":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 4 {
				return schedule{}, fmt.Errorf("schedule: replicas %q: 1 to 4", v)
			}
			s.replicas = n
		case "negative":
			s.negative = v == "on"
		default:
			return schedule{}, fmt.Errorf("schedule: unknown setting %q", k)
		}
	}
	if s.mode.name == "" || s.replicas == 0 {
		return schedule{}, errors.New("schedule: the header needs mode= and replicas=")
	}
	for part := range strings.SplitSeq(body, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		st, err := parseStep(strings.TrimSpace(part))
		if err != nil {
			return schedule{}, err
		}
		s.steps = append(s.steps, st)
	}
	return s, nil
}

// step is one action of the scheduler. Calls are named by replica and
// token: a replica has at most one whoami call per credential under way.
type step struct {
	kind    string
	replica int
	arg     string // a token, or an identity's name
	nth     int    // holdwrite, holdreply: which write (0 and 1: the next)
}

// The steps, with what they take: r = replica, t = token, i = identity.
var stepArgs = map[string]string{
	"req":       "rt", // a request starts on replica r with token t, in its own goroutine
	"eval":      "rt", // Kratos evaluates r's parked whoami call for t (its answer is fixed now)
	"deliver":   "rt", // Kratos sends that call's answer (evaluated now, if it was not)
	"logout":    "rt", // r's Invalidate for t returns, then Kratos revokes t
	"revoke":    "t",  // Kratos revokes t (admin API); no library call
	"evict":     "ri", // Kratos revokes i's sessions, then r's InvalidateIdentity(i)
	"disable":   "ri", // Kratos disables i, then r's InvalidateIdentity(i)
	"webhook":   "ri", // Kratos revokes i's sessions, then POSTs r's webhook handler
	"wait":      "",   // every TTL and whoami timeout passes
	"holdup":    "r",  // r's commands wait before Redis runs them
	"holddown":  "r",  // r's replies wait after Redis ran the command
	"holdwrite": "r",  // from r's next write command on (or its n-th: holdwrite r0 2), commands wait before Redis runs them
	"holdreply": "r",  // from r's next write command on (or its n-th), replies wait after Redis ran it
	"release":   "r",  // r's held bytes go through (late)
	"cut":       "r",  // r's connections are closed; held bytes are lost
	"trip":      "r",  // r's Redis refuses it until up, and r's circuit breaker opens
	"up":        "r",  // r's Redis accepts it again; wait until r's breaker closed
	"restart":   "",   // Redis restarts, empty
}

func (s step) String() string {
	out := s.kind
	if strings.Contains(stepArgs[s.kind], "r") {
		out += " r" + strconv.Itoa(s.replica)
	}
	if s.arg != "" {
		out += " " + s.arg
	}
	if s.nth > 1 {
		out += " " + strconv.Itoa(s.nth)
	}
	return out
}

func parseStep(text string) (step, error) {
	f := strings.Fields(text)
	args, ok := stepArgs[f[0]]
	s := step{kind: f[0]}
	if ok && (s.kind == "holdwrite" || s.kind == "holdreply") && len(f) == 3 {
		n, err := strconv.Atoi(f[2])
		if err != nil || n < 1 {
			return step{}, fmt.Errorf("schedule: bad write number in %q", text)
		}
		s.nth, f = n, f[:2]
	}
	if !ok || len(f) != 1+len(args) {
		return step{}, fmt.Errorf("schedule: bad step %q", text)
	}
	for i, a := range args {
		v := f[1+i]
		switch a {
		case 'r':
			n, err := strconv.Atoi(strings.TrimPrefix(v, "r"))
			if err != nil || !strings.HasPrefix(v, "r") {
				return step{}, fmt.Errorf("schedule: bad replica in %q", text)
			}
			s.replica = n
		case 't':
			if !slices.Contains(allTokens(), v) {
				return step{}, fmt.Errorf("schedule: unknown token in %q", text)
			}
			s.arg = v
		case 'i':
			if !slices.ContainsFunc(identities, func(i identity) bool { return i.name == v }) {
				return step{}, fmt.Errorf("schedule: unknown identity in %q", text)
			}
			s.arg = v
		}
	}
	return s, nil
}

// newSchedule draws a fleet's shape from seed; its steps are drawn as it
// runs (they depend on which calls are parked).
func newSchedule(m mode, quiet bool, seed uint64) schedule {
	rng := rand.New(rand.NewPCG(seed, 0x6b726174))
	s := schedule{mode: m, quiet: quiet, seed: seed, replicas: 2 + rng.IntN(3)}
	s.negative = !quiet && rng.IntN(2) == 0
	return s
}

// harness is what every schedule of one mode shares: the fake Kratos, the
// Redis server and each replica's proxy to it.
type harness struct {
	mode    mode
	kratos  *fakeKratos
	obs     *storeObserver
	keys    map[string]string // token -> store key
	redis   *redistest.Server
	proxies []*faultProxy
}

func newHarness(t testing.TB, m mode) *harness {
	h := &harness{mode: m, kratos: newFakeKratos(), obs: newStoreObserver()}
	for _, i := range identities {
		for n, tok := range i.sessions {
			h.kratos.addSession(tok, fmt.Sprintf("%s-%d", i.id[:30], n), i.id)
		}
	}
	h.keys = calibrate(t, h.kratos)
	names := map[string]string{}
	for tok, k := range h.keys {
		names[k] = tok
	}
	h.obs.alias = func(k string) string { return names[k] }
	if m.redis {
		h.redis = redistest.Start(t)
		for range 4 {
			p, err := newFaultProxy(h.redis.Addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			h.proxies = append(h.proxies, p)
		}
		// Redis learns the store's scripts on their first use (EVALSHA
		// fails, EVAL follows): teach it them now, so that "the n-th
		// write" means the same in every schedule.
		warm, err := parseSchedule("mode=" + m.name + " replicas=1 negative=on: req r0 A1; deliver r0 A1; logout r0 A1; req r0 A1; deliver r0 A1; webhook r0 A")
		if err != nil {
			t.Fatal(err)
		}
		h.execute(t, warm)
	}
	return h
}

// calibrate maps each token to its store key: the first key a request for
// it reads, on a quiet replica of its own. The explorer thus never needs
// the library's key derivation.
func calibrate(t testing.TB, k *fakeKratos) map[string]string {
	obs := newStoreObserver()
	bc, err := cache.NewBigCache(time.Minute, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	a, err := kratosauth.New(kratosURL, kratosauth.WithCache(obs.wrap(bc, 0)),
		kratosauth.WithHTTPClient(&http.Client{Transport: k.transport(0)}), kratosauth.WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	keys := map[string]string{}
	for _, tok := range allTokens() {
		first := make(chan string, 1)
		obs.mu.Lock()
		obs.firstGet = first
		obs.mu.Unlock()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = a.Authenticate(tokenRequest(tok))
		}()
		keys[tok] = <-first
		for deadline := time.Now().Add(5 * time.Second); ; {
			if p := k.parked(); len(p) > 0 {
				k.deliver(p[0])
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("calibration: no whoami call")
			}
			time.Sleep(time.Millisecond)
		}
		<-done
	}
	k.reset()
	return keys
}

func tokenRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://app.test/api/me", nil)
	r.Header.Set("X-Session-Token", token)
	return r
}

// replica is one app process: an Authenticator over its own view of the
// shared store.
type replica struct {
	auth  *kratosauth.Authenticator
	hook  http.Handler
	raw   *rediscache.Store // nil in mode mem
	proxy *faultProxy
	// what the scheduler did to its link to Redis
	heldUp, heldDown, down bool
}

// run is one schedule being executed.
type run struct {
	t      testing.TB
	h      *harness
	s      schedule
	rng    *rand.Rand
	hot    int // index of the credential most steps are about
	chk    *checker
	shared cache.Store // mode mem
	reps   []*replica

	mu         sync.Mutex
	nextReq    int
	reqs       []*request
	log        []string
	violations []string
	step       int
}

// execute runs s (its steps, or as many drawn from its seed) and the final
// probe of every credential on every replica, and returns the violations.
func (h *harness) execute(t testing.TB, s schedule) (executed schedule, violations []string, transcript string) {
	h.kratos.reset()
	h.obs.reset()
	r := &run{t: t, h: h, s: s, rng: rand.New(rand.NewPCG(s.seed, 0x73746570)), chk: newChecker(h.obs, h.keys, s.mode.localCache)}
	r.hot = r.rng.IntN(len(allTokens()))
	h.obs.mu.Lock()
	h.obs.sink = r.logf
	h.obs.mu.Unlock()
	if h.redis != nil {
		if _, err := h.redis.Do("FLUSHALL"); err != nil {
			t.Fatalf("FLUSHALL: %v", err)
		}
	} else {
		bc, err := cache.NewBigCache(time.Minute, 8)
		if err != nil {
			t.Fatal(err)
		}
		r.shared = bc
	}
	for i := range s.replicas {
		r.reps = append(r.reps, r.newReplica(i))
	}
	defer r.close()

	generate := s.steps == nil
	for i := 0; ; i++ {
		var st step
		if generate {
			if i == stepsPerRun {
				break
			}
			st = r.draw()
			r.s.steps = append(r.s.steps, st)
		} else {
			if i == len(s.steps) {
				break
			}
			st = s.steps[i]
		}
		r.step = i + 1
		r.logf("step %d: %s", r.step, st)
		began := time.Now()
		r.do(st)
		r.settle()
		if d := time.Since(began); d > 50*time.Millisecond {
			r.logf("  (%s)", d.Round(time.Millisecond))
		}
		r.judge()
	}
	r.probe()
	r.judge()
	return r.s, r.violations, strings.Join(r.log, "\n")
}

func (r *run) newReplica(i int) *replica {
	h := r.h
	rep := &replica{}
	var store cache.Store
	if h.mode.redis {
		rep.proxy = h.proxies[i]
		rep.proxy.heal()
		rep.proxy.cut()
		rep.proxy.set(func() { rep.proxy.onHoldDown = func(on bool) { r.chk.holdDown(i, on, time.Now()) } })
		opts := []rediscache.Option{rediscache.WithLogger(discardLogger())}
		if !h.mode.localCache {
			opts = append(opts, rediscache.WithLocalCacheMB(0))
		}
		raw, err := rediscache.New("redis://"+rep.proxy.addr+"/0", opts...)
		if err != nil {
			r.t.Fatal(err)
		}
		rep.raw = raw
		store = raw
	} else {
		store = r.shared
	}
	opts := []kratosauth.Option{
		kratosauth.WithCache(h.obs.wrap(store, i)),
		kratosauth.WithCacheTTL(cacheTTL),
		kratosauth.WithTimeout(whoamiTimeout),
		kratosauth.WithHTTPClient(&http.Client{Transport: h.kratos.transport(i)}),
		kratosauth.WithLogger(traceLogger(h.obs, i)),
	}
	if r.s.negative {
		opts = append(opts, kratosauth.WithNegativeCacheTTL(negativeTTL))
	}
	a, err := kratosauth.New(kratosURL, opts...)
	if err != nil {
		r.t.Fatal(err)
	}
	rep.auth = a
	hook, err := kratosauth.NewWebhookHandler(a, kratosauth.WebhookAPIKey("X-Webhook-Key", webhookKey))
	if err != nil {
		r.t.Fatal(err)
	}
	rep.hook = hook
	return rep
}

func (r *run) close() {
	r.finish()
	for _, rep := range r.reps {
		rep.auth.Close()
		if rep.raw != nil {
			rep.raw.Close()
		}
		if rep.proxy != nil {
			rep.proxy.heal()
		}
	}
	if r.shared != nil {
		r.shared.Close()
	}
}

func (r *run) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, fmt.Sprintf(format, args...))
}

// weights of the steps drawn; quiet schedules draw no Redis faults.
var weights = []struct {
	kind   string
	weight int
	fault  bool
}{
	{"req", 28, false}, {"eval", 16, false}, {"deliver", 16, false}, {"logout", 3, false},
	{"revoke", 2, false}, {"evict", 1, false}, {"disable", 1, false}, {"webhook", 1, false}, {"wait", 1, false},
	{"holdup", 2, true}, {"holddown", 2, true}, {"holdwrite", 3, true}, {"holdreply", 3, true}, {"release", 5, true}, {"cut", 1, true},
	{"trip", 2, true}, {"up", 4, true}, {"restart", 1, true},
}

// draw picks the next step from the seed and what is parked now.
func (r *run) draw() step {
	faults := r.h.mode.redis && !r.s.quiet
	// Answers Kratos fixed as valid and has not delivered: fresh while the
	// session lives, stale once it is revoked. The draw leans towards
	// revoking what is fresh, and towards moving everything else first
	// while an answer is stale: that is where revocations get lost.
	var fresh, stale, others []*whoamiCall
	for _, c := range r.h.kratos.parked() {
		switch {
		case c.evaluated && c.valid && r.h.kratos.admits(c.token):
			fresh = append(fresh, c)
		case c.evaluated && c.valid:
			stale = append(stale, c)
		default:
			others = append(others, c)
		}
	}
	weight := func(kind string, w int) int {
		switch kind {
		case "logout", "revoke", "evict", "webhook", "disable":
			if len(fresh) > 0 {
				return 5 * w
			}
		}
		return w
	}
	total := 0
	for _, w := range weights {
		if !w.fault || faults {
			total += weight(w.kind, w.weight)
		}
	}
	n := r.rng.IntN(total)
	kind := "req"
	for _, w := range weights {
		if w.fault && !faults {
			continue
		}
		if n < weight(w.kind, w.weight) {
			kind = w.kind
			break
		}
		n -= weight(w.kind, w.weight)
	}
	tokens := allTokens()
	rep := r.rng.IntN(len(r.reps))
	// Most steps are about one credential, so that its requests, calls and
	// revocations meet.
	tok := tokens[r.hot]
	if r.rng.IntN(3) == 0 {
		tok = tokens[r.rng.IntN(len(tokens))]
	}
	pick := func(calls []*whoamiCall) *whoamiCall { return calls[r.rng.IntN(len(calls))] }
	switch {
	case kind == "req" && len(stale) > 0 && r.rng.IntN(3) > 0:
		c := pick(stale)
		tok = c.token
		if rep == c.replica { // there the request would take the stale answer's delivery
			rep = (rep + 1 + r.rng.IntN(len(r.reps)-1)) % len(r.reps)
		}
	case kind != "req" && len(fresh) > 0 && r.rng.IntN(3) > 0:
		tok = pick(fresh).token
	}
	switch kind {
	case "logout", "revoke", "evict", "webhook", "disable":
		// Revoking what Kratos revoked already changes nothing.
		if !r.h.kratos.admits(tok) {
			var live []string
			for _, t := range tokens {
				if r.h.kratos.admits(t) {
					live = append(live, t)
				}
			}
			if len(live) == 0 {
				return step{kind: "req", replica: rep, arg: tok}
			}
			tok = live[r.rng.IntN(len(live))]
		}
	}
	ident, _ := identityOf(tok)
	switch kind {
	case "eval", "deliver":
		var calls []*whoamiCall
		if kind == "eval" {
			calls = slices.DeleteFunc(slices.Clone(others), func(c *whoamiCall) bool { return c.evaluated })
		} else if calls = append(slices.Clone(fresh), others...); len(calls) == 0 || len(stale) > 0 && r.rng.IntN(4) == 0 {
			calls = append(calls, stale...)
		}
		if len(calls) == 0 {
			return step{kind: "req", replica: rep, arg: tok}
		}
		c := pick(calls)
		return step{kind: kind, replica: c.replica, arg: c.token}
	case "req":
		return step{kind: "req", replica: rep, arg: tok}
	case "logout":
		return step{kind: kind, replica: rep, arg: tok}
	case "revoke":
		return step{kind: kind, arg: tok}
	case "evict", "disable", "webhook":
		return step{kind: kind, replica: rep, arg: ident}
	case "holdup", "holddown", "holdwrite", "holdreply", "release", "cut", "trip", "up":
		var eligible []int
		for i, rp := range r.reps {
			if map[string]bool{
				"holdup": !rp.heldUp, "holddown": !rp.heldDown, "holdwrite": !rp.heldUp, "holdreply": !rp.heldDown,
				"release": rp.heldUp || rp.heldDown,
				"cut":     true, "trip": !rp.down, "up": rp.down,
			}[kind] {
				eligible = append(eligible, i)
			}
		}
		if len(eligible) == 0 {
			return step{kind: "req", replica: rep, arg: tok}
		}
		st := step{kind: kind, replica: eligible[r.rng.IntN(len(eligible))]}
		if kind == "holdwrite" || kind == "holdreply" {
			st.nth = 1 + r.rng.IntN(2)
		}
		return st
	}
	return step{kind: kind}
}

// do executes one step.
func (r *run) do(st step) {
	h := r.h
	var rep *replica
	if st.replica < len(r.reps) {
		rep = r.reps[st.replica]
	}
	needsRedis := slices.Contains([]string{"holdup", "holddown", "holdwrite", "holdreply", "release", "cut", "trip", "up"}, st.kind)
	if rep == nil && strings.Contains(stepArgs[st.kind], "r") || needsRedis && rep.proxy == nil || st.kind == "restart" && h.redis == nil {
		r.logf("  (skipped: not in this fleet)")
		return
	}
	switch st.kind {
	case "req":
		r.startRequest(st.replica, st.arg)
	case "eval", "deliver":
		c := r.call(st.replica, st.arg)
		if c == nil {
			r.logf("  (no call parked)")
			return
		}
		if st.kind == "eval" {
			h.kratos.evaluate(c)
		} else {
			h.kratos.deliver(c)
		}
		r.logf("  %s: %s", c, verdict(c))
	case "logout":
		// An app whose Invalidate fails answers 503 and does not send the
		// user to Kratos' logout: the session stays, and nothing is promised.
		if err := rep.auth.Invalidate(tokenRequest(st.arg)); err != nil {
			r.logf("  failed: %v (the logout stops here)", err)
			return
		}
		at := time.Now()
		r.chk.revoked(revocation{token: st.arg, at: at, step: r.step, what: "Invalidate on r" + strconv.Itoa(st.replica)})
		h.kratos.revoke(st.arg)
		r.chk.kratosRevoked(st.arg, time.Now())
	case "revoke":
		h.kratos.revoke(st.arg)
		r.chk.kratosRevoked(st.arg, time.Now())
	case "evict", "disable", "webhook":
		_, id := identityByName(st.arg)
		h.kratos.revokeIdentity(id, st.kind == "disable")
		now := time.Now()
		for _, tok := range tokensOf(st.arg) {
			r.chk.kratosRevoked(tok, now)
		}
		var err error
		if st.kind == "webhook" {
			err = postWebhook(rep.hook, id)
		} else {
			err = rep.auth.InvalidateIdentity(context.Background(), id)
		}
		at := time.Now()
		if err != nil {
			r.logf("  failed: %v", err)
			return
		}
		for _, tok := range tokensOf(st.arg) {
			r.chk.revoked(revocation{token: tok, at: at, step: r.step, what: st.kind + " on r" + strconv.Itoa(st.replica)})
		}
	case "wait":
		time.Sleep(max(cacheTTL, negativeTTL) + whoamiTimeout + 100*time.Millisecond)
	case "holdup":
		rep.heldUp = true
		rep.proxy.setHoldUp(true)
	case "holddown":
		rep.heldDown = true
		rep.proxy.setHoldDown(true)
	case "holdwrite":
		rep.heldUp = true
		rep.proxy.armWrite(max(st.nth, 1))
	case "holdreply":
		rep.heldDown = true
		rep.proxy.armReply(max(st.nth, 1))
	case "release":
		rep.heldUp, rep.heldDown = false, false
		rep.proxy.release()
	case "cut":
		rep.proxy.cut()
	case "trip":
		rep.down = true
		rep.proxy.setDown(true)
		for range 10 {
			if _, err := rep.raw.Get("explorer-probe"); errors.Is(err, rediscache.ErrUnavailable) {
				break
			}
		}
	case "up":
		rep.down = false
		rep.proxy.setDown(false)
		if !rep.heldUp && !rep.heldDown {
			r.usable(rep)
		}
	case "restart":
		h.redis.Kill()
		h.redis.Restart(r.t)
		for _, rep := range r.reps {
			if !rep.heldUp && !rep.heldDown && !rep.down {
				r.usable(rep)
			}
		}
	}
}

// usable waits until rep's store reaches Redis again (its breaker closed).
func (r *run) usable(rep *replica) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := rep.raw.Get("explorer-probe"); err == nil || errors.Is(err, cache.ErrNotFound) {
			return
		}
	}
	r.logf("  (Redis still unusable after 10 s)")
}

func verdict(c *whoamiCall) string {
	switch {
	case !c.evaluated:
		return "not evaluated"
	case c.valid:
		return "valid"
	}
	return "401"
}

func (r *run) call(replica int, token string) *whoamiCall {
	for _, c := range r.h.kratos.parked() {
		if c.replica == replica && c.token == token {
			return c
		}
	}
	return nil
}

func identityByName(name string) (int, string) {
	for n, i := range identities {
		if i.name == name {
			return n, i.id
		}
	}
	panic("unknown identity " + name)
}

func tokensOf(name string) []string {
	n, _ := identityByName(name)
	return identities[n].sessions
}

// postWebhook calls the handler as Kratos' web_hook action does.
func postWebhook(h http.Handler, identityID string) error {
	req := httptest.NewRequest(http.MethodPost, "http://app.test/hooks/kratos",
		strings.NewReader(`{"identity_id":"`+identityID+`"}`))
	req.Header.Set("X-Webhook-Key", webhookKey)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code/100 != 2 {
		return fmt.Errorf("webhook answered %d", w.Code)
	}
	return nil
}

func (r *run) startRequest(replica int, token string) {
	r.mu.Lock()
	req := &request{id: r.nextReq, replica: replica, token: token, step: r.step, done: make(chan struct{})}
	r.nextReq++
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	req.getsAt = r.h.obs.getCount(replica, r.h.keys[token])
	req.start = time.Now()
	a := r.reps[replica].auth
	go func() {
		defer close(req.done)
		_, err := a.Authenticate(tokenRequest(token))
		req.finished = time.Now()
		req.err = err
		switch {
		case err == nil:
			req.result = admitted
		case errors.Is(err, kratosauth.ErrInvalidSession):
			req.result = refused
		case errors.Is(err, kratosauth.ErrUnavailable):
			req.result = unavailable
		default:
			req.result = otherError
		}
	}()
}

// still reports whether nothing moves until the scheduler acts: no store
// call under way, no bytes in flight in a proxy (but those held), and every
// running request waiting for a parked whoami call, having read its entry.
func (r *run) still() bool {
	if r.h.obs.inFlight.Load() != 0 {
		return false
	}
	for _, rep := range r.reps {
		if rep.proxy != nil && !rep.proxy.flowing() {
			return false
		}
	}
	r.mu.Lock()
	reqs := slices.Clone(r.reqs)
	r.mu.Unlock()
	for _, req := range reqs {
		select {
		case <-req.done:
			continue
		default:
		}
		if r.h.obs.getCount(req.replica, r.h.keys[req.token]) <= req.getsAt {
			return false
		}
		if waiting, _ := r.h.kratos.pending(req.replica, req.token); !waiting {
			return false
		}
	}
	return true
}

// settle waits until the fleet is quiet (and, with the client-side cache,
// until Redis' invalidation messages of the last write have been read).
func (r *run) settle() {
	deadline := time.Now().Add(20 * time.Second)
	calm := 0
	for calm < 3 {
		if time.Now().After(deadline) {
			r.t.Fatalf("seed %d: the fleet never settled\n%s", r.s.seed, strings.Join(r.log, "\n"))
		}
		if r.still() {
			calm++
		} else {
			calm = 0
		}
		time.Sleep(500 * time.Microsecond)
		if calm == 3 && r.h.mode.localCache {
			if since := time.Since(time.Unix(0, r.h.obs.lastWrite.Load())); since < invalidationDelay/2 {
				time.Sleep(invalidationDelay/2 - since)
				calm = 0
			}
		}
	}
}

// judge logs the requests that finished and checks them.
func (r *run) judge() {
	r.mu.Lock()
	reqs := slices.Clone(r.reqs)
	r.mu.Unlock()
	for _, req := range reqs {
		select {
		case <-req.done:
		default:
			continue
		}
		r.logf("  req#%d (r%d %s, step %d): %s", req.id, req.replica, req.token, req.step, req.result)
		if v := r.chk.check(req); v != "" {
			r.violations = append(r.violations, v)
			r.logf("  VIOLATION: %s", v)
		}
		r.mu.Lock()
		r.reqs = slices.DeleteFunc(r.reqs, func(x *request) bool { return x == req })
		r.mu.Unlock()
	}
}

// probe ends every fault and asks for every credential on every replica,
// answering whatever it parks: what the fleet serves once things are calm.
func (r *run) probe() {
	r.logf("probe: faults end, every credential on every replica")
	for _, rep := range r.reps {
		if rep.proxy == nil {
			continue
		}
		rep.heldUp, rep.heldDown, rep.down = false, false, false
		rep.proxy.heal()
	}
	for _, rep := range r.reps {
		if rep.raw != nil {
			r.usable(rep)
		}
	}
	r.settle()
	r.judge()
	if r.h.mode.localCache {
		time.Sleep(2 * invalidationDelay)
	}
	for i := range r.reps {
		for _, tok := range allTokens() {
			if waiting, evaluated := r.h.kratos.pending(i, tok); waiting && evaluated {
				r.h.kratos.deliver(r.call(i, tok))
				r.settle()
			}
			r.step++
			r.logf("step %d: req r%d %s (probe)", r.step, i, tok)
			r.startRequest(i, tok)
			r.settle()
			r.deliverAll()
			r.judge()
		}
	}
}

// deliverAll answers every parked call until none is left.
func (r *run) deliverAll() {
	for {
		calls := r.h.kratos.parked()
		if len(calls) == 0 {
			return
		}
		for _, c := range calls {
			r.h.kratos.deliver(c)
			r.logf("  %s: %s", c, verdict(c))
		}
		r.settle()
	}
}

// finish lets every request end.
func (r *run) finish() {
	r.deliverAll()
	r.mu.Lock()
	reqs := slices.Clone(r.reqs)
	r.mu.Unlock()
	for _, req := range reqs {
		<-req.done
	}
}

// discardLogger drops a component's logs.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// traceLogger writes a replica's warnings into the store trace, where they
// sit between the calls that caused them.
func traceLogger(obs *storeObserver, replica int) *slog.Logger {
	return slog.New(traceHandler{obs: obs, replica: replica})
}

type traceHandler struct {
	obs     *storeObserver
	replica int
}

func (h traceHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h traceHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h traceHandler) WithGroup(string) slog.Handler                { return h }
func (h traceHandler) Handle(_ context.Context, rec slog.Record) error {
	h.obs.log(h.replica, "logs %q", rec.Message)
	return nil
}
