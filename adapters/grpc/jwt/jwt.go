// Package kratosgrpcjwt is the gRPC server interceptor of package
// kratosjwt: the methods of a downstream service that verify the tokens
// Kratos made of its sessions (sent by kratosgrpc's client interceptors),
// without calling Kratos.
//
//	v, err := kratosjwt.New("file:///etc/kratos/jwks.public.json", kratosjwt.WithIssuer(iss))
//	...
//	srv := grpc.NewServer(
//		grpc.UnaryInterceptor(kratosgrpcjwt.Unary(v)),
//		grpc.StreamInterceptor(kratosgrpcjwt.Stream(v)))
//
// Handlers read the claims with kratosjwt.FromContext(ctx). Refusals have
// the codes of kratosgrpc.Status: a missing or bad token Unauthenticated,
// the JWKS unreadable Unavailable.
//
// It is a package of the gRPC adapter's module, apart from package
// kratosgrpc, so that its users who do not verify tokens never build the
// JOSE code.
package kratosgrpcjwt

import (
	"context"
	"net/http"
	"net/url"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	kratosgrpc "github.com/kratosauth/kratosauth/adapters/grpc"
	kratosjwt "github.com/kratosauth/kratosauth/jwtverify"
)

// Unary returns the interceptor that runs the handler only for a call with
// a valid "authorization: Bearer <token>", its claims in the context.
func Unary(v *kratosjwt.Verifier) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := check(v, ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// Stream is Unary for streams, checked when they open.
func Stream(v *kratosjwt.Verifier) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := check(v, ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &stream{ServerStream: ss, ctx: ctx})
	}
}

// check reads the token from the call's authorization metadata with the
// Verifier's own rule for the HTTP header; the Verifier logs a JWKS
// failure, and its ErrorHandler answers into nothing: only the status
// reaches the client.
func check(v *kratosjwt.Verifier, ctx context.Context, method string) (context.Context, error) {
	h := http.Header{}
	if auth := metadata.ValueFromIncomingContext(ctx, "authorization"); len(auth) > 0 {
		h["Authorization"] = auth
	}
	r := (&http.Request{Method: http.MethodPost, URL: &url.URL{Path: method}, Header: h}).WithContext(ctx)
	r, err := v.Check(discard{}, r)
	if err != nil {
		return nil, kratosgrpc.Status(err).Err()
	}
	return r.Context(), nil
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}

type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }
