package kratosconnect

import (
	"context"
	"errors"
	"net/url"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/kratosauth/kratosauth"
)

// ErrorDomain is the domain of the ErrorInfo details of refused calls.
const ErrorDomain = "kratosauth"

// The reasons of the ErrorInfo details of refused calls (as kratosgrpc's).
const (
	ReasonNoCredentials       = "NO_CREDENTIALS"
	ReasonSessionInvalid      = "SESSION_INVALID"
	ReasonSessionAAL2Required = "SESSION_AAL2_REQUIRED"
	ReasonForbidden           = "FORBIDDEN"
	ReasonUnavailable         = "UNAVAILABLE"
)

// RedirectBrowserToKey is the ErrorInfo metadata key of the step-up URL of
// a SESSION_AAL2_REQUIRED refusal, named after Kratos' redirect_browser_to.
// The URL has no return_to: the client adds the page it wants back.
const RedirectBrowserToKey = "redirect_browser_to"

// Error returns the Connect error of an error of kratosauth (a Guard's or
// Authenticate's): the table of the package documentation. Messages are
// fixed texts; the cause is never sent. An error that is no
// *kratosauth.Error is unavailable, never unknown.
func Error(err error) *connect.Error {
	var e *kratosauth.Error
	if !errors.As(err, &e) {
		e = &kratosauth.Error{Kind: kratosauth.ErrUnavailable}
	}
	var (
		code connect.Code
		msg  string
		info = &errdetails.ErrorInfo{Domain: ErrorDomain}
	)
	switch e.Kind {
	case kratosauth.ErrNoCredentials:
		code, msg, info.Reason = connect.CodeUnauthenticated, "no session credentials", ReasonNoCredentials
	case kratosauth.ErrInvalidSession:
		code, msg, info.Reason = connect.CodeUnauthenticated, "invalid or expired session", ReasonSessionInvalid
	case kratosauth.ErrAAL2Required:
		code, msg, info.Reason = connect.CodePermissionDenied, "second authentication factor required", ReasonSessionAAL2Required
		if u := withoutReturnTo(e.RedirectTo); u != "" {
			info.Metadata = map[string]string{RedirectBrowserToKey: u}
		}
	case kratosauth.ErrForbidden:
		code, msg, info.Reason = connect.CodePermissionDenied, "forbidden", ReasonForbidden
	case kratosauth.ErrCanceled:
		if errors.Is(e.Cause, context.DeadlineExceeded) {
			return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
		}
		return connect.NewError(connect.CodeCanceled, errors.New("canceled"))
	default:
		code, msg, info.Reason = connect.CodeUnavailable, "session or permission check unavailable, try again later", ReasonUnavailable
	}
	out := connect.NewError(code, errors.New(msg))
	if d, err := connect.NewErrorDetail(info); err == nil {
		out.AddDetail(d)
	}
	if code == connect.CodeUnavailable && e.RetryAfter > 0 {
		if d, err := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter)}); err == nil {
			out.AddDetail(d)
		}
	}
	return out
}

// withoutReturnTo is the step-up URL without its return_to, which points
// at the procedure on the app URL, no page to come back to.
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
