package serverkit

import (
	"context"
	"log/slog"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
)

// memoryExporter records spans in memory and counts how often tracing
// started.
type memoryExporter struct {
	*tracetest.InMemoryExporter
	started int
}

// useMemoryExporter makes tracer providers export to memory for the rest
// of the test.
func useMemoryExporter(t *testing.T) *memoryExporter {
	t.Helper()
	m := &memoryExporter{InMemoryExporter: tracetest.NewInMemoryExporter()}
	old := newSpanExporter
	newSpanExporter = func(context.Context, string) (sdktrace.SpanExporter, error) {
		m.started++
		return m.InMemoryExporter, nil
	}
	t.Cleanup(func() { newSpanExporter = old })
	return m
}

func TestTracing(t *testing.T) {
	exp := useMemoryExporter(t)
	o := &Options{OTLPEndpoint: "127.0.0.1:4317", AuthToken: rightToken}
	o.setServiceName("tracing-test")
	sopts, err := o.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	dopts, err := o.DialOptions()
	if err != nil {
		t.Fatal(err)
	}
	conn, stop := newInProcess(slog.New(slog.DiscardHandler), sopts, dopts, registerEcho)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := trainv1.NewTrainServiceClient(conn).ListAlgorithms(ctx, &trainv1.ListAlgorithmsRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	// The server span ends when its handler returns, which may be just
	// after the client has the answer: flush until both spans are in
	// (bounded), rather than reading once.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err := o.tracing.tp.ForceFlush(ctx); err != nil {
			t.Fatal(err)
		}
		if len(exp.GetSpans()) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if exp.started != 1 {
		t.Fatalf("tracing started %d times, want once for server and client", exp.started)
	}

	spans := exp.GetSpans()
	var client, server *tracetest.SpanStub
	for i := range spans {
		s := &spans[i]
		if s.Name != "alur.train.v1.TrainService/ListAlgorithms" {
			t.Errorf("unexpected span %q (health checks are not traced)", s.Name)
			continue
		}
		switch s.SpanKind {
		case trace.SpanKindClient:
			client = s
		case trace.SpanKindServer:
			server = s
		}
	}
	if client == nil || server == nil {
		t.Fatalf("want a client and a server span, got %d spans", len(spans))
	}
	// W3C trace context crossed the wire: the server span continues the
	// client's trace as its child.
	if server.SpanContext.TraceID() != client.SpanContext.TraceID() || server.Parent.SpanID() != client.SpanContext.SpanID() {
		t.Fatalf("server span is not the child of the client span")
	}
	if name, ok := server.Resource.Set().Value("service.name"); !ok || name.AsString() != "tracing-test" {
		t.Fatalf("service.name %v", name)
	}

	if err := o.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if o.tracing.tp != nil {
		t.Fatal("provider kept after Shutdown")
	}
}

func TestTracingOff(t *testing.T) {
	exp := useMemoryExporter(t)
	o := &Options{AuthToken: rightToken}
	sopts, err := o.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	dopts, err := o.DialOptions()
	if err != nil {
		t.Fatal(err)
	}
	// Exactly the two token interceptors and the per-call credentials:
	// no stats handler.
	if len(sopts) != 2 || len(dopts) != 1 {
		t.Fatalf("%d server and %d dial options, want 2 and 1", len(sopts), len(dopts))
	}
	conn, stop := newInProcess(slog.New(slog.DiscardHandler), sopts, dopts, registerEcho)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := trainv1.NewTrainServiceClient(conn).ListAlgorithms(ctx, &trainv1.ListAlgorithmsRequest{}); err != nil {
		t.Fatal(err)
	}
	if exp.started != 0 || o.tracing != nil || len(exp.GetSpans()) != 0 {
		t.Fatalf("tracing started while off")
	}
	if err := o.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
