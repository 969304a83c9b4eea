package search

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/services/orchestrator/fault"
)

// fakeSteps scores a model by its algorithm's "score" parameter and fails
// the algorithms listed in fail with their error.
type fakeSteps struct {
	mu     sync.Mutex
	trials []*orchestratorv1.Trial
	fail   map[string]error
	scores map[string]float64
	ctx    context.Context
	trains []string
}

func (f *fakeSteps) Train(step string, cfg *trainv1.TrainConfig, d Data) (Trained, error) {
	f.mu.Lock()
	f.trains = append(f.trains, cfg.GetAlgorithm())
	f.mu.Unlock()
	if err := f.fail[cfg.GetAlgorithm()]; err != nil {
		return Trained{}, err
	}
	return Trained{ModelDigest: cfg.GetAlgorithm(), Result: &trainv1.TrainResult{Params: cfg.GetParams()}}, nil
}

func (f *fakeSteps) Evaluate(step, name, model string, d Data, label string) (*datav1.Metrics, error) {
	return &datav1.Metrics{Kind: &datav1.Metrics_Classification{Classification: &datav1.ClassificationMetrics{Accuracy: f.scores[model]}}}, nil
}

func (f *fakeSteps) Record(t *orchestratorv1.Trial, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.trials = append(f.trials, proto.Clone(t).(*orchestratorv1.Trial))
}

func (f *fakeSteps) Trials() []*orchestratorv1.Trial {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*orchestratorv1.Trial(nil), f.trials...)
}

func (f *fakeSteps) Err() error {
	if f.ctx == nil {
		return nil
	}
	return f.ctx.Err()
}

// TestLoop runs the trial loop against fake steps, one trial at a time.
func TestLoop(t *testing.T) {
	configs := []Config{{Algorithm: "a"}, {Algorithm: "b"}, {Algorithm: "c"}}
	scores := map[string]float64{"a": 0.5, "b": 0.95, "c": 0.99}
	unavailable := fault.FromStage(status.Error(codes.Unavailable, "train is down"))
	refused := fault.FromStage(status.Error(codes.InvalidArgument, "params: no"))
	target := 0.9
	for _, tc := range []struct {
		name       string
		objective  *orchestratorv1.Objective
		fail       map[string]error
		recorded   []*orchestratorv1.Trial
		wantTrains []string
		wantMet    bool
		wantErr    error
		wantBest   int32
	}{
		{name: "all run, best wins", wantTrains: []string{"a", "b", "c"}, wantBest: 3},
		{name: "target stops the loop", objective: &orchestratorv1.Objective{Target: &target}, wantTrains: []string{"a", "b"}, wantMet: true, wantBest: 2},
		{name: "a stage outage dooms the run", fail: map[string]error{"b": unavailable}, wantTrains: []string{"a", "b"}, wantErr: fault.ErrStageUnavailable, wantBest: 1},
		{name: "a refused candidate does not", fail: map[string]error{"b": refused}, wantTrains: []string{"a", "b", "c"}, wantBest: 3},
		{name: "a resumed run skips recorded trials", recorded: []*orchestratorv1.Trial{{Number: 1, Algorithm: "a", Score: 0.5, ValidationMetrics: &datav1.Metrics{}}},
			wantTrains: []string{"b", "c"}, wantBest: 3},
	} {
		f := &fakeSteps{fail: tc.fail, scores: scores, trials: tc.recorded}
		l := &Loop{Configs: configs, Objective: tc.objective, Metric: "accuracy", Label: "y", Train: Data{Digest: "tr"}, Valid: Data{Digest: "va"}}
		met, err := l.Run(f)
		if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.wantErr)
		}
		if met != tc.wantMet {
			t.Errorf("%s: met %v, want %v", tc.name, met, tc.wantMet)
		}
		if !slices.Equal(f.trains, tc.wantTrains) {
			t.Errorf("%s: trained %v, want %v", tc.name, f.trains, tc.wantTrains)
		}
		if b := Best(f.Trials(), "accuracy"); b.GetNumber() != tc.wantBest {
			t.Errorf("%s: best trial %d, want %d", tc.name, b.GetNumber(), tc.wantBest)
		}
	}
}
