package dashboard

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

var sectionIDs = regexp.MustCompile(`<section class="card" id="([a-z-]+)">`)

// TestReportOrderForAManager checks the report leads with what a manager
// asks (how good, which model, will more data help) and keeps the
// plumbing (steps, artifacts) at the end.
func TestReportOrderForAManager(t *testing.T) {
	src := newFakeSource()
	src.addRun(t, "20260102-030405-aaaaaa", "logistic_regression", false)
	srv := serveFake(t, src)
	want := []string{"summary", "test", "model", "learning-curve", "candidates", "errors", "metrics-explained", "data", "preparation", "steps", "artifacts"}
	for _, path := range []string{"/runs/20260102-030405-aaaaaa/report.html", "/runs/20260102-030405-aaaaaa"} {
		code, _, body := fetch(t, http.MethodGet, srv.URL+path)
		if code != http.StatusOK {
			t.Fatalf("%s: %d", path, code)
		}
		var got []string
		for _, m := range sectionIDs.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: sections %v, want %v", path, got, want)
		}
		// The confusion matrix comes before the metrics are explained.
		if i, j := strings.Index(body, `data-chart="confusion-matrix"`), strings.Index(body, `id="metrics-explained"`); i < 0 || i > j {
			t.Errorf("%s: confusion matrix at %d, metrics explained at %d", path, i, j)
		}
		// The learning curve's text names the shares it trained on, as
		// the points have them (20% to 100% in the fixture).
		if !strings.Contains(body, "on 20% to 100% of the training rows") {
			t.Errorf("%s: learning curve shares not stated", path)
		}
		if !strings.Contains(body, "logistic_regression (trial 1: a=1), ranked first of 2 scored candidates on validation Accuracy") {
			t.Errorf("%s: the chosen model is not said", path)
		}
		if !strings.Contains(body, "The search stopped after 3 trials: every candidate configuration was tried.") {
			t.Errorf("%s: the report does not say why the search stopped", path)
		}
	}
}

// TestLeaderboardRanksAsChosen: two trials with the same validation score;
// the run chose the one with the lower log loss, and the table lists it
// first with its tie-break value.
func TestLeaderboardRanksAsChosen(t *testing.T) {
	src := newFakeSource()
	run := src.addRun(t, "20260102-030405-aaaaaa", "logistic_regression", false)
	loss := func(l float64) *datav1.Metrics {
		return &datav1.Metrics{Kind: &datav1.Metrics_Classification{Classification: &datav1.ClassificationMetrics{Accuracy: 0.9, LogLoss: l}}}
	}
	run.Trials = []*orchestratorv1.Trial{
		{Number: 1, Algorithm: "first_but_worse", Score: 0.9, ValidationMetrics: loss(0.5)},
		{Number: 2, Algorithm: "chosen_one", Score: 0.9, ValidationMetrics: loss(0.125)},
	}
	run.BestTrial = 2
	v := trialRows(run)
	if len(v) != 2 || v[0].Number != 2 || v[0].Rank != "1" || !v[0].Best || v[0].TieBreak != "0.1250" || v[1].TieBreak != "0.5000" {
		t.Errorf("trial rows = %+v", v)
	}
	srv := serveFake(t, src)
	_, _, body := fetch(t, http.MethodGet, srv.URL+"/runs/20260102-030405-aaaaaa")
	if !strings.Contains(body, "Log loss (tie-break)") {
		t.Error("no tie-break column")
	}
	if i, j := strings.Index(body, "<td>chosen_one"), strings.Index(body, "<td>first_but_worse"); i < 0 || j < 0 || i > j {
		t.Errorf("chosen trial at %d, other at %d: not ranked as chosen", i, j)
	}
}

// TestDatasetNamesShow: a run on a dataset version shows the dataset's
// name and version everywhere, not "—" and a digest.
func TestDatasetNamesShow(t *testing.T) {
	src := newFakeSource()
	run := src.addRun(t, "20260102-030405-aaaaaa", "ridge", true)
	run.Spec.Label = "price"
	run.Spec.Source = &orchestratorv1.Source{Kind: &orchestratorv1.Source_Dataset{Dataset: &orchestratorv1.DatasetRef{Name: "sales", Version: 2}}}
	srv := serveFake(t, src)
	_, _, list := fetch(t, http.MethodGet, srv.URL+"/")
	if !strings.Contains(list, "<td>sales v2</td>") || !strings.Contains(list, `<td class="mono">v2</td>`) {
		t.Errorf("runs list lacks the dataset name and version:\n%s", list)
	}
	_, _, page := fetch(t, http.MethodGet, srv.URL+"/runs/20260102-030405-aaaaaa")
	if !strings.Contains(page, "regression of <strong>price</strong> on sales v2") {
		t.Error("run page does not name the dataset")
	}
}

// TestFailedRunReasonFolds: the runs list shows a failed run's first line
// and folds the rest under it.
func TestFailedRunReasonFolds(t *testing.T) {
	src := newFakeSource()
	run := src.addRun(t, "20260102-030405-aaaaaa", "ridge", true)
	run.State = orchestratorv1.RunState_RUN_STATE_FAILED
	run.Error = "train: every trial failed\ntrial 1: InvalidArgument: bad\ntrial 2: InvalidArgument: worse"
	short := src.addRun(t, "20260102-030405-bbbbbb", "ridge", true)
	short.State = orchestratorv1.RunState_RUN_STATE_FAILED
	short.Error = "collect: no such file"
	srv := serveFake(t, src)
	_, _, list := fetch(t, http.MethodGet, srv.URL+"/")
	if !strings.Contains(list, `<details class="error-text"><summary>train: every trial failed</summary>`) {
		t.Errorf("long error not folded:\n%s", list)
	}
	if !strings.Contains(list, `<span class="error-text wrap">collect: no such file</span>`) {
		t.Error("short error not shown on one line")
	}
	for _, tc := range []struct {
		in, head string
		more     bool
	}{
		{"one line", "one line", false},
		{"first\nsecond", "first", true},
		{strings.Repeat("x", 150), strings.Repeat("x", 99) + "…", true},
	} {
		if h, m := errorHead(tc.in); h != tc.head || m != tc.more {
			t.Errorf("errorHead(%q) = %q, %v", tc.in, h, m)
		}
	}
}
