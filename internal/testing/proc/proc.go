// Package proc runs the real servers of the test harnesses (Kratos, Keto,
// ...) as child processes: start, wait until ready, stop, restart. One
// implementation, so every harness stops and reports the same way.
package proc

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a server binary run with fixed arguments. It is safe for
// concurrent use.
type Process struct {
	Name    string   // for messages, e.g. "kratos"
	Bin     string   // the binary
	Args    []string // its arguments
	Env     []string // its environment; nil: this process's
	Dir     string   // its working directory
	LogPath string   // stdout and stderr are appended here
	// ReadyURLs must all answer 200 for the process to be ready; their
	// hosts must refuse connections before it starts and after it stops.
	ReadyURLs []string
	// Addrs (host:port) must refuse connections before it starts and after
	// it stops too, for servers that do not speak HTTP; ReadyFunc, when
	// set, must also return true for the process to be ready.
	Addrs     []string
	ReadyFunc func() bool
	// ReadyTimeout bounds the wait for readiness.
	ReadyTimeout time.Duration

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  *os.File
}

// Start runs the process and waits until it is ready. It fails when a ready
// URL's port is already taken, or when the process exits or is not ready in
// time (with the end of its log).
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s: already running", p.Name)
	}
	for _, a := range p.addrs() {
		if c, err := net.DialTimeout("tcp", a, 200*time.Millisecond); err == nil {
			c.Close()
			return fmt.Errorf("%s: %s is already in use by another process", p.Name, a)
		}
	}
	lf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env, cmd.Dir = p.Env, p.Dir
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("%s: start: %w", p.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.cmd, p.done, p.log = cmd, done, lf

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(p.ReadyTimeout)
	for {
		select {
		case <-done:
			p.cmd = nil
			lf.Close()
			return fmt.Errorf("%s exited before becoming ready (%v); log tail:\n%s", p.Name, cmd.ProcessState, LogTail(p.LogPath))
		default:
		}
		if p.ready(client) {
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			p.cmd = nil
			lf.Close()
			return fmt.Errorf("%s not ready at %v after %v; log tail:\n%s", p.Name, p.ReadyURLs, p.ReadyTimeout, LogTail(p.LogPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *Process) ready(c *http.Client) bool {
	if p.ReadyFunc != nil && !p.ReadyFunc() {
		return false
	}
	for _, u := range p.ReadyURLs {
		resp, err := c.Get(u)
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
	}
	return true
}

// Stop ends the process (SIGTERM, SIGKILL after 10 s) and waits until the
// ready URLs' ports refuse connections, so callers can rely on "connection
// refused". It is idempotent.
func (p *Process) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a stopped (Signal SIGSTOP) process must run to exit
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
	_ = p.log.Close()
	for _, a := range p.addrs() {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			c, err := net.DialTimeout("tcp", a, 200*time.Millisecond)
			if err != nil {
				break
			}
			c.Close()
		}
	}
}

// Signal sends sig to the running process (SIGKILL: a crash; SIGSTOP and
// SIGCONT: a hung server and its recovery); Stop and Restart still work
// after it.
func (p *Process) Signal(sig os.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

// addrs are the host:port that must be free before Start and after Stop.
func (p *Process) addrs() []string {
	out := append([]string(nil), p.Addrs...)
	for _, u := range p.ReadyURLs {
		out = append(out, hostPort(u))
	}
	return out
}

// Restart stops the process, if running, and starts it again.
func (p *Process) Restart() error {
	p.Stop()
	return p.Start()
}

// hostPort is the host:port of an http URL.
func hostPort(u string) string {
	u = strings.TrimPrefix(u, "http://")
	if i := strings.IndexByte(u, '/'); i >= 0 {
		u = u[:i]
	}
	return u
}

// LogTail returns the last 40 lines of a log file, for error messages.
func LogTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
