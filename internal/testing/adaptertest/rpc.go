package adaptertest

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/rpcstatus"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// RPCAuthenticator is the Authenticator the RPC adapters' tests (gRPC,
// Connect) build on Kratos at kratosURL: no cache (each call asks Kratos),
// browser URL http://kratos (so a step-up URL is StepUpURL), and opts.
func RPCAuthenticator(t *testing.T, kratosURL string, opts ...kratosauth.Option) *kratosauth.Authenticator {
	t.Helper()
	a, err := kratosauth.New(kratosURL, append([]kratosauth.Option{
		kratosauth.WithBrowserURL("http://kratos"),
		kratosauth.WithAppURL(AppURL),
		kratosauth.WithCacheTTL(0),
		kratosauth.WithLogger(slog.New(slog.DiscardHandler)),
	}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	return a
}

// StepUpURL is the redirect an RPCAuthenticator's SESSION_AAL2_REQUIRED
// refusal carries.
const StepUpURL = "http://kratos/self-service/login/browser?aal=aal2"

// An RPCCall is a call that every RPC adapter must answer alike, unary and
// streaming: with Code and, when it refuses, an ErrorInfo of Reason in
// rpcstatus.Domain, Redirect as its redirect_browser_to and Retry as its
// RetryInfo.
type RPCCall struct {
	Name          string
	Code          uint32 // the gRPC code, which is Connect's too; 0 (OK): served
	Reason        string
	Redirect      string
	Retry         time.Duration
	NoCredentials bool // the call carries none (Start's credentials are still made)

	login  []kratosauthtest.SessionOption
	route  func(*kratosauth.Authenticator) *kratosauth.Guard // nil: RequireSession
	kratos func(*kratosauthtest.Server, kratosauthtest.Credentials)
}

// RPCCalls is the table of the RPC adapters' refusals (and one call served
// beside them).
func RPCCalls() []RPCCall {
	never := kratosauth.NewPredicate("never", func(*kratosauth.Session) bool { return false })
	aal2 := func(a *kratosauth.Authenticator) *kratosauth.Guard { return a.RequireAAL(kratosauth.AAL2) }
	unavailable := func(name string, f kratosauthtest.Fault, retry time.Duration) RPCCall {
		return RPCCall{Name: name, Code: rpcstatus.Unavailable, Reason: rpcstatus.ReasonUnavailable, Retry: retry,
			kratos: func(k *kratosauthtest.Server, _ kratosauthtest.Credentials) { k.Fail(f) }}
	}
	return []RPCCall{
		{Name: "no credentials", NoCredentials: true, Code: rpcstatus.Unauthenticated, Reason: rpcstatus.ReasonNoCredentials},
		{Name: "revoked", Code: rpcstatus.Unauthenticated, Reason: rpcstatus.ReasonSessionInvalid,
			kratos: func(k *kratosauthtest.Server, c kratosauthtest.Credentials) { k.Revoke(c) }},
		{Name: "aal2 required by the route", route: aal2,
			Code: rpcstatus.PermissionDenied, Reason: rpcstatus.ReasonSessionAAL2Required, Redirect: StepUpURL},
		{Name: "aal2 required by Kratos", login: []kratosauthtest.SessionOption{kratosauthtest.WithSecondFactorPending()},
			Code: rpcstatus.PermissionDenied, Reason: rpcstatus.ReasonSessionAAL2Required, Redirect: StepUpURL},
		{Name: "aal2 session on an aal2 route", login: []kratosauthtest.SessionOption{kratosauthtest.WithAAL2()}, route: aal2},
		{Name: "forbidden by a predicate", route: func(a *kratosauth.Authenticator) *kratosauth.Guard { return a.Require(never) },
			Code: rpcstatus.PermissionDenied, Reason: rpcstatus.ReasonForbidden},
		unavailable("kratos 500", kratosauthtest.Status(500), 0),
		unavailable("kratos 429 with Retry-After", kratosauthtest.RateLimited(7*time.Second), 7*time.Second),
		unavailable("kratos down", kratosauthtest.Unreachable(), 0),
	}
}

// Start starts the fake Kratos of c, signs a user in, and returns the Guard
// of c's route on an RPCAuthenticator and the user's credentials.
func (c RPCCall) Start(t *testing.T) (*kratosauth.Guard, kratosauthtest.Credentials) {
	t.Helper()
	kratos := kratosauthtest.NewServer(t)
	creds := kratos.Login(c.login...)
	if c.kratos != nil {
		c.kratos(kratos, creds)
	}
	a := RPCAuthenticator(t, kratos.URL)
	if c.route != nil {
		return c.route(a), creds
	}
	return a.RequireSession(), creds
}
