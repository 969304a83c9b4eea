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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
)

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
		`grpc_server_handled_total{grpc_code="OK",grpc_method="Check",grpc_service="grpc.health.v1.Health",grpc_type="unary"}`,
		`grpc_server_handled_total{grpc_code="Internal",grpc_method="ListAlgorithms",grpc_service="alur.train.v1.TrainService",grpc_type="unary"}`,
		`grpc_server_handling_seconds_bucket{grpc_method="Check",grpc_service="grpc.health.v1.Health",grpc_type="unary",le="0.001"}`,
		`grpc_client_handled_total{grpc_code="OK",grpc_method="Check",grpc_service="grpc.health.v1.Health",grpc_type="unary"}`,
		`grpc_client_handling_seconds_bucket{grpc_method="Check",grpc_service="grpc.health.v1.Health",grpc_type="unary",le="0.001"}`,
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// serverkit defines no service's metrics: the orchestrator's run and
	// cache counters appear only where the orchestrator registers them.
	for _, unwanted := range []string{"alur_run_", "alur_cache_", "alur_rpc_"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("/metrics shows %s metrics", unwanted)
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

// TestRegisterMetrics registers a service's collector twice, as two
// servers in one process do, and reads it back through the handler.
func TestRegisterMetrics(t *testing.T) {
	newCounter := func() prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "alur_test_things_total", Help: "Things a test counted."})
	}
	c := newCounter()
	if err := RegisterMetrics(c); err != nil {
		t.Fatal(err)
	}
	if err := RegisterMetrics(newCounter()); err != nil {
		t.Fatalf("registering the same metric again: %v", err)
	}
	c.Add(3)
	if got := testutil.ToFloat64(c); got != 3 {
		t.Errorf("counter %v, want 3", got)
	}
	rec := httptest.NewRecorder()
	MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "alur_test_things_total 3") {
		t.Error("metrics lack alur_test_things_total 3")
	}
	clash := prometheus.NewGauge(prometheus.GaugeOpts{Name: "alur_test_things_total", Help: "Another help."})
	if err := RegisterMetrics(clash); err == nil {
		t.Error("a clashing metric was registered")
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
