package main

// The RPC and echo adapters, installed as a user would:
//
//	go get github.com/kratosauth/kratosauth/adapters/echo@VERSION \
//		github.com/kratosauth/kratosauth/adapters/grpc@VERSION \
//		github.com/kratosauth/kratosauth/adapters/connect@VERSION

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"

	"connectrpc.com/connect"
	"github.com/labstack/echo/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kratosauth/kratosauth"
	kratosconnect "github.com/kratosauth/kratosauth/adapters/connect"
	kratosecho "github.com/kratosauth/kratosauth/adapters/echo"
	kratosgrpc "github.com/kratosauth/kratosauth/adapters/grpc"
)

// checkRPC sends a call with the session and one without through echo,
// gRPC and Connect, each guarded by an Authenticator for the whoami at
// kratosURL.
func checkRPC(kratosURL string) {
	auth, err := kratosauth.New(kratosURL, kratosauth.WithCacheTTL(0))
	if err != nil {
		fail("kratosauth.New: %v", err)
	}
	defer auth.Close()
	e := echo.New()
	e.GET("/me", func(c echo.Context) error {
		id, ok := kratosecho.Identity(c)
		if !ok {
			return c.String(http.StatusInternalServerError, "no identity in the echo context")
		}
		return c.String(http.StatusOK, id.ID)
	}, kratosecho.RequireSession(auth))
	with, without := serve(e, token), serve(e, "")
	if with.Code != http.StatusOK || with.Body.String() != identityID || without.Code != http.StatusUnauthorized {
		fail("echo: %d %q with a session, %d without; want 200 %q, 401", with.Code, with.Body.String(), without.Code, identityID)
	}
	fmt.Println("echo: 200 with a session, 401 without")

	guard, err := kratosgrpc.New(auth.RequireSession())
	if err != nil {
		fail("kratosgrpc.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(guard.Unary), grpc.StreamInterceptor(guard.Stream))
	healthpb.RegisterHealthServer(srv, identityHealth{})
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fail("grpc.NewClient: %v", err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	res, err := client.Check(kratosgrpc.WithSessionToken(context.Background(), token), &healthpb.HealthCheckRequest{})
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		fail("grpc with a session: %v", err)
	}
	if _, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unauthenticated {
		fail("grpc without a session: %v, want Unauthenticated", err)
	}
	fmt.Println("grpc: OK with a session, Unauthenticated without")

	cg, err := kratosconnect.New(auth.RequireSession())
	if err != nil {
		fail("kratosconnect.New: %v", err)
	}
	const procedure = "/consumer.v1.Me/Get"
	h := connect.NewUnaryHandler(procedure, func(ctx context.Context, _ *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
		id, _ := kratosconnect.Identity(ctx)
		return connect.NewResponse(wrapperspb.String(id.ID)), nil
	}, connect.WithInterceptors(cg))
	hs := httptest.NewServer(h)
	defer hs.Close()
	cc := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](hs.Client(), hs.URL+procedure)
	req := connect.NewRequest(wrapperspb.String(""))
	req.Header().Set("X-Session-Token", token)
	if got, err := cc.CallUnary(context.Background(), req); err != nil || got.Msg.GetValue() != identityID {
		fail("connect with a session: %v", err)
	}
	if _, err := cc.CallUnary(context.Background(), connect.NewRequest(wrapperspb.String(""))); connect.CodeOf(err) != connect.CodeUnauthenticated {
		fail("connect without a session: %v, want unauthenticated", err)
	}
	fmt.Println("connect: OK with a session, unauthenticated without")
}

type identityHealth struct {
	healthpb.UnimplementedHealthServer
}

func (identityHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if id, ok := kratosgrpc.Identity(ctx); !ok || id.ID != identityID {
		return nil, status.Error(codes.Internal, "no identity in the context")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}
