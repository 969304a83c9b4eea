package dashboard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"gonum.org/v1/gonum/mat"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/profile"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

// fakeSource is an in-memory Source. Its runs and artifacts are built in
// process from the ml library, so the dashboard sees real profiles,
// transforms, models and tables.
type fakeSource struct {
	mu        sync.Mutex
	runs      []*orchestratorv1.Run // newest first
	artifacts map[string][]byte
	meta      map[string]*orchestratorv1.Artifact
	// err, when set, is every call's answer.
	err   error
	reads int
}

// Outputs runs the stored model in process, standing for the eval stage
// the orchestrator asks.
func (f *fakeSource) Outputs(_ context.Context, modelDigest string, t *table.Table, label string, _ int) (*mat.Dense, error) {
	f.mu.Lock()
	b, ok := f.artifacts[modelDigest]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("model %s: %w", modelDigest, ErrNotFound)
	}
	m := &datav1.Model{}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, err
	}
	pd, err := dataprep.FromPrepared(t, label)
	if err != nil {
		return nil, err
	}
	return algo.Predict(m, pd.X)
}

func newFakeSource() *fakeSource {
	return &fakeSource{artifacts: map[string][]byte{}, meta: map[string]*orchestratorv1.Artifact{}}
}

func (f *fakeSource) ListRuns(_ context.Context, size int, token string) ([]*orchestratorv1.Run, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, "", f.err
	}
	if token != "" {
		return nil, "", status.Error(codes.InvalidArgument, "page_token: not a token from a previous ListRuns answer")
	}
	return f.runs[:min(size, len(f.runs))], "", nil
}

func (f *fakeSource) GetRun(_ context.Context, id string) (*orchestratorv1.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	for _, r := range f.runs {
		if r.GetId() == id {
			return proto.Clone(r).(*orchestratorv1.Run), nil
		}
	}
	return nil, fmt.Errorf("run %s: %w", id, ErrNotFound)
}

func (f *fakeSource) ListArtifacts(_ context.Context, runID string) ([]*orchestratorv1.Artifact, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []*orchestratorv1.Artifact
	for _, a := range f.meta {
		if a.GetRunId() == runID {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeSource) ReadArtifact(_ context.Context, digest string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.reads++
	b, ok := f.artifacts[digest]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "artifact %s not found", digest)
	}
	return b, nil
}

func (f *fakeSource) put(t *testing.T, runID, kind, name string, b []byte) string {
	t.Helper()
	sum := sha256.Sum256(b)
	d := hex.EncodeToString(sum[:])
	f.artifacts[d] = b
	f.meta[d] = &orchestratorv1.Artifact{Digest: d, Kind: kind, Name: name, Size: int64(len(b)), RunId: runID, CreateTime: timestamppb.Now()}
	return d
}

func (f *fakeSource) putProto(t *testing.T, runID, kind, name string, m proto.Message) string {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return f.put(t, runID, kind, name, b)
}

func (f *fakeSource) putTable(t *testing.T, runID, kind, name string, tb *table.Table) string {
	t.Helper()
	b, err := tablepb.MarshalDelimited(tb)
	if err != nil {
		t.Fatal(err)
	}
	return f.put(t, runID, kind, name, b)
}

// synthTable makes n rows: two numeric features, a categorical one, and a
// label: a class ("a", "b", "c") or, for regression, a number.
func synthTable(n int, regression bool, seed uint64) *table.Table {
	rng := rand.New(rand.NewPCG(seed, seed))
	x1, x2 := make([]float64, n), make([]float64, n)
	cat := make([]int32, n)
	labels := make([]int32, n)
	values := make([]float64, n)
	for i := range n {
		k := i % 3
		x1[i] = float64(k)*2 + rng.NormFloat64()*0.6
		x2[i] = rng.NormFloat64()
		cat[i] = int32(rng.IntN(2))
		if i%11 == 0 {
			cat[i] = -1
			x2[i] = math.NaN()
		}
		labels[i] = int32(k)
		values[i] = 3*x1[i] + float64(cat[i]) + rng.NormFloat64()*0.3
	}
	tb := &table.Table{Columns: []*table.Column{
		table.NewNumeric("x1", x1),
		table.NewNumeric("x2", x2),
		table.NewCategorical("colour", cat, []string{"red", "blue"}),
	}}
	if regression {
		tb.Columns = append(tb.Columns, table.NewNumeric("y", values))
	} else {
		tb.Columns = append(tb.Columns, table.NewCategorical("y", labels, []string{"a", "b", "c"}))
	}
	return tb
}

// addRun builds a finished run on synthetic data with every artifact the
// dashboard reads, trained with algorithm, and adds it to f.
func (f *fakeSource) addRun(t *testing.T, id, algorithm string, regression bool) *orchestratorv1.Run {
	t.Helper()
	tb := synthTable(150, regression, 7)
	task, metric := datav1.Task_TASK_CLASSIFICATION, "accuracy"
	if regression {
		task, metric = datav1.Task_TASK_REGRESSION, "r2"
	}
	prof, err := profile.Profile(tb, &prepv1.ProfileOptions{Label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]int, 100)
	for i := range rows {
		rows[i] = i
	}
	tr, err := dataprep.Fit(tb, rows, &prepv1.PrepareOptions{Label: "y", Task: task})
	if err != nil {
		t.Fatal(err)
	}
	X, y, err := dataprep.ApplyWithLabel(tr, tb)
	if err != nil {
		t.Fatal(err)
	}
	full := dataprep.PreparedTable(tr, X, y)
	train := takeRows(full, rows)
	testRows := make([]int, 50)
	for i := range testRows {
		testRows[i] = 100 + i
	}
	test := takeRows(full, testRows)
	pd, err := dataprep.FromPrepared(train, "y")
	if err != nil {
		t.Fatal(err)
	}
	ds := &algo.Dataset{X: pd.X, Y: pd.Y, Task: pd.Task, NumClasses: len(pd.ClassNames), FeatureNames: pd.FeatureNames, ClassNames: pd.ClassNames}
	model, err := algo.Fit(context.Background(), algorithm, ds, nil, 1, nil)
	if err != nil {
		t.Fatal(err)
	}

	dd := f.putTable(t, id, "dataset", "synth.csv", tb)
	pdg := f.putProto(t, id, "profile", "", prof)
	td := f.putProto(t, id, "transform", "", tr)
	trd := f.putTable(t, id, "prepared", "train", train)
	vd := f.putTable(t, id, "prepared", "validation", train)
	ted := f.putTable(t, id, "prepared", "test", test)
	md := f.putProto(t, id, "model", algorithm, model)

	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) *timestamppb.Timestamp {
		return timestamppb.New(start.Add(time.Duration(ms) * time.Millisecond))
	}
	step := func(name string, from, to int, outs ...string) *orchestratorv1.Step {
		return &orchestratorv1.Step{Name: name, State: orchestratorv1.StepState_STEP_STATE_SUCCEEDED, StartTime: at(from), EndTime: at(to), OutputDigests: outs}
	}
	testMetrics := &datav1.Metrics{NumSamples: 50}
	if regression {
		testMetrics.Kind = &datav1.Metrics_Regression{Regression: &datav1.RegressionMetrics{R2: 0.9, Rmse: 1.2, Mae: 0.9}}
	} else {
		testMetrics.Kind = &datav1.Metrics_Classification{Classification: &datav1.ClassificationMetrics{
			Accuracy: 0.9, F1Macro: 0.89, RocAuc: 0.97, LogLoss: 0.3,
			PerClass:        []*datav1.ClassScore{{Label: "a", Precision: 1, Recall: 1, F1: 1, Support: 17}},
			ConfusionMatrix: &datav1.ConfusionMatrix{Labels: []string{"a", "b", "c"}, Counts: []int64{17, 0, 0, 1, 14, 2, 0, 2, 14}},
		}}
	}
	run := &orchestratorv1.Run{
		Id: id,
		Spec: &orchestratorv1.PipelineSpec{Name: "synthetic " + id, Label: "y",
			Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "synth"}}},
		State:      orchestratorv1.RunState_RUN_STATE_SUCCEEDED,
		CreateTime: at(0), EndTime: at(900),
		Steps: []*orchestratorv1.Step{
			step("collect", 1, 10, dd), step("profile", 10, 20, pdg), step("prepare", 20, 40, td, trd, vd, ted),
			step("train/1", 40, 100), step("evaluate/1", 100, 120), step("train/2", 120, 300),
			{Name: "evaluate/2", State: orchestratorv1.StepState_STEP_STATE_SUCCEEDED, StartTime: at(300), EndTime: at(300), CacheHit: true},
			step("refit", 300, 500, md), step("test", 500, 600), step("learning_curve", 600, 900),
		},
		Trials: []*orchestratorv1.Trial{
			{Number: 1, Algorithm: algorithm, Score: 0.91, Params: map[string]float64{"a": 1}, FitSeconds: 0.06, ValidationMetrics: testMetrics},
			{Number: 2, Algorithm: "other", Score: 0.85, FitSeconds: 0.2, ValidationMetrics: testMetrics},
			{Number: 3, Algorithm: "broken", Error: "InvalidArgument: bad"},
		},
		BestTrial: 1, TestMetrics: testMetrics,
		DatasetDigest: dd, ProfileDigest: pdg, TransformDigest: td, ModelDigest: md,
		Metric: metric, Task: task, DatasetRows: 150,
		LearningCurve: []*orchestratorv1.LearningCurvePoint{
			{TrainFraction: 0.2, TrainRows: 20, TrainScore: 0.99, ValidationScore: 0.8},
			{TrainFraction: 0.6, TrainRows: 60, TrainScore: 0.95, ValidationScore: 0.88},
			{TrainFraction: 1, TrainRows: 100, TrainScore: 0.94, ValidationScore: 0.9},
		},
		LearningCurveVerdict: "More data is unlikely to help much.",
	}
	f.mu.Lock()
	f.runs = append([]*orchestratorv1.Run{run}, f.runs...)
	f.mu.Unlock()
	return run
}
