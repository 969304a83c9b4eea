package stack_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/stack"
)

// TestStartServesAndStops starts the whole stack on loopback ports, asks
// every service for its health, and stops it twice.
func TestStartServesAndStops(t *testing.T) {
	st, err := stack.Start(context.Background(), stack.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{st.OrchestratorAddr, st.IngestAddr, st.PrepAddr, st.TrainAddr, st.EvalAddr} {
		conn, err := serverkit.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := grpc_health_v1.NewHealthClient(conn).Check(t.Context(), &grpc_health_v1.HealthCheckRequest{})
		conn.Close()
		if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
			t.Errorf("%s: %v, %v", addr, resp, err)
		}
	}
	if err := st.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := st.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

// TestStartFailsOnATakenPort checks that a taken port fails the start,
// naming the service, before anything serves.
func TestStartFailsOnATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		name string
		cfg  stack.Config
	}{
		{"train", stack.Config{DataDir: t.TempDir(), StagesConfig: stack.StagesConfig{TrainAddr: taken.Addr().String()}}},
		{"orchestrator", stack.Config{DataDir: t.TempDir(), OrchestratorAddr: taken.Addr().String()}},
	} {
		st, err := stack.Start(context.Background(), tc.cfg)
		if err == nil {
			st.Stop()
			t.Fatalf("%s: started on a taken port", tc.name)
		}
		if !strings.HasPrefix(err.Error(), tc.name+":") {
			t.Errorf("%s: error %q does not name the service", tc.name, err)
		}
	}
}
