package kratostest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Courier captures the messages Kratos sends (verification, recovery,
// sign-in and sign-up codes): an HTTP server on loopback that Kratos'
// courier POSTs every message to, when Options.CourierURL is its URL.
// Tests read the real messages, and the codes in them, with WaitFor.
type Courier struct {
	// URL is the capture endpoint, for Options.CourierURL.
	URL string

	mu      sync.Mutex
	msgs    []Message
	arrived chan struct{} // closed and replaced when a message arrives
}

// Message is one message of Kratos' courier, as its HTTP delivery sends
// it (the Jsonnet body of the config passes the whole data model on).
type Message struct {
	Recipient string `json:"recipient"`
	Subject   string `json:"subject"`
	Body      string `json:"body"`
	// TemplateType is e.g. "verification_code_valid",
	// "recovery_code_valid", "login_code_valid" or
	// "registration_code_valid".
	TemplateType string `json:"template_type"`
	// TemplateData holds the template's values, the code among them
	// (verification_code, recovery_code, login_code, registration_code).
	TemplateData map[string]any `json:"template_data"`
}

// Code returns the one-time code the message carries, or "".
func (m Message) Code() string {
	for _, k := range []string{"verification_code", "recovery_code", "login_code", "registration_code"} {
		if s, ok := m.TemplateData[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// StartCourier starts a capture server; t.Cleanup stops it.
func StartCourier(t testing.TB) *Courier {
	t.Helper()
	c := &Courier{arrived: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(srv.Close)
	c.URL = srv.URL + "/messages"
	return c
}

func (c *Courier) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/messages" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var m Message
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); err != nil {
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	close(c.arrived)
	c.arrived = make(chan struct{})
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// Messages returns the messages received so far, oldest first.
func (c *Courier) Messages() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...)
}

// Count returns how many messages were received so far: pass it to
// WaitFor to wait for a message sent after this moment.
func (c *Courier) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// WaitFor waits (up to timeout) for a message to recipient (matched
// case-insensitively) whose template type starts with templatePrefix
// ("" for any), among the messages received after the first `after`
// ones, and returns the first such message. It fails the test on
// timeout.
func (c *Courier) WaitFor(t testing.TB, recipient, templatePrefix string, after int, timeout time.Duration) Message {
	t.Helper()
	m, ok := c.Await(recipient, templatePrefix, after, timeout)
	if !ok {
		var got []string
		for _, m := range c.Messages() {
			got = append(got, m.Recipient+": "+m.TemplateType)
		}
		t.Fatalf("kratostest: no %q message to %s within %v (received: %v)", templatePrefix, recipient, timeout, got)
	}
	return m
}

// Await is WaitFor without a testing.TB, for code that reports errors
// itself (a browser step): ok is false on timeout.
func (c *Courier) Await(recipient, templatePrefix string, after int, timeout time.Duration) (Message, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for i := after; i < len(c.msgs); i++ {
			m := c.msgs[i]
			if strings.EqualFold(m.Recipient, recipient) && strings.HasPrefix(m.TemplateType, templatePrefix) {
				c.mu.Unlock()
				return m, true
			}
		}
		arrived := c.arrived
		c.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline.C:
			return Message{}, false
		}
	}
}
