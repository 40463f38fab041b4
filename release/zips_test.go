package release

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// TestModuleZips checks what the module zips of the published modules hold:
// each its own files and its license, never another module's files.
func TestModuleZips(t *testing.T) {
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// Module zips hold only files under the module's directory: the gin
	// adapter and otelkratosauth carry their own copy of the license.
	license, err := os.ReadFile(filepath.Join(repo, "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"adapters/gin", "adapters/echo", "adapters/grpc", "adapters/connect", "jwtverify", "otelkratosauth", "cache/redis"} {
		if own, err := os.ReadFile(filepath.Join(repo, dir, "LICENSE")); err != nil || !bytes.Equal(own, license) {
			t.Errorf("%s/LICENSE must be a copy of LICENSE (err: %v)", dir, err)
		}
	}

	proxy := moduleProxy{dir: t.TempDir()}
	for _, tc := range []struct {
		mod     module.Version
		dir     string
		want    []string
		notWant []string // names, or with a trailing / directories
	}{{
		mod:     module.Version{Path: rootPath, Version: "v0.1.0"},
		dir:     repo,
		want:    []string{"go.mod", "go.sum", "LICENSE", "README.md", "authenticator.go", "adapters/nethttp/middleware.go", "adapters/chi/chi.go", "cache/bigcache.go", "selfservice/", "keto/keto.go", "predicate.go"},
		notWant: []string{"adapters/gin/", "adapters/echo/", "adapters/grpc/", "adapters/connect/", "otelkratosauth/", "jwtverify/", "cache/redis/", "examples/", "bench/redis/", "e2e/", "release/", "tools/", ".bin", ".git", ".git/", ".run/"},
	}, {
		mod:  module.Version{Path: jwtPath, Version: "v0.1.0"},
		dir:  filepath.Join(repo, "jwtverify"),
		want: []string{"go.mod", "go.sum", "LICENSE", "verifier.go", "keys.go"},
	}, {
		mod:  module.Version{Path: ginPath, Version: "v0.1.0"},
		dir:  filepath.Join(repo, "adapters", "gin"),
		want: []string{"go.mod", "go.sum", "LICENSE", "gin.go", "selfservice.go", "jwt/jwt.go"},
	}, {
		mod:  module.Version{Path: otelPath, Version: "v0.1.0"},
		dir:  filepath.Join(repo, "otelkratosauth"),
		want: []string{"go.mod", "go.sum", "LICENSE", "doc.go", "observer.go"},
	}, {
		mod:  module.Version{Path: redisPath, Version: "v0.1.0"},
		dir:  filepath.Join(repo, "cache", "redis"),
		want: []string{"go.mod", "go.sum", "LICENSE", "store.go", "options.go", "breaker.go"},
	}, {
		mod:  module.Version{Path: echoPath, Version: "v0.1.0"},
		dir:  filepath.Join(repo, "adapters", "echo"),
		want: []string{"go.mod", "go.sum", "LICENSE", "echo.go", "selfservice.go"},
	}, {
		mod:  module.Version{Path: grpcPath, Version: "v0.1.0"},
		dir:  filepath.Join(repo, "adapters", "grpc"),
		want: []string{"go.mod", "go.sum", "LICENSE", "grpc.go", "status.go", "jwt/jwt.go"},
	}, {
		mod:  module.Version{Path: connPath, Version: "v0.1.0"},
		dir:  filepath.Join(repo, "adapters", "connect"),
		want: []string{"go.mod", "go.sum", "LICENSE", "connect.go", "error.go"},
	}} {
		t.Run(tc.mod.Path, func(t *testing.T) {
			if err := proxy.add(tc.mod, tc.dir, nil); err != nil {
				t.Fatal(err)
			}
			esc, _ := module.EscapePath(tc.mod.Path)
			zipFile := filepath.Join(proxy.dir, filepath.FromSlash(esc), "@v", tc.mod.Version+".zip")
			if _, err := modzip.CheckZip(tc.mod, zipFile); err != nil {
				t.Fatalf("CheckZip: %v", err)
			}
			zr, err := zip.OpenReader(zipFile)
			if err != nil {
				t.Fatal(err)
			}
			defer zr.Close()
			prefix := tc.mod.String() + "/"
			var names []string
			for _, f := range zr.File {
				names = append(names, strings.TrimPrefix(f.Name, prefix))
			}
			for _, w := range tc.want {
				found := false
				for _, n := range names {
					if n == w || strings.HasSuffix(w, "/") && strings.HasPrefix(n, w) {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("the zip of %s lacks %s", tc.mod, w)
				}
			}
			for _, n := range names {
				for _, bad := range tc.notWant {
					if n == bad || strings.HasSuffix(bad, "/") && strings.HasPrefix(n, bad) {
						t.Errorf("the zip of %s holds %s", tc.mod, n)
					}
				}
			}
			t.Logf("%s: %d files", tc.mod, len(names))
		})
	}
}
