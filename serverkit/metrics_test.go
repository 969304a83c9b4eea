package serverkit

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
)

func TestSplitMethod(t *testing.T) {
	tests := []struct{ in, service, method string }{
		{"/alur.train.v1.TrainService/Train", "alur.train.v1.TrainService", "Train"},
		{"/grpc.health.v1.Health/Check", "grpc.health.v1.Health", "Check"},
		{"alur.eval.v1.EvalService/Evaluate", "alur.eval.v1.EvalService", "Evaluate"},
		{"/NoMethod", "unknown", "unknown"},
		{"/Service/", "unknown", "unknown"},
		{"", "unknown", "unknown"},
	}
	for _, tc := range tests {
		s, m := splitMethod(tc.in)
		if s != tc.service || m != tc.method {
			t.Errorf("splitMethod(%q) = %q, %q; want %q, %q", tc.in, s, m, tc.service, tc.method)
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(body)
}

// TestMetricsEndpoint serves a real server with its metrics endpoint, calls
// it, scrapes /metrics, and checks that stopping closes the endpoint.
func TestMetricsEndpoint(t *testing.T) {
	lis, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mlis, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	srv := NewGRPCServer(logger)
	registerEcho(srv.GRPC)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, logger, &Options{MetricsAddr: mlis.Addr().String()}, srv, lis, mlis) }()

	conn, err := Dial(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	if _, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	_, _ = trainv1.NewTrainServiceClient(conn).ListAlgorithms(metadataPanic(cctx), &trainv1.ListAlgorithmsRequest{})

	body := get(t, "http://"+mlis.Addr().String()+"/metrics")
	for _, want := range []string{
		`alur_rpc_requests_total{code="OK",method="Check",service="grpc.health.v1.Health"}`,
		`alur_rpc_requests_total{code="Internal",method="ListAlgorithms",service="alur.train.v1.TrainService"}`,
		`alur_rpc_duration_seconds_bucket{method="Check",service="grpc.health.v1.Health",le="0.001"}`,
		"# TYPE alur_cache_hits_total counter",
		"# TYPE alur_cache_misses_total counter",
		"# TYPE alur_artifact_bytes_total counter",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if resp, err := http.Get("http://" + mlis.Addr().String() + "/metrics"); err == nil {
		resp.Body.Close()
		t.Fatal("the metrics endpoint still answers after shutdown")
	}
}

// TestOrchestratorMetrics records the exported orchestrator metrics and
// reads them back through the handler.
func TestOrchestratorMetrics(t *testing.T) {
	StepDuration.WithLabelValues("train").Observe(3)
	RunDuration.WithLabelValues("succeeded").Observe(42)
	hits := testutil.ToFloat64(CacheHits)
	CacheHits.Inc()
	bytes := testutil.ToFloat64(ArtifactBytes)
	ArtifactBytes.Add(1024)
	if got := testutil.ToFloat64(CacheHits); got != hits+1 {
		t.Errorf("cache hits %v, want %v", got, hits+1)
	}
	if got := testutil.ToFloat64(ArtifactBytes); got != bytes+1024 {
		t.Errorf("artifact bytes %v, want %v", got, bytes+1024)
	}
	rec := httptest.NewRecorder()
	MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`alur_step_duration_seconds_count{kind="train"}`,
		`alur_run_duration_seconds_count{state="succeeded"}`,
		"alur_cache_hits_total ",
		"alur_artifact_bytes_total ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestRunStartsAndStops runs a service with TLS, a token, metrics and
// tracing on, with a context that is already done: it must start every
// part and stop cleanly. Bad options must fail the start.
func TestRunStartsAndStops(t *testing.T) {
	p := newTestPKI(t)
	useMemoryExporter(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := &Options{TLSCert: p.serverCert, TLSKey: p.serverKey, TLSClientCA: p.caFile, AuthToken: rightToken, MetricsAddr: "127.0.0.1:0", OTLPEndpoint: "127.0.0.1:4317"}
	registered := false
	if err := run(ctx, slog.New(slog.DiscardHandler), "test", "127.0.0.1:0", o, func(s *grpc.Server) error {
		registerEcho(s)
		registered = true
		return nil
	}); err != nil || !registered {
		t.Fatalf("run: %v, registered=%t", err, registered)
	}
	if o.tracing.tp != nil {
		t.Fatal("tracing not shut down")
	}

	bad := []struct {
		name string
		o    *Options
		addr string
	}{
		{"bad certificate", &Options{TLSCert: "missing.pem", TLSKey: "missing-key.pem"}, "127.0.0.1:0"},
		{"bad metrics address", &Options{MetricsAddr: "127.0.0.1:notaport"}, "127.0.0.1:0"},
		{"bad listen address", &Options{}, "127.0.0.1:notaport"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if err := run(context.Background(), slog.New(slog.DiscardHandler), "test", tc.addr, tc.o, func(*grpc.Server) error { return nil }); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}
