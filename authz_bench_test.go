package kratosauth_test

// Benchmarks of authorization on the request path, next to
// BenchmarkRequireSessionCacheHit (bench_test.go): the same request and
// handler, the session cached, and for RequirePermission the decision
// cached too (keto.Client's allow TTL), so ns/op is what the rules add.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
	"github.com/kratosauth/kratosauth/keto"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

func BenchmarkRequirePermissionCacheHit(b *testing.B) {
	kratos, ketoServer := benchKratos(b), kratosauthtest.NewKeto(b)
	perms, err := keto.New(ketoServer.URL, keto.WithAllowTTL(time.Hour))
	require.NoError(b, err)
	b.Cleanup(perms.Close)
	a := benchAuth(b, kratos.URL, kratosauth.WithPermissions(perms))
	user := kratos.Login()
	ketoServer.Grant("Group", "admins", "members", user.Session.Identity.ID)
	h := kratoshttp.RequirePermission(a, "Group", "members", kratosauth.Object("admins"))(appHandler)
	serveLoop(b, h, benchRequest(user))
	require.Equal(b, 1, kratos.Calls(), "whoami calls: every other request is a cache hit")
	require.Equal(b, 1, ketoServer.Calls(), "permission checks: every other decision is cached")
}

// BenchmarkRequireRoleCacheHit is Require(HasRole("roles", "admin")) on a
// cached session whose metadata_public has the role: the predicate reads
// the metadata on each request.
func BenchmarkRequireRoleCacheHit(b *testing.B) {
	kratos := benchKratos(b)
	a := benchAuth(b, kratos.URL)
	user := kratos.Login(kratosauthtest.WithMetadataPublic(map[string]any{"plan": "pro", "roles": []string{"user", "admin"}}))
	serveLoop(b, kratoshttp.Require(a, kratosauth.HasRole("roles", "admin"))(appHandler), benchRequest(user))
	require.Equal(b, 1, kratos.Calls())
}
