package kratosauth_test

// Benchmarks of authorization on the request path, next to
// BenchmarkRequireSessionCacheHit (bench_test.go): the same request and
// handler, the session cached, and for RequirePermission the decision
// cached too (keto.Client's allow TTL), so ns/op is what the rules add.

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/internal/kratosfake"
	"github.com/kratosauth/kratosauth/keto"
)

// benchKeto is a Keto read API that allows everything, counting calls.
func benchKeto(b *testing.B) (*keto.Client, *atomic.Int64) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write([]byte(`{"allowed":true}` + "\n"))
	}))
	b.Cleanup(srv.Close)
	k, err := keto.New(srv.URL, keto.WithAllowTTL(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(k.Close)
	return k, &calls
}

func BenchmarkRequirePermissionCacheHit(b *testing.B) {
	srv, whoamis := benchWhoami(b)
	perms, checks := benchKeto(b)
	a := benchAuth(b, srv.URL, kratosauth.WithPermissions(perms))
	h := kratoshttp.RequirePermission(a, "Group", "members", kratosauth.Object("admins"))(appHandler)
	serveLoop(b, h, benchRequest(0))
	if whoamis.Load() != 1 || checks.Load() != 1 {
		b.Fatalf("%d whoami calls and %d checks, want 1 each (every other request cache hits)", whoamis.Load(), checks.Load())
	}
}

// BenchmarkRequireRoleCacheHit is Require(HasRole("roles", "admin")) on a
// cached session whose metadata_public has the role: the predicate reads
// the metadata's JSON on each request.
func BenchmarkRequireRoleCacheHit(b *testing.B) {
	body := kratosfake.Modify(kratosfake.Fresh(kratosfake.SessionAAL1, 24*time.Hour), func(m map[string]any) {
		m["identity"].(map[string]any)["metadata_public"] = map[string]any{"plan": "pro", "roles": []string{"user", "admin"}}
	})
	var whoamis atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		whoamis.Add(1)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	}))
	b.Cleanup(srv.Close)
	a := benchAuth(b, srv.URL)
	serveLoop(b, kratoshttp.Require(a, kratosauth.HasRole("roles", "admin"))(appHandler), benchRequest(0))
	if n := whoamis.Load(); n != 1 {
		b.Fatalf("%d whoami calls, want 1", n)
	}
}
