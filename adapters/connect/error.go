package kratosconnect

import (
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/kratosauth/kratosauth/internal/rpcstatus"
)

// ErrorDomain is the domain of the ErrorInfo details of refused calls.
const ErrorDomain = rpcstatus.Domain

// The reasons of the ErrorInfo details of refused calls (as kratosgrpc's).
const (
	ReasonNoCredentials       = rpcstatus.ReasonNoCredentials
	ReasonSessionInvalid      = rpcstatus.ReasonSessionInvalid
	ReasonSessionAAL2Required = rpcstatus.ReasonSessionAAL2Required
	ReasonForbidden           = rpcstatus.ReasonForbidden
	ReasonUnavailable         = rpcstatus.ReasonUnavailable
)

// RedirectBrowserToKey is the ErrorInfo metadata key of the step-up URL of
// a SESSION_AAL2_REQUIRED refusal, named after Kratos' redirect_browser_to.
// The URL has no return_to: the client adds the page it wants back.
const RedirectBrowserToKey = rpcstatus.RedirectBrowserToKey

// Error returns the Connect error of an error of kratosauth (a Guard's or
// Authenticate's): the table of the package documentation. Messages are
// fixed texts; the cause is never sent. An error that is no
// *kratosauth.Error is unavailable, never unknown.
func Error(err error) *connect.Error {
	r := rpcstatus.Of(err)
	out := connect.NewError(connect.Code(r.Code), errors.New(r.Message))
	if r.Reason == "" {
		return out
	}
	info := &errdetails.ErrorInfo{Domain: ErrorDomain, Reason: r.Reason}
	if r.RedirectTo != "" {
		info.Metadata = map[string]string{RedirectBrowserToKey: r.RedirectTo}
	}
	if d, err := connect.NewErrorDetail(info); err == nil {
		out.AddDetail(d)
	}
	if r.RetryAfter > 0 {
		if d, err := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(r.RetryAfter)}); err == nil {
			out.AddDetail(d)
		}
	}
	return out
}
