// Package ketotest runs a real Ory Keto (v0.13.0-alpha.0, built at
// <repo>/.bin/keto by scripts/keto.sh build) for end-to-end tests, with the
// namespaces Group and Doc (keto.yml.tmpl, also what scripts/keto.sh
// serves), and writes relation tuples through its write API.
package ketotest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"text/template"
	"time"

	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
	"github.com/kratosauth/kratosauth/internal/testing/proc"
)

//go:embed keto.yml.tmpl
var configTemplate string

// Ports of WriteConfig when Options leaves them zero (scripts/keto.sh).
const (
	DefaultReadPort    = 4466
	DefaultWritePort   = 4467
	DefaultMetricsPort = 4468
	DefaultOPLPort     = 4469
)

// ConfigFile is the name of the config WriteConfig writes.
const ConfigFile = "keto.yml"

// ReadyTimeout bounds how long Start and Restart wait for /health/ready.
var ReadyTimeout = 30 * time.Second

// Options configures a Keto instance; zero ports are free ports in Start
// and the defaults above in WriteConfig.
type Options struct {
	ReadPort, WritePort, OPLPort, MetricsPort int
}

// WriteConfig renders the config into dir (created if needed), with the
// SQLite database beside it, and returns the config's path.
func WriteConfig(dir string, o Options) (string, error) {
	if dir == "" {
		return "", errors.New("ketotest: WriteConfig: empty dir")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for _, p := range []struct {
		port *int
		def  int
	}{{&o.ReadPort, DefaultReadPort}, {&o.WritePort, DefaultWritePort}, {&o.OPLPort, DefaultOPLPort}, {&o.MetricsPort, DefaultMetricsPort}} {
		if *p.port == 0 {
			*p.port = p.def
		}
	}
	var buf bytes.Buffer
	if err := template.Must(template.New("keto").Parse(configTemplate)).Execute(&buf, struct {
		Options
		Dir string
	}{o, dir}); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, ConfigFile)
	return path, os.WriteFile(path, buf.Bytes(), 0o644)
}

// Binary returns the Keto binary: $KETO_BIN, or <repo>/.bin/keto.
func Binary() (string, error) {
	if p := os.Getenv("KETO_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("ketotest: $KETO_BIN: %w", err)
		}
		return p, nil
	}
	root, err := kratostest.RepoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, ".bin", "keto")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("ketotest: %w (build it with scripts/keto.sh build)", err)
	}
	return p, nil
}

// Server is a running Keto started by Start.
type Server struct {
	// ReadURL and WriteURL are the base URLs of the read and write APIs,
	// e.g. http://127.0.0.1:4466.
	ReadURL, WriteURL string
	// LogPath is Keto's log file.
	LogPath string

	proc *proc.Process
}

// Start migrates and serves a fresh Keto on free loopback ports and waits
// until it is ready; t.Cleanup stops it. Without the binary the test is
// skipped, or fails if KRATOSAUTH_E2E=1.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		msg := fmt.Sprintf("keto binary not available (%v); run scripts/keto.sh build or set KETO_BIN", err)
		if os.Getenv("KRATOSAUTH_E2E") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	ports := freePorts(t, 4)
	o := Options{ReadPort: ports[0], WritePort: ports[1], OPLPort: ports[2], MetricsPort: ports[3]}
	cfg, err := WriteConfig(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		ReadURL:  "http://127.0.0.1:" + strconv.Itoa(o.ReadPort),
		WriteURL: "http://127.0.0.1:" + strconv.Itoa(o.WritePort),
		LogPath:  filepath.Join(dir, "keto.log"),
	}
	s.proc = &proc.Process{Name: "keto", Bin: bin, Args: []string{"serve", "-c", cfg}, Dir: dir, LogPath: s.LogPath,
		ReadyURLs: []string{s.ReadURL + "/health/ready", s.WriteURL + "/health/ready"}, ReadyTimeout: ReadyTimeout}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, "migrate", "up", "-y", "-c", cfg).CombinedOutput(); err != nil {
		t.Fatalf("keto migrate up: %v\n%s", err, out)
	}
	t.Cleanup(s.Stop)
	if err := s.proc.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// Restart serves Keto again (after Stop) on the same ports and database.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.proc.Restart(); err != nil {
		t.Fatal(err)
	}
}

// Stop ends the Keto process and waits until its ports refuse connections.
// It is idempotent.
func (s *Server) Stop() { s.proc.Stop() }

// Grant writes the tuple namespace:object#relation@subjectID with
// PUT /admin/relation-tuples on the write API.
func (s *Server) Grant(t testing.TB, namespace, object, relation, subjectID string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"namespace": namespace, "object": object, "relation": relation, "subject_id": subjectID})
	s.write(t, http.MethodPut, s.WriteURL+"/admin/relation-tuples", body, http.StatusCreated)
}

// Delete removes the tuple with DELETE /admin/relation-tuples.
func (s *Server) Delete(t testing.TB, namespace, object, relation, subjectID string) {
	t.Helper()
	q := url.Values{"namespace": {namespace}, "object": {object}, "relation": {relation}, "subject_id": {subjectID}}
	s.write(t, http.MethodDelete, s.WriteURL+"/admin/relation-tuples?"+q.Encode(), nil, http.StatusNoContent)
}

func (s *Server) write(t testing.TB, method, u string, body []byte, want int) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("keto %s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		t.Fatalf("keto %s %s: %d, want %d: %s", method, u, resp.StatusCode, want, b.String())
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago:
// the listeners are held until all are picked.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
