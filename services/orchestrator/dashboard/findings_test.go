package dashboard

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/alur-ml/alur/ml/profile"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

func TestFixText(t *testing.T) {
	tests := []struct {
		fix  *datav1.CleaningOptions
		want string
	}{
		{nil, ""},
		{&datav1.CleaningOptions{}, ""},
		{&datav1.CleaningOptions{ClipOutliers: []string{"income"}}, "cleaning: clip_outliers: [income]"},
		{&datav1.CleaningOptions{DropColumns: []string{"a", "b"}, LogTransform: []string{"c"}}, "cleaning: drop_columns: [a, b]; log_transform: [c]"},
		{&datav1.CleaningOptions{Impute: []*datav1.ImputeRule{{Column: "x", Strategy: datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT, Value: "-1"}}},
			`cleaning: impute: {column: x, strategy: IMPUTE_STRATEGY_CONSTANT, value: "-1"}`},
	}
	for _, tc := range tests {
		if got := fixText(tc.fix); got != tc.want {
			t.Errorf("fixText(%v) = %q, want %q", tc.fix, got, tc.want)
		}
	}
}

// TestCorrelationFromProfile: the heatmap uses the profile's matrix, which
// agrees with the one the dashboard computes from the dataset.
func TestCorrelationFromProfile(t *testing.T) {
	tb := synthTable(150, true, 7)
	p, err := profile.Profile(tb, &prepv1.ProfileOptions{Label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	got := corrFromProfile(p)
	want, err := correlationMatrix(tb)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || strings.Join(got.Names, ",") != strings.Join(want.Names, ",") || got.Rows != 150 || got.Total != 150 {
		t.Fatalf("from profile %+v, from dataset %+v", got, want)
	}
	for i := range got.R {
		for j := range got.R[i] {
			if g, w := got.R[i][j], want.R[i][j]; math.Abs(g-w) > 1e-9 && !(math.IsNaN(g) && math.IsNaN(w)) {
				t.Errorf("r[%d][%d] = %v, dataset gives %v", i, j, g, w)
			}
		}
	}
	if corrFromProfile(&datav1.DataProfile{}) != nil {
		t.Error("a profile without a matrix gave one")
	}
	// Wide matrices keep the first maxCorrColumns columns.
	n := maxCorrColumns + 5
	wide := &datav1.DataProfile{RowCount: 10, Correlation: &datav1.CorrelationMatrix{Columns: make([]string, n), Values: make([]float64, n*n), Rows: 10, OmittedColumns: 2}}
	if c := corrFromProfile(wide); len(c.Names) != maxCorrColumns || len(c.R[0]) != maxCorrColumns || c.Omitted != 7 {
		t.Errorf("wide: %d names, omitted %d", len(c.Names), c.Omitted)
	}
}

// TestFindingsRendered: a finding's fix shows in the run page and report,
// next to its columns, message and suggestion.
func TestFindingsRendered(t *testing.T) {
	src := newFakeSource()
	src.addRun(t, "20260102-030405-dddddd", "logistic_regression", false)
	d, err := newAnalyzer(src).load(context.Background(), "20260102-030405-dddddd")
	if err != nil {
		t.Fatal(err)
	}
	if d.CorrErr != nil || d.Corr == nil || len(d.Corr.Names) == 0 {
		t.Fatalf("correlations %v %v", d.Corr, d.CorrErr)
	}
	d.Profile.Findings = append([]*datav1.Finding{{
		Severity: datav1.Severity_SEVERITY_ERROR, Code: "label_leakage", Column: "x1", Columns: []string{"x1", "y"},
		Message: "x1 alone predicts the label.", Suggestion: "Drop it.",
		Fix: &datav1.CleaningOptions{DropColumns: []string{"x1"}},
	}}, d.Profile.Findings...)
	v := buildRunView(d, time.Now())
	var buf bytes.Buffer
	if err := pageTemplates["run"].ExecuteTemplate(&buf, "layout", pageData{Title: "t", Report: true, CSS: styleCSS, Data: v}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{"1 error", `<li class="error">`, "<strong>x1 &amp; y</strong>", "x1 alone predicts the label.", "cleaning: drop_columns: [x1]", `data-chart="correlation"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestFindingCounts(t *testing.T) {
	f := func(s datav1.Severity) *datav1.Finding { return &datav1.Finding{Severity: s} }
	e, w, i := datav1.Severity_SEVERITY_ERROR, datav1.Severity_SEVERITY_WARNING, datav1.Severity_SEVERITY_INFO
	tests := []struct {
		fs   []*datav1.Finding
		want string
	}{
		{nil, ""},
		{[]*datav1.Finding{f(w)}, "1 warning"},
		{[]*datav1.Finding{f(e), f(i), f(i)}, "1 error and 2 notes"},
		{[]*datav1.Finding{f(e), f(e), f(w), f(i)}, "2 errors, 1 warning and 1 note"},
	}
	for _, tc := range tests {
		if got := findingCounts(tc.fs); got != tc.want {
			t.Errorf("findingCounts = %q, want %q", got, tc.want)
		}
	}
}
