// Command grpc is a gRPC server protected by Ory Kratos sessions with
// kratosauth's gRPC interceptors, and the client that calls it with a
// session token.
//
//	grpc serve   serves gRPC's standard health service (so no generated
//	             code is needed) on ADDR: every call needs a Kratos session,
//	             and Check answers the caller's identity ID and e-mail in
//	             its "x-identity-id" and "x-email" response headers; Watch
//	             streams until the session ends (checked again every
//	             STREAM_RECHECK). HTTP GET /healthz on HEALTH_ADDR says it
//	             runs.
//	grpc call -token TOKEN [-addr ADDR] [-watch]
//	             calls Check (or Watch) with the session token as
//	             "x-session-token" metadata and prints the identity, or the
//	             status code and its ErrorInfo reason.
//
// Configuration (environment): KRATOS_PUBLIC_URL (http://127.0.0.1:4433),
// ADDR (127.0.0.1:4457), HEALTH_ADDR (127.0.0.1:4458), SESSION_CACHE_TTL
// (1m), STREAM_RECHECK (10s).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kratosauth/kratosauth"
	kratosgrpc "github.com/kratosauth/kratosauth/adapters/grpc"
)

type config struct {
	KratosPublicURL string
	Addr            string
	HealthAddr      string
	SessionCacheTTL time.Duration
	StreamRecheck   time.Duration
}

func loadConfig(getenv func(string) string) (config, error) {
	get := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	cfg := config{
		KratosPublicURL: get("KRATOS_PUBLIC_URL", "http://127.0.0.1:4433"),
		Addr:            get("ADDR", "127.0.0.1:4457"),
		HealthAddr:      get("HEALTH_ADDR", "127.0.0.1:4458"),
	}
	for _, d := range []struct {
		key, def string
		to       *time.Duration
	}{{"SESSION_CACHE_TTL", "1m", &cfg.SessionCacheTTL}, {"STREAM_RECHECK", "10s", &cfg.StreamRecheck}} {
		v, err := time.ParseDuration(get(d.key, d.def))
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", d.key, err)
		}
		*d.to = v
	}
	return cfg, nil
}

// newServer returns the guarded gRPC server and a function releasing its
// resources.
func newServer(cfg config, logger *slog.Logger) (*grpc.Server, func(), error) {
	auth, err := kratosauth.New(cfg.KratosPublicURL,
		kratosauth.WithCacheTTL(cfg.SessionCacheTTL),
		kratosauth.WithLogger(logger))
	if err != nil {
		return nil, nil, err
	}
	guard, err := kratosgrpc.New(auth.RequireSession(), kratosgrpc.WithStreamRecheck(cfg.StreamRecheck))
	if err != nil {
		auth.Close()
		return nil, nil, err
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(guard.Unary), grpc.StreamInterceptor(guard.Stream))
	healthpb.RegisterHealthServer(srv, service{})
	return srv, func() { auth.Close() }, nil
}

// service is the health service, answering who called.
type service struct {
	healthpb.UnimplementedHealthServer
}

func identityHeader(ctx context.Context) metadata.MD {
	s, _ := kratosgrpc.Session(ctx) // always there behind the guard
	t, _ := kratosauth.Traits[struct {
		Email string `json:"email"`
	}](s)
	return metadata.Pairs("x-identity-id", s.Identity.ID, "x-email", t.Email)
}

func (service) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if err := grpc.SetHeader(ctx, identityHeader(ctx)); err != nil {
		return nil, err
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (service) Watch(_ *healthpb.HealthCheckRequest, s healthpb.Health_WatchServer) error {
	if err := s.SendHeader(identityHeader(s.Context())); err != nil {
		return err
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := s.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
			return err // the session ended: the guard's status
		}
		select {
		case <-tick.C:
		case <-s.Context().Done():
			return s.Context().Err()
		}
	}
}

func serve(logger *slog.Logger) error {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	srv, cleanup, err := newServer(cfg, logger)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	defer cleanup()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	hln, err := net.Listen("tcp", cfg.HealthAddr)
	if err != nil {
		return err
	}
	health := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") }),
		ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- health.Serve(hln) }()
	logger.Info("listening", "grpc", ln.Addr().String(), "healthz", "http://"+hln.Addr().String()+"/healthz", "kratos", cfg.KratosPublicURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	_ = health.Close()
	srv.GracefulStop()
	return nil
}

// call calls the server at addr with token and writes what it answered.
func call(ctx context.Context, w io.Writer, addr, token string, watch bool) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials())) // loopback; use TLS elsewhere
	if err != nil {
		return err
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	ctx = kratosgrpc.WithSessionToken(ctx, token)
	var header metadata.MD
	if !watch {
		_, err = client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header))
	} else {
		var stream healthpb.Health_WatchClient
		if stream, err = client.Watch(ctx, &healthpb.HealthCheckRequest{}); err == nil {
			for err == nil {
				if _, err = stream.Recv(); err == nil && header == nil {
					header, _ = stream.Header()
					fmt.Fprintf(w, "streaming as %s (%s); revoke the session to end it\n", first(header["x-email"]), first(header["x-identity-id"]))
				}
			}
		}
	}
	if err != nil {
		st := status.Convert(err)
		reason := ""
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				reason = " " + info.GetReason()
				if u := info.GetMetadata()[kratosgrpc.RedirectBrowserToKey]; u != "" {
					reason += " " + u
				}
			}
		}
		fmt.Fprintf(w, "%s%s: %s\n", st.Code(), reason, st.Message())
		return nil
	}
	fmt.Fprintf(w, "signed in as %s (%s)\n", first(header["x-email"]), first(header["x-identity-id"]))
	return nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: grpc serve | grpc call -token TOKEN [-addr ADDR] [-watch]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(logger)
	case "call":
		fs := flag.NewFlagSet("call", flag.ExitOnError)
		addr := fs.String("addr", "127.0.0.1:4457", "the server's address")
		token := fs.String("token", "", "a Kratos session token")
		watch := fs.Bool("watch", false, "call Watch (a stream) instead of Check")
		_ = fs.Parse(os.Args[2:])
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		err = call(ctx, os.Stdout, *addr, *token, *watch)
	default:
		err = errors.New("unknown command " + os.Args[1])
	}
	if err != nil {
		logger.Error("exiting", "error", err)
		os.Exit(1)
	}
}
