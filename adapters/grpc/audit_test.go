package kratosgrpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	kratosgrpc "github.com/kratosauth/kratosauth/adapters/grpc"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// A LoadSession stream admitted with a session that is then revoked must
// not go on as that user: the handler's context still holds the revoked
// session, so the recheck has to end the stream (Unauthenticated), as it
// does behind RequireSession. Today the recheck takes the revoked session
// for a visitor, passes, and the stream keeps serving the revoked user.
func TestAuditLoadSessionStreamRevokedMidStream(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	const recheck = 50 * time.Millisecond
	h := &health{tick: 5 * time.Millisecond, watched: make(chan error, 1)}
	client := guarded(t, mustGuard(t, newAuth(t, kratos.URL).LoadSession(), kratosgrpc.WithStreamRecheck(recheck)), h)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stream, err := client.Watch(kratosgrpc.WithSessionToken(ctx, c.Token), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	_, err = stream.Recv()
	require.NoError(t, err)
	header, err := stream.Header()
	require.NoError(t, err)
	require.Equal(t, []string{c.Session.Identity.ID}, header.Get("x-identity"), "admitted as the user")
	kratos.Revoke(c)
	calls := kratos.Calls()
	end := time.Now().Add(recheck + 500*time.Millisecond)
	var afterRecheck int
	for time.Now().Before(end) {
		if _, err = stream.Recv(); err != nil {
			break
		}
		if kratos.Calls() > calls {
			afterRecheck++ // the recheck saw the revocation; the stream went on as the user
		}
	}
	assert.Greater(t, kratos.Calls(), calls, "the stream was rechecked")
	assert.Zero(t, afterRecheck, "messages sent for the revoked session's user after the recheck")
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
}
