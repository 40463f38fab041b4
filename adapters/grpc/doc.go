// Package kratosgrpc protects gRPC services with Ory Kratos sessions: unary
// and stream server interceptors built from a kratosauth.Guard, the same
// policy (and cache, and fleet-wide logout) as the app's HTTP routes.
//
// It lives in its own Go module so that users of net/http never download
// gRPC.
//
//	auth, err := kratosauth.New("http://127.0.0.1:4433")
//	...
//	guard, err := kratosgrpc.New(auth.RequireSession())
//	...
//	srv := grpc.NewServer(
//		grpc.UnaryInterceptor(guard.Unary),
//		grpc.StreamInterceptor(guard.Stream))
//
// Every method of the server is guarded; WithPublicMethods names the ones
// that are not (gRPC's health check for load balancers, say).
//
// # Credentials
//
// A call's credential is read from its metadata exactly as Kratos reads it
// from the equivalent HTTP headers: "x-session-token" (a native or mobile
// client's session token, alone when present), otherwise every session
// cookie pair of "cookie" (grpc-web and browser-facing gateways) and
// "authorization: Bearer <session token>". The metadata is turned into
// those headers and read by the core, so the rule exists once.
//
// # Status codes
//
// Refused calls end with a fixed message (never the cause) and these codes:
//
//	no credentials, invalid or expired session  Unauthenticated
//	second factor required (RequireAAL, or      PermissionDenied, ErrorInfo reason
//	  Kratos' own aal2 requirement)               SESSION_AAL2_REQUIRED with the
//	                                              step-up URL (redirect_browser_to)
//	refused by a predicate or the permission    PermissionDenied, ErrorInfo reason
//	  service                                     FORBIDDEN
//	Kratos or the permission service            Unavailable, ErrorInfo reason
//	  unavailable                                 UNAVAILABLE, RetryInfo when
//	                                              Kratos sent Retry-After
//	the caller canceled, or its deadline passed Canceled, DeadlineExceeded
//
// Never Unknown, never Internal: an outage is not a bug, and clients retry
// Unavailable. Every ErrorInfo has domain "kratosauth".
//
// # Streams
//
// A stream is admitted by the Guard when it opens, then checked again on
// its first message sent or received after each WithStreamRecheck interval
// (one minute by default): once its session is revoked (or logged out on
// any replica sharing the session store), the next message after the
// interval fails with the status above and the stream ends. The check goes
// through the session cache, so Kratos sees at most one whoami per cache
// TTL for it. The handler's context keeps the session the stream was
// admitted with.
//
// # Permissions
//
// RequirePermission's object comes from the call: Message names it from
// the unary request message, Metadata from a metadata key,
// kratosauth.Object is fixed. A stream has no request message when it is
// admitted: Message refuses it (PermissionDenied), so stream methods use
// Metadata or a fixed object.
//
// # Downstream calls
//
// UnaryClientInterceptor and StreamClientInterceptor send the session's
// tokenized JWT (kratosauth.WithTokenizeAs) to the services a ClientConn
// reaches, whose kratosgrpcjwt interceptors verify it without Kratos.
// WithSessionToken is for clients holding a Kratos session token.
package kratosgrpc
