package dashboard_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/alurtest"
	"github.com/alur-ml/alur/services/orchestrator/dashboard"
	"github.com/alur-ml/alur/services/orchestrator/stack"
)

// fixture is an orchestrator with its four stages in this process and
// two finished runs: a classification run on iris and a regression run
// on an uploaded CSV.
type fixture struct {
	client        orchestratorv1.OrchestratorServiceClient
	src           dashboard.Source // the orchestrator's own, which asks eval for predictions
	iris, regress *orchestratorv1.Run
	err           error
	stop          func()
}

var (
	fixOnce sync.Once
	fix     fixture
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fix.stop != nil {
		fix.stop()
	}
	os.Exit(code)
}

// getFixture starts the stack and runs both pipelines once for all tests.
func getFixture(t *testing.T) *fixture {
	t.Helper()
	fixOnce.Do(func() { fix.err = fix.start() })
	if fix.err != nil {
		t.Fatalf("fixture: %v", fix.err)
	}
	return &fix
}

func (f *fixture) start() error {
	dir, err := os.MkdirTemp("", "alur-dashboard-test-")
	if err != nil {
		return err
	}
	var stops []func()
	f.stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		os.RemoveAll(dir)
	}
	st, err := alurtest.New(stack.Config{DataDir: dir})
	if err != nil {
		return err
	}
	stops = append(stops, func() { _ = st.Close() })
	f.client = st.Orchestrator
	f.src = st.Stack.Orchestrator.DashboardSource()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if f.iris, err = runToEnd(ctx, f.client, &orchestratorv1.PipelineSpec{
		Name:   "iris species",
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}},
		Label:  "species",
		Seed:   7,
	}); err != nil {
		return fmt.Errorf("iris run: %w", err)
	}
	digest, err := upload(ctx, f.client, "houses.csv", regressionCSV(400, 11))
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	if f.regress, err = runToEnd(ctx, f.client, &orchestratorv1.PipelineSpec{
		Name:   "house prices",
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Upload{Upload: digest}},
		Label:  "price",
		Candidates: []*orchestratorv1.Candidate{
			{Algorithm: "linear_regression"}, {Algorithm: "ridge"}, {Algorithm: "decision_tree"},
		},
		Seed: 7,
	}); err != nil {
		return fmt.Errorf("regression run: %w", err)
	}
	return nil
}

// regressionCSV makes a small housing-like table: two numeric features,
// a categorical one with a few missing values, and a noisy linear price.
func regressionCSV(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	var b bytes.Buffer
	b.WriteString("area,rooms,district,price\n")
	districts := []string{"north", "south", "centre"}
	for i := 0; i < n; i++ {
		area := 40 + rng.Float64()*160
		rooms := math.Round(1 + area/40 + rng.NormFloat64())
		d := districts[rng.IntN(len(districts))]
		price := 1500*area + 8000*rooms + map[string]float64{"north": 0, "south": -20000, "centre": 60000}[d] + rng.NormFloat64()*15000
		if i%17 == 0 {
			d = ""
		}
		fmt.Fprintf(&b, "%.1f,%g,%s,%.0f\n", area, rooms, d, price)
	}
	return b.Bytes()
}

func upload(ctx context.Context, c orchestratorv1.OrchestratorServiceClient, name string, data []byte) (string, error) {
	stream, err := c.UploadSource(ctx)
	if err != nil {
		return "", err
	}
	if err := stream.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Name{Name: name}}); err != nil {
		return "", err
	}
	if err := stream.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Chunk{Chunk: data}}); err != nil {
		return "", err
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return "", err
	}
	return resp.GetArtifact().GetDigest(), nil
}

func runToEnd(ctx context.Context, c orchestratorv1.OrchestratorServiceClient, spec *orchestratorv1.PipelineSpec) (*orchestratorv1.Run, error) {
	resp, err := c.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: spec})
	if err != nil {
		return nil, err
	}
	id := resp.GetRun().GetId()
	stream, err := c.WatchRun(ctx, &orchestratorv1.WatchRunRequest{RunId: id})
	if err != nil {
		return nil, err
	}
	for {
		if _, err := stream.Recv(); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
	}
	got, err := c.GetRun(ctx, &orchestratorv1.GetRunRequest{RunId: id})
	if err != nil {
		return nil, err
	}
	if got.GetRun().GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		return nil, fmt.Errorf("run %s ended %v: %s", id, got.GetRun().GetState(), got.GetRun().GetError())
	}
	return got.GetRun(), nil
}
