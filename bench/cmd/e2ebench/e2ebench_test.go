package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// t0 is the fixed origin of the made-up timelines: the figures below are
// data, not measurements.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func step(name string, from, to float64) *orchestratorv1.Step {
	return &orchestratorv1.Step{Name: name, State: orchestratorv1.StepState_STEP_STATE_SUCCEEDED,
		StartTime: timestamppb.New(at(from)), EndTime: timestamppb.New(at(to))}
}

func TestRowName(t *testing.T) {
	algos := map[int32]string{3: "random_forest"}
	for _, tc := range []struct {
		step, want string
		trial      bool
	}{
		{"collect", "collect", false},
		{"train/3", "trial 3: random_forest", true},
		{"evaluate/3", "trial 3: random_forest", true},
		{"train/3/fold2", "trial 3: random_forest", true},
		{"evaluate/3/fold5", "trial 3: random_forest", true},
		{"train/3/repeat2/fold1", "trial 3: random_forest", true}, // repeated cross-validation
		{"train/7", "trial 7", true},                              // a trial the run does not list
		{"train/x", "train/x", false},
		{"refit", "refit", false},
		{"learning_curve", "learning_curve", false},
	} {
		got, trial := rowName(tc.step, algos)
		if got != tc.want || trial != tc.trial {
			t.Errorf("rowName(%q) = %q, %v; want %q, %v", tc.step, got, trial, tc.want, tc.trial)
		}
	}
}

func TestStepTable(t *testing.T) {
	run := &orchestratorv1.Run{
		DatasetRows: 1000,
		EndTime:     timestamppb.New(at(100)),
		Trials: []*orchestratorv1.Trial{
			{Number: 1, Algorithm: "logistic_regression"},
			{Number: 2, Algorithm: "gradient_boosting"},
		},
		Steps: []*orchestratorv1.Step{
			step("collect", 2, 4),      // 2 s: 500 rows/s
			step("profile", 4, 5),      // 1 s
			step("prepare", 5, 9),      // 4 s: 250 rows/s
			step("train/1", 10, 14),    // trial 1: 4 + 1 s
			step("evaluate/1", 14, 15), //
			step("train/2", 15, 75),    // trial 2 starts before the 40 s deadline, ends 35 s after it
			step("evaluate/2", 75, 76), // trial 2: 61 s
			step("refit", 77, 95),      // 18 s
			step("test", 95, 96),       // 1 s
		},
	}
	tl := timeline{UploadStart: at(0), UploadEnd: at(1), ReportStored: at(102), Done: at(110)}
	rows, total, b := stepTable(run, tl, 30*time.Second)
	if total != 110*time.Second {
		t.Errorf("total = %v, want 110s", total)
	}
	want := []Row{
		{Step: "upload (client to orchestrator)", Seconds: 1},
		{Step: "collect", Steps: 1, Seconds: 2, RowsPerSecond: 500},
		{Step: "profile", Steps: 1, Seconds: 1},
		{Step: "prepare", Steps: 1, Seconds: 4, RowsPerSecond: 250},
		{Step: "trial 1: logistic_regression", Steps: 2, Seconds: 5},
		{Step: "trial 2: gradient_boosting", Steps: 2, Seconds: 61, Slowest: true},
		{Step: "refit", Steps: 1, Seconds: 18},
		{Step: "test", Steps: 1, Seconds: 1},
		{Step: "report (after the run's end)", Seconds: 2},
		// 110 − (1 + 2 + 1 + 4 + 5 + 61 + 18 + 1 + 2) = 15
		{Step: "between steps (queue, orchestrator, client)", Seconds: 15},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows, want %d: %+v", len(rows), len(want), rows)
	}
	var shares float64
	for i, w := range want {
		g := rows[i]
		w.Share = w.Seconds / 110
		shares += g.Share
		if g.Step != w.Step || g.Steps != w.Steps || !near(g.Seconds, w.Seconds) || !near(g.Share, w.Share) ||
			!near(g.RowsPerSecond, w.RowsPerSecond) || g.Slowest != w.Slowest {
			t.Errorf("row %d = %+v, want %+v", i, g, w)
		}
	}
	if !near(shares, 1) {
		t.Errorf("shares add up to %g, want 1", shares)
	}
	// The search: from 10 s to 76 s; the 30 s budget ends at 40 s, inside
	// trial 2, which ends 36 s later.
	wantB := Budget{Seconds: 30, SearchSeconds: 66, OverrunSeconds: 36, LastTrial: "trial 2: gradient_boosting", Trials: 2}
	if !near(b.Seconds, wantB.Seconds) || !near(b.SearchSeconds, wantB.SearchSeconds) || !near(b.OverrunSeconds, wantB.OverrunSeconds) ||
		b.LastTrial != wantB.LastTrial || b.Trials != wantB.Trials {
		t.Errorf("budget = %+v, want %+v", b, wantB)
	}
}

func TestStepTableWithinBudgetAndUnfinished(t *testing.T) {
	run := &orchestratorv1.Run{
		Trials: []*orchestratorv1.Trial{{Number: 1, Algorithm: "knn"}},
		Steps: []*orchestratorv1.Step{
			step("train/1/fold1", 1, 2),
			step("evaluate/1/fold1", 2, 3),
			step("train/1/fold2", 3, 4),
			{Name: "train/1/fold3", State: orchestratorv1.StepState_STEP_STATE_SUCCEEDED, CacheHit: true, StartTime: timestamppb.New(at(4)), EndTime: timestamppb.New(at(4))},
			{Name: "evaluate/1/fold2", State: orchestratorv1.StepState_STEP_STATE_FAILED, StartTime: timestamppb.New(at(4))}, // no end
		},
	}
	rows, _, b := stepTable(run, timeline{UploadStart: at(0), UploadEnd: at(0), Done: at(6)}, time.Minute)
	// upload, the trial, between steps; no report row without its event.
	if len(rows) != 3 {
		t.Fatalf("rows = %+v, want 3", rows)
	}
	trial := rows[1]
	if trial.Step != "trial 1: knn" || trial.Steps != 5 || trial.Cached != 1 || !near(trial.Seconds, 5) || !trial.Failed || !trial.Slowest {
		t.Errorf("trial row = %+v, want 5 steps, 1 cached, 5 s (the unfinished one up to Done), failed, slowest", trial)
	}
	if b.OverrunSeconds != 0 || b.LastTrial != "trial 1: knn" || !near(b.SearchSeconds, 5) {
		t.Errorf("budget = %+v, want no overrun, 5 s of search", b)
	}
}

func TestWriteTable(t *testing.T) {
	rows := []Row{
		{Step: "collect", Steps: 1, Seconds: 2.5, Share: 0.25, RowsPerSecond: 80000},
		{Step: "trial 2: random_forest", Steps: 2, Seconds: 75.25, Share: 0.7, Slowest: true},
		{Step: "trial 3: knn", Steps: 10, Cached: 10, Seconds: 0.0004, Share: 0},
		{Step: "between steps (queue, orchestrator, client)", Seconds: 0.05, Share: 0.05, Failed: false},
	}
	var buf bytes.Buffer
	writeTable(&buf, rows, 100*time.Second)
	want := strings.Join([]string{
		"| step | wall time | share | rows/s |",
		"|---|---:|---:|---:|",
		"| collect | 2.50 s | 25.0% | 80 k |",
		"| **trial 2: random_forest (2 steps)** ← slowest | **1m15.2s** | 70.0% |  |",
		"| trial 3: knn (10 steps, 10 cached) | 0.000 s | 0.0% |  |",
		"| between steps (queue, orchestrator, client) | 0.050 s | 5.0% |  |",
		"| total | 1m40.0s | 100% | |",
		"",
	}, "\n")
	if got := buf.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{fmtSeconds(0.0123), "0.012 s"},
		{fmtSeconds(3.456), "3.46 s"},
		{fmtSeconds(42.04), "42.0 s"},
		{fmtSeconds(1985), "33m05.0s"},
		{fmtRate(512), "512"},
		{fmtRate(81234), "81 k"},
		{fmtRate(1.5e6), "1.50 M"},
		{fmtBytes(300 << 20), "300 MiB"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestDropLastColumn(t *testing.T) {
	var out bytes.Buffer
	in := "f0,f1,label,split\n1.5,2,class_0,train\n-3,4e-2,class_1,test\n"
	if err := dropLastColumn(&out, strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if want := "f0,f1,label\n1.5,2,class_0\n-3,4e-2,class_1\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}
