package kratosauthtest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Keto's own bodies (v0.13.0-alpha.0, read API): a decision, and the 400s
// for a question without subject, or without namespace, object or relation
// (keto/real_test.go compares them with a real Keto's).
var (
	ketoAllowed    = []byte(`{"allowed":true}` + "\n")
	ketoDenied     = []byte(`{"allowed":false}` + "\n")
	ketoIncomplete = []byte(`{"error":{"code":400,"status":"Bad Request","message":"incomplete tuple, provide \"namespace\", \"object\", \"relation\", and a subject"}}` + "\n")
	ketoNoSubject  = []byte(`{"error":{"code":400,"status":"Bad Request","message":"subject is not allowed to be nil"}}` + "\n")
	ketoNoAPIKey   = []byte(`{"error":{"code":401,"status":"Unauthorized","message":"The request could not be authorized"}}` + "\n")
)

// KetoServer is a fake Ory Keto read API on 127.0.0.1, for tests of apps
// that use kratosauth's RequirePermission with a keto.Client. Its
// GET /relation-tuples/check/openapi answers like Keto: 200 with
// {"allowed": true} for a granted tuple and {"allowed": false} for any
// other, 400 for an incomplete question; GET /relation-tuples/check
// mirrors the decision in the status (403 when denied). Only direct tuples
// with a subject ID are known: no subject sets, no permission rules.
// Build it with NewKeto; it is safe for concurrent use.
type KetoServer struct {
	// URL is the base URL of the fake read API, for keto.New.
	URL string

	srv   *httptest.Server
	calls atomic.Int64

	mu      sync.Mutex
	tuples  map[[4]string]bool
	fault   *Fault
	apiKey  string
	lastReq *http.Request
}

// NewKeto starts a fake Keto that is closed when the test ends.
func NewKeto(t testing.TB) *KetoServer {
	k := &KetoServer{tuples: map[[4]string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /relation-tuples/check/openapi", func(w http.ResponseWriter, r *http.Request) { k.check(w, r, false) })
	mux.HandleFunc("GET /relation-tuples/check", func(w http.ResponseWriter, r *http.Request) { k.check(w, r, true) })
	k.srv = httptest.NewServer(mux)
	k.URL = k.srv.URL
	t.Cleanup(k.Close)
	return k
}

// Close shuts the server down; NewKeto arranges it for the end of the test.
func (k *KetoServer) Close() { k.srv.Close() }

// Grant adds the tuple namespace:object#relation@subjectID, as Keto's
// PUT /admin/relation-tuples does.
func (k *KetoServer) Grant(namespace, object, relation, subjectID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.tuples[[4]string{namespace, object, relation, subjectID}] = true
}

// Revoke deletes the tuple, as Keto's DELETE /admin/relation-tuples does.
func (k *KetoServer) Revoke(namespace, object, relation, subjectID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.tuples, [4]string{namespace, object, relation, subjectID})
}

// RequireAPIKey makes checks without "Authorization: Bearer key" answer
// 401, as Ory Network does. "" ends it. Default: no key needed.
func (k *KetoServer) RequireAPIKey(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.apiKey = key
}

// Fail makes every check answer with f (Status, Raw, Slow, Unreachable,
// RateLimited) until Recover.
func (k *KetoServer) Fail(f Fault) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fault = &f
}

// Recover ends a Fail.
func (k *KetoServer) Recover() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fault = nil
}

// Calls is the number of check requests received so far.
func (k *KetoServer) Calls() int { return int(k.calls.Load()) }

// LastRequest is the last check request received, or nil.
func (k *KetoServer) LastRequest() *http.Request {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lastReq
}

func (k *KetoServer) check(w http.ResponseWriter, r *http.Request, mirror bool) {
	k.calls.Add(1)
	k.mu.Lock()
	k.lastReq = r.Clone(r.Context())
	fault, apiKey := k.fault, k.apiKey
	k.mu.Unlock()

	if fault != nil {
		switch {
		case fault.hangUp:
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
			return
		case fault.delay > 0:
			select {
			case <-time.After(fault.delay):
			case <-r.Context().Done():
				return
			}
		default:
			writeKeto(w, fault.status, fault.header, fault.body)
			return
		}
	}
	if apiKey != "" && r.Header.Get("Authorization") != "Bearer "+apiKey {
		writeKeto(w, http.StatusUnauthorized, nil, ketoNoAPIKey)
		return
	}
	q := r.URL.Query()
	t := [4]string{q.Get("namespace"), q.Get("object"), q.Get("relation"), q.Get("subject_id")}
	if !q.Has("subject_id") { // Keto checks the subject first (ketoapi FromURLQuery)
		writeKeto(w, http.StatusBadRequest, nil, ketoNoSubject)
		return
	}
	for _, name := range [...]string{"namespace", "object", "relation"} {
		if !q.Has(name) {
			writeKeto(w, http.StatusBadRequest, nil, ketoIncomplete)
			return
		}
	}
	k.mu.Lock()
	allowed := k.tuples[t]
	k.mu.Unlock()
	switch {
	case allowed:
		writeKeto(w, http.StatusOK, nil, ketoAllowed)
	case mirror:
		writeKeto(w, http.StatusForbidden, nil, ketoDenied)
	default:
		writeKeto(w, http.StatusOK, nil, ketoDenied)
	}
}

func writeKeto(w http.ResponseWriter, status int, h http.Header, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
