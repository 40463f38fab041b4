// Command many is the many-sessions load test of scripts/bench-many.sh
// (BENCHMARKS.md, "Many sessions on one replica"), in four roles:
//
//	-role whoami  a fake Kratos: GET /sessions/whoami admits the session
//	              tokens Token(0) .. Token(n-1) (X-Session-Token), each a
//	              session of its own identity shaped like a recorded Kratos
//	              v1.3 answer, and refuses anything else; GET /calls counts
//	              the whoami calls so far
//	-role app     a net/http mux whose GET /api/me is behind
//	              kratoshttp.RequireSession (cache TTL 10 minutes, the default
//	              store of -cache-mb) and writes the identity's ID as JSON
//	-role bare    the same mux without the library, writing the same JSON
//	-role warm    asks the app for /api/me once with every token, through
//	              the library's own path (misses, whoami, cache writes)
//
// Tokens are generated, never stored: Token(i) is "ory_st_" and i in 32
// digits, as the wrk script builds them. Everything listens on and talks
// to loopback only, and the servers exit by themselves after -max-duration.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
)

// Token is the session token of session i.
func Token(i int) string { return fmt.Sprintf("ory_st_%032d", i) }

func main() {
	role := flag.String("role", "", "whoami, app, bare or warm")
	addr := flag.String("addr", "127.0.0.1:4591", "listen address (loopback), or the app's address for warm")
	kratos := flag.String("kratos", "http://127.0.0.1:4590", "the fake whoami's URL (app)")
	n := flag.Int("n", 1, "sessions: tokens 0..n-1")
	cacheMB := flag.Int("cache-mb", 0, "WithCacheSizeMB (app); 0: the default")
	conc := flag.Int("c", 32, "concurrent requests (warm)")
	maxDur := flag.Duration("max-duration", 30*time.Minute, "exit after this long (servers)")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this loopback address (app, bare)")
	flag.Parse()
	if *role != "warm" {
		if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
			log.Fatalf("many: -addr %q must be a loopback address", *addr)
		}
		time.AfterFunc(*maxDur, func() {
			log.Printf("many: -max-duration %s reached, exiting", *maxDur)
			os.Exit(0)
		})
	}
	var h http.Handler
	switch *role {
	case "whoami":
		h = newWhoami(*n)
	case "app":
		opts := []kratosauth.Option{kratosauth.WithCacheTTL(10 * time.Minute), kratosauth.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil)))}
		if *cacheMB > 0 {
			opts = append(opts, kratosauth.WithCacheSizeMB(*cacheMB))
		}
		auth, err := kratosauth.New(*kratos, opts...)
		if err != nil {
			log.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /api/me", kratoshttp.RequireSession(auth)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, _ := kratoshttp.Identity(r.Context())
			writeMe(w, id.ID)
		})))
		h = mux
	case "bare":
		mux := http.NewServeMux()
		mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
			writeMe(w, "1d000000-0000-4000-8000-000000000000")
		})
		h = mux
	case "warm":
		warm(*addr, *n, *conc)
		return
	default:
		log.Fatalf("many: unknown -role %q", *role)
	}
	if *pprofAddr != "" {
		if host, _, err := net.SplitHostPort(*pprofAddr); err != nil || !net.ParseIP(host).IsLoopback() {
			log.Fatalf("many: -pprof %q must be a loopback address", *pprofAddr)
		}
		go func() { log.Print(http.ListenAndServe(*pprofAddr, nil)) }() // DefaultServeMux: net/http/pprof's
	}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func writeMe(w http.ResponseWriter, id string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"identity_id":"`+id+`"}`)
}

// whoami is the fake Kratos.
type whoami struct {
	n     int
	calls atomic.Int64
	t0    time.Time
}

func newWhoami(n int) http.Handler {
	w := &whoami{n: n, t0: time.Now().UTC()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sessions/whoami", w.serve)
	mux.HandleFunc("GET /calls", func(rw http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(rw, w.calls.Load())
	})
	return mux
}

// uuid is a UUID-shaped ID of kind k for session i.
func uuid(k, i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", k, i) }

func (w *whoami) serve(rw http.ResponseWriter, r *http.Request) {
	w.calls.Add(1)
	tok := r.Header.Get("X-Session-Token")
	i, err := strconv.Atoi(strings.TrimPrefix(tok, "ory_st_"))
	if !strings.HasPrefix(tok, "ory_st_") || err != nil || i < 0 || i >= w.n || tok != Token(i) {
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(rw, `{"error":{"code":401,"status":"Unauthorized","reason":"No valid session credentials found in the request.","message":"The request could not be authorized"}}`)
		return
	}
	t := w.t0.Format(time.RFC3339Nano)
	email := fmt.Sprintf("load-%d@example.com", i)
	addr := func(kind int) map[string]any {
		return map[string]any{"id": uuid(kind, i), "value": email, "via": "email", "created_at": t, "updated_at": t}
	}
	verifiable := addr(3)
	verifiable["verified"], verifiable["status"] = false, "sent"
	s := map[string]any{
		"id": uuid(1, i), "active": true,
		"expires_at":                    w.t0.Add(24 * time.Hour).Format(time.RFC3339Nano),
		"authenticated_at":              t,
		"issued_at":                     t,
		"authenticator_assurance_level": "aal1",
		"authentication_methods":        []any{map[string]any{"method": "password", "aal": "aal1", "completed_at": t}},
		"identity": map[string]any{
			"id": uuid(2, i), "schema_id": "default", "schema_url": "http://127.0.0.1:4433/schemas/ZGVmYXVsdA",
			"state": "active", "state_changed_at": t,
			"traits":               map[string]any{"email": email},
			"verifiable_addresses": []any{verifiable},
			"recovery_addresses":   []any{addr(4)},
			"metadata_public":      nil, "created_at": t, "updated_at": t, "organization_id": nil,
		},
		"devices": []any{map[string]any{"id": uuid(5, i), "ip_address": "127.0.0.1:47212", "user_agent": "wrk", "location": ""}},
	}
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(s)
}

// warm asks the app at addr for /api/me with every token once.
func warm(addr string, n, conc int) {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxIdleConns: conc}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+addr+"/api/me", nil)
				req.Header.Set("X-Session-Token", Token(i))
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	fmt.Printf("warmed %d sessions in %.1f s, %d failed\n", n, time.Since(start).Seconds(), failed.Load())
	if failed.Load() > 0 {
		os.Exit(1)
	}
}
