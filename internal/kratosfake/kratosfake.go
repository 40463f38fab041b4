// Package kratosfake is an httptest stand-in for Kratos' GET /sessions/whoami
// that answers with response bodies recorded from a real Kratos v1.3.1
// (kratosauthtest/recorded at the repository root). Tests choose the answer per call
// and read back what Kratos would have received.
package kratosfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Recorded response bodies from a real Kratos v1.3.1.
var (
	// SessionAAL1 is a 200 whoami body for a password session (aal1).
	SessionAAL1 = mustRead("whoami_200_token.json")
	// SessionAAL2 is a 200 whoami body for a session completed with TOTP (aal2).
	SessionAAL2 = mustRead("whoami_200_aal2.json")
	// Unauthorized is the 401 whoami body.
	Unauthorized = mustRead("whoami_401_garbage_token.json")
	// AAL2Required is the 403 session_aal2_required whoami body.
	AAL2Required = mustRead("whoami_403_aal2_required.json")
)

func mustRead(name string) []byte {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "kratosauthtest", "recorded", name)
	b, err := os.ReadFile(path)
	if err != nil {
		panic("kratosfake: " + err.Error())
	}
	return b
}

// Fresh returns a recorded session body with expires_at moved to now+ttl and
// active set, so that recorded sessions stay valid whenever tests run.
func Fresh(body []byte, ttl time.Duration) []byte {
	return Modify(body, func(m map[string]any) {
		m["expires_at"] = time.Now().Add(ttl).UTC().Format(time.RFC3339Nano)
	})
}

// Modify decodes a recorded JSON body, lets fn change it, and encodes it again.
func Modify(body []byte, fn func(map[string]any)) []byte {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		panic("kratosfake: " + err.Error())
	}
	fn(m)
	out, err := json.Marshal(m)
	if err != nil {
		panic("kratosfake: " + err.Error())
	}
	return out
}

// Response is one answer of the fake.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Delay holds the answer back, for timeout tests.
	Delay time.Duration
}

// OK is a 200 with a fresh copy of SessionAAL1.
func OK() Response {
	return Response{Status: http.StatusOK, Body: Fresh(SessionAAL1, time.Hour)}
}

// Server is a fake Kratos public API.
type Server struct {
	*httptest.Server
	calls atomic.Int64

	mu       sync.Mutex
	respond  func(r *http.Request) Response
	requests []*http.Request
}

// New starts a fake whose whoami answers with respond; it is closed when the
// test ends.
func New(t testing.TB, respond func(r *http.Request) Response) *Server {
	s := &Server{respond: respond}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Always starts a fake that always gives the same answer.
func Always(t testing.TB, resp Response) *Server {
	return New(t, func(*http.Request) Response { return resp })
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/sessions/whoami" {
		http.NotFound(w, r)
		return
	}
	s.calls.Add(1)
	s.mu.Lock()
	s.requests = append(s.requests, r.Clone(r.Context()))
	respond := s.respond
	s.mu.Unlock()

	resp := respond(r)
	if resp.Delay > 0 {
		select {
		case <-time.After(resp.Delay):
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// SetResponder replaces the answer function.
func (s *Server) SetResponder(respond func(r *http.Request) Response) {
	s.mu.Lock()
	s.respond = respond
	s.mu.Unlock()
}

// Calls is the number of whoami requests received.
func (s *Server) Calls() int { return int(s.calls.Load()) }

// LastRequest is the last whoami request received, or nil.
func (s *Server) LastRequest() *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return nil
	}
	return s.requests[len(s.requests)-1]
}
