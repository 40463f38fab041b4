package soak_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/internal/settings"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

const (
	cacheTTL = time.Second
	// slack is the allowance on top of a deadline (revocation + TTL, or
	// expires_at) for requests and clocks in flight.
	slack = time.Second

	nValid     = 25 // API tokens that stay valid
	nBrowser   = 10 // browser cookies that stay valid
	nRevocable = 10 // API tokens revoked one by one during the run
	nExpiring  = 5  // API tokens whose session lifespan ends mid-run
	workers    = 8
)

type class int

const (
	classValid class = iota
	classBrowser
	classRevoked
	classExpiring
	classGarbage   // well-formed but unknown to Kratos
	classMalformed // refused before Kratos
	nClasses
)

// oversizedToken is past the library's credential cap: refused before Kratos.
var oversizedToken = strings.Repeat("a", 17<<10)

var classNames = [nClasses]string{"valid-token", "valid-cookie", "revocable", "expiring", "garbage", "malformed"}

type ident struct {
	class      class
	token      string
	cookie     *http.Cookie
	sessionID  string
	identityID string
	expiresAt  time.Time
	revokingAt atomic.Int64 // unix nanos when its revocation started; 0 before
	revokedAt  atomic.Int64 // unix nanos once revoked; 0 before
}

// outage is the window in which Kratos is being restarted.
type outage struct {
	mu         sync.Mutex
	start, end time.Time
}

func (o *outage) set(start, end time.Time) {
	o.mu.Lock()
	o.start, o.end = start, end
	o.mu.Unlock()
}

// during reports whether [from, to] overlaps the outage (plus slack after it).
func (o *outage) during(from, to time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.start.IsZero() {
		return false
	}
	end := o.end
	if end.IsZero() {
		end = time.Now()
	}
	return !to.Before(o.start) && !from.After(end.Add(slack))
}

// histogram is a log-scale latency histogram (5% buckets from 1 µs).
type histogram [512]int64

func bucket(d time.Duration) int {
	us := float64(d.Microseconds())
	if us < 1 {
		return 0
	}
	return min(int(math.Log(us)/math.Log(1.05))+1, len(histogram{})-1)
}

func (h *histogram) quantile(q float64) time.Duration {
	var total int64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0
	}
	want := int64(math.Ceil(q * float64(total)))
	var seen int64
	for i, n := range h {
		seen += n
		if seen >= want {
			return time.Duration(math.Pow(1.05, float64(i))) * time.Microsecond
		}
	}
	return 0
}

type stats struct {
	began      time.Time
	mu         sync.Mutex
	byKind     map[string]int64 // "class status"
	violations []string
	notes      []string // the first 503s outside the restart, with when they happened
	lat        histogram
	served     atomic.Int64
}

func (s *stats) record(c class, status string, d time.Duration, violation string) {
	s.served.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byKind[classNames[c]+" "+status]++
	s.lat[bucket(d)]++
	if violation != "" && len(s.violations) < 50 {
		s.violations = append(s.violations, violation)
	}
	if violation != "" {
		s.byKind["VIOLATION"]++
	}
	if strings.HasSuffix(status, "(outside restart)") && len(s.notes) < 20 {
		s.notes = append(s.notes, fmt.Sprintf("t=%v %s %s after %v", time.Since(s.began).Round(time.Millisecond), classNames[c], status, d.Round(time.Millisecond)))
	}
}

type sample struct {
	at         time.Duration
	served     int64
	heapInuse  uint64
	goroutines int
}

func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Second {
			t.Fatalf("SOAK_DURATION=%q: want a duration of at least 10s", v)
		}
		return d
	}
	return 35 * time.Second
}

func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test skipped in -short mode")
	}
	duration := soakDuration(t)
	rps := 400
	if v := os.Getenv("SOAK_RPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("SOAK_RPS=%q", v)
		}
		rps = n
	}
	leaks := goleak.IgnoreCurrent()

	// --- Kratos and identities -------------------------------------------
	srv := kratostest.Start(t, kratostest.Options{})
	var ids []*ident
	newAPI := func(c class) *ident {
		tok, sess := srv.RegisterAPI(t, kratostest.UniqueEmail("soak"), "soak-password-Ax9!q")
		sid, iid := kratostest.SessionIDs(t, sess)
		return &ident{class: c, token: tok, sessionID: sid, identityID: iid}
	}
	for range nValid {
		ids = append(ids, newAPI(classValid))
	}
	for range nRevocable {
		ids = append(ids, newAPI(classRevoked))
	}
	for range nBrowser {
		_, ck := srv.RegisterBrowser(t, kratostest.UniqueEmail("soak-browser"), "soak-password-Ax9!q")
		resp, body := srv.Whoami(t, "", ck)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("whoami with browser cookie: %d %s", resp.StatusCode, body)
		}
		sid, iid := kratostest.SessionIDs(t, body)
		ids = append(ids, &ident{class: classBrowser, cookie: ck, sessionID: sid, identityID: iid})
	}
	// Expiring sessions: Kratos' session lifespan is shortened (the config
	// is re-read on restart), so these sessions end about a quarter into
	// the run. Sessions created before keep their 24 h.
	lifespan := max(duration/4, 8*time.Second).Truncate(time.Second)
	cfg, err := os.ReadFile(srv.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	short := strings.Replace(string(cfg), "lifespan: 24h", fmt.Sprintf("lifespan: %ds", int(lifespan.Seconds())), 1)
	if short == string(cfg) {
		t.Fatal("kratos config has no 'lifespan: 24h' to shorten")
	}
	if err := os.WriteFile(srv.ConfigPath, []byte(short), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Restart(t)
	for range nExpiring {
		id := newAPI(classExpiring)
		resp, body := srv.Whoami(t, id.token)
		var s kratosauth.Session
		if resp.StatusCode != http.StatusOK || jsonDecode(body, &s) != nil {
			t.Fatalf("whoami for expiring session: %d %s", resp.StatusCode, body)
		}
		if until := time.Until(s.ExpiresAt); until > lifespan+time.Minute || until < time.Second {
			t.Fatalf("expiring session expires in %v, want about %v (did Kratos take the lifespan?)", until, lifespan)
		}
		id.expiresAt = s.ExpiresAt
		ids = append(ids, id)
	}
	// Back to 24 h: Kratos also checks session cookies against the current
	// lifespan (securecookie max-age), and the expiring sessions keep the
	// expires_at they were given.
	if err := os.WriteFile(srv.ConfigPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Restart(t)
	byClass := map[class][]*ident{}
	for _, id := range ids {
		byClass[id.class] = append(byClass[id.class], id)
	}
	t.Logf("Kratos %s; %d identities; soak %v at %d req/s offered, cache TTL %v", srv.PublicURL, len(ids), duration, rps, cacheTTL)

	// --- The app ----------------------------------------------------------
	auth, err := kratosauth.New(srv.PublicURL,
		kratosauth.WithAppURL("http://127.0.0.1:4455"),
		kratosauth.WithCacheTTL(cacheTTL),
		kratosauth.WithCacheSizeMB(16),
		kratosauth.WithTimeout(2*time.Second),
		kratosauth.WithLogger(slog.New(slog.DiscardHandler)), // Kratos outages are expected here
	)
	if err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(kratoshttp.RequireSession(auth)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := kratoshttp.Identity(r.Context())
		io.WriteString(w, id.ID)
	})))
	tr := &http.Transport{MaxIdleConnsPerHost: 2 * workers, MaxIdleConns: 2 * workers}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	st := &stats{byKind: map[string]int64{}}
	var out outage
	stop := make(chan struct{})
	var wg sync.WaitGroup

	runtime.GC()
	baseGoroutines := runtime.NumGoroutine()
	began := time.Now()
	st.began = began
	deadline := began.Add(duration)

	// --- Sampler ----------------------------------------------------------
	every := max(time.Second, duration/60)
	var samplesMu sync.Mutex
	var samples []sample
	takeSample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		samplesMu.Lock()
		samples = append(samples, sample{time.Since(began), st.served.Load(), ms.HeapInuse, runtime.NumGoroutine()})
		samplesMu.Unlock()
	}
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				takeSample()
			}
		}
	})

	// --- Load -------------------------------------------------------------
	interval := time.Duration(int64(time.Second) * workers / int64(rps))
	for w := range workers {
		wg.Go(func() {
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				c := class(i % int(nClasses))
				var id *ident
				if list := byClass[c]; len(list) > 0 {
					id = list[(i/int(nClasses))%len(list)]
				}
				one(client, app.URL, c, id, i%3 == 0, st, &out)
			}
		})
	}

	// --- Events: revocations spread over the run, a restart in the middle --
	type event struct {
		at  time.Duration
		run func()
	}
	var events []event
	for i, id := range byClass[classRevoked] {
		at := time.Duration(i+1) * duration / time.Duration(nRevocable+2)
		events = append(events, event{at, func() {
			id.revokingAt.Store(time.Now().UnixNano())
			if i%2 == 0 {
				srv.RevokeSession(t, id.sessionID)
			} else {
				srv.LogoutAPI(t, id.token)
			}
			id.revokedAt.Store(time.Now().UnixNano())
		}})
	}
	var restartTook time.Duration
	events = append(events, event{duration / 2, func() {
		start := time.Now()
		out.set(start, time.Time{})
		srv.Restart(t)
		out.set(start, time.Now())
		restartTook = time.Since(start)
	}})
	var warmHeap uint64
	events = append(events, event{duration / 5, func() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		warmHeap = ms.HeapInuse
	}})
	sort.Slice(events, func(i, j int) bool { return events[i].at < events[j].at })
	for _, ev := range events {
		time.Sleep(time.Until(began.Add(ev.at)))
		ev.run()
	}
	time.Sleep(time.Until(deadline))
	close(stop)
	wg.Wait()
	takeSample()
	elapsed := time.Since(began)

	// --- Flat at the end --------------------------------------------------
	tr.CloseIdleConnections()
	settings.Of(auth).Client.CloseIdleConnections()                // the whoami client's
	http.DefaultTransport.(*http.Transport).CloseIdleConnections() // kratostest's admin calls
	var endGoroutines int
	for wait := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		endGoroutines = runtime.NumGoroutine()
		if endGoroutines <= baseGoroutines || time.Now().After(wait) {
			break
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	endHeap := ms.HeapInuse

	// --- Report -----------------------------------------------------------
	served := st.served.Load()
	t.Logf("served %d requests in %v (%.0f req/s); restart took %v", served, elapsed.Round(time.Millisecond), float64(served)/elapsed.Seconds(), restartTook.Round(time.Millisecond))
	t.Logf("latency p50 %v, p99 %v, p99.9 %v", st.lat.quantile(0.5), st.lat.quantile(0.99), st.lat.quantile(0.999))
	kinds := make([]string, 0, len(st.byKind))
	for k := range st.byKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		t.Logf("  %-28s %d", k, st.byKind[k])
	}
	for _, n := range st.notes {
		t.Logf("  503 outside the restart: %s", n)
	}
	t.Logf("%8s %10s %12s %10s", "t", "served", "HeapInuse", "goroutines")
	for _, s := range samples {
		t.Logf("%8s %10d %10.1fMB %10d", s.at.Round(time.Second), s.served, float64(s.heapInuse)/(1<<20), s.goroutines)
	}
	t.Logf("goroutines: %d before load, %d after; HeapInuse after GC: %.1f MB warm (t=%v), %.1f MB at end",
		baseGoroutines, endGoroutines, float64(warmHeap)/(1<<20), duration/5, float64(endHeap)/(1<<20))

	// --- Assertions -------------------------------------------------------
	for _, v := range st.violations {
		t.Error(v)
	}
	if served < int64(duration.Seconds())*10 {
		t.Errorf("only %d requests served in %v", served, duration)
	}
	if endGoroutines > baseGoroutines+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines not flat: %d before load, %d after:\n%s", baseGoroutines, endGoroutines, buf[:runtime.Stack(buf, true)])
	}
	if warmHeap > 0 && endHeap > warmHeap+warmHeap/2+16<<20 {
		t.Errorf("heap not flat: %.1f MB warm, %.1f MB at end", float64(warmHeap)/(1<<20), float64(endHeap)/(1<<20))
	}

	app.Close()
	if err := auth.Close(); err != nil {
		t.Error(err)
	}
	settings.Of(auth).Client.CloseIdleConnections() // the whoami client's
	srv.Stop()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections() // kratostest's helper clients
	goleak.VerifyNone(t, leaks)
}

// one sends one request of class c and checks the answer.
func one(client *http.Client, appURL string, c class, id *ident, browser bool, st *stats, out *outage) {
	req, _ := http.NewRequest(http.MethodGet, appURL+"/private?c="+classNames[c], nil)
	if browser {
		req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	switch {
	case c == classGarbage:
		if browser {
			req.Header.Set("Cookie", "ory_kratos_session="+randomString(64))
		} else {
			req.Header.Set("X-Session-Token", "ory_st_"+randomString(32))
		}
	case c == classMalformed:
		req.Header.Set("X-Session-Token", oversizedToken) // more than Kratos could ever accept
	case id.cookie != nil:
		req.AddCookie(&http.Cookie{Name: id.cookie.Name, Value: id.cookie.Value})
	default:
		req.Header.Set("X-Session-Token", id.token)
	}
	revokedAt := int64(0)
	if id != nil {
		revokedAt = id.revokedAt.Load()
	}
	start := time.Now()
	resp, err := client.Do(req)
	d := time.Since(start)
	if err != nil {
		st.record(c, "transport-error", d, fmt.Sprintf("%s: transport error: %v", classNames[c], err))
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	end := time.Now()
	status := resp.StatusCode
	refused := status == http.StatusUnauthorized || status == http.StatusSeeOther
	inOutage := out.during(start, end)

	var violation string
	switch {
	case status == http.StatusOK && id == nil:
		violation = fmt.Sprintf("%s credential answered 200", classNames[c])
	case status == http.StatusOK && string(body) != id.identityID:
		violation = fmt.Sprintf("%s: 200 for identity %q, want %q", classNames[c], body, id.identityID)
	case status == http.StatusOK && revokedAt != 0 && start.After(time.Unix(0, revokedAt).Add(cacheTTL+slack)):
		violation = fmt.Sprintf("revoked session %s answered 200 %v after its revocation", id.sessionID, start.Sub(time.Unix(0, revokedAt)).Round(time.Millisecond))
	case status == http.StatusOK && c == classExpiring && start.After(id.expiresAt.Add(slack)):
		violation = fmt.Sprintf("expired session %s answered 200 %v after expires_at", id.sessionID, start.Sub(id.expiresAt).Round(time.Millisecond))
	case refused && (c == classValid || c == classBrowser):
		violation = fmt.Sprintf("valid session %s refused with %d (during restart: %v)", id.sessionID, status, inOutage)
	case refused && c == classRevoked && (id.revokingAt.Load() == 0 || end.UnixNano() < id.revokingAt.Load()):
		violation = fmt.Sprintf("not yet revoked session %s refused with %d", id.sessionID, status)
	case refused && c == classExpiring && end.Before(id.expiresAt.Add(-slack)):
		violation = fmt.Sprintf("unexpired session %s refused with %d", id.sessionID, status)
	case status == http.StatusServiceUnavailable && c == classMalformed:
		violation = "malformed credential answered 503: it reached Kratos"
	case status != http.StatusOK && !refused && status != http.StatusServiceUnavailable:
		violation = fmt.Sprintf("%s: unexpected status %d", classNames[c], status)
	}
	kind := strconv.Itoa(status)
	if status == http.StatusServiceUnavailable {
		if inOutage {
			kind += " (restart)"
		} else {
			kind += " (outside restart)"
		}
	}
	st.record(c, kind, d, violation)
}

func randomString(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func jsonDecode(b []byte, v any) error { return json.Unmarshal(b, v) }
