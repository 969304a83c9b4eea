package orchestrator_test

import (
	"context"
	"github.com/alur-ml/alur/services/orchestrator"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/train"
)

// wideTrain is a train service that lists one algorithm more than this
// binary compiles in: another train implementation.
type wideTrain struct {
	trainv1.TrainServiceServer
}

func (w wideTrain) ListAlgorithms(ctx context.Context, req *trainv1.ListAlgorithmsRequest) (*trainv1.ListAlgorithmsResponse, error) {
	resp, err := w.TrainServiceServer.ListAlgorithms(ctx, req)
	if err != nil {
		return nil, err
	}
	resp.Algorithms = append(resp.Algorithms, &trainv1.AlgorithmInfo{
		Name:   "my_boosting",
		Tasks:  []datav1.Task{datav1.Task_TASK_CLASSIFICATION},
		Params: []*trainv1.ParamInfo{{Name: "rounds", DefaultValue: 10, Min: 1, Max: 1000, Type: trainv1.ParamType_PARAM_TYPE_INTEGER}},
	})
	return resp, nil
}

// serveTrain serves srv as the train service on a loopback port.
func serveTrain(t *testing.T, srv trainv1.TrainServiceServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	trainv1.RegisterTrainServiceServer(g, srv)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return lis.Addr().String()
}

// TestSpecValidatedAgainstTrainsCatalog checks that StartRun validates
// algorithms against what train serves, not a list compiled into the
// orchestrator: an algorithm only train knows is accepted, with its
// parameters checked, and an unknown name is refused listing train's
// algorithms.
func TestSpecValidatedAgainstTrainsCatalog(t *testing.T) {
	cfg := silentStages(t)
	cfg.TrainAddr = serveTrain(t, wideTrain{train.NewServer(train.Config{})})
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		cand  *orchestratorv1.Candidate
		field string // the field refused, "" when the spec is accepted
		text  string // in the refusal
	}{
		{"train's own algorithm", &orchestratorv1.Candidate{Algorithm: "my_boosting", Params: map[string]float64{"rounds": 50}}, "", ""},
		{"its parameter bounds", &orchestratorv1.Candidate{Algorithm: "my_boosting", Params: map[string]float64{"rounds": 0}}, `spec.candidates[0].params["rounds"]`, ""},
		{"unknown name", &orchestratorv1.Candidate{Algorithm: "nope"}, "spec.candidates[0].algorithm", "my_boosting"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: irisSpec(tc.cand)})
			if tc.field == "" {
				if err != nil {
					t.Fatalf("StartRun: %v", err)
				}
				return
			}
			if f := serverkit.FieldViolations(err); status.Code(err) != codes.InvalidArgument || len(f) != 1 || f[0] != tc.field {
				t.Fatalf("got %v, want InvalidArgument on %s", err, tc.field)
			}
			if !strings.Contains(status.Convert(err).Message(), tc.text) {
				t.Errorf("message %q does not list %q", status.Convert(err).Message(), tc.text)
			}
		})
	}
}

// TestStartRunWithoutTrain checks that StartRun answers Unavailable naming
// train when train cannot list its algorithms.
func TestStartRunWithoutTrain(t *testing.T) {
	// A unix socket that was never created: nothing can listen there, so
	// the train service is unreachable without betting on a free port.
	addr := "unix:" + filepath.Join(t.TempDir(), "nothing.sock")
	cfg := orchestrator.Config{DataDir: t.TempDir(), IngestAddr: addr, PrepAddr: addr, TrainAddr: addr, EvalAddr: addr, Logger: slog.New(slog.DiscardHandler)}
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: irisSpec()})
	if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "train") {
		t.Fatalf("got %v, want Unavailable naming train", err)
	}
}

// TestOrchestratorMetrics checks that the orchestrator registers its own
// metrics on the process registry and that its calls count in the
// standard gRPC server metrics.
func TestOrchestratorMetrics(t *testing.T) {
	_, client, stop := newTestOrchestrator(t, silentStages(t))
	defer stop()
	if _, err := client.GetRun(t.Context(), &orchestratorv1.GetRunRequest{RunId: "missing"}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetRun: %v", err)
	}
	// StartRun asks train for its algorithms: a client call.
	if _, err := client.StartRun(t.Context(), &orchestratorv1.StartRunRequest{Spec: irisSpec()}); err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	rec := httptest.NewRecorder()
	serverkit.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`grpc_server_handled_total{grpc_code="NotFound",grpc_method="GetRun",grpc_service="alur.orchestrator.v1.OrchestratorService",grpc_type="unary"}`,
		`grpc_client_handled_total{grpc_code="OK",grpc_method="ListAlgorithms",grpc_service="alur.train.v1.TrainService",grpc_type="unary"}`,
		"# TYPE alur_cache_hits_total counter",
		"# TYPE alur_artifact_bytes_total counter",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
