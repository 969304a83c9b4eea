package serverkit

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc/stats"
)

// newSpanExporter builds the span exporter of a tracer provider: OTLP over
// plaintext gRPC to endpoint (a collector beside the service). The
// connection is made lazily, so a collector that is down only costs
// dropped spans. Tests replace it with an in-memory exporter.
var newSpanExporter = func(ctx context.Context, endpoint string) (sdktrace.SpanExporter, error) {
	return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
}

// propagator carries trace context between services in the W3C
// traceparent/tracestate headers. Baggage is not propagated: alur does not
// use it, and it would let any caller push data into every hop.
var propagator propagation.TextMapPropagator = propagation.TraceContext{}

// tracingState is the tracer provider of an Options, started on first use.
type tracingState struct {
	serviceName string                   // resource name of the spans, set by MainWith
	tp          *sdktrace.TracerProvider // nil until started, and after Shutdown
}

// tracingMu guards the tracingState of every Options. Tracing starts once
// or twice per process, so one lock costs nothing and keeps Options a plain
// struct that can be copied.
var tracingMu sync.Mutex

// state returns o's tracing state, creating it; callers hold tracingMu.
func (o *Options) state() *tracingState {
	if o.tracing == nil {
		o.tracing = &tracingState{}
	}
	return o.tracing
}

// setServiceName names the service in the spans of a tracer provider that
// has not started yet.
func (o *Options) setServiceName(name string) {
	tracingMu.Lock()
	defer tracingMu.Unlock()
	if st := o.state(); st.tp == nil {
		st.serviceName = name
	}
}

// tracerProvider returns o's tracer provider, starting it on first use.
// One provider serves the server and client handlers built from o, so one
// Shutdown flushes both.
func (o *Options) tracerProvider() (*sdktrace.TracerProvider, error) {
	tracingMu.Lock()
	defer tracingMu.Unlock()
	st := o.state()
	if st.tp != nil {
		return st.tp, nil
	}
	exp, err := newSpanExporter(context.Background(), o.OTLPEndpoint)
	if err != nil {
		return nil, fmt.Errorf("tracing: exporter for %s: %w", o.OTLPEndpoint, err)
	}
	res, err := traceResource(st.serviceName)
	if err != nil {
		_ = exp.Shutdown(context.Background())
		return nil, err
	}
	// The sampler stays the SDK default (parent-based, always on), which
	// OTEL_TRACES_SAMPLER may override.
	st.tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return st.tp, nil
}

// traceResource describes this process in spans: service.name is the
// given name (or the executable's), unless $OTEL_SERVICE_NAME or
// $OTEL_RESOURCE_ATTRIBUTES say otherwise.
func traceResource(name string) (*resource.Resource, error) {
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", name)))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	env, err := resource.New(context.Background(), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("tracing: resource from environment: %w", err)
	}
	if res, err = resource.Merge(res, env); err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	return res, nil
}

// traced reports whether a call gets a span: every call except health
// checks, which probes repeat every few seconds.
func traced(info *stats.RPCTagInfo) bool {
	return !strings.HasPrefix(info.FullMethodName, "/grpc.health.v1.Health/")
}

func (o *Options) otelOptions() ([]otelgrpc.Option, error) {
	tp, err := o.tracerProvider()
	if err != nil {
		return nil, err
	}
	return []otelgrpc.Option{
		otelgrpc.WithTracerProvider(tp),
		otelgrpc.WithPropagators(propagator),
		// RPC metrics come from the Prometheus interceptors; the otel
		// ones would only duplicate them.
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelgrpc.WithFilter(traced),
	}, nil
}

func (o *Options) serverStatsHandler() (stats.Handler, error) {
	opts, err := o.otelOptions()
	if err != nil {
		return nil, err
	}
	return otelgrpc.NewServerHandler(opts...), nil
}

func (o *Options) clientStatsHandler() (stats.Handler, error) {
	opts, err := o.otelOptions()
	if err != nil {
		return nil, err
	}
	return otelgrpc.NewClientHandler(opts...), nil
}

// Shutdown flushes the spans not yet exported and stops tracing, if o
// started it; otherwise it does nothing. Call it once the servers and
// clients built from o are done (MainWith does).
func (o *Options) Shutdown(ctx context.Context) error {
	if o == nil {
		return nil
	}
	tracingMu.Lock()
	var tp *sdktrace.TracerProvider
	if o.tracing != nil {
		tp, o.tracing.tp = o.tracing.tp, nil
	}
	tracingMu.Unlock()
	if tp == nil {
		return nil
	}
	if err := tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// installGlobalTracing makes o's tracer provider and the W3C propagator the
// process-wide OpenTelemetry defaults, so code that calls otel.Tracer (the
// orchestrator's own spans) joins the same traces, and routes the SDK's
// errors (an unreachable collector) to logger.
func installGlobalTracing(o *Options, logger *slog.Logger) {
	tp, err := o.tracerProvider()
	if err != nil {
		return // ServerOptions reported it already
	}
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagator)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("tracing", "err", err)
	}))
}
