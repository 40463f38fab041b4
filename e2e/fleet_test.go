package e2e

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
	"github.com/kratosauth/kratosauth/internal/testing/redistest"
)

const fleetWebhookKey = "fleet-e2e-webhook-key-0123456789abcdef"

// replica is one process of an example app.
type replica struct {
	name, URL, logPath string
}

// TestFleet runs one app as a fleet: three processes, one of each example
// (examples/nethttp, examples/chi, examples/gin), built from this tree,
// sharing a real Redis (REDIS_URL) in front of a real Kratos, which calls
// the first replica's webhook after a password change. Every whoami goes
// through a counting proxy.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three example apps")
	}
	rds := redistest.Start(t)
	ports := freePorts(t, 3)
	urls := make([]string, 3)
	for i, p := range ports {
		urls[i] = "http://127.0.0.1:" + strconv.Itoa(p)
	}
	k := kratostest.Start(t, kratostest.Options{
		AppURL:  urls[0],
		Webhook: &kratostest.Webhook{URL: urls[0] + "/hooks/kratos", APIKey: fleetWebhookKey},
	})
	px := newProxy(t, k.PublicURL)

	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator),
		"github.com/kratosauth/kratosauth/examples/nethttp",
		"github.com/kratosauth/kratosauth/examples/chi",
		"github.com/kratosauth/kratosauth/examples/gin")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the examples: %s", out)

	var fleet []replica
	for i, name := range []string{"nethttp", "chi", "gin"} {
		fleet = append(fleet, startReplica(t, filepath.Join(bin, name), urls[i], map[string]string{
			"KRATOS_PUBLIC_URL":  px.URL, // whoami calls are counted
			"KRATOS_BROWSER_URL": k.PublicURL,
			"APP_URL":            urls[i],
			"ADDR":               urls[i][len("http://"):],
			"REDIS_URL":          rds.URL,
			"KRATOS_WEBHOOK_KEY": fleetWebhookKey,
			"SESSION_CACHE_TTL":  "1m",
			"GIN_MODE":           "release",
		}))
	}
	me := func(t *testing.T, r replica, with ...cred) response {
		t.Helper()
		return doGet(t, client, r.URL+"/api/me", with...)
	}
	// everywhere checks that every replica answers want.
	everywhere := func(t *testing.T, want int, with ...cred) {
		t.Helper()
		for _, r := range fleet {
			assert.Equal(t, want, me(t, r, with...).Status, r.name)
		}
	}

	t.Run("one whoami per session for the fleet", func(t *testing.T) {
		tok, _ := k.RegisterAPI(t, kratostest.UniqueEmail("fleet"), password)
		before := px.Whoamis()
		for range 3 {
			everywhere(t, http.StatusOK, token(tok))
		}
		assert.Equal(t, int64(1), px.Whoamis()-before)
	})

	t.Run("logout on one replica is refused on the others", func(t *testing.T) {
		jar, c := k.RegisterBrowser(t, kratostest.UniqueEmail("fleet-logout"), password)
		everywhere(t, http.StatusOK, cookie(c))
		browserClient := &http.Client{Jar: jar, CheckRedirect: client.CheckRedirect, Timeout: client.Timeout}
		resp := doGet(t, browserClient, fleet[0].URL+"/logout", browser)
		require.Equal(t, http.StatusSeeOther, resp.Status, resp.Body)
		logout := doGet(t, browserClient, resp.Header.Get("Location"), browser) // Kratos ends the session
		require.Less(t, logout.Status, 400, logout.Body)
		before := px.Whoamis()
		everywhere(t, http.StatusUnauthorized, cookie(c))
		assert.Equal(t, int64(3), px.Whoamis()-before, "each replica asked Kratos instead of its cache")
	})

	t.Run("a password change evicts the identity's sessions everywhere", func(t *testing.T) {
		email := kratostest.UniqueEmail("fleet-password")
		a, _ := k.RegisterAPI(t, email, password)
		b := k.LoginAPI(t, email, password)
		everywhere(t, http.StatusOK, token(a))
		everywhere(t, http.StatusOK, token(b))
		// Kratos revokes the other sessions (revoke_active_sessions), then
		// calls replica 1's webhook, which evicts them from the shared cache.
		k.ChangePasswordAPI(t, a, password+"-changed")
		everywhere(t, http.StatusUnauthorized, token(b))
		everywhere(t, http.StatusOK, token(a))
		assertLogged(t, fleet[0], "kratosauth: evicted the cached sessions of an identity")
	})

	t.Run("an admin disable and one eviction are refused everywhere", func(t *testing.T) {
		tok, sess := k.RegisterAPI(t, kratostest.UniqueEmail("fleet-disable"), password)
		_, identityID := kratostest.SessionIDs(t, sess)
		everywhere(t, http.StatusOK, token(tok))
		k.DisableIdentity(t, identityID)
		everywhere(t, http.StatusOK, token(tok)) // cached: the cache does not know yet
		// An admin tool calls InvalidateIdentity through one replica's hook.
		req, err := http.NewRequest(http.MethodPost, fleet[1].URL+"/hooks/kratos",
			bytes.NewReader([]byte(`{"identity_id":"`+identityID+`"}`)))
		require.NoError(t, err)
		req.Header.Set("X-Kratos-Webhook-Key", fleetWebhookKey)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		everywhere(t, http.StatusUnauthorized, token(tok))

		req.Header.Set("X-Kratos-Webhook-Key", "wrong")
		resp, err = client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})

	t.Run("Redis killed: every replica answers through Kratos, then shares again", func(t *testing.T) {
		tok, _ := k.RegisterAPI(t, kratostest.UniqueEmail("fleet-outage"), password)
		everywhere(t, http.StatusOK, token(tok))
		rds.Kill()
		for range 20 {
			everywhere(t, http.StatusOK, token(tok))
			everywhere(t, http.StatusUnauthorized, token("ory_st_not-a-session-0123456789abcdef"))
			everywhere(t, http.StatusUnauthorized)
		}
		assertLogged(t, fleet[2], "rediscache: Redis unavailable")

		rds.Restart(t)
		require.Eventually(t, func() bool {
			tok, _ := k.RegisterAPI(t, kratostest.UniqueEmail("fleet-back"), password)
			before := px.Whoamis()
			for _, r := range fleet {
				if me(t, r, token(tok)).Status != http.StatusOK {
					return false
				}
			}
			return px.Whoamis()-before == 1
		}, 20*time.Second, 200*time.Millisecond, "one whoami for the fleet again")
	})
}

// startReplica runs bin with env and waits for its /healthz; the test's
// cleanup stops it with SIGTERM (it shuts down gracefully) and fails the
// test if it does not exit.
func startReplica(t *testing.T, bin, url string, env map[string]string) replica {
	t.Helper()
	r := replica{name: filepath.Base(bin), URL: url, logPath: filepath.Join(t.TempDir(), "app.log")}
	logf, err := os.Create(r.logPath)
	require.NoError(t, err)
	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			assert.NoError(t, err, "%s exited badly; log %s", r.name, r.logPath)
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("%s did not stop on SIGTERM", r.name)
		}
		logf.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		select {
		case err := <-done:
			b, _ := os.ReadFile(r.logPath)
			t.Fatalf("%s exited (%v):\n%s", r.name, err, b)
		case <-ctx.Done():
			b, _ := os.ReadFile(r.logPath)
			t.Fatalf("%s not ready:\n%s", r.name, b)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func assertLogged(t *testing.T, r replica, msg string) {
	t.Helper()
	assert.Eventually(t, func() bool {
		b, _ := os.ReadFile(r.logPath)
		return bytes.Contains(b, []byte(msg))
	}, 5*time.Second, 50*time.Millisecond, "%s's log lacks %q", r.name, msg)
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
