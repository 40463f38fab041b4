package kratosgrpc

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/kratosauth/kratosauth"
)

// WithSessionToken returns ctx with token as the outgoing "x-session-token"
// metadata: how a native client holding a Kratos session token calls a
// service guarded by this package. Use it over TLS outside loopback: the
// token is the user's session.
func WithSessionToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-session-token", token)
}

// UnaryClientInterceptor returns the interceptor of a ClientConn to a
// downstream service: a call whose context has a session with a token
// (Session.Tokenized, kratosauth.WithTokenizeAs) gets "authorization:
// Bearer <token>", which the service's kratosgrpcjwt interceptor verifies
// without calling Kratos. A call with an authorization already is sent as
// it is, and so is one without a session or token. Only the session's JWT
// is sent, never the user's own Kratos credential. Install it only on
// connections to your own services: it sends the token to whatever the
// ClientConn reaches.
func UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(withToken(ctx), method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor is UnaryClientInterceptor for streams.
func StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(withToken(ctx), desc, cc, method, opts...)
	}
}

func withToken(ctx context.Context) context.Context {
	s, ok := kratosauth.SessionFromContext(ctx)
	if !ok || s.Tokenized == "" {
		return ctx
	}
	if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md["authorization"]) > 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.Tokenized)
}
