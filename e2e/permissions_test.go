package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/internal/testing/ketotest"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

// permissionTTL is the example apps' KETO_ALLOW_TTL here: how long an
// "allowed" outlives its tuple.
const permissionTTL = time.Second

// TestPermissionsThroughExamples runs each example app's binary, configured
// by its environment as in the demo, against a real Kratos and a real Keto,
// and checks its /admin route (the Keto permission Group:admins#members):
// refused before the tuple is written (a JSON 403, the app's own 403 page
// for browsers, login for visitors), allowed once it is, refused again once
// it is deleted and the allow TTL has passed, and 503 while Keto is down.
func TestPermissionsThroughExamples(t *testing.T) {
	// One Kratos and one Keto for the three apps; each app has its own
	// users. Kratos' return URLs name the first app, which no step follows.
	ports := map[string]int{}
	for _, ex := range []string{"nethttp", "chi", "gin"} {
		ports[ex] = freeTCPPort(t)
	}
	k := kratostest.Start(t, kratostest.Options{AppURL: "http://127.0.0.1:" + strconv.Itoa(ports["nethttp"])})
	keto := ketotest.Start(t)

	for _, ex := range []string{"nethttp", "chi", "gin"} {
		t.Run(ex, func(t *testing.T) {
			keto.Restart(t) // the previous app's last step stopped it
			appURL := "http://127.0.0.1:" + strconv.Itoa(ports[ex])
			runExample(t, ex, map[string]string{
				"KRATOS_PUBLIC_URL": k.PublicURL,
				"APP_URL":           appURL,
				"ADDR":              strings.TrimPrefix(appURL, "http://"),
				"KETO_READ_URL":     keto.ReadURL,
				"KETO_ALLOW_TTL":    permissionTTL.String(),
			})
			a := func(path string, with ...cred) response { return doGet(t, client, appURL+path, with...) }

			apiToken, sess := k.RegisterAPI(t, kratostest.UniqueEmail(ex+"-admin-api"), password)
			_, apiID := kratostest.SessionIDs(t, sess)
			webEmail := kratostest.UniqueEmail(ex + "-admin-web")
			jar, webCookie := k.RegisterBrowser(t, webEmail, password)
			_, webSess := k.Whoami(t, "", webCookie)
			_, webID := kratostest.SessionIDs(t, webSess)
			webClient := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: client.CheckRedirect}
			web := func(path string) response { return doGet(t, webClient, appURL+path, browser) }

			// Visitors are sent to login, API clients without credentials get 401.
			r := a("/admin", browser)
			assert.Equal(t, http.StatusSeeOther, r.Status)
			assert.Contains(t, r.Header.Get("Location"), "/self-service/login/browser")
			assert.Equal(t, http.StatusUnauthorized, a("/admin").Status)

			// Signed in, no tuple: 403, JSON or the app's own page, no redirect.
			r = a("/admin", token(apiToken))
			assertForbiddenJSON(t, r)
			r = web("/admin")
			require.Equal(t, http.StatusForbidden, r.Status, r.Body)
			assert.Empty(t, r.Header.Get("Location"))
			assert.Contains(t, r.Body, "this page is for members of <code>Group:admins</code>")
			assert.Contains(t, r.Body, webEmail)

			// Granted through Keto's write API: allowed at once (denials are
			// not cached).
			keto.Grant(t, "Group", "admins", "members", apiID)
			keto.Grant(t, "Group", "admins", "members", webID)
			require.Equal(t, http.StatusOK, a("/admin", token(apiToken)).Status)
			r = web("/admin")
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			assert.Contains(t, r.Body, "is a member of <code>Group:admins</code>")

			// Deleted: refused again once the allow TTL has passed.
			keto.Delete(t, "Group", "admins", "members", apiID)
			time.Sleep(permissionTTL + 200*time.Millisecond)
			assertForbiddenJSON(t, a("/admin", token(apiToken)))

			// Keto down: 503 for the still-granted browser user once its
			// allow expired, never the page and never a 403; sessions are fine.
			require.Equal(t, http.StatusOK, web("/admin").Status)
			keto.Stop()
			time.Sleep(permissionTTL + 200*time.Millisecond)
			r = web("/admin")
			assert.Equal(t, http.StatusServiceUnavailable, r.Status, r.Body)
			assert.Empty(t, r.Header.Get("Location"))
			assert.NotContains(t, r.Body, "is a member")
			assertJSONError(t, a("/admin", token(apiToken)), http.StatusServiceUnavailable)
			assert.Equal(t, http.StatusOK, web("/dashboard").Status, "Kratos alone decides /dashboard")
		})
	}
}

func assertForbiddenJSON(t *testing.T, r response) {
	t.Helper()
	e := assertJSONError(t, r, http.StatusForbidden)
	assert.Equal(t, "forbidden", e.Error.ID, "a refused permission, not a step-up")
}

// runExample builds examples/<name> and runs it with env until the test
// ends; it returns once /healthz answers.
func runExample(t *testing.T, name string, env map[string]string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/kratosauth/kratosauth/examples/"+name)
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build examples/%s: %s", name, out)

	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("examples/%s log:\n%s", name, b)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(env["APP_URL"] + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("examples/%s exited: %s", name, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("examples/%s not ready at %s", name, env["APP_URL"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
