package release

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

const (
	rootPath  = "github.com/kratosauth/kratosauth"
	ginPath   = rootPath + "/adapters/gin"
	jwtPath   = rootPath + "/jwtverify"
	otelPath  = rootPath + "/otelkratosauth"
	redisPath = rootPath + "/cache/redis"
	echoPath  = rootPath + "/adapters/echo"
	grpcPath  = rootPath + "/adapters/grpc"
	connPath  = rootPath + "/adapters/connect"
)

// TestInstall installs kratosauth as a user would, before the release is
// tagged: the root module, jwtverify, adapters/gin and otelkratosauth are
// zipped from this work tree at the versions they are about to be tagged
// with and served by a local module proxy; a fresh module outside the
// repository (no go.work, an empty module cache, so no copy of an earlier
// build of these versions is reused) runs `go get` on each and builds and
// runs testdata/consumer, which sends a request through each adapter to a
// fake whoami, verifies a token with kratosjwt and kratosginjwt, and reads
// the metrics of otelkratosauth.
//
// The versions: the root module at the version adapters/gin requires (what
// RELEASING.md tags first), jwtverify at the version adapters/gin requires
// (tagged second), adapters/gin at the version examples/gin requires,
// otelkratosauth at the version examples/chi requires, adapters/echo at the
// version examples/echo requires, adapters/grpc at the version e2e
// requires, adapters/connect (which nothing here requires) at the root's.
// KRATOSAUTH_ROOT_VERSION, KRATOSAUTH_JWT_VERSION, KRATOSAUTH_GIN_VERSION,
// KRATOSAUTH_OTEL_VERSION, KRATOSAUTH_ECHO_VERSION, KRATOSAUTH_GRPC_VERSION
// and KRATOSAUTH_CONNECT_VERSION override them.
//
// The failing cases check that the test can fail: adapters/gin's go.mod
// rewritten to require a root version that was never released, or in its
// state before the modules were made releasable (v0.0.0 and a replace
// directive, which go get ignores in a dependency).
func TestInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module from a local proxy; not in -short")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if mf := parseGoMod(t, filepath.Join(repo, "go.mod")); mf.Module.Mod.Path != rootPath {
		t.Fatalf("%s is not the root module's directory", repo)
	}
	rootVersion := envOr("KRATOSAUTH_ROOT_VERSION", requiredVersion(t, filepath.Join(repo, "adapters/gin/go.mod"), rootPath))
	ginVersion := envOr("KRATOSAUTH_GIN_VERSION", requiredVersion(t, filepath.Join(repo, "examples/gin/go.mod"), ginPath))
	jwtVersion := envOr("KRATOSAUTH_JWT_VERSION", requiredVersion(t, filepath.Join(repo, "adapters/gin/go.mod"), jwtPath))
	otelVersion := envOr("KRATOSAUTH_OTEL_VERSION", requiredVersion(t, filepath.Join(repo, "examples/chi/go.mod"), otelPath))
	if v := requiredVersion(t, filepath.Join(repo, "jwtverify/go.mod"), rootPath); v != rootVersion && os.Getenv("KRATOSAUTH_ROOT_VERSION") == "" {
		t.Fatalf("jwtverify requires %s %s, adapters/gin %s: release them against one root version", rootPath, v, rootVersion)
	}
	redisVersion := envOr("KRATOSAUTH_REDIS_VERSION", requiredVersion(t, filepath.Join(repo, "examples/gin/go.mod"), redisPath))
	echoVersion := envOr("KRATOSAUTH_ECHO_VERSION", requiredVersion(t, filepath.Join(repo, "examples/echo/go.mod"), echoPath))
	grpcVersion := envOr("KRATOSAUTH_GRPC_VERSION", requiredVersion(t, filepath.Join(repo, "e2e/go.mod"), grpcPath))
	connectVersion := envOr("KRATOSAUTH_CONNECT_VERSION", rootVersion)
	for _, v := range []string{rootVersion, ginVersion, jwtVersion, otelVersion, redisVersion, echoVersion, grpcVersion, connectVersion} {
		if !semver.IsValid(v) || semver.Canonical(v) != v || module.IsPseudoVersion(v) || v == "v0.0.0" {
			t.Fatalf("version %q is not a release version", v)
		}
	}
	t.Logf("root module %s, jwtverify %s, adapters/gin %s, otelkratosauth %s, cache/redis %s", rootVersion, jwtVersion, ginVersion, otelVersion, redisVersion)
	t.Logf("adapters/echo %s, adapters/grpc %s, adapters/connect %s", echoVersion, grpcVersion, connectVersion)
	versions := moduleVersions{root: rootVersion, jwt: jwtVersion, gin: ginVersion, otel: otelVersion, redis: redisVersion,
		echo: echoVersion, grpc: grpcVersion, connect: connectVersion}
	ginMod := filepath.Join(repo, "adapters/gin/go.mod")

	t.Run("released versions", func(t *testing.T) {
		t.Parallel()
		out, err := install(t, repo, versions, nil)
		if err != nil {
			t.Fatalf("installing as a user failed: %v\n%s", err, out)
		}
		for _, want := range []string{
			"net/http: 200 with a session, 401 without",
			"chi: 200 with a session, 401 without",
			"gin: 200 with a session, 401 without",
			"kratosjwt: 200 with a token, 401 with a bad one",
			"kratosginjwt: 200 with a token, 401 with a bad one",
			"otelkratosauth: 6 session checks counted, 3 whoami calls timed",
			"redis store, Redis down: 200 with a session, 401 without",
			"echo: 200 with a session, 401 without",
			"grpc: OK with a session, Unauthenticated without",
			"connect: OK with a session, unauthenticated without",
			"dep " + echoPath + " " + echoVersion + "\n",
			"dep " + grpcPath + " " + grpcVersion + "\n",
			"dep " + connPath + " " + connectVersion + "\n",
			"dep " + rootPath + " " + rootVersion + "\n",
			"dep " + ginPath + " " + ginVersion + "\n",
			"dep " + jwtPath + " " + jwtVersion + "\n",
			"dep " + otelPath + " " + otelVersion + "\n",
			"dep " + redisPath + " " + redisVersion + "\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})

	failing := []struct {
		name, want string
		edit       func(*modfile.File) error
	}{{
		name: "adapters/gin requires an unreleased root version",
		want: rootPath + "@v0.9.9",
		edit: func(f *modfile.File) error { return f.AddRequire(rootPath, "v0.9.9") },
	}, {
		name: "adapters/gin requires v0.0.0 with a replace directive",
		want: rootPath + "@v0.0.0",
		edit: func(f *modfile.File) error {
			if err := f.AddRequire(rootPath, "v0.0.0"); err != nil {
				return err
			}
			return f.AddReplace(rootPath, "", "../..", "")
		},
	}}
	for _, tc := range failing {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := parseGoMod(t, ginMod)
			if err := tc.edit(f); err != nil {
				t.Fatal(err)
			}
			goMod, err := f.Format()
			if err != nil {
				t.Fatal(err)
			}
			out, err := install(t, repo, versions, goMod)
			if err == nil {
				t.Fatalf("installing succeeded; want it to fail on %s:\n%s", tc.want, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("installing failed, but not on %s: %v\n%s", tc.want, err, out)
			}
			t.Logf("fails as it must: %s", firstLineWith(out, tc.want))
		})
	}
}

// moduleVersions are the versions of the published modules to install.
type moduleVersions struct{ root, jwt, gin, otel, redis, echo, grpc, connect string }

// install serves the root module, jwtverify, adapters/gin,
// otelkratosauth and cache/redis at v (with ginGoMod as adapters/gin's go.mod when not nil)
// from a local proxy, and gets, builds and runs the consumer in a fresh
// module. It returns the go commands' and the consumer's output.
func install(t *testing.T, repo string, v moduleVersions, ginGoMod []byte) (string, error) {
	tmp := t.TempDir()
	start := time.Now()
	proxy := moduleProxy{dir: filepath.Join(tmp, "proxy")}
	if err := proxy.add(module.Version{Path: rootPath, Version: v.root}, repo, nil); err != nil {
		t.Fatal(err)
	}
	if err := proxy.add(module.Version{Path: jwtPath, Version: v.jwt}, filepath.Join(repo, "jwtverify"), nil); err != nil {
		t.Fatal(err)
	}
	if err := proxy.add(module.Version{Path: ginPath, Version: v.gin}, filepath.Join(repo, "adapters/gin"), ginGoMod); err != nil {
		t.Fatal(err)
	}
	if err := proxy.add(module.Version{Path: otelPath, Version: v.otel}, filepath.Join(repo, "otelkratosauth"), nil); err != nil {
		t.Fatal(err)
	}
	if err := proxy.add(module.Version{Path: redisPath, Version: v.redis}, filepath.Join(repo, "cache/redis"), nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ path, version, dir string }{
		{echoPath, v.echo, "adapters/echo"}, {grpcPath, v.grpc, "adapters/grpc"}, {connPath, v.connect, "adapters/connect"},
	} {
		if err := proxy.add(module.Version{Path: m.path, Version: m.version}, filepath.Join(repo, m.dir), nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("proxy built in %v", time.Since(start).Round(time.Millisecond))

	consumer := filepath.Join(tmp, "consumer")
	if err := os.MkdirAll(consumer, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, name := range []string{"main.go", "jwt.go", "rpc.go"} {
		src, err := os.ReadFile(filepath.Join("testdata", "consumer", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = src
	}
	// go.sum starts with the checksums our modules were tidied with, so
	// that third-party modules are verified without asking the checksum
	// database; anything missing is still checked against it.
	var sums bytes.Buffer
	for _, f := range []string{"go.sum", "jwtverify/go.sum", "adapters/gin/go.sum", "otelkratosauth/go.sum", "cache/redis/go.sum",
		"adapters/echo/go.sum", "adapters/grpc/go.sum", "adapters/connect/go.sum"} {
		b, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		sums.Write(b)
	}
	files["go.mod"] = []byte("module example.com/consumer\n\ngo 1.26.0\n")
	files["go.sum"] = sums.Bytes()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(consumer, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	env := append(os.Environ(),
		"GOWORK=off",
		"GOMODCACHE="+filepath.Join(tmp, "modcache"),
		"GOPROXY="+proxyList(t, proxy.dir),
		"GONOSUMDB=github.com/kratosauth",
		"GONOPROXY=",
		"GOPRIVATE=",
		"GOFLAGS=-mod=mod -modcacherw",
		"GOTOOLCHAIN=local",
	)
	var out bytes.Buffer
	run := func(name string, args ...string) error {
		label := strings.Join(append([]string{filepath.Base(name)}, args...), " ")
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = consumer, env, &out, &out
		start := time.Now()
		fmt.Fprintf(&out, "$ %s\n", label)
		err := cmd.Run()
		t.Logf("%s: %v", label, time.Since(start).Round(time.Millisecond))
		return err
	}
	// The gin adapter first, as a gin user would get it alone: the core
	// module comes at the version adapters/gin requires, which must exist.
	// Then the core at the release version, as README's Install says.
	if err := run("go", "get", ginPath+"@"+v.gin); err != nil {
		return out.String(), err
	}
	if err := run("go", "get", rootPath+"@"+v.root); err != nil {
		return out.String(), err
	}
	if err := run("go", "get", jwtPath+"@"+v.jwt); err != nil {
		return out.String(), err
	}
	// OpenTelemetry users add otelkratosauth; its SDK is the app's choice,
	// the consumer's comes from the proxy like any module.
	if err := run("go", "get", otelPath+"@"+v.otel, "go.opentelemetry.io/otel/sdk/metric"); err != nil {
		return out.String(), err
	}
	if err := run("go", "get", redisPath+"@"+v.redis); err != nil {
		return out.String(), err
	}
	// echo, gRPC and Connect users add their adapter; grpc-go, Connect and
	// protobuf come with it.
	if err := run("go", "get", echoPath+"@"+v.echo, grpcPath+"@"+v.grpc, connPath+"@"+v.connect); err != nil {
		return out.String(), err
	}
	// -trimpath keeps compiled packages independent of the temporary module
	// cache's location, so that the build cache serves them on the next run.
	if err := run("go", "build", "-trimpath", "-o", "consumer", "."); err != nil {
		return out.String(), err
	}
	err := run(filepath.Join(consumer, "consumer"))
	return out.String(), err
}

// proxyList is the consumer's GOPROXY: the local proxy first, then the
// module cache's download directory (a proxy too: third-party modules come
// from there without the network when they are cached), then the
// configured proxies, without "direct" (no version-control hosts).
func proxyList(t *testing.T, local string) string {
	out, err := exec.Command("go", "env", "GOMODCACHE", "GOPROXY").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	list := []string{fileURL(local)}
	if len(lines) > 0 && lines[0] != "" {
		list = append(list, fileURL(filepath.Join(lines[0], "cache", "download")))
	}
	if len(lines) > 1 {
		for _, p := range regexp.MustCompile(`[,|]`).Split(lines[1], -1) {
			if p != "" && p != "direct" && p != "off" {
				list = append(list, p)
			}
		}
	}
	return strings.Join(list, ",")
}

func fileURL(dir string) string {
	return "file://" + filepath.ToSlash(dir)
}

func parseGoMod(t *testing.T, path string) *modfile.File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// requiredVersion is the version of modPath that the go.mod at path requires.
func requiredVersion(t *testing.T, path, modPath string) string {
	t.Helper()
	for _, r := range parseGoMod(t, path).Require {
		if r.Mod.Path == modPath {
			return r.Mod.Version
		}
	}
	t.Fatalf("%s does not require %s", path, modPath)
	return ""
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func firstLineWith(s, sub string) string {
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}
