package kratosgrpc_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"google.golang.org/grpc/codes"

	"github.com/kratosauth/kratosauth"
	kratosgrpc "github.com/kratosauth/kratosauth/adapters/grpc"
)

// The mapping from the library's errors to gRPC statuses, pinned: a change
// of any code, reason or detail fails here.
func TestStatusTable(t *testing.T) {
	secret := errors.New("dial tcp 10.0.0.7:4433: connection refused")
	for _, tc := range []struct {
		err      error
		code     codes.Code
		msg      string
		reason   string
		redirect string
		retry    time.Duration
	}{
		{&kratosauth.Error{Kind: kratosauth.ErrNoCredentials}, codes.Unauthenticated, "no session credentials", "NO_CREDENTIALS", "", 0},
		{&kratosauth.Error{Kind: kratosauth.ErrInvalidSession, Cause: secret}, codes.Unauthenticated, "invalid or expired session", "SESSION_INVALID", "", 0},
		{&kratosauth.Error{Kind: kratosauth.ErrAAL2Required, RedirectTo: "https://id.example.com/self-service/login/browser?aal=aal2&return_to=https%3A%2F%2Fapp%2Fpkg.S%2FM"},
			codes.PermissionDenied, "second authentication factor required", "SESSION_AAL2_REQUIRED", "https://id.example.com/self-service/login/browser?aal=aal2", 0},
		{&kratosauth.Error{Kind: kratosauth.ErrAAL2Required}, codes.PermissionDenied, "second authentication factor required", "SESSION_AAL2_REQUIRED", "", 0},
		{&kratosauth.Error{Kind: kratosauth.ErrForbidden, Cause: secret}, codes.PermissionDenied, "forbidden", "FORBIDDEN", "", 0},
		{&kratosauth.Error{Kind: kratosauth.ErrUnavailable, Cause: secret}, codes.Unavailable, "session or permission check unavailable, try again later", "UNAVAILABLE", "", 0},
		{&kratosauth.Error{Kind: kratosauth.ErrUnavailable, RetryAfter: 3 * time.Second}, codes.Unavailable, "session or permission check unavailable, try again later", "UNAVAILABLE", "", 3 * time.Second},
		{&kratosauth.Error{Kind: kratosauth.ErrCanceled, Cause: context.Canceled}, codes.Canceled, "canceled", "", "", 0},
		{&kratosauth.Error{Kind: kratosauth.ErrCanceled, Cause: context.DeadlineExceeded}, codes.DeadlineExceeded, "deadline exceeded", "", "", 0},
		{fmt.Errorf("wrapped: %w", &kratosauth.Error{Kind: kratosauth.ErrForbidden}), codes.PermissionDenied, "forbidden", "FORBIDDEN", "", 0},
		{secret, codes.Unavailable, "session or permission check unavailable, try again later", "UNAVAILABLE", "", 0},
		{&kratosauth.Error{}, codes.Unavailable, "session or permission check unavailable, try again later", "UNAVAILABLE", "", 0},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			st := kratosgrpc.Status(tc.err)
			assert.Equal(t, tc.code, st.Code())
			assert.Equal(t, tc.msg, st.Message())
			info := errorInfo(st.Err())
			if tc.reason == "" {
				assert.Nil(t, info)
				assert.Empty(t, st.Details())
				return
			}
			if assert.NotNil(t, info) {
				assert.Equal(t, "kratosauth", info.GetDomain())
				assert.Equal(t, tc.reason, info.GetReason())
				assert.Equal(t, tc.redirect, info.GetMetadata()["redirect_browser_to"])
			}
			assert.Equal(t, tc.retry, retryDelay(st.Err()))
		})
	}
}
