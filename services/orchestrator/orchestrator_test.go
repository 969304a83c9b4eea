package orchestrator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/ml/algo"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	evalv1 "github.com/alur-ml/alur/proto/alur/eval/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/eval"
	"github.com/alur-ml/alur/services/ingest"
	"github.com/alur-ml/alur/services/prep"
	"github.com/alur-ml/alur/services/train"
)

// startStages serves the four stages on loopback ports in this process.
func startStages(t *testing.T) Config {
	t.Helper()
	serve := func(register func(*grpc.Server)) string {
		srv := serverkit.NewGRPCServer(slog.New(slog.DiscardHandler))
		register(srv.GRPC)
		lis, err := serverkit.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = srv.Serve(ctx, lis); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		return lis.Addr().String()
	}
	return Config{
		IngestAddr: serve(func(g *grpc.Server) { ingestv1.RegisterIngestServiceServer(g, ingest.NewServer(ingest.Config{})) }),
		PrepAddr:   serve(func(g *grpc.Server) { prepv1.RegisterPrepServiceServer(g, prep.NewServer(prep.Config{})) }),
		TrainAddr:  serve(func(g *grpc.Server) { trainv1.RegisterTrainServiceServer(g, train.NewServer(train.Config{})) }),
		EvalAddr:   serve(func(g *grpc.Server) { evalv1.RegisterEvalServiceServer(g, eval.NewServer(eval.Config{})) }),
		Logger:     slog.New(slog.DiscardHandler),
	}
}

// newTestOrchestrator serves an orchestrator over bufconn.
func newTestOrchestrator(t *testing.T, cfg Config) (*Server, orchestratorv1.OrchestratorServiceClient, func()) {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn, stop := serverkit.NewInProcess(srv.Register)
	return srv, orchestratorv1.NewOrchestratorServiceClient(conn), func() {
		stop()
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
}

func irisSpec(cands ...*orchestratorv1.Candidate) *orchestratorv1.PipelineSpec {
	return &orchestratorv1.PipelineSpec{
		Source:     &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}},
		Label:      "species",
		Candidates: cands,
		Seed:       42,
	}
}

func await(t *testing.T, client orchestratorv1.OrchestratorServiceClient, id string) *orchestratorv1.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream, err := client.WatchRun(ctx, &orchestratorv1.WatchRunRequest{RunId: id})
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		if m.GetEvent().GetSequence() <= last {
			t.Fatalf("event sequence went from %d to %d", last, m.GetEvent().GetSequence())
		}
		last = m.GetEvent().GetSequence()
	}
	resp, err := client.GetRun(ctx, &orchestratorv1.GetRunRequest{RunId: id})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetRun()
}

func TestRunIrisDefaultCandidates(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	ctx := context.Background()
	start, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: irisSpec()})
	if err != nil {
		t.Fatal(err)
	}
	run := await(t, client, start.GetRun().GetId())
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("state %v: %s", run.GetState(), run.GetError())
	}
	if run.GetTask() != datav1.Task_TASK_CLASSIFICATION || run.GetMetric() != "accuracy" {
		t.Errorf("task %v metric %q", run.GetTask(), run.GetMetric())
	}
	if len(run.GetTrials()) < 5 {
		t.Errorf("%d trials, want one per classification algorithm", len(run.GetTrials()))
	}
	for _, tr := range run.GetTrials() {
		if tr.GetError() != "" {
			t.Errorf("trial %d (%s) failed: %s", tr.GetNumber(), tr.GetAlgorithm(), tr.GetError())
		}
	}
	if acc := run.GetTestMetrics().GetClassification().GetAccuracy(); acc < 0.85 {
		t.Errorf("test accuracy %.3f", acc)
	}
	if run.GetReportDigest() == "" {
		t.Error("succeeded run has no report artifact")
	}
	if len(run.GetLearningCurve()) < 3 || run.GetLearningCurveVerdict() == "" {
		t.Errorf("learning curve %v, verdict %q", run.GetLearningCurve(), run.GetLearningCurveVerdict())
	}
	if run.GetModelDigest() == "" || run.GetTransformDigest() == "" || run.GetDatasetDigest() == "" || run.GetProfileDigest() == "" {
		t.Errorf("missing digests: %+v", run)
	}
}

func TestTargetStopsTheLoop(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	spec := irisSpec(&orchestratorv1.Candidate{Algorithm: "knn", Grid: map[string]*orchestratorv1.ParamValues{"k": {Values: []float64{1, 3, 5, 7, 9, 11}}}})
	target := 0.5
	spec.Objective = &orchestratorv1.Objective{Metric: "accuracy", Target: &target}
	start, err := client.StartRun(context.Background(), &orchestratorv1.StartRunRequest{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	run := await(t, client, start.GetRun().GetId())
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED || len(run.GetTrials()) != 1 || !run.GetObjectiveMet() {
		t.Fatalf("state %v, %d trials, objective met %v; want one trial meeting the target", run.GetState(), len(run.GetTrials()), run.GetObjectiveMet())
	}
}

func TestResumeAfterRestart(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	srv, client, stop := newTestOrchestrator(t, cfg)
	spec := irisSpec(
		&orchestratorv1.Candidate{Algorithm: "logistic_regression"},
		&orchestratorv1.Candidate{Algorithm: "random_forest", Grid: map[string]*orchestratorv1.ParamValues{"n_estimators": {Values: []float64{50, 60, 70, 80}}}},
	)
	start, err := client.StartRun(context.Background(), &orchestratorv1.StartRunRequest{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	id := start.GetRun().GetId()
	// Stop the orchestrator once the first trial has finished.
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		r, err := srv.getRun(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.GetTrials()) >= 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()

	srv2, client2, stop2 := newTestOrchestrator(t, cfg)
	defer stop2()
	_ = srv2
	run := await(t, client2, id)
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("resumed run %v: %s", run.GetState(), run.GetError())
	}
	if len(run.GetTrials()) != 5 {
		t.Errorf("%d trials after resume, want 5", len(run.GetTrials()))
	}
	seen := map[string]int{}
	for _, st := range run.GetSteps() {
		seen[st.GetName()]++
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("step %s recorded %d times", name, n)
		}
	}
	problems, err := srv2.store.Check()
	if err != nil || len(problems) != 0 {
		t.Errorf("store check: %v %v", problems, err)
	}
}

func TestCancelRun(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	spec := irisSpec(&orchestratorv1.Candidate{Algorithm: "random_forest", Grid: map[string]*orchestratorv1.ParamValues{"n_estimators": {Values: []float64{2000, 2001, 2002}}}})
	start, err := client.StartRun(context.Background(), &orchestratorv1.StartRunRequest{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	resp, err := client.CancelRun(context.Background(), &orchestratorv1.CancelRunRequest{RunId: start.GetRun().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetRun().GetState() != orchestratorv1.RunState_RUN_STATE_CANCELLED {
		t.Fatalf("after cancel: %v", resp.GetRun().GetState())
	}
}

func TestStartRunValidation(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	bad := -1.0
	cases := []struct {
		name  string
		spec  *orchestratorv1.PipelineSpec
		field string
	}{
		{"nil spec", nil, "spec"},
		{"no source", &orchestratorv1.PipelineSpec{Label: "y"}, "spec.source"},
		{"no label", &orchestratorv1.PipelineSpec{Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}}, "spec.label"},
		{"bad upload digest", &orchestratorv1.PipelineSpec{Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Upload{Upload: "xyz"}}, Label: "y"}, "spec.source.upload"},
		{"unknown upload", &orchestratorv1.PipelineSpec{Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Upload{Upload: strings.Repeat("a", 64)}}, Label: "y"}, "spec.source.upload"},
		{"unknown algorithm", irisSpec(&orchestratorv1.Candidate{Algorithm: "nope"}), "spec.candidates[0].algorithm"},
		{"negative param", irisSpec(&orchestratorv1.Candidate{Algorithm: "knn", Params: map[string]float64{"k": -1}}), `spec.candidates[0].params["k"]`},
		{"unknown param", irisSpec(&orchestratorv1.Candidate{Algorithm: "knn", Params: map[string]float64{"kk": 1}}), `spec.candidates[0].params["kk"]`},
		{"bad grid", irisSpec(&orchestratorv1.Candidate{Algorithm: "ridge", Grid: map[string]*orchestratorv1.ParamValues{"alpha": {Values: []float64{1, bad}}}}), `spec.candidates[0].grid["alpha"]`},
		{"empty grid", irisSpec(&orchestratorv1.Candidate{Algorithm: "ridge", Grid: map[string]*orchestratorv1.ParamValues{"alpha": {}}}), `spec.candidates[0].grid["alpha"]`},
		{"unknown metric", &orchestratorv1.PipelineSpec{Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species", Objective: &orchestratorv1.Objective{Metric: "vibes"}}, "spec.objective.metric"},
		{"budget", &orchestratorv1.PipelineSpec{Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species", MaxTrials: -2}, "spec.max_trials"},
		{"test fraction", &orchestratorv1.PipelineSpec{Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species", Prepare: &prepv1.PrepareOptions{TestFraction: 0.95}}, "spec.prepare.test_fraction"},
		{"cleaning the label", &orchestratorv1.PipelineSpec{Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species", Prepare: &prepv1.PrepareOptions{Cleaning: &datav1.CleaningOptions{LogTransform: []string{"species"}}}}, "spec.prepare.cleaning.log_transform[0]"},
		{"constant impute without value", &orchestratorv1.PipelineSpec{Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species", Prepare: &prepv1.PrepareOptions{Cleaning: &datav1.CleaningOptions{Impute: []*datav1.ImputeRule{{Column: "sepal_length_cm", Strategy: datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT}}}}}, "spec.prepare.cleaning.impute[0].value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.StartRun(context.Background(), &orchestratorv1.StartRunRequest{Spec: tc.spec})
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v, want InvalidArgument", err)
			}
			f := serverkit.FieldViolations(err)
			if len(f) != 1 || f[0] != tc.field {
				t.Fatalf("fields %v, want %s (%v)", f, tc.field, err)
			}
		})
	}
	// Unknown runs and artifacts are NotFound; bad ids are InvalidArgument.
	if _, err := client.GetRun(context.Background(), &orchestratorv1.GetRunRequest{RunId: "missing"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetRun missing: %v", err)
	}
	if _, err := client.GetRun(context.Background(), &orchestratorv1.GetRunRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("GetRun empty: %v", err)
	}
	stream, err := client.GetArtifact(context.Background(), &orchestratorv1.GetArtifactRequest{Digest: strings.Repeat("0", 64)})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetArtifact missing: %v", err)
	}
	if _, err := client.Predict(context.Background(), &orchestratorv1.PredictRequest{RunId: "missing"}); status.Code(err) != codes.NotFound {
		t.Errorf("Predict missing run: %v", err)
	}
}

func TestUploadAndFailedRun(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	srv, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	ctx := context.Background()
	up, err := client.UploadSource(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = up.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Name{Name: "c.csv"}})
	_ = up.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Chunk{Chunk: []byte("a,b\n1,x\n2,x\n3,x\n4,x\n5,x\n6,x\n7,x\n8,x\n9,x\n10,x\n")}})
	resp, err := up.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	// The label is constant: the run fails with prep's reason, and no
	// prepared artifact is left behind.
	start, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: &orchestratorv1.PipelineSpec{
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Upload{Upload: resp.GetArtifact().GetDigest()}}, Label: "b",
	}})
	if err != nil {
		t.Fatal(err)
	}
	run := await(t, client, start.GetRun().GetId())
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_FAILED || !strings.Contains(run.GetError(), "constant") {
		t.Fatalf("run %v with error %q, want failed: constant label", run.GetState(), run.GetError())
	}
	arts, err := srv.store.ListArtifacts(run.GetId())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range arts {
		if a.GetKind() == kindPrepared || a.GetKind() == kindTransform || a.GetKind() == kindModel {
			t.Errorf("failed run left a %s artifact", a.GetKind())
		}
	}
	// An empty upload is refused.
	up, _ = client.UploadSource(ctx)
	_ = up.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Name{Name: "empty.csv"}})
	if _, err := up.CloseAndRecv(); status.Code(err) != codes.InvalidArgument {
		t.Errorf("empty upload: %v", err)
	}
}

func TestExpandCandidates(t *testing.T) {
	spec := &orchestratorv1.PipelineSpec{MaxTrials: 5, Candidates: []*orchestratorv1.Candidate{
		{Algorithm: "knn", Params: map[string]float64{"distance_weighted": 1}, Grid: map[string]*orchestratorv1.ParamValues{"k": {Values: []float64{1, 3}}}},
		{Algorithm: "ridge", Grid: map[string]*orchestratorv1.ParamValues{"alpha": {Values: []float64{0.1, 1, 10, 100}}}},
	}}
	got := expandCandidates(spec, datav1.Task_TASK_REGRESSION)
	if len(got) != 5 {
		t.Fatalf("%d configs, want the budget of 5", len(got))
	}
	if got[0].algorithm != "knn" || got[0].params["k"] != 1 || got[0].params["distance_weighted"] != 1 || got[1].params["k"] != 3 {
		t.Errorf("knn grid: %+v %+v", got[0], got[1])
	}
	if got[4].algorithm != "ridge" || got[4].params["alpha"] != 10 {
		t.Errorf("last config %+v, want ridge alpha=10", got[4])
	}
	all := expandCandidates(&orchestratorv1.PipelineSpec{}, datav1.Task_TASK_CLASSIFICATION)
	for _, c := range all {
		if c.algorithm == "linear_regression" || c.algorithm == "ridge" {
			t.Errorf("default classification candidates include %s", c.algorithm)
		}
	}
}

func FuzzValidateSpec(f *testing.F) {
	f.Add("iris", "species", "knn", "k", 5.0, int32(3), "accuracy")
	f.Add("", "", "", "", -1.0, int32(-1), "")
	f.Fuzz(func(t *testing.T, src, label, alg, param string, v float64, trials int32, metric string) {
		spec := &orchestratorv1.PipelineSpec{
			Source:     &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: src}},
			Label:      label,
			Candidates: []*orchestratorv1.Candidate{{Algorithm: alg, Params: map[string]float64{param: v}}},
			Objective:  &orchestratorv1.Objective{Metric: metric},
			MaxTrials:  trials,
		}
		err := validateSpec(spec)
		if err != nil {
			if _, ok := err.(*specError); !ok {
				t.Fatalf("validateSpec returned %T, want *specError", err)
			}
			return
		}
		_ = expandCandidates(spec, datav1.Task_TASK_CLASSIFICATION)
	})
}

func TestCurveVerdict(t *testing.T) {
	pt := func(rows int64, train, valid float64) *orchestratorv1.LearningCurvePoint {
		return &orchestratorv1.LearningCurvePoint{TrainFraction: float64(rows) / 100, TrainRows: rows, TrainScore: train, ValidationScore: valid}
	}
	cases := []struct {
		name, metric string
		points       []*orchestratorv1.LearningCurvePoint
		want         string
	}{
		{"rising", "accuracy", []*orchestratorv1.LearningCurvePoint{pt(10, 1, 0.6), pt(40, 1, 0.7), pt(60, 0.95, 0.8), pt(100, 0.95, 0.9)}, "likely to help"},
		{"flat", "accuracy", []*orchestratorv1.LearningCurvePoint{pt(10, 0.9, 0.8), pt(40, 0.9, 0.9), pt(60, 0.9, 0.9), pt(100, 0.91, 0.9)}, "unlikely to help"},
		{"overfit", "accuracy", []*orchestratorv1.LearningCurvePoint{pt(10, 1, 0.7), pt(40, 1, 0.8), pt(60, 1, 0.8), pt(100, 1, 0.8)}, "overfits"},
		{"rmse falling", "rmse", []*orchestratorv1.LearningCurvePoint{pt(10, 1, 9), pt(40, 1, 8), pt(60, 1, 6), pt(100, 1, 4)}, "likely to help"},
		{"too few", "accuracy", []*orchestratorv1.LearningCurvePoint{pt(10, 1, 0.5)}, "Too few"},
	}
	for _, tc := range cases {
		got := curveVerdict(&orchestratorv1.LearningCurve{Metric: tc.metric, Points: tc.points})
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: verdict %q, want it to say %q", tc.name, got, tc.want)
		}
	}
}

func TestBestOfTieBreak(t *testing.T) {
	m := func(logLoss float64) *datav1.Metrics {
		return &datav1.Metrics{Kind: &datav1.Metrics_Classification{Classification: &datav1.ClassificationMetrics{LogLoss: logLoss}}}
	}
	trials := []*orchestratorv1.Trial{
		{Number: 1, Score: 0.9, ValidationMetrics: m(0.5)},
		{Number: 2, Score: 0.95, ValidationMetrics: m(0.4)},
		{Number: 3, Score: 0.95, ValidationMetrics: m(0.2)},
		{Number: 4, Score: 0.99, Error: "failed"},
	}
	if b := bestOf(trials, "accuracy"); b.GetNumber() != 3 {
		t.Errorf("best = %d, want 3 (tie on accuracy, lower log loss)", b.GetNumber())
	}
	if b := bestOf(trials, "log_loss"); b.GetNumber() != 1 {
		t.Errorf("lower-is-better: best = %d, want 1", b.GetNumber())
	}
}

func TestCrossValidation(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	spec := irisSpec(&orchestratorv1.Candidate{Algorithm: "logistic_regression"}, &orchestratorv1.Candidate{Algorithm: "naive_bayes"})
	spec.CvFolds = 5
	start, err := client.StartRun(context.Background(), &orchestratorv1.StartRunRequest{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	run := await(t, client, start.GetRun().GetId())
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("state %v: %s", run.GetState(), run.GetError())
	}
	for _, tr := range run.GetTrials() {
		if len(tr.GetFoldScores()) != 5 {
			t.Fatalf("trial %d: %d fold scores, want 5", tr.GetNumber(), len(tr.GetFoldScores()))
		}
		sum := 0.0
		for _, s := range tr.GetFoldScores() {
			sum += s
		}
		if d := sum/5 - tr.GetScore(); d > 1e-12 || d < -1e-12 {
			t.Errorf("trial %d: score %v is not the fold mean %v", tr.GetNumber(), tr.GetScore(), sum/5)
		}
		cm := tr.GetValidationMetrics().GetClassification().GetConfusionMatrix()
		total := int64(0)
		for _, c := range cm.GetCounts() {
			total += c
		}
		if total != 120 {
			t.Errorf("trial %d: summed confusion counts %d, want the 120 train+validation rows", tr.GetNumber(), total)
		}
	}
}

func TestExpandRanges(t *testing.T) {
	c := &orchestratorv1.Candidate{Algorithm: "logistic_regression", Samples: 50,
		Ranges: map[string]*orchestratorv1.ParamRange{"C": {Min: 0.001, Max: 1000, Log: true}, "max_iter": {Min: 10, Max: 500, Integer: true}}}
	a := expandRanges(c, 7, 0)
	b := expandRanges(c, 7, 0)
	if len(a) != 50 {
		t.Fatalf("%d draws, want 50", len(a))
	}
	small := 0
	for i := range a {
		if a[i]["C"] != b[i]["C"] || a[i]["max_iter"] != b[i]["max_iter"] {
			t.Fatal("draws are not reproducible for a seed")
		}
		if c := a[i]["C"]; c < 0.001 || c > 1000 {
			t.Fatalf("C=%g outside the range", c)
		}
		if c := a[i]["C"]; c < 1 {
			small++
		}
		if m := a[i]["max_iter"]; m != float64(int(m)) || m < 10 || m > 500 {
			t.Fatalf("max_iter=%g not a whole number in range", m)
		}
	}
	// Log-uniform: about half the draws fall below the geometric middle.
	if small < 15 || small > 35 {
		t.Errorf("%d of 50 log-uniform draws below 1, want about 25", small)
	}
	if d := expandRanges(c, 8, 0); d[0]["C"] == a[0]["C"] {
		t.Error("another seed drew the same value")
	}
	spec := &orchestratorv1.PipelineSpec{BalanceClasses: true, Candidates: []*orchestratorv1.Candidate{{Algorithm: "naive_bayes"}, {Algorithm: "logistic_regression"}}}
	for _, tc := range expandCandidates(spec, datav1.Task_TASK_CLASSIFICATION) {
		a, _ := algo.Lookup(tc.algorithm)
		if hasParam(a, balancedParam) && tc.params[balancedParam] != 1 {
			t.Errorf("%s: balance_classes did not set %s", tc.algorithm, balancedParam)
		}
		if !hasParam(a, balancedParam) {
			if _, ok := tc.params[balancedParam]; ok {
				t.Errorf("%s: balanced set on an algorithm without it", tc.algorithm)
			}
		}
	}
}

func TestSearchSpecValidation(t *testing.T) {
	base := func(c *orchestratorv1.Candidate) *orchestratorv1.PipelineSpec { return irisSpec(c) }
	cases := []struct {
		name  string
		spec  *orchestratorv1.PipelineSpec
		field string
	}{
		{"min above max", base(&orchestratorv1.Candidate{Algorithm: "ridge", Ranges: map[string]*orchestratorv1.ParamRange{"alpha": {Min: 2, Max: 1}}}), `spec.candidates[0].ranges["alpha"]`},
		{"log from zero", base(&orchestratorv1.Candidate{Algorithm: "ridge", Ranges: map[string]*orchestratorv1.ParamRange{"alpha": {Min: 0, Max: 1, Log: true}}}), `spec.candidates[0].ranges["alpha"]`},
		{"out of bounds", base(&orchestratorv1.Candidate{Algorithm: "knn", Ranges: map[string]*orchestratorv1.ParamRange{"k": {Min: -5, Max: 3}}}), `spec.candidates[0].ranges["k"]`},
		{"samples", base(&orchestratorv1.Candidate{Algorithm: "knn", Samples: -1}), "spec.candidates[0].samples"},
		{"folds", &orchestratorv1.PipelineSpec{Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species", CvFolds: 50}, "spec.cv_folds"},
	}
	for _, tc := range cases {
		err := validateSpec(tc.spec)
		se, ok := err.(*specError)
		if !ok || se.field != tc.field {
			t.Errorf("%s: got %v, want an error on %s", tc.name, err, tc.field)
		}
	}
}

func TestTrialsSpreadOverTrainReplicas(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	var addrs []string
	for _, id := range []string{"replica-a", "replica-b"} {
		srv := serverkit.NewGRPCServer(slog.New(slog.DiscardHandler))
		trainv1.RegisterTrainServiceServer(srv.GRPC, train.NewServer(train.Config{ServerID: id}))
		lis, err := serverkit.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = srv.Serve(ctx, lis); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		addrs = append(addrs, lis.Addr().String())
	}
	cfg.TrainAddr = strings.Join(addrs, ",")
	cfg.MaxParallelTrials = 2
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	spec := irisSpec(&orchestratorv1.Candidate{Algorithm: "knn", Grid: map[string]*orchestratorv1.ParamValues{"k": {Values: []float64{1, 3, 5, 7, 9, 11}}}})
	start, err := client.StartRun(context.Background(), &orchestratorv1.StartRunRequest{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	run := await(t, client, start.GetRun().GetId())
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED || len(run.GetTrials()) != 6 {
		t.Fatalf("state %v, %d trials: %s", run.GetState(), len(run.GetTrials()), run.GetError())
	}
	servers := map[string]int{}
	for _, tr := range run.GetTrials() {
		servers[tr.GetTrainServer()]++
	}
	if servers["replica-a"] == 0 || servers["replica-b"] == 0 {
		t.Errorf("trials per train replica %v, want both replicas used", servers)
	}
}

// TestBadRowsSkippedAndReported uploads a semicolon-separated file with two
// malformed rows: without max_bad_rows the run fails naming the first
// line; with it the run succeeds and records which rows were skipped.
func TestBadRowsSkippedAndReported(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("# exported by hand\nx;y;label\n")
	for i := range 60 {
		fmt.Fprintf(&b, "%d;%d;%s\n", i, i%7, []string{"a", "b"}[i%2])
		switch i {
		case 10:
			b.WriteString("1;2;a;surplus\n") // line 14
		case 30:
			b.WriteString("3\n") // line 35
		}
	}
	up, err := client.UploadSource(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = up.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Name{Name: "messy.csv"}})
	_ = up.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Chunk{Chunk: []byte(b.String())}})
	resp, err := up.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	spec := func(maxBad int64) *orchestratorv1.PipelineSpec {
		return &orchestratorv1.PipelineSpec{
			Source: &orchestratorv1.Source{
				Kind: &orchestratorv1.Source_Upload{Upload: resp.GetArtifact().GetDigest()},
				Csv:  &ingestv1.CsvOptions{MaxBadRows: maxBad},
			},
			Label:      "label",
			Candidates: []*orchestratorv1.Candidate{{Algorithm: "logistic_regression"}},
		}
	}
	start, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: spec(0)})
	if err != nil {
		t.Fatal(err)
	}
	run := await(t, client, start.GetRun().GetId())
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_FAILED || !strings.Contains(run.GetError(), "line 14") {
		t.Fatalf("run %v with error %q, want failed naming line 14", run.GetState(), run.GetError())
	}
	start, err = client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: spec(5)})
	if err != nil {
		t.Fatal(err)
	}
	run = await(t, client, start.GetRun().GetId())
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("run %v: %s", run.GetState(), run.GetError())
	}
	rep := run.GetIngestReport()
	if rep.GetSkippedRows() != 2 || rep.GetRows() != 60 || len(rep.GetBadRows()) != 2 ||
		rep.GetBadRows()[0].GetLine() != 14 || rep.GetBadRows()[1].GetLine() != 35 || !strings.Contains(rep.GetDialect(), `";"`) {
		t.Fatalf("ingest report %v", rep)
	}
	if run.GetDatasetRows() != 60 {
		t.Errorf("dataset rows %d, want 60", run.GetDatasetRows())
	}
}
