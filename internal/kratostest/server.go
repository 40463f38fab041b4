package kratostest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ReadyTimeout bounds how long Start and Restart wait for /health/ready.
var ReadyTimeout = 30 * time.Second

// Server is a running Kratos process started by Start.
type Server struct {
	// PublicURL and AdminURL are the base URLs without a trailing slash,
	// e.g. http://127.0.0.1:4433.
	PublicURL, AdminURL string
	// BrowserURL is the public API as browsers reach it, Kratos' public
	// base_url: PublicURL with Options.Host (the same unless Host is
	// "localhost").
	BrowserURL string
	// Options are the effective options (ports, Dir, AppURL filled in).
	Options Options
	// ConfigPath and LogPath are the rendered config and Kratos' log file.
	ConfigPath, LogPath string

	bin string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  *os.File
}

// Start migrates and serves a fresh Kratos with options o and waits until it
// is ready; t.Cleanup stops it. It builds nothing: if the binary is missing
// the test is skipped, or fails if KRATOSAUTH_E2E=1.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		msg := fmt.Sprintf("kratos binary not available (%v); run scripts/kratos.sh build or set KRATOS_BIN", err)
		if os.Getenv("KRATOSAUTH_E2E") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.AppURL == "" {
		o.AppURL = DefaultAppURL
	}
	o.AppURL = strings.TrimRight(o.AppURL, "/")
	if o.RequiredAAL == "" {
		o.RequiredAAL = DefaultRequiredAAL
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.PublicPort == 0 {
		o.PublicPort = freePort(t)
	}
	if o.AdminPort == 0 {
		o.AdminPort = freePort(t)
		for o.AdminPort == o.PublicPort {
			o.AdminPort = freePort(t)
		}
	}
	cfg, err := WriteConfig(o.Dir, o)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		PublicURL:  "http://127.0.0.1:" + strconv.Itoa(o.PublicPort),
		AdminURL:   "http://127.0.0.1:" + strconv.Itoa(o.AdminPort),
		BrowserURL: "http://" + o.Host + ":" + strconv.Itoa(o.PublicPort),
		Options:    o,
		ConfigPath: cfg,
		LogPath:    filepath.Join(o.Dir, "kratos.log"),
		bin:        bin,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "migrate", "sql", "-e", "--yes", "-c", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("kratos migrate: %v\n%s", err, out)
	}
	t.Cleanup(s.Stop)
	if err := s.serve(); err != nil {
		t.Fatal(err)
	}
	return s
}

// Restart stops the server (if running) and serves it again on the same
// ports, config and database, so sessions and identities survive.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.serve(); err != nil {
		t.Fatal(err)
	}
}

// Stop kills the Kratos process and waits for it to exit and for the public
// port to refuse connections. It is idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
	_ = s.log.Close()
	// The listener is closed once the process is gone; double-check so
	// callers can rely on "connection refused".
	addr := strings.TrimPrefix(s.PublicURL, "http://")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
}

// serve starts `kratos serve` and waits for readiness.
func (s *Server) serve() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("kratostest: already running")
	}
	for _, u := range []string{s.PublicURL, s.AdminURL} {
		if c, err := net.DialTimeout("tcp", strings.TrimPrefix(u, "http://"), 200*time.Millisecond); err == nil {
			c.Close()
			return fmt.Errorf("kratostest: %s is already in use by another process", u)
		}
	}
	lf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// The courier runs only when it has somewhere to deliver to.
	courier := "--watch-courier=" + strconv.FormatBool(s.Options.CourierURL != "")
	cmd := exec.Command(s.bin, "serve", "-c", s.ConfigPath, "--dev", courier)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Dir = s.Options.Dir
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("kratostest: start kratos: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done, s.log = cmd, done, lf

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(ReadyTimeout)
	for {
		select {
		case <-done:
			s.cmd = nil
			lf.Close()
			return fmt.Errorf("kratostest: kratos exited before becoming ready (%v); log tail:\n%s", cmd.ProcessState, logTail(s.LogPath))
		default:
		}
		resp, err := client.Get(s.PublicURL + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			s.cmd = nil
			lf.Close()
			return fmt.Errorf("kratostest: kratos not ready at %s/health/ready after %v; log tail:\n%s", s.PublicURL, ReadyTimeout, logTail(s.LogPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func logTail(path string) string {
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

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
