package profile

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/alur-ml/alur/ml/csvio"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

func readCSV(t *testing.T, path string) *table.Table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tb, err := csvio.Read(f, csvio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// find returns the findings with the given code whose columns start with
// cols.
func find(p *datav1.DataProfile, code string, cols ...string) []*datav1.Finding {
	var out []*datav1.Finding
	for _, f := range p.GetFindings() {
		if f.GetCode() == code && len(f.GetColumns()) >= len(cols) && slices.Equal(f.GetColumns()[:len(cols)], cols) {
			out = append(out, f)
		}
	}
	return out
}

// TestMessyFixture plants one problem per column of testdata/messy.csv
// (see the table) and checks that each is found with its severity, its
// measure and a fix that names the right preparation option.
func TestMessyFixture(t *testing.T) {
	tb := readCSV(t, filepath.Join("testdata", "messy.csv"))
	p, err := Profile(tb, &prepv1.ProfileOptions{Label: "churned"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		code     string
		cols     []string
		severity datav1.Severity
		value    float64 // checked when tol > 0
		tol      float64
		fix      *datav1.CleaningOptions
	}{
		{"mixed_types", []string{"age"}, datav1.Severity_SEVERITY_WARNING, 376.0 / 400, 1e-12, &datav1.CleaningOptions{ParseNumeric: []string{"age"}}},
		{"outliers", []string{"height_cm"}, datav1.Severity_SEVERITY_WARNING, 6.0 / 400, 1e-12, &datav1.CleaningOptions{ClipOutliers: []string{"height_cm"}}},
		{"skewed", []string{"income"}, datav1.Severity_SEVERITY_INFO, 0, 0, &datav1.CleaningOptions{LogTransform: []string{"income"}}},
		{"high_cardinality", []string{"city"}, datav1.Severity_SEVERITY_WARNING, 275.0 / 400, 1e-12, &datav1.CleaningOptions{GroupRare: []string{"city"}}},
		{"id_like_column", []string{"customer_id"}, datav1.Severity_SEVERITY_WARNING, 1, 1e-12, &datav1.CleaningOptions{DropColumns: []string{"customer_id"}}},
		{"label_leakage", []string{"refund_issued", "churned"}, datav1.Severity_SEVERITY_ERROR, 1, 1e-12, &datav1.CleaningOptions{DropColumns: []string{"refund_issued"}}},
		{"label_leakage", []string{"days_since_cancel", "churned"}, datav1.Severity_SEVERITY_ERROR, 1, 1e-12, &datav1.CleaningOptions{DropColumns: []string{"days_since_cancel"}}},
		{"near_duplicate_columns", []string{"height_cm", "height_in"}, datav1.Severity_SEVERITY_WARNING, 1, 1e-4, &datav1.CleaningOptions{DropColumns: []string{"height_in"}}},
		{"near_duplicate_columns", []string{"city", "city_code"}, datav1.Severity_SEVERITY_WARNING, 1, 1e-12, &datav1.CleaningOptions{DropColumns: []string{"city_code"}}},
		{"class_imbalance", []string{"churned"}, datav1.Severity_SEVERITY_WARNING, 44.0 / 356, 1e-12, nil},
		{"missing_together", []string{"lab_a", "lab_b"}, datav1.Severity_SEVERITY_INFO, 1, 1e-12, nil},
		{"missing_depends_on_label", []string{"lab_c", "churned"}, datav1.Severity_SEVERITY_WARNING, 0, 0, nil},
		{"constant_column", []string{"source"}, datav1.Severity_SEVERITY_WARNING, 0, 0, &datav1.CleaningOptions{DropColumns: []string{"source"}}},
	}
	for _, tc := range tests {
		fs := find(p, tc.code, tc.cols...)
		if len(fs) != 1 {
			t.Errorf("%s %v: %d findings, want 1 (all: %v)", tc.code, tc.cols, len(fs), p.GetFindings())
			continue
		}
		f := fs[0]
		if f.GetSeverity() != tc.severity || f.GetMessage() == "" || f.GetSuggestion() == "" || f.GetColumn() != tc.cols[0] {
			t.Errorf("%s %v: %v", tc.code, tc.cols, f)
		}
		if tc.tol > 0 && math.Abs(f.GetValue()-tc.value) > tc.tol {
			t.Errorf("%s %v: value %v, want %v", tc.code, tc.cols, f.GetValue(), tc.value)
		}
		if tc.fix == nil && f.GetFix() != nil || tc.fix != nil && (f.GetFix() == nil ||
			!slices.Equal(f.GetFix().GetDropColumns(), tc.fix.GetDropColumns()) ||
			!slices.Equal(f.GetFix().GetParseNumeric(), tc.fix.GetParseNumeric()) ||
			!slices.Equal(f.GetFix().GetClipOutliers(), tc.fix.GetClipOutliers()) ||
			!slices.Equal(f.GetFix().GetLogTransform(), tc.fix.GetLogTransform()) ||
			!slices.Equal(f.GetFix().GetGroupRare(), tc.fix.GetGroupRare())) {
			t.Errorf("%s %v: fix %v, want %v", tc.code, tc.cols, f.GetFix(), tc.fix)
		}
	}
	if f := find(p, "mixed_types", "age"); len(f) == 1 && !slices.Equal(f[0].GetExamples(), []string{"n/a?", "twelve"}) {
		t.Errorf("mixed-type examples %q", f[0].GetExamples())
	}
	// The clean columns raise nothing.
	for _, f := range p.GetFindings() {
		if slices.Contains([]string{"plan", "tenure_months"}, f.GetColumn()) {
			t.Errorf("finding on a clean column: %v", f)
		}
	}
	// Severity order: errors first.
	for i := 1; i < len(p.GetFindings()); i++ {
		if p.Findings[i].GetSeverity() > p.Findings[i-1].GetSeverity() {
			t.Fatalf("findings out of order at %d", i)
		}
	}
}

// TestNoFalseAlarmsOnBundledData: the three bundled datasets are clean
// measurements; they must raise no leakage and no mixed-type finding.
func TestNoFalseAlarmsOnBundledData(t *testing.T) {
	for _, c := range []struct{ name, label string }{{"iris", "species"}, {"wine", "class"}, {"breast_cancer", "class"}} {
		tb := readCSV(t, filepath.Join("..", "..", "services", "ingest", "datasets", c.name+".csv"))
		p, err := Profile(tb, &prepv1.ProfileOptions{Label: c.label})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range p.GetFindings() {
			switch f.GetCode() {
			case "label_leakage", "mixed_types", "missing_depends_on_label", "missing_together":
				t.Errorf("%s: false alarm %v", c.name, f)
			}
		}
		if p.GetCorrelation() == nil || len(p.GetCorrelation().GetColumns()) == 0 {
			t.Errorf("%s: no correlation matrix", c.name)
		}
	}
}

// TestLeakageMethods checks the single-feature accuracies against values
// worked out by hand.
func TestLeakageMethods(t *testing.T) {
	// Three classes in three clean intervals: a 2-threshold stump is exact.
	x := []float64{1, 2, 3, 10, 11, 12, 20, 21, 22}
	y := []int{0, 0, 0, 1, 1, 1, 2, 2, 2}
	rep := func(xs []float64, ys []int, k int) ([]float64, []int) {
		var ox []float64
		var oy []int
		for i := 0; i < k; i++ {
			ox, oy = append(ox, xs...), append(oy, ys...)
		}
		return ox, oy
	}
	xr, yr := rep(x, y, 4)
	if acc, ok, _ := intervalAccuracy(&work{ctx: context.Background()}, xr, yr, 3); !ok || acc != 1 {
		t.Errorf("clean intervals: %v %v", acc, ok)
	}
	// Classes 0, 1, 0 over three intervals and only k = 2 intervals to
	// predict with: any cut leaves one interval mixed half and half, so
	// the best is 12 + 12 of 36 rows.
	y2 := []int{0, 0, 0, 1, 1, 1, 0, 0, 0}
	xr, yr = rep(x, y2, 4)
	if acc, ok, _ := intervalAccuracy(&work{ctx: context.Background()}, xr, yr, 2); !ok || math.Abs(acc-24.0/36) > 1e-12 {
		t.Errorf("alternating: %v %v, want %v", acc, ok, 24.0/36)
	}
	// Fewer than leakMinRows rows are not judged.
	if _, ok, _ := intervalAccuracy(&work{ctx: context.Background()}, x, y, 3); ok {
		t.Error("9 rows judged")
	}
	// Category purity: a→0 ×20, b→1 ×19 and b→0 ×1: 39 of 40 rows.
	var vals []string
	var cls []int
	for i := 0; i < 20; i++ {
		vals, cls = append(vals, "a"), append(cls, 0)
	}
	for i := 0; i < 19; i++ {
		vals, cls = append(vals, "b"), append(cls, 1)
	}
	vals, cls = append(vals, "b"), append(cls, 0)
	if acc, ok := categoryPurity(cat("c", vals...), cls, 2); !ok || math.Abs(acc-39.0/40) > 1e-12 {
		t.Errorf("purity %v %v, want %v", acc, ok, 39.0/40)
	}
	// Correlation ratio: groups a {1, 3} and b {5, 7}, repeated; grand
	// mean 4, total SS per 4 rows 9+1+1+9 = 20, within-group SS
	// 1+1+1+1 = 4, so η = sqrt(1 - 4/20).
	var gv []string
	var ys []float64
	for i := 0; i < 10; i++ {
		gv = append(gv, "a", "a", "b", "b")
		ys = append(ys, 1, 3, 5, 7)
	}
	if eta, ok := correlationRatio(cat("g", gv...), ys); !ok || math.Abs(eta-math.Sqrt(0.8)) > 1e-12 {
		t.Errorf("η %v %v, want %v", eta, ok, math.Sqrt(0.8))
	}
}

// TestRegressionLeakage: a numeric label and a feature that is the label
// plus a little noise.
func TestRegressionLeakage(t *testing.T) {
	n := 200
	y, leak, honest := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range y {
		y[i] = float64(i) * 1.5
		leak[i] = y[i] + float64(i%3) // r ≈ 0.9999
		honest[i] = float64((i * 37) % 101)
	}
	p, err := Profile(tbl(num("y", y...), num("leak", leak...), num("honest", honest...)), &prepv1.ProfileOptions{Label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if len(find(p, "label_leakage", "leak", "y")) != 1 || len(find(p, "label_leakage", "honest")) != 0 {
		t.Errorf("findings %v", p.GetFindings())
	}
}

// TestCorrelationMatrix compares with numpy.corrcoef worked by hand, and
// checks pairwise-complete handling of missing values.
func TestCorrelationMatrix(t *testing.T) {
	tb := tbl(
		num("a", 1, 2, 3, 4, 5),
		num("b", 2, 4, 6, 8, 10),
		num("c", 5, 3, 4, 1, nan),
		cat("k", "x", "y", "x", "y", "x"),
		boolean("f", 0, 1, 0, 1, 1),
	)
	p, err := Profile(tb, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := p.GetCorrelation()
	if !slices.Equal(m.GetColumns(), []string{"a", "b", "c", "f"}) || m.GetRows() != 5 || m.GetSampled() {
		t.Fatalf("matrix %v", m)
	}
	at := func(i, j int) float64 { return m.GetValues()[i*4+j] }
	// a and c over the complete rows 0..3: a = 1 2 3 4, c = 5 3 4 1;
	// Σdxdy = (-1.5)(1.75)+(-0.5)(-0.25)+(0.5)(0.75)+(1.5)(-2.25) = -5.5,
	// Σdx² = 5, Σdy² = 8.75, r = -5.5/sqrt(43.75).
	want := map[[2]int]float64{
		{0, 0}: 1, {0, 1}: 1, {0, 2}: -5.5 / math.Sqrt(43.75),
		// a,f: a mean 3, f mean 0.6: Σdxdy = (-2)(-.6)+(-1)(.4)+(0)(-.6)+(1)(.4)+(2)(.4) = 2,
		// Σdx² = 10, Σdy² = 1.2: r = 2/sqrt(12).
		{0, 3}: 2 / math.Sqrt(12), {3, 0}: 2 / math.Sqrt(12),
	}
	for ij, w := range want {
		if g := at(ij[0], ij[1]); math.Abs(g-w) > 1e-12 {
			t.Errorf("r[%v] = %v, want %v", ij, g, w)
		}
	}
	// Too few complete rows, or no spread: NaN.
	p, _ = Profile(tbl(num("a", 1, 2, nan, nan), num("b", nan, 1, 2, 3), num("k", 1, 1, 1, 1)), nil)
	for _, v := range p.GetCorrelation().GetValues() {
		if !math.IsNaN(v) && v != 1 {
			t.Errorf("value %v, want NaN or the diagonal", v)
		}
	}
	if !math.IsNaN(p.GetCorrelation().GetValues()[0*3+1]) || !math.IsNaN(p.GetCorrelation().GetValues()[2*3+2]) {
		t.Errorf("undefined pairs not NaN: %v", p.GetCorrelation().GetValues())
	}
}

func TestSampleRows(t *testing.T) {
	s := sampleRows(1000, 100)
	if len(s) != 100 || !slices.IsSorted(s) || slices.Compact(slices.Clone(s))[99] != s[99] || s[0] < 0 || s[99] >= 1000 {
		t.Errorf("sample %v", s)
	}
	if !slices.Equal(s, sampleRows(1000, 100)) {
		t.Error("sample not reproducible")
	}
	if len(sampleRows(50, 100)) != 50 {
		t.Error("small table sampled")
	}
}

// BenchmarkProfileWide profiles 200 000 rows × 20 columns (16 numeric,
// 3 categorical, a class label), the size the findings must stay quick on.
func BenchmarkProfileWide(b *testing.B) {
	const n = 200_000
	var cols []*table.Column
	for j := 0; j < 16; j++ {
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Sin(float64(i*(j+1))) * float64(j+1)
			if (i+j)%97 == 0 {
				v[i] = math.NaN()
			}
		}
		cols = append(cols, num("x"+string(rune('a'+j)), v...))
	}
	for j := 0; j < 3; j++ {
		codes := make([]int32, n)
		for i := range codes {
			codes[i] = int32((i * (j + 3)) % 40)
		}
		dict := make([]string, 40)
		for k := range dict {
			dict[k] = string(rune('A'+j)) + string(rune('a'+k%26)) + string(rune('0'+k/26))
		}
		cols = append(cols, table.NewCategorical("c"+string(rune('a'+j)), codes, dict))
	}
	codes := make([]int32, n)
	for i := range codes {
		codes[i] = int32(i % 3)
	}
	cols = append(cols, table.NewCategorical("y", codes, []string{"p", "q", "r"}))
	tb := &table.Table{Columns: cols}
	// "statistics" is the per-column statistics and duplicate rows alone,
	// "full" adds the table-wide findings and the correlation matrix: run
	// them side by side and compare the ratio.
	b.Run("statistics", func(b *testing.B) {
		for range b.N {
			for _, c := range tb.Columns {
				profileColumn(c, n, DefaultHistogramBins, DefaultTopCategories, c.Name == "y")
			}
			duplicateRows(tb)
		}
	})
	b.Run("full", func(b *testing.B) {
		for range b.N {
			if _, err := Profile(tb, &prepv1.ProfileOptions{Label: "y"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestMixedTypesNotHighCardinality: a mostly numeric text column with many
// values is one mixed-type finding, so that merging every fix stays valid
// (parse_numeric and group_rare exclude each other).
func TestMixedTypesNotHighCardinality(t *testing.T) {
	vals := make([]string, 300)
	for i := range vals {
		vals[i] = strconv.Itoa(i % 200)
		if i%30 == 0 {
			vals[i] = "unknown"
		}
	}
	p, err := Profile(tbl(cat("amount", vals...)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(find(p, "mixed_types", "amount")) != 1 || len(find(p, "high_cardinality", "amount")) != 0 {
		t.Errorf("findings %v", p.GetFindings())
	}
}
