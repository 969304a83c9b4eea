package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/alur-ml/alur/bench/synth"
	"github.com/alur-ml/alur/ml/csvio"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

func TestParseSklearnOutput(t *testing.T) {
	in := `{"kind": "info", "sklearn": "1.2.1", "pandas": "1.5.3", "numpy": "1.24.2", "python": "3.11.2", "cpus": 2}
{"kind": "load", "seconds": 0.5, "bytes": 1000000}

{"kind": "prepare", "seconds": 0.25, "train_rows": 80, "test_rows": 20, "features": 3}
{"kind": "algorithm", "name": "random_forest", "peer": "sklearn", "threads": 1, "fit_seconds": 2.0, "predict_seconds": 0.1, "accuracy": 0.9}
{"kind": "algorithm", "name": "xgboost", "peer": "xgboost", "threads": 2, "fit_seconds": 1.0, "predict_seconds": 0.05, "accuracy": 0.9, "peak_rss_before": 100, "peak_rss_after": 200}
{"kind": "skipped", "name": "ridge", "reason": "no counterpart"}
{"kind": "from-the-future", "x": 1}
`
	out, err := parseSklearnOutput(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if out.versions["sklearn"] != "1.2.1" || out.cpus != 2 {
		t.Errorf("info: versions %v, cpus %d", out.versions, out.cpus)
	}
	if out.loadSeconds != 0.5 || out.loadBytes != 1000000 || out.prepSeconds != 0.25 {
		t.Errorf("load %g s %d B, prepare %g s", out.loadSeconds, out.loadBytes, out.prepSeconds)
	}
	if len(out.runs) != 2 || out.runs[1].Peer != "xgboost" || out.runs[1].Threads != 2 || out.runs[1].FitSeconds != 1 ||
		out.runs[1].PeakAfter != 200 || out.runs[0].Peer != "sklearn" {
		t.Errorf("runs = %+v", out.runs)
	}
	if len(out.skipped) != 1 || !out.sawAnyResults || out.unavailable != "" {
		t.Errorf("skipped %v, sawAnyResults %v, unavailable %q", out.skipped, out.sawAnyResults, out.unavailable)
	}
}

func TestParseSklearnOutputErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"not json", "fitting...\n", "line 1: not a JSON object"},
		{"negative time", `{"kind": "load", "seconds": -1}`, "negative time"},
		{"accuracy above 1", `{"kind": "algorithm", "name": "knn", "accuracy": 1.5}`, "outside [0, 1]"},
		{"nameless algorithm", `{"kind": "info"}` + "\n" + `{"kind": "algorithm"}`, "line 2: algorithm without a name"},
	}
	for _, tc := range tests {
		_, err := parseSklearnOutput(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	out, err := parseSklearnOutput(strings.NewReader(`{"kind": "unavailable", "reason": "cannot import sklearn"}`))
	if err != nil || out.unavailable != "cannot import sklearn" || out.sawAnyResults {
		t.Errorf("unavailable: %+v, %v", out, err)
	}
}

func FuzzParseSklearnOutput(f *testing.F) {
	f.Add(`{"kind": "algorithm", "name": "knn", "fit_seconds": 1, "predict_seconds": 2, "accuracy": 0.5}`)
	f.Add(`{"kind": "load", "seconds": 1e308, "bytes": -5}` + "\n\n{")
	f.Fuzz(func(t *testing.T, in string) {
		out, err := parseSklearnOutput(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range out.runs {
			if r.Name == "" || r.FitSeconds < 0 || r.PredictSeconds < 0 || r.Accuracy < 0 || r.Accuracy > 1 {
				t.Fatalf("accepted an invalid run %+v", r)
			}
		}
	})
}

func TestCompare(t *testing.T) {
	r := &Results{
		Machine: Machine{CPUs: 2},
		Alur: []AlurRun{
			{Case: "random_forest", Name: "random_forest", Threads: 1, FitSeconds: 2, PredictSeconds: 0.3, Accuracy: 0.900},
			{Case: "random_forest", Name: "random_forest", Threads: 2, FitSeconds: 1, PredictSeconds: 0.1, Accuracy: 0.900},
			{Case: "logistic_regression", Name: "logistic_regression", Threads: 1, FitSeconds: 3, PredictSeconds: 0.2, Accuracy: 0.700},
			{Case: "gradient_boosting_xgb", Name: "gradient_boosting", Threads: 2, FitSeconds: 4, PredictSeconds: 0.2, Accuracy: 0.9599},
			{Case: "gradient_boosting", Name: "gradient_boosting", Skipped: "not registered"},
		},
		Sklearn: Sklearn{Available: true, Runs: []SklearnRun{
			{Name: "random_forest", Peer: "sklearn", Threads: 1, FitSeconds: 4, PredictSeconds: 0.2, Accuracy: 0.903},
			{Name: "random_forest", Peer: "sklearn", Threads: 2, FitSeconds: 1, PredictSeconds: 0.6, Accuracy: 0.905},
			{Name: "logistic_regression", Peer: "sklearn", Threads: 2, FitSeconds: 3, PredictSeconds: 0.1, Accuracy: 0.706},
			{Name: "logistic_regression", Peer: "sklearn", Threads: 1, FitSeconds: 3, PredictSeconds: 0.1, Accuracy: 0.706},
			{Name: "xgboost", Peer: "xgboost", Threads: 2, FitSeconds: 5, PredictSeconds: 0.1, Accuracy: 0.9605},
			{Name: "xgboost", Peer: "xgboost", Threads: 1, FitSeconds: 1, PredictSeconds: 0.1, Accuracy: 0.9},
		}},
		Load: Load{Alur: []LoadRun{{Threads: 1, Seconds: 1, MBps: 30}, {Threads: 2, Seconds: 0.5, MBps: 60}}, PandasSeconds: 1.5, PandasMBps: 20},
	}
	r.compare()
	if math.Abs(r.Load.Ratio-1.5) > 1e-12 {
		t.Errorf("load ratio %g, want 1.5 (one core against pandas)", r.Load.Ratio)
	}
	type want struct {
		threads                      int
		fitRatio, predictRatio, diff float64
		fit, predict, acc            string
	}
	wants := []want{
		{1, 0.5, 1.5, -0.3, "PASS", "MISS", "PASS"}, // -0.3 points is on the target
		{2, 1, 1.0 / 6, -0.5, "MISS", "PASS", "MISS"},
		{1, 1, 2, -0.6, "MISS", "-", "MISS"}, // no predict target for logistic_regression
		{2, 0.8, 2, -0.06, "PASS", "-", "PASS"},
	}
	if len(r.Comparison) != len(wants) {
		t.Fatalf("%d comparison rows, want %d (equal threads only; the skipped case has none)", len(r.Comparison), len(wants))
	}
	word := func(b *bool) string {
		if b == nil {
			return "-"
		}
		return passWord(*b)
	}
	for i, w := range wants {
		c := r.Comparison[i]
		if c.Threads != w.threads || math.Abs(c.FitRatio-w.fitRatio) > 1e-9 || math.Abs(c.PredictRatio-w.predictRatio) > 1e-9 || math.Abs(c.AccDiffPoints-w.diff) > 1e-9 {
			t.Errorf("row %d (%s, %d threads): ratios %g, %g, diff %g; want %d threads, %g, %g, %g", i, c.Case, c.Threads,
				c.FitRatio, c.PredictRatio, c.AccDiffPoints, w.threads, w.fitRatio, w.predictRatio, w.diff)
		}
		if got := [3]string{word(c.FitPass), word(c.PredictPass), word(c.AccPass)}; got != [3]string{w.fit, w.predict, w.acc} {
			t.Errorf("row %d (%s, %d threads): marks %v, want %v", i, c.Case, c.Threads, got, [3]string{w.fit, w.predict, w.acc})
		}
	}
	var buf bytes.Buffer
	if err := writeText(&buf, r); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"| random_forest | 1 vs 1 | sklearn |", "| random_forest | 2 vs 2 (all) | sklearn |",
		"| gradient_boosting, XGBoost's settings | 2 vs 2 (all) | xgboost |", "| gradient_boosting | | | skipped: not registered |",
		"5 of 10 PASS", "1.50× pandas' MB/s, 1 vs 1"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, buf.String())
		}
	}
}

func TestParseThreads(t *testing.T) {
	all := runtime.NumCPU()
	tests := []struct {
		in   string
		want []int
		ok   bool
	}{
		{"1,all", []int{1, all}, true},
		{"2, 1, 2", []int{2, 1}, true},
		{"all", []int{all}, true},
		{"", nil, false},
		{"0", nil, false},
		{"many", nil, false},
	}
	for _, tc := range tests {
		got, err := parseThreads(tc.in)
		if (err == nil) != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("parseThreads(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestSelectCases(t *testing.T) {
	tests := []struct {
		in   []string
		want string
		ok   bool
	}{
		{[]string{"gradient_boosting"}, "gradient_boosting,gradient_boosting_xgb,gradient_boosting_defaults", true},
		{[]string{"knn", "gradient_boosting_xgb", "logistic_regression"}, "logistic_regression,gradient_boosting_xgb,knn", true},
		{[]string{"ridge"}, "", false},
	}
	for _, tc := range tests {
		got, err := selectCases(tc.in)
		if (err == nil) != tc.ok || joinKeys(got) != tc.want {
			t.Errorf("selectCases(%v) = %q, %v; want %q, ok %v", tc.in, joinKeys(got), err, tc.want, tc.ok)
		}
	}
}

func TestGrowth(t *testing.T) {
	pts := []ScalePoint{
		{Rows: 1000, TrainRows: 800, Case: "c", Tool: "alur", FitSeconds: 1},
		{Rows: 1000, TrainRows: 800, Case: "c", Tool: "xgboost", Model: "xgboost", FitSeconds: 2},
		{Rows: 10000, TrainRows: 8000, Case: "c", Tool: "alur", FitSeconds: 10},
		{Rows: 10000, TrainRows: 8000, Case: "c", Tool: "xgboost", Model: "xgboost", FitSeconds: 200},
		{Rows: 100000, TrainRows: 80000, Case: "c", Tool: "alur", Error: "failed"},
	}
	g := growth(pts)
	if len(g) != 2 || math.Abs(g[0].Exponent-1) > 1e-9 || math.Abs(g[1].Exponent-2) > 1e-9 || g[1].Tool != "xgboost" {
		t.Errorf("growth = %+v, want alur 1 and xgboost 2", g)
	}
}

func TestSecs(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {0.0001234, "0.000123"}, {0.0000001, "0.000000"}, {0.00213, "0.00213"},
		{0.5, "0.500"}, {1.2345, "1.23"}, {12.345, "12.3"}, {123.45, "123"}, {97000, "97000"},
	}
	for _, tc := range tests {
		if got := secs(tc.in); got != tc.want {
			t.Errorf("secs(%g) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestWriteWithSplit checks that a CSV without a split column gets a
// stratified one and that every other cell survives the rewrite.
func TestWriteWithSplit(t *testing.T) {
	src := "a,b,label\n1.5,x,yes\n,y,no\n2,,yes\n3,x,no\n4,y,yes\n5,x,no\n6,y,yes\n7,x,no\n8,y,yes\n9,x,no\n"
	orig, err := csvio.Read(strings.NewReader(src), csvio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out.csv")
	lc, _ := orig.Column("label")
	o := options{label: "label", splitColumn: "split", seed: 3}
	if err := writeWithSplit(path, orig, lc, o); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := csvio.Read(f, csvio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Columns) != 4 || got.NumRows() != orig.NumRows() {
		t.Fatalf("%d columns × %d rows, want 4 × %d", len(got.Columns), got.NumRows(), orig.NumRows())
	}
	for j, c := range orig.Columns {
		for r := range orig.NumRows() {
			if a, b := c.Text(r), got.Columns[j].Text(r); a != b {
				t.Errorf("column %s row %d: %q became %q", c.Name, r, a, b)
			}
		}
	}
	train, test, other, err := splitRows(got, "label", "split")
	if err != nil || other != 0 || len(train) != 8 || len(test) != 2 {
		t.Fatalf("split: %d train, %d test, %d other, %v; want 8, 2, 0", len(train), len(test), other, err)
	}
	if lc.Text(test[0]) == lc.Text(test[1]) {
		t.Errorf("both test rows are %q; the split is not stratified", lc.Text(test[0]))
	}
}

// TestPrepareMatchesSplit runs the in-process preparation on a small
// generated file and checks it uses exactly the rows the split column
// marks.
func TestPrepareMatchesSplit(t *testing.T) {
	var buf bytes.Buffer
	sum, err := synth.Generate(&buf, synth.Config{Rows: 500, Features: 6, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tab, err := csvio.Read(&buf, csvio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	train, test, _, err := splitRows(tab, synth.LabelColumn, synth.SplitColumn)
	if err != nil {
		t.Fatal(err)
	}
	d, err := prepare(tab, train, test, &prepv1.PrepareOptions{Label: synth.LabelColumn, SplitColumn: synth.SplitColumn, Task: datav1.Task_TASK_CLASSIFICATION})
	if err != nil {
		t.Fatal(err)
	}
	if r, c := d.xTest.Dims(); r != sum.TestRows || c != 6 {
		t.Errorf("test matrix %d × %d, want %d × 6", r, c, sum.TestRows)
	}
	if r, _ := d.xTrain.Dims(); r != 500-sum.TestRows {
		t.Errorf("train matrix has %d rows, want %d", r, 500-sum.TestRows)
	}
	tr, te := d.preparedTables()
	if tr.NumRows() != len(train) || te.NumRows() != len(test) || len(tr.Columns) != 7 {
		t.Errorf("prepared tables %d and %d rows, %d columns", tr.NumRows(), te.NumRows(), len(tr.Columns))
	}
}

func TestPlotScale(t *testing.T) {
	sc := &Scale{Points: []ScalePoint{
		{Rows: 1000, TrainRows: 800, Case: "c", Tool: "alur", FitSeconds: 1, PeakBytes: 20 << 20},
		{Rows: 1000, TrainRows: 800, Case: "c", Tool: "xgboost", Model: "xgboost", FitSeconds: 2, PeakBytes: 200 << 20},
		{Rows: 10000, TrainRows: 8000, Case: "c", Tool: "alur", FitSeconds: 10, PeakBytes: 30 << 20},
		{Rows: 10000, TrainRows: 8000, Case: "c", Tool: "xgboost", Model: "xgboost", FitSeconds: 20, PeakBytes: 300 << 20},
	}}
	path := filepath.Join(t.TempDir(), "out", "scale.png")
	if err := plotScale(sc, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("%s is not a PNG file (%v)", path, err)
	}
	if err := plotScale(&Scale{}, path); err == nil {
		t.Error("an empty curve: want an error")
	}
}
