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
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
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
	// held lists services Serve leaves NOT_SERVING; see HoldServing.
	held map[string]bool
}

// HoldServing makes Serve leave service, and the server as a whole (""),
// NOT_SERVING: the caller marks them SERVING through Health once ready,
// such as when a dependency first answers. Call it before Serve.
func (s *Server) HoldServing(service string) {
	if s.held == nil {
		s.held = map[string]bool{}
	}
	s.held[service] = true
	s.held[""] = true
}

// Transport sizes for servers and clients alike. Tables stream as batches
// of about 1 MiB; HTTP/2's default 64 KiB flow-control window, grown only
// by gRPC's bandwidth estimate, and 32 KiB socket buffers make such a
// stream stop and wait many times per batch. Fixed windows of a few
// batches and 1 MiB buffers move a table over loopback at memory speed
// (make bench-ingest measures it) and bound what one stream can buffer.
const (
	// StreamWindowBytes is each stream's flow-control window.
	StreamWindowBytes = 4 << 20
	// ConnWindowBytes is each connection's flow-control window.
	ConnWindowBytes = 16 << 20
	// TransportBufferBytes is the size of each connection's read and
	// write buffers.
	TransportBufferBytes = 1 << 20
)

// NewGRPCServer returns a server that recovers panics into codes.Internal,
// logs every call with logger, counts and times every call in Registry,
// and answers grpc.health.v1 and server
// reflection, so `grpcurl -plaintext HOST:PORT list` works without proto
// files. A nil logger means slog.Default().
func NewGRPCServer(logger *slog.Logger, opts ...grpc.ServerOption) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	codec := newMalformedCodec()
	opts = append([]grpc.ServerOption{
		// A malformed message answers InvalidArgument, not grpc-go's
		// Internal (see malformedCodec).
		grpc.ForceServerCodecV2(codec),
		// Metrics outermost and recovery innermost, so that a panicking
		// call is counted and logged as the Internal it answers.
		// Interceptors from opts (the token check of ServerOptions) run
		// after these: rejected calls are counted and logged too.
		grpc.ChainUnaryInterceptor(serverMetrics.UnaryServerInterceptor(), unaryLog(logger), unaryRecover(logger), codec.unary),
		grpc.ChainStreamInterceptor(serverMetrics.StreamServerInterceptor(), streamLog(logger), streamRecover(logger), codec.stream),
		// Ask clients to reconnect every few minutes so that round-robin
		// clients re-resolve DNS and find replicas added since; calls in
		// flight finish on the old connection (the grace is unbounded).
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: MaxConnectionAge}),
		grpc.InitialWindowSize(StreamWindowBytes),
		grpc.InitialConnWindowSize(ConnWindowBytes),
		grpc.WriteBufferSize(TransportBufferBytes),
		grpc.ReadBufferSize(TransportBufferBytes),
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
	for _, name := range append(slices.Collect(maps.Keys(s.GRPC.GetServiceInfo())), "") {
		st := healthpb.HealthCheckResponse_SERVING
		if s.held[name] {
			st = healthpb.HealthCheckResponse_NOT_SERVING
		}
		s.Health.SetServingStatus(name, st)
	}
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

// WriteReadyFile writes addr and a newline to path atomically (a temporary
// file in the same directory, then a rename), so a reader never sees a
// partial address.
func WriteReadyFile(path, addr string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".ready-*")
	if err != nil {
		return fmt.Errorf("ready file: %w", err)
	}
	_, werr := f.WriteString(addr + "\n")
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("ready file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("ready file: %w", err)
	}
	return nil
}

// ReadReadyFile returns the address a server wrote with WriteReadyFile, or
// an error matching fs.ErrNotExist while it has not written it yet.
func ReadReadyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	addr := strings.TrimSpace(string(b))
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("ready file %s: %q is not host:port", path, addr)
	}
	return addr, nil
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
// Callers parse their flags first. It is MainWith with zero Options:
// plaintext, no token, no metrics endpoint, no tracing.
func Main(name, addr string, register func(s *grpc.Server) error) {
	MainWith(name, addr, &Options{}, register)
}

// MainWith is Main with operational Options (see BindFlags): TLS or mTLS
// and the bearer-token check on the server, a Prometheus /metrics endpoint
// on o.MetricsAddr, and OpenTelemetry tracing to o.OTLPEndpoint. It shuts
// the metrics endpoint down gracefully and flushes traces before exiting.
// A nil o means zero Options.
func MainWith(name, addr string, o *Options, register func(s *grpc.Server) error) {
	MainWithServer(name, addr, o, func(s *Server) error { return register(s.GRPC) })
}

// MainWithServer is MainWith for a service that needs the whole Server,
// such as one that reports its own readiness (HoldServing).
func MainWithServer(name, addr string, o *Options, register func(s *Server) error) {
	logger := NewLogger(name)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runServer(ctx, logger, name, addr, o, register)
	stop()
	if err != nil {
		logger.Error("exiting", "err", err)
		os.Exit(1)
	}
}

// run builds, starts and serves one service until ctx is done.
func run(ctx context.Context, logger *slog.Logger, name, addr string, o *Options, register func(s *grpc.Server) error) error {
	return runServer(ctx, logger, name, addr, o, func(s *Server) error { return register(s.GRPC) })
}

// runServer is run with a register function that sees the whole Server.
func runServer(ctx context.Context, logger *slog.Logger, name, addr string, o *Options, register func(s *Server) error) error {
	if o == nil {
		o = &Options{}
	}
	o.setServiceName(name)
	sopts, err := o.ServerOptions()
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
		defer cancel()
		if err := o.Shutdown(sctx); err != nil {
			logger.Warn("tracing", "err", err)
		}
	}()
	if o.OTLPEndpoint != "" {
		installGlobalTracing(o, logger)
	}
	srv := NewGRPCServer(logger, sopts...)
	if err := register(srv); err != nil {
		return err
	}
	lis, err := Listen(addr)
	if err != nil {
		return err
	}
	var mlis net.Listener
	if o.MetricsAddr != "" {
		if mlis, err = Listen(o.MetricsAddr); err != nil {
			lis.Close()
			return fmt.Errorf("metrics endpoint: %w", err)
		}
	}
	if o.MetricsReadyFile != "" && mlis != nil {
		if err := WriteReadyFile(o.MetricsReadyFile, mlis.Addr().String()); err != nil {
			lis.Close()
			mlis.Close()
			return err
		}
		defer os.Remove(o.MetricsReadyFile)
	}
	if o.ReadyFile != "" {
		if err := WriteReadyFile(o.ReadyFile, lis.Addr().String()); err != nil {
			lis.Close()
			if mlis != nil {
				mlis.Close()
			}
			return err
		}
		defer os.Remove(o.ReadyFile)
	}
	return serve(ctx, logger, o, srv, lis, mlis)
}

// serve serves srv on lis, and the metrics endpoint on mlis when it is not
// nil, until ctx is done; then it stops both gracefully.
func serve(ctx context.Context, logger *slog.Logger, o *Options, srv *Server, lis, mlis net.Listener) error {
	attrs := []any{
		"addr", lis.Addr().String(),
		"tls", o.serverTLS(),
		"mtls", o.serverTLS() && o.TLSClientCA != "",
		"auth", o.AuthToken != "",
	}
	if mlis != nil {
		attrs = append(attrs, "metrics", "http://"+mlis.Addr().String()+"/metrics")
	}
	if o.OTLPEndpoint != "" {
		attrs = append(attrs, "otlp_endpoint", o.OTLPEndpoint)
	}
	logger.Info("serving", attrs...)
	if o.AuthToken != "" && !o.serverTLS() {
		logger.Warn("the bearer token is checked over plaintext: turn TLS on (--tls-cert, --tls-key) unless the network encrypts")
	}
	mctx, mcancel := context.WithCancel(ctx)
	defer mcancel()
	mdone := make(chan struct{})
	if mlis != nil {
		go func() {
			defer close(mdone)
			if err := serveMetrics(mctx, mlis, logger); err != nil {
				logger.Error("metrics endpoint stopped", "err", err)
			}
		}()
	} else {
		close(mdone)
	}
	err := srv.Serve(ctx, lis)
	mcancel()
	<-mdone
	if err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}
