package rediscache_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/internal/redistest"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// A Redis that restarts from a snapshot taken before a logout (a crash of
// a Redis with RDB snapshots, which Debian's redis.conf enables, or AOF
// without appendfsync always; a failover to a replica that had not yet
// received the logout) has the session's entry back and not the logout's
// marker: a logout that returned success is undone.
func TestLogoutSurvivesRestartFromSnapshot(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	srv := redistest.Start(t)
	replicas := fleet(t, kratos.URL, srv.URL, 2, false)
	alice := kratos.Login()
	require.Equal(t, "ok", status(replicas[0], alice))

	_, err := srv.Do("SAVE") // a periodic snapshot
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Session-Token", alice.Token)
	require.NoError(t, replicas[0].Invalidate(r), "the logout is recorded")
	kratos.Revoke(alice)

	srv.Kill()
	srv.Restart(t) // loads the snapshot
	require.Eventually(t, func() bool {
		c := kratos.Login()
		calls := kratos.Calls()
		ok := status(replicas[0], c) == "ok" && status(replicas[1], c) == "ok"
		return ok && kratos.Calls() == calls+1
	}, 15*time.Second, 50*time.Millisecond, "the store is shared again")
	for i, a := range replicas {
		assert.Equal(t, "invalid", status(a, alice), "replica %d admitted a session logged out before the restart", i)
	}
}
