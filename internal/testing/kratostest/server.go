package kratostest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth/internal/testing/proc"
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
	// Options are the effective options (ports, Dir, AppURL, Version
	// filled in).
	Options Options
	// Version is the running release and what differs in it.
	Version Version
	// ConfigPath and LogPath are the rendered config and Kratos' log file.
	ConfigPath, LogPath string

	proc *proc.Process
}

// Start migrates and serves a fresh Kratos with options o and waits until it
// is ready; t.Cleanup stops it. It builds nothing: if the binary is missing
// the test is skipped, or fails if KRATOSAUTH_E2E=1.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	cur, err := CurrentVersion()
	if err != nil {
		t.Fatal(err)
	}
	if o.Version == "" {
		o.Version = cur.Name
	}
	version, err := LookupVersion(o.Version)
	if err != nil {
		t.Fatal(err)
	}
	var bin string
	if o.Version == cur.Name {
		bin, err = Binary()
	} else {
		bin, err = VersionBinary(o.Version)
	}
	if err != nil {
		msg := fmt.Sprintf("kratos %s binary not available (%v); run scripts/kratos.sh build %s or set KRATOS_BIN", o.Version, err, o.Version)
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
		Version:    version,
		PublicURL:  "http://127.0.0.1:" + strconv.Itoa(o.PublicPort),
		AdminURL:   "http://127.0.0.1:" + strconv.Itoa(o.AdminPort),
		BrowserURL: "http://" + o.Host + ":" + strconv.Itoa(o.PublicPort),
		Options:    o,
		ConfigPath: cfg,
		LogPath:    filepath.Join(o.Dir, "kratos.log"),
	}
	// The admin port is ready when the public one is, and must be free too.
	s.proc = &proc.Process{Name: "kratos", Bin: bin, Dir: o.Dir, LogPath: s.LogPath, ReadyTimeout: ReadyTimeout,
		// The courier runs only when it has somewhere to deliver to.
		Args:      []string{"serve", "-c", cfg, "--dev", "--watch-courier=" + strconv.FormatBool(o.CourierURL != "")},
		ReadyURLs: []string{s.PublicURL + "/health/ready", s.AdminURL + "/health/ready"}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "migrate", "sql", "-e", "--yes", "-c", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("kratos migrate: %v\n%s", err, out)
	}
	t.Cleanup(s.Stop)
	if err := s.proc.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// Restart stops the server (if running) and serves it again on the same
// ports, config and database, so sessions and identities survive.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.proc.Restart(); err != nil {
		t.Fatal(err)
	}
}

// Stop ends the Kratos process and waits for it to exit and for its ports
// to refuse connections. It is idempotent.
func (s *Server) Stop() { s.proc.Stop() }

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
