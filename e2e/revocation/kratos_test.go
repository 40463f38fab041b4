package revocation

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// fakeKratos answers GET /sessions/whoami for every replica. A call is
// parked when it arrives; the scheduler decides when Kratos evaluates it
// (reads the session's state at that moment) and, separately, when the
// answer is delivered, so that an answer evaluated before a revocation can
// arrive after it. A call whose client gave up (the whoami timeout) is gone.
type fakeKratos struct {
	mu       sync.Mutex
	sessions map[string]*fakeSession // by token
	disabled map[string]bool         // identity ID -> disabled
	calls    []*whoamiCall           // parked, in arrival order
	nextCall int
}

type fakeSession struct {
	token, id, identity string
	revoked             bool
}

// whoamiCall is one parked whoami request.
type whoamiCall struct {
	id      int
	replica int
	token   string

	evaluated bool
	valid     bool // Kratos' verdict when evaluated
	delivered bool
	gone      bool          // the client gave up before delivery
	deliver   chan struct{} // closed by the scheduler
}

func (c *whoamiCall) String() string {
	return fmt.Sprintf("call#%d(r%d %s)", c.id, c.replica, c.token)
}

func newFakeKratos() *fakeKratos {
	return &fakeKratos{sessions: map[string]*fakeSession{}, disabled: map[string]bool{}}
}

func (k *fakeKratos) addSession(token, sessionID, identityID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sessions[token] = &fakeSession{token: token, id: sessionID, identity: identityID}
}

// revoke ends one session, as Kratos' logout or admin API does.
func (k *fakeKratos) revoke(token string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sessions[token].revoked = true
}

// revokeIdentity ends every session of an identity (revoke_active_sessions),
// and disables the identity when disable is set.
func (k *fakeKratos) revokeIdentity(identityID string, disable bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, s := range k.sessions {
		if s.identity == identityID {
			s.revoked = true
		}
	}
	if disable {
		k.disabled[identityID] = true
	}
}

// admits says whether Kratos would accept token now.
func (k *fakeKratos) admits(token string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.sessions[token]
	return s != nil && !s.revoked && !k.disabled[s.identity]
}

// parked returns the calls still waiting for delivery, oldest first.
func (k *fakeKratos) parked() []*whoamiCall {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []*whoamiCall
	for _, c := range k.calls {
		if !c.delivered && !c.gone {
			out = append(out, c)
		}
	}
	return out
}

// pending reports whether replica has an undelivered call for token, and
// whether that call was evaluated already.
func (k *fakeKratos) pending(replica int, token string) (waiting, evaluated bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range k.calls {
		if c.replica == replica && c.token == token && !c.delivered && !c.gone {
			return true, c.evaluated
		}
	}
	return false, false
}

// evaluate fixes c's answer from the sessions' state now.
func (k *fakeKratos) evaluate(c *whoamiCall) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if c.gone || c.delivered || c.evaluated {
		return false
	}
	s := k.sessions[c.token]
	c.evaluated = true
	c.valid = s != nil && !s.revoked && !k.disabled[s.identity]
	return true
}

// deliver sends c's answer (evaluating it first if it was not).
func (k *fakeKratos) deliver(c *whoamiCall) bool {
	k.evaluate(c)
	k.mu.Lock()
	defer k.mu.Unlock()
	if c.gone || c.delivered {
		return false
	}
	c.delivered = true
	close(c.deliver)
	return true
}

// reset forgets every call (between schedules: they have all ended).
func (k *fakeKratos) reset() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = nil
	for _, s := range k.sessions {
		s.revoked = false
	}
	clear(k.disabled)
}

// transport is the http.RoundTripper of one replica's whoami client.
func (k *fakeKratos) transport(replica int) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) { return k.roundTrip(replica, r) })
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (k *fakeKratos) roundTrip(replica int, r *http.Request) (*http.Response, error) {
	if r.URL.Path != "/sessions/whoami" {
		return respond(r, http.StatusNotFound, `{"error":{"code":404,"status":"Not Found"}}`), nil
	}
	k.mu.Lock()
	c := &whoamiCall{id: k.nextCall, replica: replica, token: r.Header.Get("X-Session-Token"), deliver: make(chan struct{})}
	k.nextCall++
	k.calls = append(k.calls, c)
	k.mu.Unlock()

	select {
	case <-c.deliver:
	case <-r.Context().Done():
		k.mu.Lock()
		done := c.delivered
		if !done {
			c.gone = true
		}
		k.mu.Unlock()
		if !done {
			return nil, r.Context().Err()
		}
	}
	k.mu.Lock()
	valid, s := c.valid, k.sessions[c.token]
	k.mu.Unlock()
	if !valid {
		return respond(r, http.StatusUnauthorized,
			`{"error":{"code":401,"status":"Unauthorized","reason":"No valid session credentials found in the request.","message":"The request could not be authorized"}}`), nil
	}
	now := time.Now().UTC()
	body := fmt.Sprintf(`{"id":%q,"active":true,"expires_at":%q,"authenticated_at":%q,"issued_at":%q,`+
		`"authenticator_assurance_level":"aal1","authentication_methods":[{"method":"password","aal":"aal1","completed_at":%q}],`+
		`"identity":{"id":%q,"schema_id":"default","schema_url":"http://kratos.test/schemas/ZGVmYXVsdA","state":"active","traits":{"email":"%s@example.com"}}}`,
		s.id, now.Add(time.Hour).Format(time.RFC3339Nano), now.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano),
		now.Format(time.RFC3339Nano), s.identity, s.identity[:8])
	return respond(r, http.StatusOK, body), nil
}

func respond(r *http.Request, status int, body string) *http.Response {
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader([]byte(body))),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}

// tokens returns every session token, sorted.
func (k *fakeKratos) tokens() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]string, 0, len(k.sessions))
	for t := range k.sessions {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
