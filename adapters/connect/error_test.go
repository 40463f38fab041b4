package kratosconnect_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"

	"github.com/kratosauth/kratosauth"
	kratosconnect "github.com/kratosauth/kratosauth/adapters/connect"
)

// The mapping from the library's errors to Connect errors, pinned: a
// change of any code, reason or detail fails here.
func TestErrorTable(t *testing.T) {
	secret := errors.New("dial tcp 10.0.0.7:4433: connection refused")
	const unavailable = "session or permission check unavailable, try again later"
	for _, tc := range []struct {
		err      error
		code     connect.Code
		msg      string
		reason   string
		redirect string
		retry    time.Duration
	}{
		{&kratosauth.Error{Kind: kratosauth.ErrNoCredentials}, connect.CodeUnauthenticated, "no session credentials", "NO_CREDENTIALS", "", 0},
		{&kratosauth.Error{Kind: kratosauth.ErrInvalidSession, Cause: secret}, connect.CodeUnauthenticated, "invalid or expired session", "SESSION_INVALID", "", 0},
		{&kratosauth.Error{Kind: kratosauth.ErrAAL2Required, RedirectTo: "https://id.example.com/self-service/login/browser?aal=aal2&return_to=https%3A%2F%2Fapp%2Fp.S%2FM"},
			connect.CodePermissionDenied, "second authentication factor required", "SESSION_AAL2_REQUIRED", "https://id.example.com/self-service/login/browser?aal=aal2", 0},
		{&kratosauth.Error{Kind: kratosauth.ErrForbidden, Cause: secret}, connect.CodePermissionDenied, "forbidden", "FORBIDDEN", "", 0},
		{&kratosauth.Error{Kind: kratosauth.ErrUnavailable, Cause: secret}, connect.CodeUnavailable, unavailable, "UNAVAILABLE", "", 0},
		{&kratosauth.Error{Kind: kratosauth.ErrUnavailable, RetryAfter: 3 * time.Second}, connect.CodeUnavailable, unavailable, "UNAVAILABLE", "", 3 * time.Second},
		{&kratosauth.Error{Kind: kratosauth.ErrCanceled, Cause: context.Canceled}, connect.CodeCanceled, "canceled", "", "", 0},
		{&kratosauth.Error{Kind: kratosauth.ErrCanceled, Cause: context.DeadlineExceeded}, connect.CodeDeadlineExceeded, "deadline exceeded", "", "", 0},
		{fmt.Errorf("wrapped: %w", &kratosauth.Error{Kind: kratosauth.ErrForbidden}), connect.CodePermissionDenied, "forbidden", "FORBIDDEN", "", 0},
		{secret, connect.CodeUnavailable, unavailable, "UNAVAILABLE", "", 0},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			e := kratosconnect.Error(tc.err)
			assert.Equal(t, tc.code, e.Code())
			assert.Equal(t, tc.msg, e.Message())
			info := errorInfo(e)
			if tc.reason == "" {
				assert.Empty(t, e.Details())
				return
			}
			if assert.NotNil(t, info) {
				assert.Equal(t, "kratosauth", info.GetDomain())
				assert.Equal(t, tc.reason, info.GetReason())
				assert.Equal(t, tc.redirect, info.GetMetadata()["redirect_browser_to"])
			}
			assert.Equal(t, tc.retry, retryDelay(e))
		})
	}
}
