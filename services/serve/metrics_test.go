package serve

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alur-ml/alur/serverkit"
)

// TestServeMetrics answers a ModelInfer and scrapes the process registry:
// serve records what every service records, the standard gRPC server
// metrics for the call it served and the client metrics for the registry
// calls it made, and none of the orchestrator's own metrics.
func TestServeMetrics(t *testing.T) {
	_, _, client := setup(t, Config{})
	if _, err := client.ModelInfer(context.Background(), rows("churn", "1")); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	serverkit.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`grpc_server_handled_total{grpc_code="OK",grpc_method="ModelInfer",grpc_service="inference.GRPCInferenceService",grpc_type="unary"}`,
		`grpc_client_handled_total{grpc_code="OK",grpc_method="GetModel",grpc_service="alur.orchestrator.v1.OrchestratorService",grpc_type="unary"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, unwanted := range []string{"alur_run_", "alur_step_", "alur_cache_", "alur_artifact_", "alur_store_gc_"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("serve's /metrics shows %s* metrics", unwanted)
		}
	}
}
