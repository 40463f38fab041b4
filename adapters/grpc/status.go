package kratosgrpc

import (
	"context"
	"errors"
	"net/url"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/kratosauth/kratosauth"
)

// ErrorDomain is the domain of the ErrorInfo details of refused calls.
const ErrorDomain = "kratosauth"

// The reasons of the ErrorInfo details of refused calls.
const (
	ReasonNoCredentials       = "NO_CREDENTIALS"
	ReasonSessionInvalid      = "SESSION_INVALID"
	ReasonSessionAAL2Required = "SESSION_AAL2_REQUIRED"
	ReasonForbidden           = "FORBIDDEN"
	ReasonUnavailable         = "UNAVAILABLE"
)

// RedirectBrowserToKey is the ErrorInfo metadata key of the step-up URL
// of a SESSION_AAL2_REQUIRED refusal, named after Kratos' own
// redirect_browser_to. The URL has no return_to: the client knows which
// page of its own to come back to and adds it.
const RedirectBrowserToKey = "redirect_browser_to"

// Status returns the gRPC status of an error of kratosauth (a Guard's,
// Authenticate's or a kratosjwt Verifier's): the table of the package
// documentation. Messages are fixed texts; the cause is never sent. An
// error that is no *kratosauth.Error is Unavailable, never Unknown.
func Status(err error) *status.Status {
	var e *kratosauth.Error
	if !errors.As(err, &e) {
		e = &kratosauth.Error{Kind: kratosauth.ErrUnavailable}
	}
	var (
		code   codes.Code
		msg    string
		info   = &errdetails.ErrorInfo{Domain: ErrorDomain}
		detail []protoadapt.MessageV1
	)
	switch e.Kind {
	case kratosauth.ErrNoCredentials:
		code, msg, info.Reason = codes.Unauthenticated, "no session credentials", ReasonNoCredentials
	case kratosauth.ErrInvalidSession:
		code, msg, info.Reason = codes.Unauthenticated, "invalid or expired session", ReasonSessionInvalid
	case kratosauth.ErrAAL2Required:
		code, msg, info.Reason = codes.PermissionDenied, "second authentication factor required", ReasonSessionAAL2Required
		if u := withoutReturnTo(e.RedirectTo); u != "" {
			info.Metadata = map[string]string{RedirectBrowserToKey: u}
		}
	case kratosauth.ErrForbidden:
		code, msg, info.Reason = codes.PermissionDenied, "forbidden", ReasonForbidden
	case kratosauth.ErrCanceled:
		code, msg = codes.Canceled, "canceled"
		if errors.Is(e.Cause, context.DeadlineExceeded) {
			code, msg = codes.DeadlineExceeded, "deadline exceeded"
		}
		return status.New(code, msg)
	default:
		code, msg, info.Reason = codes.Unavailable, "session or permission check unavailable, try again later", ReasonUnavailable
		if e.RetryAfter > 0 {
			detail = append(detail, &errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter)})
		}
	}
	st, err := status.New(code, msg).WithDetails(append([]protoadapt.MessageV1{info}, detail...)...)
	if err != nil { // cannot happen with these messages; the code is what counts
		return status.New(code, msg)
	}
	return st
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
