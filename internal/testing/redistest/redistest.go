// Package redistest runs a real redis-server (Debian's, installed by
// scripts/deps.sh) on a free loopback port for tests: no persistence, no
// password, stopped when the test ends. It needs no Redis client, so the
// root module, which holds it, gets none: the tests that use it live in
// the cache/redis and e2e modules, which may import it (Go's internal rule
// is about import paths, not modules: both paths start with
// github.com/kratosauth/kratosauth/).
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth/internal/testing/proc"
)

// Server is a redis-server process started by Start.
type Server struct {
	// Addr is host:port on 127.0.0.1; URL is redis://Addr/0.
	Addr, URL string
	// LogPath is the server's log file.
	LogPath string

	p *proc.Process
}

// Binary returns redis-server's path: $REDIS_SERVER_BIN if set, else the
// one on PATH.
func Binary() (string, error) {
	if p := os.Getenv("REDIS_SERVER_BIN"); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("redistest: redis-server not found (scripts/deps.sh installs it): %w", err)
	}
	return p, nil
}

// Start starts a redis-server on a free 127.0.0.1 port and waits until it
// answers PING; t.Cleanup stops it. Without redis-server the test is
// skipped, or fails when KRATOSAUTH_E2E=1 (make test).
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t)
}

func start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("KRATOSAUTH_E2E") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	dir := t.TempDir()
	s := &Server{Addr: "127.0.0.1:" + port, LogPath: filepath.Join(dir, "redis.log")}
	s.URL = "redis://" + s.Addr + "/0"
	s.p = &proc.Process{
		Name: "redis-server",
		Bin:  bin,
		Args: append([]string{
			"--bind", "127.0.0.1", "--port", port, "--dir", dir,
			"--save", "", "--appendonly", "no", "--protected-mode", "yes",
			"--daemonize", "no"}, args...),
		Dir:          dir,
		LogPath:      s.LogPath,
		Addrs:        []string{s.Addr},
		ReadyFunc:    func() bool { return ping(s.Addr) == nil },
		ReadyTimeout: 10 * time.Second,
	}
	t.Cleanup(s.Stop)
	if err := s.p.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// Restart starts the server again on the same port (empty: nothing is
// persisted), after Stop or Kill.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.p.Restart(); err != nil {
		t.Fatal(err)
	}
}

// Kill ends the server at once (SIGKILL), as a crash would, and returns
// once it no longer answers.
func (s *Server) Kill() {
	s.p.Signal(syscall.SIGKILL)
	for deadline := time.Now().Add(5 * time.Second); ping(s.Addr) == nil && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop ends the server (SIGTERM) and waits for it. It is idempotent.
func (s *Server) Stop() { s.p.Stop() }

// Pause stops the server's process (SIGSTOP): connections stay open and
// nothing answers, as with a hung server or a network partition. Resume
// undoes it.
func (s *Server) Pause() { s.p.Signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() { s.p.Signal(syscall.SIGCONT) }

// Do sends one command and returns its reply as text (an error reply as an
// error): enough for tests to read INFO or DBSIZE, or to FLUSHALL, without
// a client library.
func (s *Server) Do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(c))
}

// readReply reads a RESP2 reply; arrays are joined by newlines.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("redistest: empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		parts := make([]string, 0, max(n, 0))
		for range n {
			p, err := readReply(r)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("redistest: unexpected reply %q", line)
}

// Info returns one field of INFO (e.g. "used_memory").
func (s *Server) Info(field string) (string, error) {
	out, err := s.Do("INFO")
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("redistest: no %s in INFO", field)
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("redistest: PING answered %q", line)
	}
	return nil
}

// StartCluster starts a Redis Cluster of n masters (no replicas) on free
// loopback ports, the 16384 slots split evenly, and waits until every node
// says cluster_state:ok. Its URL names the first node; a cluster client
// finds the others.
func StartCluster(t testing.TB, n int) []*Server {
	t.Helper()
	nodes := make([]*Server, n)
	for i := range nodes {
		nodes[i] = start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
	}
	const slots = 16384
	for i, s := range nodes {
		from, to := i*slots/n, (i+1)*slots/n-1
		if _, err := s.Do("CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(from), strconv.Itoa(to)); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			host, port, _ := net.SplitHostPort(s.Addr)
			if _, err := nodes[0].Do("CLUSTER", "MEET", host, port); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range nodes {
		for {
			info, err := s.Do("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: cluster not ready: %s %v", info, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nodes
}
