package dashboard

import (
	"errors"
	"fmt"
	"github.com/alur-ml/alur/ml/table"
	"math"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/types/known/timestamppb"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// checkChart requires c to be drawn (or not) and well-formed.
func checkChart(t *testing.T, c chart, drawn bool) {
	t.Helper()
	if drawn != (c.SVG != "") {
		t.Fatalf("%s: drawn %v, want %v (missing: %q)", c.Name, c.SVG != "", drawn, c.Missing)
	}
	if !drawn {
		if c.Missing == "" {
			t.Errorf("%s: not drawn and no reason given", c.Name)
		}
		return
	}
	s := string(c.SVG)
	for _, want := range []string{`<svg xmlns="http://www.w3.org/2000/svg"`, `data-chart="` + c.Name + `"`, "<title>", "</svg>", "viewBox="} {
		if !strings.Contains(s, want) {
			t.Errorf("%s: SVG lacks %q", c.Name, want)
		}
	}
	if strings.Contains(s, "<?xml") || strings.Contains(s, "font-family:Liberation Sans;") {
		t.Errorf("%s: SVG not rewritten for inlining", c.Name)
	}
	if n, m := strings.Count(s, "<text "), strings.Count(s, "textLength="); n != m {
		t.Errorf("%s: %d texts, %d with textLength", c.Name, n, m)
	}
}

// regMetrics are validation metrics for trials that only need to count as
// scored.
var regMetrics = &datav1.Metrics{Kind: &datav1.Metrics_Regression{Regression: &datav1.RegressionMetrics{}}}

func TestChartsDegenerate(t *testing.T) {
	nan := math.NaN()
	now := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	start := timestamppb.New(now.Add(-time.Minute))
	tests := []struct {
		name  string
		chart chart
		drawn bool
	}{
		{"timeline without steps", timelineChart(&orchestratorv1.Run{}, now), false},
		{"timeline running step", timelineChart(&orchestratorv1.Run{CreateTime: start, Steps: []*orchestratorv1.Step{
			{Name: "collect", State: orchestratorv1.StepState_STEP_STATE_RUNNING, StartTime: start}}}, now), true},
		{"timeline long run in minutes", timelineChart(&orchestratorv1.Run{CreateTime: timestamppb.New(now.Add(-time.Hour)), Steps: []*orchestratorv1.Step{
			{Name: "train/1", State: orchestratorv1.StepState_STEP_STATE_FAILED, StartTime: timestamppb.New(now.Add(-time.Hour)), EndTime: timestamppb.New(now)}}}, now), true},
		{"all-missing column", columnChart(&datav1.DataProfile{RowCount: 3}, &datav1.ColumnProfile{Name: "x", Missing: 3}), false},
		{"constant histogram", columnChart(&datav1.DataProfile{RowCount: 3}, &datav1.ColumnProfile{Name: "x",
			Histogram: &datav1.Histogram{Edges: []float64{1, 1}, Counts: []int64{3}}}), true},
		{"class balance without label", classBalanceChart(&datav1.DataProfile{}), false},
		{"correlation error", correlationChart(nil, notAvailable("nothing")), false},
		{"correlation with NaN", correlationChart(&corrResult{Names: []string{"a", "b"}, R: [][]float64{{1, nan}, {nan, nan}}, Rows: 3, Total: 3}, nil), true},
		{"correlation wide", correlationChart(wideCorr(30), nil), true},
		{"leaderboard empty", leaderboardChart(&orchestratorv1.Run{}), false},
		{"leaderboard negative scores", leaderboardChart(&orchestratorv1.Run{Metric: "r2", BestTrial: 1, Trials: []*orchestratorv1.Trial{
			{Number: 1, Algorithm: "a", Score: 0.1, ValidationMetrics: regMetrics}, {Number: 2, Algorithm: "b", Score: -3, ValidationMetrics: regMetrics}}}), true},
		{"leaderboard all zero", leaderboardChart(&orchestratorv1.Run{Trials: []*orchestratorv1.Trial{{Number: 1, Algorithm: "a", ValidationMetrics: regMetrics}}}), true},
		{"confusion missing", confusionChart(&orchestratorv1.Run{}), false},
		{"confusion malformed", confusionChart(&orchestratorv1.Run{TestMetrics: &datav1.Metrics{Kind: &datav1.Metrics_Classification{
			Classification: &datav1.ClassificationMetrics{ConfusionMatrix: &datav1.ConfusionMatrix{Labels: []string{"a", "b"}, Counts: []int64{1}}}}}}), false},
		{"confusion empty row", confusionChart(&orchestratorv1.Run{TestMetrics: &datav1.Metrics{Kind: &datav1.Metrics_Classification{
			Classification: &datav1.ClassificationMetrics{ConfusionMatrix: &datav1.ConfusionMatrix{Labels: []string{"a", "b"}, Counts: []int64{0, 0, 1, 1}}}}}}), true},
		{"roc error", curveChart(nil, errors.New("boom"), true), false},
		{"pr binary", curveChart(&evalResult{Task: datav1.Task_TASK_CLASSIFICATION, Rows: 4, Curves: []*classCurve{{Class: "yes",
			binaryCurves: &binaryCurves{ROC: []curvePoint{{0, 0}, {1, 1}}, PR: []curvePoint{{0, 0.5}, {1, 0.5}}, Prevalence: 0.5}}}}, nil, false), true},
		{"scatter no finite values", predictedVsActualChart(&evalResult{Actual: []float64{nan}, Predicted: []float64{1}}, nil), false},
		{"scatter one point", predictedVsActualChart(&evalResult{Rows: 1, Actual: []float64{2}, Predicted: []float64{2}}, nil), true},
		{"residuals constant", residualChart(&evalResult{Rows: 2, Actual: []float64{1, 1}, Predicted: []float64{1, 1}}, nil), true},
		{"importance error", importanceChart(nil, errors.New("no model"), nil, nil), false},
		{"importance none", importanceChart(&datav1.Model{Algorithm: "knn"}, nil, &evalResult{}, nil), false},
		{"importance mismatched", importanceChart(&datav1.Model{FeatureImportances: []float64{1}, FeatureNames: []string{"a", "b"}}, nil, &evalResult{PermErr: "not available: x"}, nil), false},
		{"importance own", importanceChart(&datav1.Model{Algorithm: "tree", FeatureImportances: []float64{0.2, nan, 0.8}, FeatureNames: []string{"a", "b", "c"}}, nil, nil, nil), true},
		{"importance permutation", importanceChart(&datav1.Model{Algorithm: "knn"}, nil, &evalResult{PermImportance: []float64{0.3, -0.01}, PermFeatures: []string{"a", "b"}, PermMetric: "accuracy", PermRows: 10}, nil), true},
		{"learning curve absent", learningCurveChart(&orchestratorv1.Run{State: orchestratorv1.RunState_RUN_STATE_SUCCEEDED}), false},
		{"learning curve one point", learningCurveChart(&orchestratorv1.Run{Metric: "accuracy", LearningCurve: []*orchestratorv1.LearningCurvePoint{{TrainRows: 10, TrainScore: 1, ValidationScore: 1}}}), true},
		{"learning curve NaN", learningCurveChart(&orchestratorv1.Run{Metric: "rmse", LearningCurve: []*orchestratorv1.LearningCurvePoint{
			{TrainRows: 10, TrainScore: nan, ValidationScore: 3}, {TrainRows: 20, TrainScore: 1, ValidationScore: 2}}}), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkChart(t, tc.chart, tc.drawn) })
	}
}

func wideCorr(n int) *corrResult {
	c := &corrResult{Rows: 5, Total: 10, Omitted: 2}
	for i := range n {
		c.Names = append(c.Names, strings.Repeat("column_", 3)+string(rune('a'+i%26)))
		row := make([]float64, n)
		for j := range row {
			row[j] = math.Cos(float64(i - j))
		}
		c.R = append(c.R, row)
	}
	return c
}

func TestInlineSVG(t *testing.T) {
	doc := `<?xml version="1.0"?>
<!-- Generated -->
<svg width="10pt" height="5pt" viewBox="0 0 10 5">
<text x="1" style="font-family:Liberation Sans;font-size:8px">a &amp; b</text><text x="2">c</text></svg>`
	got, err := inlineSVG(doc, "x-chart", `A "title" <b>`, 10, 5, []float64{12.5, 3})
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	for _, want := range []string{
		`viewBox="0 0 10 5" width="13" height="7"`, `data-chart="x-chart"`,
		`aria-label="A &#34;title&#34; &lt;b&gt;"`, `<title>A &#34;title&#34; &lt;b&gt;</title>`,
		`<text textLength="12.50" lengthAdjust="spacingAndGlyphs" x="1"`, `<text textLength="3.00" lengthAdjust="spacingAndGlyphs" x="2"`,
		fontFallback,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "<?xml") || strings.Contains(s, "Generated") {
		t.Errorf("prologue kept:\n%s", s)
	}
	// Widths that do not match the texts are ignored rather than misplaced.
	got, err = inlineSVG(doc, "x", "t", 10, 5, []float64{1})
	if err != nil || strings.Contains(string(got), "textLength") {
		t.Errorf("mismatched widths applied: %v\n%s", err, got)
	}
	if _, err := inlineSVG("<html/>", "x", "t", 1, 1, nil); err == nil {
		t.Error("no <svg>: no error")
	}
}

func TestPermutationImportance(t *testing.T) {
	// y depends on feature 0 only, and the "model" reads feature 0 only:
	// shuffling feature 1 cannot change anything.
	n := 200
	x0, x1, y := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		x0[i], x1[i], y[i] = float64(i), float64(i%7), 2*float64(i)
	}
	tab := &table.Table{Columns: []*table.Column{table.NewNumeric("x0", x0), table.NewNumeric("x1", x1), table.NewNumeric("y", y)}}
	calls := 0
	predict := func(t *table.Table) (*mat.Dense, error) {
		calls++
		x, _ := t.Column("x0")
		out := mat.NewDense(t.NumRows(), 1, nil)
		for i := range t.NumRows() {
			out.Set(i, 0, 2*x.Nums[i])
		}
		return out, nil
	}
	imp, err := permutationImportance(tab, []int{0, 1}, y, predict, r2Score, 3, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Shuffling x0 destroys the fit: R² falls from 1 to about −1 (the
	// expected R² of a random permutation of the same values is −1).
	if imp[0] < 1.5 || imp[0] > 2.5 {
		t.Errorf("importance of the used feature %v, want about 2", imp[0])
	}
	if imp[1] != 0 {
		t.Errorf("importance of the unused feature %v, want 0", imp[1])
	}
	// One call for the rows, one per feature with its shuffles stacked.
	if calls != 3 {
		t.Errorf("%d predictions, want 3", calls)
	}
	again, _ := permutationImportance(tab, []int{0, 1}, y, predict, r2Score, 3, 1, time.Minute)
	if again[0] != imp[0] {
		t.Error("not reproducible")
	}
	if _, err := permutationImportance(tab, []int{0, 1}, y, predict, r2Score, 3, 1, 0); !errors.Is(err, errPermBudget) {
		t.Errorf("zero budget: %v", err)
	}
}

func TestScores(t *testing.T) {
	out := mat.NewDense(3, 2, []float64{0.9, 0.1, 0.2, 0.8, 0.6, 0.4})
	if got := accuracyScore(out, []float64{0, 1, 1}); math.Abs(got-2.0/3) > 1e-12 {
		t.Errorf("accuracy %v", got)
	}
	pred := mat.NewDense(4, 1, []float64{1, 2, 3, 5})
	// SS_res = 1, SS_tot = 5 (mean 2.5 of 1, 2, 3, 4).
	if got := r2Score(pred, []float64{1, 2, 3, 4}); math.Abs(got-0.8) > 1e-12 {
		t.Errorf("R² %v, want 0.8", got)
	}
	if got := r2Score(pred, []float64{1, 1, 1, 1}); !math.IsNaN(got) {
		t.Errorf("R² of constant targets %v, want NaN", got)
	}
}

func TestCorrelationMatrix(t *testing.T) {
	tb := synthTable(90, true, 3)
	c, err := correlationMatrix(tb)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Names, ","); got != "x1,x2,y" {
		t.Fatalf("columns %s (the categorical one must be left out)", got)
	}
	for i := range c.Names {
		if c.R[i][i] != 1 {
			t.Errorf("diagonal %v", c.R[i][i])
		}
		for j := range c.Names {
			if c.R[i][j] != c.R[j][i] {
				t.Errorf("not symmetric at %d,%d", i, j)
			}
		}
	}
	if c.R[0][2] < 0.9 {
		t.Errorf("y = 3·x1 + noise correlates %v with x1", c.R[0][2])
	}
	one := takeRows(tb, []int{0, 1, 2})
	one.Columns = one.Columns[2:3]
	if _, err := correlationMatrix(one); err == nil {
		t.Error("no numeric columns: no error")
	}
}

func TestEvaluateTable(t *testing.T) {
	src := newFakeSource()
	for _, tc := range []struct {
		algorithm  string
		regression bool
		perm       bool
	}{
		{"logistic_regression", false, false},
		{"knn", false, true},
		{"naive_bayes", false, true},
		{"ridge", true, false},
		{"knn", true, true},
	} {
		run := src.addRun(t, fmt.Sprintf("20260102-030405-%s-%v", tc.algorithm, tc.regression), tc.algorithm, tc.regression)
		d, err := newAnalyzer(src).load(t.Context(), run.GetId())
		if err != nil {
			t.Fatal(err)
		}
		if d.EvalErr != nil {
			t.Fatalf("%s: %v", tc.algorithm, d.EvalErr)
		}
		ev := d.Eval
		if ev.Rows != 50 {
			t.Errorf("%s: %d rows predicted", tc.algorithm, ev.Rows)
		}
		if tc.regression {
			if len(ev.Actual) != 50 || len(ev.Predicted) != 50 {
				t.Errorf("%s: %d/%d scatter points", tc.algorithm, len(ev.Actual), len(ev.Predicted))
			}
		} else {
			if len(ev.Curves) != 3 {
				t.Fatalf("%s: %d class curves", tc.algorithm, len(ev.Curves))
			}
			for _, c := range ev.Curves {
				// The classes are well separated along x1.
				if c.AUC < 0.8 {
					t.Errorf("%s: class %s AUC %v", tc.algorithm, c.Class, c.AUC)
				}
			}
		}
		if got := len(ev.PermImportance) > 0; got != tc.perm {
			t.Errorf("%s: permutation importance %v, want %v (%s)", tc.algorithm, got, tc.perm, ev.PermErr)
		}
		if tc.perm && ev.PermImportance[0] <= 0 {
			t.Errorf("%s: x1 drives the label but its importance is %v", tc.algorithm, ev.PermImportance[0])
		}
	}
}
