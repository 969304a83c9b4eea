package train_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"

	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/train"
)

// TestTrainMetrics serves train in process, calls it, and scrapes the
// process registry: the standard gRPC server metrics count the call, and
// none of the orchestrator's run, step or cache metrics is exported.
func TestTrainMetrics(t *testing.T) {
	conn, stop := serverkit.NewInProcess(func(g *grpc.Server) { trainv1.RegisterTrainServiceServer(g, train.NewServer(train.Config{})) })
	defer stop()
	if _, err := trainv1.NewTrainServiceClient(conn).ListAlgorithms(context.Background(), &trainv1.ListAlgorithmsRequest{}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	serverkit.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	want := `grpc_server_handled_total{grpc_code="OK",grpc_method="ListAlgorithms",grpc_service="alur.train.v1.TrainService",grpc_type="unary"}`
	if !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	for _, unwanted := range []string{"alur_run_", "alur_step_", "alur_cache_", "alur_artifact_"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("train's /metrics shows %s* metrics", unwanted)
		}
	}
}
