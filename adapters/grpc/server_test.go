package kratosgrpc_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	kratosgrpc "github.com/kratosauth/kratosauth/adapters/grpc"
)

// health is the service the tests guard: Check (unary) and Watch (a
// server stream sending every tick until it fails) answer with the
// identity of the session in their context as the "x-identity" header.
type health struct {
	healthpb.UnimplementedHealthServer
	tick    time.Duration
	watched chan error // Watch's end, when not nil
	quiet   bool       // Check answers SERVING and nothing else (benchmarks)
}

func (h *health) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if h.quiet {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	}
	id, ok := kratosgrpc.Identity(ctx)
	if !ok {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVICE_UNKNOWN}, nil
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-identity", id.ID))
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (h *health) Watch(_ *healthpb.HealthCheckRequest, s healthpb.Health_WatchServer) error {
	err := func() error {
		id, ok := kratosgrpc.Identity(s.Context())
		if !ok {
			return s.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVICE_UNKNOWN})
		}
		if err := s.SendHeader(metadata.Pairs("x-identity", id.ID)); err != nil {
			return err
		}
		for {
			if err := s.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
				return err
			}
			select {
			case <-time.After(h.tick):
			case <-s.Context().Done():
				return s.Context().Err()
			}
		}
	}()
	if h.watched != nil {
		h.watched <- err
	}
	return err
}

// serve starts a gRPC server on a loopback port with opts and the health
// service, and returns a client connected to it.
func serve(t testing.TB, h *health, opts ...grpc.ServerOption) healthpb.HealthClient {
	t.Helper()
	if h == nil {
		h = &health{tick: 10 * time.Millisecond}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, h)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func guarded(t testing.TB, g *kratosgrpc.Guard, h *health) healthpb.HealthClient {
	return serve(t, h, grpc.UnaryInterceptor(g.Unary), grpc.StreamInterceptor(g.Stream))
}
