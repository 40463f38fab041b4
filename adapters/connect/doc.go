// Package kratosconnect protects Connect services (connectrpc.com/connect)
// with Ory Kratos sessions: a connect.Interceptor built from a
// kratosauth.Guard, the same policy (and cache, and fleet-wide logout) as
// the app's HTTP routes, for unary and streaming handlers, whatever the
// protocol (the tests call it with Connect and gRPC-Web over HTTP/1.1).
//
// It lives in its own Go module so that users of net/http never download
// Connect.
//
//	auth, err := kratosauth.New("http://127.0.0.1:4433")
//	...
//	guard, err := kratosconnect.New(auth.RequireSession())
//	...
//	path, handler := greetv1connect.NewGreetServiceHandler(greeter, connect.WithInterceptors(guard))
//
// # Credentials
//
// The request's X-Session-Token, Cookie and Authorization headers are read
// by the core exactly as from any HTTP request, as Kratos reads them: a
// browser calling Connect over HTTP/1.1 with its session cookie (fetch with
// credentials: "include") works as a native client sending its session
// token does. A session cookie Kratos re-issued is set on the response.
//
// # Error codes
//
// Refused calls get a fixed message (never the cause) and these codes:
//
//	no credentials, invalid or expired session  unauthenticated
//	second factor required                      permission_denied, ErrorInfo reason
//	                                              SESSION_AAL2_REQUIRED with the
//	                                              step-up URL (redirect_browser_to)
//	refused by a predicate or the permission    permission_denied, ErrorInfo reason
//	  service                                     FORBIDDEN
//	Kratos or the permission service            unavailable, ErrorInfo reason
//	  unavailable                                 UNAVAILABLE, RetryInfo when
//	                                              Kratos sent Retry-After
//	the caller canceled, or its deadline passed canceled, deadline_exceeded
//
// Never unknown, never internal. Every ErrorInfo has domain "kratosauth";
// the reasons and codes are those of package kratosgrpc.
//
// # Streams
//
// A stream is admitted when it opens, then checked again on its first
// message sent or received after each WithStreamRecheck interval (one
// minute by default); once refused, the stream's Send and Receive fail
// with the refusal's error.
//
// # Permissions
//
// RequirePermission's object comes from the call: Message names it from
// the unary request message; kratosauth.Object is fixed; any
// kratosauth.ObjectFunc may read the request's headers (r.Header). A
// stream has no request message when it is admitted: Message refuses it.
package kratosconnect
