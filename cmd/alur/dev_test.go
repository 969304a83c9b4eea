package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/stack"
)

// TestDevMetrics starts the stack as alur dev --metrics-addr does and
// scrapes its one endpoint: the orchestrator's calls, the orchestrator's
// calls to train, and the orchestrator's own metrics are all there.
func TestDevMetrics(t *testing.T) {
	cfg := stackConfig{MetricsAddr: stack.Loopback}
	cfg.DataDir = t.TempDir()
	st, err := startStack(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	conn, err := serverkit.Dial(st.OrchestratorAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	orch := orchestratorv1.NewOrchestratorServiceClient(conn)
	if _, err := orch.ListRuns(t.Context(), &orchestratorv1.ListRunsRequest{}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(st.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`grpc_server_handled_total{grpc_code="OK",grpc_method="ListRuns",grpc_service="alur.orchestrator.v1.OrchestratorService",grpc_type="unary"}`,
		"# TYPE alur_run_duration_seconds histogram",
		"go_goroutines",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
