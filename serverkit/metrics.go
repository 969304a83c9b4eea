package serverkit

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry is the process's metrics registry: the Go runtime and process
// collectors and the standard gRPC server and client metrics
// (grpc_server_handled_total, grpc_server_handling_seconds,
// grpc_client_handled_total, ... as go-grpc-middleware's Prometheus
// provider names them, so the usual gRPC dashboards read them). A service
// registers its own metrics here itself; serverkit defines none of them,
// so each binary exports only what it records. It is a registry of its own
// (not prometheus.DefaultRegisterer) so that /metrics shows exactly what
// alur defines.
var Registry = prometheus.NewRegistry()

// rpcBuckets are the handling-time buckets in seconds: RPCs range from
// sub-millisecond health checks to training calls of hours.
var rpcBuckets = []float64{0.001, 0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 30, 60, 300, 900, 3600, 7200}

var (
	// serverMetrics counts and times every call a serverkit server
	// answers. Its method label is bounded: gRPC answers unknown methods
	// before any interceptor runs.
	serverMetrics = grpcprom.NewServerMetrics(
		grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(rpcBuckets)))
	// clientMetrics counts and times every call made over a connection
	// from Dial.
	clientMetrics = grpcprom.NewClientMetrics(
		grpcprom.WithClientHandlingTimeHistogram(grpcprom.WithHistogramBuckets(rpcBuckets)))
)

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		serverMetrics, clientMetrics,
	)
}

// MetricsHandler serves Registry in the Prometheus text format.
func MetricsHandler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// RegisterMetrics adds a service's own collectors to Registry. Registering
// the same collectors again (a second server in one process, as in tests
// or alur dev) is not an error.
func RegisterMetrics(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := Registry.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return err
			}
		}
	}
	return nil
}

// metricsShutdownGrace bounds how long the metrics endpoint waits for a
// scrape in flight when the process stops.
const metricsShutdownGrace = 5 * time.Second

// ServeMetrics serves Registry as /metrics on lis until ctx is done, for
// a process that runs several services (alur dev) and exports them all
// from one endpoint.
func ServeMetrics(ctx context.Context, lis net.Listener, logger *slog.Logger) error {
	return serveMetrics(ctx, lis, logger)
}

// serveMetrics serves /metrics on lis until ctx is done, then shuts the
// HTTP server down gracefully.
func serveMetrics(ctx context.Context, lis net.Listener, logger *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", MetricsHandler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), metricsShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
