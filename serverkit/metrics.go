package serverkit

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Registry holds every alur metric of this process: the Go runtime and
// process collectors, the RPC metrics the server interceptors record, and
// the orchestrator's run, step, cache and artifact metrics below. It is a
// registry of its own (not prometheus.DefaultRegisterer) so that /metrics
// shows exactly what alur defines.
var Registry = prometheus.NewRegistry()

// Buckets in seconds. RPCs range from sub-millisecond health checks to
// training calls of hours; runs from seconds to hours.
var (
	rpcBuckets  = []float64{0.001, 0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 30, 60, 300, 900, 3600, 7200}
	stepBuckets = []float64{0.01, 0.05, 0.25, 1, 2.5, 10, 30, 60, 300, 900, 3600, 7200}
	runBuckets  = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200}
)

var (
	rpcRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alur_rpc_requests_total",
		Help: "gRPC calls served, by service, method and status code.",
	}, []string{"service", "method", "code"})
	rpcDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "alur_rpc_duration_seconds",
		Help:    "Time to serve a gRPC call (a stream: its whole life), by service and method.",
		Buckets: rpcBuckets,
	}, []string{"service", "method"})
)

// Orchestrator metrics. They live here so that every binary exports one
// consistent set from one Registry; only the orchestrator records them.
var (
	// RunDuration observes the wall time of a pipeline run from its start
	// to its end, labelled by the final state (the lowercase name of the
	// orchestrator's run state, such as "succeeded", "failed",
	// "cancelled").
	RunDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "alur_run_duration_seconds",
		Help:    "Wall time of pipeline runs, by final state.",
		Buckets: runBuckets,
	}, []string{"state"})

	// StepDuration observes the wall time of one executed run step, by
	// kind: collect, profile, prepare, train, evaluate, refit, test or
	// learning_curve. Steps answered from the cache are not observed (they
	// count in CacheHits).
	StepDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "alur_step_duration_seconds",
		Help:    "Wall time of executed run steps, by step kind.",
		Buckets: stepBuckets,
	}, []string{"kind"})

	// CacheHits counts steps whose result was reused from the execution
	// cache instead of calling a stage.
	CacheHits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alur_cache_hits_total",
		Help: "Run steps answered from the execution cache.",
	})

	// CacheMisses counts steps that had to call a stage because the cache
	// held no result for their key.
	CacheMisses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alur_cache_misses_total",
		Help: "Run steps that found no cached result and called a stage.",
	})

	// ArtifactBytes counts the bytes of new artifact content written to the
	// store; an artifact already stored under the same digest adds nothing.
	ArtifactBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alur_artifact_bytes_total",
		Help: "Bytes of new artifact content written to the artifact store.",
	})

	// StoreGCChunks and StoreGCBytes count the orphan chunks (and their
	// bytes) the store's garbage collector removed: chunks no artifact
	// references, left by a write a crash cut short.
	StoreGCChunks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alur_store_gc_removed_chunks_total",
		Help: "Orphan chunks removed by the artifact store's garbage collector.",
	})
	StoreGCBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alur_store_gc_removed_bytes_total",
		Help: "Bytes of orphan chunks removed by the artifact store's garbage collector.",
	})
)

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		rpcRequests, rpcDuration,
		RunDuration, StepDuration, CacheHits, CacheMisses, ArtifactBytes,
		StoreGCChunks, StoreGCBytes,
	)
}

// MetricsHandler serves Registry in the Prometheus text format.
func MetricsHandler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// splitMethod turns "/alur.train.v1.TrainService/Train" into its service
// and method names; anything else is ("unknown", "unknown").
func splitMethod(fullMethod string) (service, method string) {
	s := strings.TrimPrefix(fullMethod, "/")
	i := strings.LastIndexByte(s, '/')
	if i <= 0 || i == len(s)-1 {
		return "unknown", "unknown"
	}
	return s[:i], s[i+1:]
}

// observeRPC records one finished call. The method label is bounded: gRPC
// answers unknown methods before any interceptor runs.
func observeRPC(fullMethod string, start time.Time, err error) {
	service, method := splitMethod(fullMethod)
	rpcRequests.WithLabelValues(service, method, status.Code(err).String()).Inc()
	rpcDuration.WithLabelValues(service, method).Observe(time.Since(start).Seconds())
}

func unaryMetrics(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	observeRPC(info.FullMethod, start, err)
	return resp, err
}

func streamMetrics(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	err := handler(srv, ss)
	observeRPC(info.FullMethod, start, err)
	return err
}

// metricsShutdownGrace bounds how long the metrics endpoint waits for a
// scrape in flight when the process stops.
const metricsShutdownGrace = 5 * time.Second

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
