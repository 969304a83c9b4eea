// Package serverkit is the server plumbing every alur service shares, written
// once: a gRPC server with panic recovery and slog logging, health and
// reflection registered, graceful shutdown, in-process test servers, client
// dialling, and the mapping of errors to precise gRPC statuses.
package serverkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
)

// MaxConnectionAge is how long a client connection lives before the server
// asks the client to reconnect.
const MaxConnectionAge = 5 * time.Minute

// ShutdownGrace bounds how long a graceful stop waits for in-flight calls
// before the server closes their connections.
const ShutdownGrace = 10 * time.Second

// Server is a gRPC server with alur's standard interceptors, health and
// reflection.
type Server struct {
	// GRPC is the underlying server; register services on it before Serve.
	GRPC *grpc.Server
	// Health is the grpc.health.v1 implementation; Serve marks every
	// registered service SERVING, and NOT_SERVING when shutting down.
	Health *health.Server
	logger *slog.Logger
}

// NewGRPCServer returns a server that recovers panics into codes.Internal,
// logs every call with logger, and answers grpc.health.v1 and server
// reflection, so `grpcurl -plaintext HOST:PORT list` works without proto
// files. A nil logger means slog.Default().
func NewGRPCServer(logger *slog.Logger, opts ...grpc.ServerOption) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	opts = append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(unaryRecover(logger), unaryLog(logger)),
		grpc.ChainStreamInterceptor(streamRecover(logger), streamLog(logger)),
		// Ask clients to reconnect every few minutes so that round-robin
		// clients re-resolve DNS and find replicas added since; calls in
		// flight finish on the old connection (the grace is unbounded).
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: MaxConnectionAge}),
	}, opts...)
	g := grpc.NewServer(opts...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(g, hs)
	reflection.Register(g)
	return &Server{GRPC: g, Health: hs, logger: logger}
}

// Serve marks every registered service SERVING and serves on lis until ctx
// is done. It then reports NOT_SERVING (so load balancers drain), stops
// accepting calls and waits up to ShutdownGrace for in-flight calls.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	for name := range s.GRPC.GetServiceInfo() {
		s.Health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	s.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	errc := make(chan error, 1)
	go func() { errc <- s.GRPC.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Health.Shutdown()
	stopped := make(chan struct{})
	go func() { s.GRPC.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(ShutdownGrace):
		s.logger.Warn("graceful stop timed out; closing connections", "grace", ShutdownGrace)
		s.GRPC.Stop()
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// Listen listens on a TCP address such as "localhost:7001".
func Listen(addr string) (net.Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return lis, nil
}

// NewLogger returns the text logger the alur binaries write to stderr; the
// ALUR_LOG_LEVEL environment variable (debug, info, warn, error) sets its
// level.
func NewLogger(name string) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("ALUR_LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("service", name)
}

// Main runs one service as a process: it builds the server, lets register
// add the service, listens on addr and serves until SIGINT or SIGTERM, then
// shuts down gracefully. It exits the process with status 1 on failure.
// Callers parse their flags first.
func Main(name, addr string, register func(s *grpc.Server) error) {
	logger := NewLogger(name)
	if err := run(logger, addr, register); err != nil {
		logger.Error("exiting", "err", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger, addr string, register func(s *grpc.Server) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := NewGRPCServer(logger)
	if err := register(srv.GRPC); err != nil {
		return err
	}
	lis, err := Listen(addr)
	if err != nil {
		return err
	}
	logger.Info("serving", "addr", lis.Addr().String())
	if err := srv.Serve(ctx, lis); err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}
