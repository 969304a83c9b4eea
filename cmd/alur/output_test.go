package main

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func ts(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(t0.Add(d)) }

func classMetrics(acc float64) *datav1.Metrics {
	return &datav1.Metrics{NumSamples: 30, Kind: &datav1.Metrics_Classification{Classification: &datav1.ClassificationMetrics{
		Accuracy: acc, F1Macro: acc - 0.01, LogLoss: 0.1234, RocAuc: 0.99,
		ConfusionMatrix: &datav1.ConfusionMatrix{
			Labels: []string{"setosa", "versicolor", "virginica"},
			Counts: []int64{10, 0, 0, 0, 9, 1, 0, 0, 10},
		},
	}}}
}

// handRun is a finished classification run with three trials, one failed,
// trial 2 the winner.
func handRun() *orchestratorv1.Run {
	target := 0.95
	return &orchestratorv1.Run{
		Id: "run-7",
		Spec: &orchestratorv1.PipelineSpec{
			Name:   "iris",
			Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}},
			Label:  "species",
			Candidates: []*orchestratorv1.Candidate{
				{Algorithm: "random_forest", Grid: map[string]*orchestratorv1.ParamValues{"max_depth": {Values: []float64{2, 8}}}},
				{Algorithm: "knn"},
			},
			Objective: &orchestratorv1.Objective{Metric: "accuracy", Target: &target},
			Seed:      42,
		},
		State:      orchestratorv1.RunState_RUN_STATE_SUCCEEDED,
		CreateTime: ts(0),
		EndTime:    ts(3200 * time.Millisecond),
		Steps: []*orchestratorv1.Step{
			{Name: "collect", State: orchestratorv1.StepState_STEP_STATE_SUCCEEDED, StartTime: ts(0), EndTime: ts(100 * time.Millisecond), CacheHit: true},
			{Name: "train/3", State: orchestratorv1.StepState_STEP_STATE_FAILED, StartTime: ts(time.Second), EndTime: ts(1500 * time.Millisecond), Error: "k larger than the training rows"},
		},
		Trials: []*orchestratorv1.Trial{
			{Number: 1, Algorithm: "random_forest", Params: map[string]float64{"max_depth": 2, "n_trees": 100}, Score: 0.9, FitSeconds: 0.25, ValidationMetrics: classMetrics(0.9)},
			{Number: 2, Algorithm: "random_forest", Params: map[string]float64{"max_depth": 8, "n_trees": 100}, Score: 0.96667, FitSeconds: 1.2, ValidationMetrics: classMetrics(0.96667)},
			{Number: 3, Algorithm: "knn", Params: map[string]float64{"k": 5}, Error: "k larger than the training rows"},
		},
		BestTrial:       2,
		TestMetrics:     classMetrics(0.9667),
		ObjectiveMet:    true,
		Metric:          "accuracy",
		Task:            datav1.Task_TASK_CLASSIFICATION,
		DatasetRows:     150,
		DatasetDigest:   strings.Repeat("ab", 32),
		TransformDigest: strings.Repeat("cd", 32),
	}
}

// squeeze collapses runs of spaces so assertions do not depend on column
// widths.
func squeeze(s string) string { return regexp.MustCompile(` +`).ReplaceAllString(s, " ") }

func TestWriteLeaderboard(t *testing.T) {
	var b bytes.Buffer
	writeLeaderboard(&b, handRun())
	got := b.String()
	lines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	want := []string{
		" RANK TRIAL ALGORITHM PARAMS VALIDATION ACCURACY LOG_LOSS (TIE-BREAK) FIT",
		"* 1 2 random_forest max_depth=8 0.9667 0.1234 1.2s",
		" 2 1 random_forest max_depth=2 0.9000 0.1234 250ms",
		" - 3 knn k=5 failed: k larger than the training rows - 0s",
		"* best: trial 2 (target 0.9500 met); equal accuracy scores are ranked by the lower validation log_loss (a model with only certain predictions last), then the simpler algorithm, as the run chose.",
		"The search stopped after 3 trials: the validation accuracy reached the target 0.9500.",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), got)
	}
	for i := range want {
		if g := strings.TrimRight(squeeze(lines[i]), " "); g != want[i] {
			t.Errorf("line %d = %q, want %q", i, g, want[i])
		}
	}
	// The columns line up: every row's algorithm starts where the header's
	// does.
	col := strings.Index(lines[0], "ALGORITHM")
	for _, l := range lines[1:4] {
		if !strings.HasPrefix(l[col:], "random_forest") && !strings.HasPrefix(l[col:], "knn") {
			t.Errorf("misaligned row %q", l)
		}
	}
}

func TestWriteLeaderboardLowerIsBetter(t *testing.T) {
	reg := func(rmse float64) *datav1.Metrics {
		return &datav1.Metrics{Kind: &datav1.Metrics_Regression{Regression: &datav1.RegressionMetrics{Rmse: rmse}}}
	}
	run := &orchestratorv1.Run{
		Metric: "rmse",
		Trials: []*orchestratorv1.Trial{
			{Number: 1, Algorithm: "linear_regression", Score: 3.5, ValidationMetrics: reg(3.5)},
			{Number: 2, Algorithm: "gradient_boosting", Score: 1.25, Params: map[string]float64{"learning_rate": 0.1, "balanced": 0}, ValidationMetrics: reg(1.25)},
			{Number: 3, Algorithm: "ridge", Score: math.NaN()},
		},
		BestTrial: 2,
	}
	var b bytes.Buffer
	writeLeaderboard(&b, run)
	lines := strings.Split(squeeze(b.String()), "\n")
	if !strings.HasPrefix(lines[1], "* 1 2 gradient_boosting learning_rate=0.1 1.2500") {
		t.Errorf("best row = %q (balanced is no parameter of a regression trial)", lines[1])
	}
	if !strings.HasPrefix(lines[2], " 2 1 linear_regression") || !strings.HasPrefix(lines[3], " - 3 ridge") {
		t.Errorf("order wrong:\n%s", b.String())
	}
	if !strings.Contains(lines[0], "VALIDATION RMSE RMSE (TIE-BREAK)") {
		t.Errorf("header = %q", lines[0])
	}
}

func TestKeyParams(t *testing.T) {
	got := keyParams(handRun())
	if len(got["random_forest"]) != 1 || got["random_forest"][0] != "max_depth" {
		t.Errorf("random_forest key params = %v, want [max_depth]", got["random_forest"])
	}
	if got["knn"] != nil {
		t.Errorf("knn key params = %v, want all (nil)", got["knn"])
	}
}

func TestWriteTestMetricsClassification(t *testing.T) {
	var b bytes.Buffer
	writeTestMetrics(&b, handRun())
	got := squeeze(b.String())
	for _, want := range []string{
		"Test metrics (trial 2, random_forest, refitted on train+validation; 30 rows):",
		" accuracy 0.9667\n", " f1_macro 0.9567\n", " log_loss 0.1234\n", " roc_auc 0.9900\n",
		"Confusion matrix (rows: true class, columns: predicted):",
		" setosa versicolor virginica\n",
		"setosa 10 0 0\n",
		"versicolor 0 9 1\n",
		"virginica 0 0 10\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
}

// TestWriteTestMetricsBagged: a default cross-validated run whose winner
// is a forest hands over the average of its fold models, and says so.
func TestWriteTestMetricsBagged(t *testing.T) {
	run := handRun()
	run.Spec.Candidates = nil
	run.Trials[1].FoldScores = []float64{1, 0.9, 1, 0.95, 0.98}
	var b bytes.Buffer
	writeTestMetrics(&b, run)
	if want := "Test metrics (trial 2, random_forest, the average of its fold models; 30 rows):"; !strings.Contains(squeeze(b.String()), want) {
		t.Errorf("missing %q in:\n%s", want, b.String())
	}
}

func TestWriteTestMetricsRegression(t *testing.T) {
	run := &orchestratorv1.Run{TestMetrics: &datav1.Metrics{NumSamples: 20, Kind: &datav1.Metrics_Regression{
		Regression: &datav1.RegressionMetrics{Rmse: 2.5, Mae: 1.75, R2: 0.8125},
	}}}
	var b bytes.Buffer
	writeTestMetrics(&b, run)
	got := squeeze(b.String())
	for _, want := range []string{"best model; 20 rows", " rmse 2.5000\n", " mae 1.7500\n", " r2 0.8125\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
}

func TestWriteRunList(t *testing.T) {
	running := &orchestratorv1.Run{
		Id: "run-8", State: orchestratorv1.RunState_RUN_STATE_RUNNING, CreateTime: ts(time.Minute),
		Spec: &orchestratorv1.PipelineSpec{Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Path{Path: "data/sales.csv"}}},
	}
	var b bytes.Buffer
	writeRunList(&b, []*orchestratorv1.Run{running, handRun()}, t0.Add(time.Minute+5*time.Second))
	lines := strings.Split(squeeze(b.String()), "\n")
	if lines[0] != "ID STATE NAME METRIC BEST TEST CREATED DURATION" {
		t.Errorf("header = %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "run-8 running sales.csv score - - ") || !strings.HasSuffix(lines[1], " 5.0s") {
		t.Errorf("running row = %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], "run-7 succeeded iris accuracy 0.9667 0.9667 ") || !strings.HasSuffix(lines[2], " 3.2s") {
		t.Errorf("finished row = %q", lines[2])
	}
	b.Reset()
	writeRunList(&b, nil, t0)
	if !strings.Contains(b.String(), "No runs yet") {
		t.Errorf("empty list = %q", b.String())
	}
}

func TestWriteRunDetails(t *testing.T) {
	arts := []*orchestratorv1.Artifact{
		{Digest: strings.Repeat("ab", 32), Kind: "dataset", Size: 3 << 20, Step: "collect", Name: "iris"},
	}
	var b bytes.Buffer
	writeRunDetails(&b, handRun(), arts, false, t0.Add(time.Hour))
	got := squeeze(b.String())
	for _, want := range []string{
		"Run run-7\n", "State succeeded (objective met)\n", "Source bundled iris\n",
		"Label species (classification)\n", "Objective accuracy reaching 0.9500\n",
		"Trials 3 run, budget 20 (default)\n", "Candidates random_forest (2 grid points), knn\n",
		"Rows 150\n", "Duration 3.2s\n",
		"STEP STATE DURATION CACHE ERROR\n", "collect succeeded 100ms hit\n",
		"train/3 failed 500ms k larger than the training rows\n",
		"Leaderboard:", "Test metrics", "DIGEST KIND SIZE STEP NAME\n",
		strings.Repeat("ab", 32) + " dataset 3.0 MiB collect iris\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
}

func TestFormatters(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{fmtScore(0.96666), "0.9667"},
		{fmtScore(math.NaN()), "-"},
		{fmtScore(-1.5), "-1.5000"},
		{fmtDuration(0), "0s"},
		{fmtDuration(500 * time.Microsecond), "<1ms"},
		{fmtDuration(4 * time.Millisecond), "4ms"},
		{fmtDuration(1234 * time.Millisecond), "1.2s"},
		{fmtDuration(59*time.Second + 940*time.Millisecond), "59.9s"},
		{fmtDuration(185 * time.Second), "3m05s"},
		{fmtDuration(2*time.Hour + 10*time.Minute), "2h10m"},
		{fmtDuration(-time.Second), "-"},
		{fmtSeconds(0.35), "350ms"},
		{fmtSeconds(math.Inf(1)), "-"},
		{fmtSize(0), "0 B"},
		{fmtSize(1023), "1023 B"},
		{fmtSize(1536), "1.5 KiB"},
		{fmtSize(3565158), "3.4 MiB"},
		{fmtSize(5 << 30), "5.0 GiB"},
		{fmtSize(3 << 50), "3.0 PiB"},
		{truncate("abcdef", 4), "abc…"},
		{truncate("abc", 4), "abc"},
		{runStateWord(orchestratorv1.RunState_RUN_STATE_CANCELLED), "cancelled"},
		{taskWord(datav1.Task_TASK_REGRESSION), "regression"},
		{taskWord(datav1.Task_TASK_UNSPECIFIED), "auto"},
		{quoteArg("/tmp/alur-demo-1"), "/tmp/alur-demo-1"},
		{quoteArg("/tmp/my dir/it's"), `'/tmp/my dir/it'\''s'`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestMetricValue(t *testing.T) {
	m := classMetrics(0.9)
	for _, tc := range []struct {
		m    *datav1.Metrics
		name string
		want float64
		ok   bool
	}{
		{m, "accuracy", 0.9, true},
		{m, "f1_macro", 0.89, true},
		{m, "log_loss", 0.1234, true},
		{m, "rmse", math.NaN(), false},
		{nil, "accuracy", math.NaN(), false},
		{&datav1.Metrics{Kind: &datav1.Metrics_Regression{Regression: &datav1.RegressionMetrics{R2: 0.5}}}, "r2", 0.5, true},
	} {
		got, ok := metricValue(tc.m, tc.name)
		if ok != tc.ok || (ok && math.Abs(got-tc.want) > 1e-12) || (!ok && !math.IsNaN(got)) {
			t.Errorf("metricValue(%s) = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestProgressPrinter(t *testing.T) {
	run := &orchestratorv1.Run{Metric: "accuracy", CreateTime: ts(0)}
	var b bytes.Buffer
	p := newProgressPrinter(&b, run, false)
	p.event(&orchestratorv1.RunEvent{Sequence: 1, Time: ts(120 * time.Millisecond), Step: "collect", Message: "collect: done: 150 rows"})
	p.event(&orchestratorv1.RunEvent{Sequence: 2, Time: ts(1500 * time.Millisecond), Step: "evaluate/1",
		Trial: &orchestratorv1.Trial{Number: 1, Algorithm: "knn", Params: map[string]float64{"k": 5}, Score: 0.95, FitSeconds: 0.01,
			ValidationMetrics: &datav1.Metrics{Kind: &datav1.Metrics_Classification{Classification: &datav1.ClassificationMetrics{Accuracy: 0.95}}}}})
	p.event(&orchestratorv1.RunEvent{Sequence: 3, Time: ts(2 * time.Second), Step: "train/2",
		Trial: &orchestratorv1.Trial{Number: 2, Algorithm: "svm", Error: "diverged"}})
	p.event(&orchestratorv1.RunEvent{Sequence: 4, Time: ts(3 * time.Second), RunState: orchestratorv1.RunState_RUN_STATE_SUCCEEDED})
	got := squeeze(b.String())
	for _, want := range []string{
		" 120ms collect done: 150 rows\n",
		" 1.5s evaluate/1 trial 1 knn k=5 validation accuracy 0.9500 (fit 10ms) [1 trial, best 1 (0.9500)]\n",
		" 2.0s train/2 trial 2 svm failed: diverged [2 trials, best 1 (0.9500)]\n",
		" 3.0s run succeeded\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
	// Without a metric in the run, the trial's metrics tell the default.
	b.Reset()
	p = newProgressPrinter(&b, &orchestratorv1.Run{}, false)
	p.event(&orchestratorv1.RunEvent{Step: "trial/1", Trial: &orchestratorv1.Trial{Number: 1, Algorithm: "ridge", Score: 0.5,
		ValidationMetrics: &datav1.Metrics{Kind: &datav1.Metrics_Regression{Regression: &datav1.RegressionMetrics{R2: 0.5}}}}})
	if !strings.Contains(b.String(), "validation r2 0.5000") {
		t.Errorf("default metric not inferred: %q", b.String())
	}
	// A nil printer (quiet mode) ignores events.
	newProgressPrinter(nil, run, false).event(&orchestratorv1.RunEvent{Message: "x"})
}

// TestProgressPrinterDecidesByKind checks that the event's kind, not the
// wording of its message, decides what a line shows.
func TestProgressPrinterDecidesByKind(t *testing.T) {
	trial := func() *orchestratorv1.Trial {
		return &orchestratorv1.Trial{Number: 3, Algorithm: "knn", Params: map[string]float64{"k": 5}, Score: 0.9, Error: "diverged"}
	}
	for _, tc := range []struct {
		name    string
		verbose bool
		ev      *orchestratorv1.RunEvent
		want    string
	}{
		{"trial failed", false, &orchestratorv1.RunEvent{Kind: orchestratorv1.RunEventKind_RUN_EVENT_KIND_TRIAL_FAILED, Step: "train/3", Message: "whatever it says", Trial: trial()},
			"trial 3 knn k=5 failed: diverged"},
		{"trial finished", false, &orchestratorv1.RunEvent{Kind: orchestratorv1.RunEventKind_RUN_EVENT_KIND_TRIAL_FINISHED, Step: "evaluate/3", Message: "failed", Trial: trial()},
			"trial 3 knn k=5 validation accuracy 0.9000"},
		{"a step's event carrying a trial", true, &orchestratorv1.RunEvent{Kind: orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_PROGRESS, Step: "train/3", Message: "train/3: epoch 2 of 10", Trial: trial()},
			"train/3 epoch 2 of 10"},
		{"recorded before kinds", false, &orchestratorv1.RunEvent{Step: "train/3", Trial: trial()},
			"trial 3 knn k=5 failed: diverged"},
		{"run ended", false, &orchestratorv1.RunEvent{Kind: orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED, RunState: orchestratorv1.RunState_RUN_STATE_SUCCEEDED},
			"run succeeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			newProgressPrinter(&b, &orchestratorv1.Run{Metric: "accuracy"}, tc.verbose).event(tc.ev)
			if got := squeeze(b.String()); !strings.Contains(got, tc.want) {
				t.Errorf("line %q, want %q", got, tc.want)
			}
		})
	}
}

// TestProgressPrinterVerbose checks which events get a line: by default
// one line per trial and the run's own steps; the steps of a single trial
// (fold by fold under cross-validation) only with -v. The event's kind and
// step decide, never its message.
func TestProgressPrinterVerbose(t *testing.T) {
	ev := func(kind orchestratorv1.RunEventKind, step string) *orchestratorv1.RunEvent {
		return &orchestratorv1.RunEvent{Kind: kind, Step: step, Message: "m"}
	}
	const (
		started  = orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_STARTED
		progress = orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_PROGRESS
		finished = orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FINISHED
		failed   = orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FAILED
		retried  = orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_RETRIED
	)
	trial := &orchestratorv1.RunEvent{Kind: orchestratorv1.RunEventKind_RUN_EVENT_KIND_TRIAL_FINISHED, Step: "trial/2",
		Trial: &orchestratorv1.Trial{Number: 2, Algorithm: "knn", Score: 0.9}}
	for _, tc := range []struct {
		name          string
		ev            *orchestratorv1.RunEvent
		quiet, chatty bool // shown without and with -v
	}{
		{"fold training started", ev(started, "train/2/fold1"), false, true},
		{"fold training progress", ev(progress, "train/2/fold1"), false, true},
		{"fold evaluation done", ev(finished, "evaluate/2/fold3"), false, true},
		{"fold failed", ev(failed, "train/2/fold3"), false, true},
		{"fold retried", ev(retried, "evaluate/12/fold5"), false, true},
		{"trial training without folds", ev(finished, "train/2"), false, true},
		{"trial evaluation without folds", ev(started, "evaluate/2"), false, true},
		{"trial line", trial, true, true},
		{"collect", ev(finished, "collect"), true, true},
		{"prepare's task", ev(progress, "prepare"), true, true},
		{"search plan", ev(progress, "search"), true, true},
		{"refit", ev(progress, "refit"), true, true},
		{"test", ev(finished, "test"), true, true},
		{"a train-like step without a trial number", ev(finished, "train/final"), true, true},
		{"run succeeded", ev(orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED, ""), true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, verbose := range []bool{false, true} {
				var b bytes.Buffer
				newProgressPrinter(&b, &orchestratorv1.Run{Metric: "accuracy"}, verbose).event(tc.ev)
				want := tc.quiet
				if verbose {
					want = tc.chatty
				}
				if got := b.Len() > 0; got != want {
					t.Errorf("verbose %v: shown %v, want %v (%q)", verbose, got, want, b.String())
				}
			}
		})
	}
}

// TestProgressPrinterSearchProgress checks the end of each trial's line:
// trials so far, the best of them as the leaderboard ranks, and the time
// left of the spec's budget, counted from the search's start.
func TestProgressPrinterSearchProgress(t *testing.T) {
	run := &orchestratorv1.Run{Metric: "rmse", CreateTime: ts(0),
		Spec: &orchestratorv1.PipelineSpec{TimeBudget: durationpb.New(time.Minute)}}
	var b bytes.Buffer
	p := newProgressPrinter(&b, run, false)
	p.event(&orchestratorv1.RunEvent{Kind: orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_PROGRESS, Time: ts(time.Second), Step: "search", Message: "validation: …"})
	for i, tc := range []struct {
		score float64
		at    time.Duration
		want  string
	}{
		{2.5, 11 * time.Second, "[1 trial, best 1 (2.5000), 50s left]"},
		{1.5, 31 * time.Second, "[2 trials, best 2 (1.5000), 30s left]"},
		{3.0, 91 * time.Second, "[3 trials, best 2 (1.5000), 0s left]"},
	} {
		b.Reset()
		p.event(&orchestratorv1.RunEvent{Kind: orchestratorv1.RunEventKind_RUN_EVENT_KIND_TRIAL_FINISHED, Time: ts(tc.at), Step: fmt.Sprintf("trial/%d", i+1),
			Trial: &orchestratorv1.Trial{Number: int32(i + 1), Algorithm: "ridge", Score: tc.score,
				ValidationMetrics: &datav1.Metrics{Kind: &datav1.Metrics_Regression{Regression: &datav1.RegressionMetrics{Rmse: tc.score}}}}})
		if got := squeeze(b.String()); !strings.Contains(got, tc.want) {
			t.Errorf("trial %d: line %q, want %q", i+1, got, tc.want)
		}
	}
}

// TestProgressPrinterDefaultBudget: a run whose spec sets no time budget
// searches under the default for its data's size; the trial lines show
// the time left the engine's events carry, and a trial the budget stopped
// says so rather than that it failed.
func TestProgressPrinterDefaultBudget(t *testing.T) {
	run := &orchestratorv1.Run{Metric: "rmse", CreateTime: ts(0), Spec: &orchestratorv1.PipelineSpec{}}
	var b bytes.Buffer
	p := newProgressPrinter(&b, run, false)
	rmse := &datav1.Metrics{Kind: &datav1.Metrics_Regression{Regression: &datav1.RegressionMetrics{Rmse: 2}}}
	for i, tc := range []struct {
		kind orchestratorv1.RunEventKind
		tr   *orchestratorv1.Trial
		left time.Duration
		want string
	}{
		{orchestratorv1.RunEventKind_RUN_EVENT_KIND_TRIAL_FINISHED, &orchestratorv1.Trial{Number: 1, Algorithm: "ridge", Score: 2, ValidationMetrics: rmse},
			62 * time.Second, "[1 trial, best 1 (2.0000), 1m2s left]"},
		{orchestratorv1.RunEventKind_RUN_EVENT_KIND_TRIAL_FAILED, &orchestratorv1.Trial{Number: 2, Algorithm: "random_forest",
			Error: "stopped by the time budget (5m0s) while it trained; another trial had succeeded", StoppedByTimeBudget: true},
			0, "trial 2 random_forest stopped by the time budget (5m0s) while it trained; another trial had succeeded [2 trials, best 1 (2.0000), 0s left]"},
	} {
		b.Reset()
		p.event(&orchestratorv1.RunEvent{Kind: tc.kind, Time: ts(time.Duration(i+1) * time.Minute), Step: fmt.Sprintf("trial/%d", i+1),
			Trial: tc.tr, SearchTimeLeft: durationpb.New(tc.left)})
		if got := squeeze(b.String()); !strings.Contains(got, tc.want) || strings.Contains(got, "failed") {
			t.Errorf("trial %d: line %q, want %q", i+1, got, tc.want)
		}
	}
}

// TestWriteLeaderboardRanksAsChosen is the tie the issue met: two trials
// with the same validation accuracy; the run chose the one with the lower
// log loss, and the leaderboard must list it first, with the log loss.
func TestWriteLeaderboardRanksAsChosen(t *testing.T) {
	withLoss := func(acc, loss float64) *datav1.Metrics {
		return &datav1.Metrics{Kind: &datav1.Metrics_Classification{Classification: &datav1.ClassificationMetrics{Accuracy: acc, LogLoss: loss}}}
	}
	run := &orchestratorv1.Run{
		Metric: "accuracy",
		Trials: []*orchestratorv1.Trial{
			{Number: 1, Algorithm: "logistic_regression", Score: 1, ValidationMetrics: withLoss(1, 0.20)},
			{Number: 2, Algorithm: "knn", Score: 1, ValidationMetrics: withLoss(1, 0.05)},
			{Number: 3, Algorithm: "naive_bayes", Score: 0.9, ValidationMetrics: withLoss(0.9, 0.01)},
		},
		BestTrial: 2,
	}
	var b bytes.Buffer
	writeLeaderboard(&b, run)
	lines := strings.Split(squeeze(b.String()), "\n")
	want := []string{
		" RANK TRIAL ALGORITHM PARAMS VALIDATION ACCURACY LOG_LOSS (TIE-BREAK) FIT",
		"* 1 2 knn - 1.0000 0.0500 0s",
		" 2 1 logistic_regression - 1.0000 0.2000 0s",
		" 3 3 naive_bayes - 0.9000 0.0100 0s",
	}
	for i, w := range want {
		if g := strings.TrimRight(lines[i], " "); g != w {
			t.Errorf("line %d = %q, want %q", i, g, w)
		}
	}
}

// TestGroupSteps: the folds of a trial share one row with their total time
// and the worst state among them; verbose keeps every fold; a name that
// only looks like a fold stays itself.
func TestGroupSteps(t *testing.T) {
	step := func(name string, state orchestratorv1.StepState, from, to time.Duration, hit bool) *orchestratorv1.Step {
		return &orchestratorv1.Step{Name: name, State: state, StartTime: ts(from), EndTime: ts(to), CacheHit: hit}
	}
	ok, failed := orchestratorv1.StepState_STEP_STATE_SUCCEEDED, orchestratorv1.StepState_STEP_STATE_FAILED
	steps := []*orchestratorv1.Step{
		step("collect", ok, 0, 100*time.Millisecond, true),
		step("train/1/fold1", ok, time.Second, 2*time.Second, false),
		step("eval/1/fold1", ok, 2*time.Second, 2500*time.Millisecond, false),
		step("train/1/fold2", failed, 3*time.Second, 3500*time.Millisecond, true),
		step("eval/1/fold2", ok, 4*time.Second, 4500*time.Millisecond, false),
		step("train/2/foldx", ok, 5*time.Second, 6*time.Second, false),
		step("refit", ok, 7*time.Second, 9*time.Second, false),
	}
	tests := []struct {
		verbose bool
		want    []string
	}{
		{false, []string{
			"collect succeeded 100ms hit",
			"train/1 ×2 folds failed 1.5s 1/2 hit",
			"eval/1 ×2 folds succeeded 1.0s",
			"train/2/foldx succeeded 1.0s",
			"refit succeeded 2.0s",
		}},
		{true, []string{
			"collect succeeded 100ms hit",
			"train/1/fold1 succeeded 1.0s",
			"eval/1/fold1 succeeded 500ms",
			"train/1/fold2 failed 500ms hit",
			"eval/1/fold2 succeeded 500ms",
			"train/2/foldx succeeded 1.0s",
			"refit succeeded 2.0s",
		}},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		writeSteps(&b, steps, tc.verbose, t0)
		lines := strings.Split(strings.TrimSpace(squeeze(b.String())), "\n")
		if len(lines) != len(tc.want)+2 {
			t.Fatalf("verbose=%t: %d lines, want %d:\n%s", tc.verbose, len(lines), len(tc.want)+2, b.String())
		}
		for i, want := range tc.want {
			if got := strings.TrimSpace(lines[i+2]); got != want {
				t.Errorf("verbose=%t row %d = %q, want %q", tc.verbose, i, got, want)
			}
		}
	}
}
