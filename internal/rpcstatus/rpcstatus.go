// Package rpcstatus is the one description of how an RPC refuses a call
// for an error of kratosauth, which the gRPC and Connect adapters translate
// into their own types: code, fixed message, ErrorInfo reason, step-up URL
// and retry delay. gRPC and Connect number their codes alike.
package rpcstatus

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/kratosauth/kratosauth"
)

// Domain is the domain of the ErrorInfo details of refused calls.
const Domain = "kratosauth"

// The reasons of the ErrorInfo details of refused calls.
const (
	ReasonNoCredentials       = "NO_CREDENTIALS"
	ReasonSessionInvalid      = "SESSION_INVALID"
	ReasonSessionAAL2Required = "SESSION_AAL2_REQUIRED"
	ReasonForbidden           = "FORBIDDEN"
	ReasonUnavailable         = "UNAVAILABLE"
)

// RedirectBrowserToKey is the ErrorInfo metadata key of the step-up URL of
// a SESSION_AAL2_REQUIRED refusal, named after Kratos' redirect_browser_to.
const RedirectBrowserToKey = "redirect_browser_to"

// Codes, as gRPC (and Connect) number them.
const (
	Canceled         uint32 = 1
	DeadlineExceeded uint32 = 4
	PermissionDenied uint32 = 7
	Unavailable      uint32 = 14
	Unauthenticated  uint32 = 16
)

// Refusal is how a call is refused. Reason is "" for a caller's own
// cancellation, which carries no details.
type Refusal struct {
	Code       uint32
	Message    string
	Reason     string
	RedirectTo string        // the step-up URL, without return_to (aal2)
	RetryAfter time.Duration // Kratos' Retry-After (unavailable)
}

// Of returns the refusal for err. An error that is no *kratosauth.Error is
// unavailable, never unknown; messages are fixed texts, the cause is never
// sent.
func Of(err error) Refusal {
	var e *kratosauth.Error
	if !errors.As(err, &e) {
		e = &kratosauth.Error{Kind: kratosauth.ErrUnavailable}
	}
	switch e.Kind {
	case kratosauth.ErrNoCredentials:
		return Refusal{Code: Unauthenticated, Message: "no session credentials", Reason: ReasonNoCredentials}
	case kratosauth.ErrInvalidSession:
		return Refusal{Code: Unauthenticated, Message: "invalid or expired session", Reason: ReasonSessionInvalid}
	case kratosauth.ErrAAL2Required:
		return Refusal{Code: PermissionDenied, Message: "second authentication factor required",
			Reason: ReasonSessionAAL2Required, RedirectTo: withoutReturnTo(e.RedirectTo)}
	case kratosauth.ErrForbidden:
		return Refusal{Code: PermissionDenied, Message: "forbidden", Reason: ReasonForbidden}
	case kratosauth.ErrCanceled:
		if errors.Is(e.Cause, context.DeadlineExceeded) {
			return Refusal{Code: DeadlineExceeded, Message: "deadline exceeded"}
		}
		return Refusal{Code: Canceled, Message: "canceled"}
	}
	return Refusal{Code: Unavailable, Message: "session or permission check unavailable, try again later",
		Reason: ReasonUnavailable, RetryAfter: e.RetryAfter}
}

// withoutReturnTo is the step-up URL without its return_to, which points
// at the RPC's method on the app URL, no page to come back to.
func withoutReturnTo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return ""
	}
	q := u.Query()
	q.Del("return_to")
	u.RawQuery = q.Encode()
	return u.String()
}
