package serverkit

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
)

// TestHoldServing checks a held service, and the server as a whole, stay
// NOT_SERVING when Serve starts, while other services are SERVING, until
// the caller marks them ready.
func TestHoldServing(t *testing.T) {
	srv := NewGRPCServer(slog.New(slog.DiscardHandler))
	trainv1.RegisterTrainServiceServer(srv.GRPC, panicky{})
	const held = "alur.train.v1.TrainService"
	srv.HoldServing(held)
	lis, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	conn, err := Dial(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	check := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		resp, err := hc.Check(cctx, &healthpb.HealthCheckRequest{Service: service}, grpc.WaitForReady(true))
		if err != nil {
			t.Fatalf("health %q: %v", service, err)
		}
		return resp.GetStatus()
	}
	tests := []struct {
		service string
		want    healthpb.HealthCheckResponse_ServingStatus
	}{
		{held, healthpb.HealthCheckResponse_NOT_SERVING},
		{"", healthpb.HealthCheckResponse_NOT_SERVING},
		{"grpc.reflection.v1.ServerReflection", healthpb.HealthCheckResponse_SERVING},
	}
	for _, tc := range tests {
		if got := check(tc.service); got != tc.want {
			t.Errorf("before ready: %q is %v, want %v", tc.service, got, tc.want)
		}
	}
	srv.Health.SetServingStatus(held, healthpb.HealthCheckResponse_SERVING)
	srv.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for _, s := range []string{held, ""} {
		if got := check(s); got != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("after ready: %q is %v, want SERVING", s, got)
		}
	}
}
