// Package faults is a fault-injection proxy for Kratos' public API: it
// listens on 127.0.0.1, forwards to a real Kratos, and on demand answers
// with a fault instead (refused or reset connections, slow headers or body,
// error statuses, truncated, inactive, expired, redirected or oversized
// answers). Its tests drive kratosauth through it.
package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Fault is what the proxy does with the next requests.
type Fault int

const (
	None            Fault = iota // forward to Kratos unchanged
	Refused                      // nothing listens: connection refused
	ResetMidBody                 // 200 headers, part of the body, then a TCP reset
	SlowHeaders                  // no answer for SlowFor
	SlowBody                     // headers, then the body trickles for SlowFor
	Status500                    // 500
	Status502                    // 502
	Status503                    // 503
	TooManyRequests              // 429 with Retry-After: 7
	TruncatedJSON                // Kratos' answer cut in half
	Inactive                     // Kratos' 200 with "active": false
	Expired                      // Kratos' 200 with expires_at in the past
	Redirect                     // 307 to RedirectTo
	Huge                         // a 200 of 10 MB
)

var names = [...]string{"none", "refused", "reset-mid-body", "slow-headers", "slow-body", "500", "502", "503",
	"429", "truncated-json", "inactive", "expired", "redirect", "10MB-body"}

func (f Fault) String() string { return names[f] }

// Proxy is a fault-injecting reverse proxy in front of Kratos.
type Proxy struct {
	// URL is the proxy's base URL, e.g. http://127.0.0.1:40123.
	URL string
	// SlowFor is how long slow faults hold back (default 3 s); they end
	// sooner when the client goes away or the proxy is closed.
	SlowFor time.Duration
	// RedirectTo is where Redirect points.
	RedirectTo string

	addr      string
	transport *http.Transport
	rp        *httputil.ReverseProxy
	closed    chan struct{}

	mu     sync.Mutex
	fault  Fault
	server *http.Server // nil while Refused
	wg     sync.WaitGroup
}

// New starts a proxy to the Kratos public API at target.
func New(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		addr:      l.Addr().String(),
		SlowFor:   3 * time.Second,
		transport: &http.Transport{MaxIdleConnsPerHost: 16},
		closed:    make(chan struct{}),
	}
	p.URL = "http://" + p.addr
	p.rp = httputil.NewSingleHostReverseProxy(u)
	p.rp.Transport = p.transport
	p.rp.ModifyResponse = p.modify
	p.rp.ErrorLog = nil
	p.serve(l)
	return p, nil
}

func (p *Proxy) serve(l net.Listener) {
	p.server = &http.Server{Handler: http.HandlerFunc(p.handle), ReadHeaderTimeout: 5 * time.Second}
	srv := p.server
	p.wg.Go(func() { _ = srv.Serve(l) })
}

// Set switches to fault f for all following requests.
func (p *Proxy) Set(f Fault) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
	switch {
	case f == Refused && p.server != nil:
		err := p.server.Close()
		p.server = nil
		p.wg.Wait()
		return err
	case f != Refused && p.server == nil:
		// Listen again on the same port.
		var l net.Listener
		var err error
		for range 50 {
			if l, err = net.Listen("tcp", p.addr); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			return err
		}
		p.serve(l)
	}
	return nil
}

func (p *Proxy) current() Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fault
}

// Close stops the proxy, ends slow answers and waits for its goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.closed:
		return nil
	default:
	}
	close(p.closed)
	var err error
	if p.server != nil {
		err = p.server.Close()
		p.server = nil
	}
	p.wg.Wait()
	p.transport.CloseIdleConnections()
	return err
}

// hold waits d, or less if the client leaves or the proxy closes.
func (p *Proxy) hold(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-p.closed:
	}
	return false
}

func (p *Proxy) handle(w http.ResponseWriter, r *http.Request) {
	switch f := p.current(); f {
	case ResetMidBody:
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"id\":\"")
		buf.Flush()
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST
		}
		conn.Close()
	case SlowHeaders:
		p.hold(r, p.SlowFor)
	case SlowBody:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(http.StatusOK)
		for range 100 {
			if _, err := w.Write([]byte(`{"a":`)); err != nil {
				return
			}
			http.NewResponseController(w).Flush()
			if !p.hold(r, p.SlowFor/100) {
				return
			}
		}
	case Status500, Status502, Status503:
		w.WriteHeader(map[Fault]int{Status500: 500, Status502: 502, Status503: 503}[f])
	case TooManyRequests:
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
	case Redirect:
		http.Redirect(w, r, p.RedirectTo, http.StatusTemporaryRedirect)
	default: // None and the faults that change Kratos' real answer
		p.rp.ServeHTTP(w, r)
	}
}

// modify rewrites Kratos' answer for TruncatedJSON, Inactive, Expired and Huge.
func (p *Proxy) modify(resp *http.Response) error {
	f := p.current()
	if f != TruncatedJSON && f != Inactive && f != Expired && f != Huge {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	switch f {
	case TruncatedJSON:
		body = body[:len(body)/2]
	case Huge:
		// Still a valid session: only the size cap can refuse it.
		body = append(body, bytes.Repeat([]byte(" "), 10<<20-len(body))...)
	case Inactive, Expired:
		if resp.StatusCode != http.StatusOK {
			return errors.New("faults: Kratos did not answer 200 to modify")
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return err
		}
		if f == Inactive {
			m["active"] = false
		} else {
			m["expires_at"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
		}
		if body, err = json.Marshal(m); err != nil {
			return err
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}
