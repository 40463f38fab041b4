package kratosgrpc_test

import (
	"context"
	"fmt"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/kratosauth/kratosauth"
	kratosgrpc "github.com/kratosauth/kratosauth/adapters/grpc"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// whoAmI is a service whose handlers read the caller's session.
type whoAmI struct {
	healthpb.UnimplementedHealthServer
}

func (whoAmI) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	id, _ := kratosgrpc.Identity(ctx) // always there behind the guard
	fmt.Println("signed in:", id.ID != "")
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// A gRPC server whose every method needs a session, and a client calling
// it with a Kratos session token, then without.
func Example() {
	t := &testing.T{} // in a test: the test's t
	kratos := kratosauthtest.NewServer(t)
	defer kratos.Close()

	auth, _ := kratosauth.New(kratos.URL) // e.g. http://127.0.0.1:4433
	defer auth.Close()
	guard, _ := kratosgrpc.New(auth.RequireSession())
	srv := grpc.NewServer(grpc.UnaryInterceptor(guard.Unary), grpc.StreamInterceptor(guard.Stream))
	healthpb.RegisterHealthServer(srv, whoAmI{})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()

	conn, _ := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	ada := kratos.Login()
	_, err := client.Check(kratosgrpc.WithSessionToken(context.Background(), ada.Token), &healthpb.HealthCheckRequest{})
	fmt.Println(status.Code(err))
	_, err = client.Check(context.Background(), &healthpb.HealthCheckRequest{})
	fmt.Println(status.Code(err))
	// Output:
	// signed in: true
	// OK
	// Unauthenticated
}
