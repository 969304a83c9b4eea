package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/alur-ml/alur/services/orchestrator"
	"github.com/alur-ml/alur/services/orchestrator/alurtest"
	"github.com/alur-ml/alur/services/orchestrator/stack"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/artifacts"
	"github.com/alur-ml/alur/services/orchestrator/search"
)

// startStages serves the four stages on loopback ports in this process
// and returns an orchestrator configuration pointing at them.
func startStages(t *testing.T) orchestrator.Config {
	t.Helper()
	st := alurtest.Stages(t, stack.StagesConfig{})
	return orchestrator.Config{
		IngestAddr: st.IngestAddr, PrepAddr: st.PrepAddr, TrainAddr: st.TrainAddr, EvalAddr: st.EvalAddr,
		Logger: slog.New(slog.DiscardHandler),
	}
}

// newTestOrchestrator serves an orchestrator over bufconn.
func newTestOrchestrator(t *testing.T, cfg orchestrator.Config) (*orchestrator.Server, orchestratorv1.OrchestratorServiceClient, func()) {
	t.Helper()
	srv, err := orchestrator.New(cfg)
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
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED || len(run.GetTrials()) != 1 || !run.GetObjectiveMet() ||
		run.GetSearchStop() != orchestratorv1.SearchStop_SEARCH_STOP_OBJECTIVE_MET {
		t.Fatalf("state %v, %d trials, objective met %v, search stop %v; want one trial meeting the target", run.GetState(), len(run.GetTrials()), run.GetObjectiveMet(), run.GetSearchStop())
	}
}

// singleTrials are the run's trials but the ensemble of them, which a
// cross-validated run adds when it ranks first.
func singleTrials(run *orchestratorv1.Run) []*orchestratorv1.Trial {
	var out []*orchestratorv1.Trial
	for _, tr := range run.GetTrials() {
		if tr.GetAlgorithm() != search.EnsembleAlgorithm {
			out = append(out, tr)
		}
	}
	return out
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
		r, err := srv.GetRun(context.Background(), &orchestratorv1.GetRunRequest{RunId: id})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.GetRun().GetTrials()) >= 1 {
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
	if n := len(singleTrials(run)); n != 5 {
		t.Errorf("%d single trials after resume, want 5", n)
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
	problems, err := boltOf(t, srv2).Check()
	if err != nil || len(problems) != 0 {
		t.Errorf("store check: %v %v", problems, err)
	}
	// The event log says so by kind: one resume, and no step started
	// again after it had finished.
	resumes, finished := 0, map[string]bool{}
	for _, ev := range runEvents(t, client2, id) {
		switch ev.GetKind() {
		case orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_RESUMED:
			resumes++
		case orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_STARTED:
			if finished[ev.GetStep()] {
				t.Errorf("step %s started again after it finished", ev.GetStep())
			}
		case orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FINISHED, orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_CACHED:
			finished[ev.GetStep()] = true
		case orchestratorv1.RunEventKind_RUN_EVENT_KIND_UNSPECIFIED:
			t.Errorf("event without a kind: %q", ev.GetMessage())
		}
	}
	if resumes != 1 {
		t.Errorf("%d resume events, want 1", resumes)
	}
}

// runEvents returns a finished run's whole event log.
func runEvents(t *testing.T, client orchestratorv1.OrchestratorServiceClient, id string) []*orchestratorv1.RunEvent {
	t.Helper()
	stream, err := client.WatchRun(context.Background(), &orchestratorv1.WatchRunRequest{RunId: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []*orchestratorv1.RunEvent
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m.GetEvent())
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
	arts, err := srv.Store().ListArtifacts(run.GetId())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range arts {
		if a.GetKind() == artifacts.KindPrepared || a.GetKind() == artifacts.KindTransform || a.GetKind() == artifacts.KindModel {
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

func TestTrialsSpreadOverTrainReplicas(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	var addrs []string
	for _, id := range []string{"replica-a", "replica-b"} {
		addrs = append(addrs, alurtest.Stages(t, stack.StagesConfig{TrainServerID: id}).TrainAddr)
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
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED || len(singleTrials(run)) != 6 {
		t.Fatalf("state %v, %d single trials: %s", run.GetState(), len(singleTrials(run)), run.GetError())
	}
	servers := map[string]int{}
	for _, tr := range singleTrials(run) {
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

// TestLearningCurveReusesTheTrialModel: a holdout search (named candidates)
// already trained the winner on every training row, so the learning
// curve's last point scores that model instead of training it again: the
// run calls Train once for the trial, once for the refit and once per
// curve point but the last.
func TestLearningCurveReusesTheTrialModel(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	// More rows than selection.MaxCVRows in train and validation: the
	// search validates on the holdout rows.
	var csv strings.Builder
	csv.WriteString("x1,x2,label\n")
	for i := range 13_000 {
		x1, x2 := float64(i%97)/97, float64(i%89)/89
		label := "a"
		if x1+x2+float64(i%7)/20 > 1.1 {
			label = "b"
		}
		fmt.Fprintf(&csv, "%.4f,%.4f,%s\n", x1, x2, label)
	}
	spec := &orchestratorv1.PipelineSpec{
		Source:     &orchestratorv1.Source{Kind: &orchestratorv1.Source_Upload{Upload: upload(t, client, "holdout.csv", csv.String())}},
		Label:      "label",
		Candidates: []*orchestratorv1.Candidate{{Algorithm: "decision_tree"}},
		Seed:       42,
	}
	before := trainCalls(t)
	start, err := client.StartRun(t.Context(), &orchestratorv1.StartRunRequest{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	run := await(t, client, start.GetRun().GetId())
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("state %v: %s", run.GetState(), run.GetError())
	}
	points := run.GetLearningCurve()
	if len(points) < 3 {
		t.Fatalf("learning curve of %d points", len(points))
	}
	if got, want := trainCalls(t)-before, 2+len(points)-1; got != want {
		t.Errorf("%d Train calls, want %d (trial, refit, %d curve points but the last)", got, want, len(points)-1)
	}
	last, best := points[len(points)-1], run.GetTrials()[0]
	if last.GetValidationScore() != best.GetScore() || last.GetTrainFraction() != 1 {
		t.Errorf("last curve point %v; the trial trained on every row scored %v on validation", last, best.GetScore())
	}
}

// trainCalls reads how many Train calls the orchestrators of this test
// process have finished, from the standard gRPC client metrics.
func trainCalls(t *testing.T) int {
	t.Helper()
	rec := httptest.NewRecorder()
	serverkit.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	n := 0.0
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if !strings.HasPrefix(line, "grpc_client_handled_total{") || !strings.Contains(line, `grpc_method="Train"`) || !strings.Contains(line, `grpc_service="alur.train.v1.TrainService"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		n += v
	}
	return int(n)
}
