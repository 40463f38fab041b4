package kratosgrpc

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/kratosauth/kratosauth/internal/rpcstatus"
)

// ErrorDomain is the domain of the ErrorInfo details of refused calls.
const ErrorDomain = rpcstatus.Domain

// The reasons of the ErrorInfo details of refused calls.
const (
	ReasonNoCredentials       = rpcstatus.ReasonNoCredentials
	ReasonSessionInvalid      = rpcstatus.ReasonSessionInvalid
	ReasonSessionAAL2Required = rpcstatus.ReasonSessionAAL2Required
	ReasonForbidden           = rpcstatus.ReasonForbidden
	ReasonUnavailable         = rpcstatus.ReasonUnavailable
)

// RedirectBrowserToKey is the ErrorInfo metadata key of the step-up URL
// of a SESSION_AAL2_REQUIRED refusal, named after Kratos' own
// redirect_browser_to. The URL has no return_to: the client knows which
// page of its own to come back to and adds it.
const RedirectBrowserToKey = rpcstatus.RedirectBrowserToKey

// Status returns the gRPC status of an error of kratosauth (a Guard's,
// Authenticate's or a kratosjwt Verifier's): the table of the package
// documentation. Messages are fixed texts; the cause is never sent. An
// error that is no *kratosauth.Error is Unavailable, never Unknown.
func Status(err error) *status.Status {
	r := rpcstatus.Of(err)
	st := status.New(codes.Code(r.Code), r.Message)
	if r.Reason == "" {
		return st
	}
	info := &errdetails.ErrorInfo{Domain: ErrorDomain, Reason: r.Reason}
	if r.RedirectTo != "" {
		info.Metadata = map[string]string{RedirectBrowserToKey: r.RedirectTo}
	}
	details := []protoadapt.MessageV1{info}
	if r.RetryAfter > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(r.RetryAfter)})
	}
	if withDetails, err := st.WithDetails(details...); err == nil {
		return withDetails
	}
	return st // cannot happen with these messages; the code is what counts
}
