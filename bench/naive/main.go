// Command naive is the baseline of the load comparison: the per-request
// whoami middleware found in blog posts and samples, such as the Go
// sessionMiddleware of Ory's "session management" guide (whole Cookie header
// to FrontendAPI.ToSession on every request). It forwards the request's
// whole Cookie header (and any X-Session-Token) to Kratos with
// http.DefaultClient on every request, decodes the session and puts it in
// the context. No cache, no credential parsing, default transport (2 idle
// connections per host). It is a little lighter than the guide's: no SDK
// client, no log line per request.
//
// It serves GET /api/me, writing the examples' /api/me JSON for the
// session (so its req/s compare with bench/bare's and the examples'), and
// GET /naive (the same), and exits after -max-duration.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

type ctxKey struct{}

type session struct {
	ID       string `json:"id"`
	Active   bool   `json:"active"`
	AAL      string `json:"authenticator_assurance_level"`
	Identity struct {
		ID     string `json:"id"`
		Traits struct {
			Email string `json:"email"`
		} `json:"traits"`
	} `json:"identity"`
}

func requireSession(kratos string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, kratos+"/sessions/whoami", nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req.Header.Set("Cookie", r.Header.Get("Cookie"))
		if tok := r.Header.Get("X-Session-Token"); tok != "" {
			req.Header.Set("X-Session-Token", tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var s session
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || !s.Active {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &s)))
	})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:4556", "listen address (loopback)")
	kratos := flag.String("kratos", "http://127.0.0.1:4533", "Kratos public URL")
	maxDur := flag.Duration("max-duration", 15*time.Minute, "exit after this long")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("naive: -addr %q must be a loopback address", *addr)
	}
	// The examples' /api/me handler.
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := r.Context().Value(ctxKey{}).(*session)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"identity_id": s.Identity.ID,
			"email":       s.Identity.Traits.Email,
			"session_id":  s.ID,
			"aal":         s.AAL,
		})
	})
	mux := http.NewServeMux()
	mux.Handle("GET /api/me", requireSession(*kratos, app))
	mux.Handle("GET /naive", requireSession(*kratos, app))
	time.AfterFunc(*maxDur, func() {
		log.Printf("naive: -max-duration %s reached, exiting", *maxDur)
		os.Exit(0)
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
