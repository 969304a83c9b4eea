package profile

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

const tol = 1e-9

var nan = math.NaN()

func cat(name string, vals ...string) *table.Column {
	var dict []string
	pos := map[string]int32{}
	codes := make([]int32, len(vals))
	for i, v := range vals {
		if v == "" {
			codes[i] = -1
			continue
		}
		p, ok := pos[v]
		if !ok {
			p = int32(len(dict))
			pos[v] = p
			dict = append(dict, v)
		}
		codes[i] = p
	}
	return table.NewCategorical(name, codes, dict)
}

func num(name string, vals ...float64) *table.Column { return table.NewNumeric(name, vals) }

func boolean(name string, vals ...float64) *table.Column {
	return &table.Column{Name: name, Type: datav1.ColumnType_COLUMN_TYPE_BOOLEAN, Nums: vals}
}

func tbl(cols ...*table.Column) *table.Table { return &table.Table{Columns: cols} }

func near(a, b float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

func TestProfileHandComputed(t *testing.T) {
	tb := tbl(
		num("x", 1, 2, 3, 4, 100, nan),
		boolean("b", 1, 0, 1, nan, 1, 1),
		cat("c", "b", "a", "b", "c", "", "b"),
	)
	p, err := Profile(tb, &prepv1.ProfileOptions{HistogramBins: 4, TopCategories: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.RowCount != 6 || len(p.Columns) != 3 {
		t.Fatalf("rows %d columns %d", p.RowCount, len(p.Columns))
	}
	x := p.Columns[0]
	// Deviations from the mean 22: -21 -20 -19 -18 78, squares sum to 7610.
	if x.Count != 5 || x.Missing != 1 || x.Distinct != 5 || x.Min != 1 || x.Max != 100 || !near(x.Mean, 22) || !near(x.Std, math.Sqrt(7610.0/4)) {
		t.Errorf("x: %v", x)
	}
	wantQ := []float64{1.2, 2, 3, 4, 80.8}
	for i, q := range x.Quantiles {
		if q.Q != Quantiles[i] || !near(q.Value, wantQ[i]) {
			t.Errorf("x quantile %g = %g, want %g", q.Q, q.Value, wantQ[i])
		}
	}
	if want := []float64{1, 25.75, 50.5, 75.25, 100}; !slices.EqualFunc(x.Histogram.Edges, want, near) {
		t.Errorf("edges %v, want %v", x.Histogram.Edges, want)
	}
	if want := []int64{4, 0, 0, 1}; !slices.Equal(x.Histogram.Counts, want) {
		t.Errorf("counts %v, want %v", x.Histogram.Counts, want)
	}
	b := p.Columns[1]
	// 1 0 1 1 1: mean 0.8, squared deviations 4*0.04 + 0.64 = 0.8, /4.
	if b.Count != 5 || b.Missing != 1 || b.Distinct != 2 || b.Min != 0 || b.Max != 1 || !near(b.Mean, 0.8) || !near(b.Std, math.Sqrt(0.2)) {
		t.Errorf("b: %v", b)
	}
	if len(b.TopCategories) != 2 || b.TopCategories[0].Value != "true" || b.TopCategories[0].Count != 4 || b.TopCategories[1].Value != "false" || b.Quantiles != nil || b.Histogram != nil {
		t.Errorf("b categories %v", b.TopCategories)
	}
	c := p.Columns[2]
	if c.Count != 5 || c.Missing != 1 || c.Distinct != 3 || len(c.TopCategories) != 2 ||
		c.TopCategories[0].Value != "b" || c.TopCategories[0].Count != 3 || c.TopCategories[1].Value != "a" || c.TopCategories[1].Count != 1 {
		t.Errorf("c: %v", c)
	}
}

func TestQuantileAndHistogram(t *testing.T) {
	tests := []struct {
		vals []float64
		q    float64
		want float64
	}{
		{[]float64{5}, 0.5, 5},
		{[]float64{1, 2}, 0.5, 1.5},
		{[]float64{1, 2, 3, 4}, 0.25, 1.75},
		{[]float64{1, 2, 3, 4}, 1, 4},
		{[]float64{1, 2, 3, 4}, 0, 1},
		{[]float64{0, 10, 20, 30, 40, 50, 60, 70, 80, 90}, 0.95, 85.5},
	}
	for _, tc := range tests {
		if got := quantile(tc.vals, tc.q); !near(got, tc.want) {
			t.Errorf("quantile(%v, %g) = %g, want %g", tc.vals, tc.q, got, tc.want)
		}
	}
	h := histogram([]float64{3, 3, 3}, 2)
	if !slices.Equal(h.Edges, []float64{2.5, 3, 3.5}) || !slices.Equal(h.Counts, []int64{0, 3}) {
		t.Errorf("constant histogram %v", h)
	}
	h = histogram([]float64{0, 0.1, 0.2, 0.3, 1}, 10)
	// As in numpy, the edges are i*step: the fourth is 3*0.1 =
	// 0.30000000000000004, so 0.3 falls in the third bin.
	if want := []int64{1, 1, 2, 0, 0, 0, 0, 0, 0, 1}; !slices.Equal(h.Counts, want) {
		t.Errorf("counts %v, want %v (numpy.histogram)", h.Counts, want)
	}
	h = histogram([]float64{-math.MaxFloat64, 0, math.MaxFloat64}, 2)
	if !slices.Equal(h.Counts, []int64{1, 2}) {
		t.Errorf("overflowing range: %v", h)
	}
	// g1 of 1 2 3 4 100: m2 = 1522, m3 = 88920.
	if got, want := skewness([]float64{1, 2, 3, 4, 100}, 22), 88920/math.Pow(1522, 1.5); !near(got, want) {
		t.Errorf("skewness %g, want %g", got, want)
	}
}

func TestFindings(t *testing.T) {
	ids := make([]string, 25)
	rowNo := make([]float64, 25)
	ys := make([]string, 25)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%d", i)
		rowNo[i] = float64(i + 1)
		ys[i] = "a"
	}
	ys[3] = "b"
	many := make([]string, 100)
	for i := range many {
		many[i] = fmt.Sprintf("v%d", i%60)
	}
	skew := make([]float64, 30)
	skew[29] = 1000
	tests := []struct {
		name     string
		tb       *table.Table
		opts     *prepv1.ProfileOptions
		code     string
		column   string
		severity datav1.Severity
	}{
		{"label missing", tbl(num("x", 1, 2)), &prepv1.ProfileOptions{Label: "y"}, "label_missing", "y", datav1.Severity_SEVERITY_ERROR},
		{"label constant", tbl(num("x", 1, 2), cat("y", "a", "a")), &prepv1.ProfileOptions{Label: "y"}, "label_constant", "y", datav1.Severity_SEVERITY_ERROR},
		{"constant", tbl(num("x", 1, 2), cat("k", "a", "a")), nil, "constant_column", "k", datav1.Severity_SEVERITY_WARNING},
		{"empty column", tbl(num("x", 1, 2), num("e", nan, nan)), nil, "constant_column", "e", datav1.Severity_SEVERITY_WARNING},
		{"high missing", tbl(num("x", 1, 2, 3, 4), num("m", 1, nan, nan, 2)), nil, "high_missing", "m", datav1.Severity_SEVERITY_WARNING},
		{"missing values", tbl(num("x", 1, 2, 3, 4), num("m", 1, nan, 3, 2)), nil, "missing_values", "m", datav1.Severity_SEVERITY_INFO},
		{"id-like categories", tbl(cat("id", ids...)), nil, "id_like_column", "id", datav1.Severity_SEVERITY_WARNING},
		{"row number", tbl(num("n", rowNo...)), nil, "id_like_column", "n", datav1.Severity_SEVERITY_WARNING},
		{"duplicates", tbl(num("x", 1, 2, 1, nan, nan), cat("c", "a", "b", "a", "", "")), nil, "duplicate_rows", "", datav1.Severity_SEVERITY_WARNING},
		{"imbalance", tbl(num("x", rowNo...), cat("y", ys...)), &prepv1.ProfileOptions{Label: "y"}, "class_imbalance", "y", datav1.Severity_SEVERITY_WARNING},
		{"high cardinality", tbl(cat("c", many...)), nil, "high_cardinality", "c", datav1.Severity_SEVERITY_WARNING},
		{"outliers", tbl(num("x", 1, 2, 3, 4, 100)), nil, "outliers", "x", datav1.Severity_SEVERITY_WARNING},
		{"skewed", tbl(num("s", skew...)), nil, "skewed", "s", datav1.Severity_SEVERITY_INFO},
		{"infinite", tbl(num("x", 1, math.Inf(1), 3)), nil, "infinite_values", "x", datav1.Severity_SEVERITY_WARNING},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Profile(tc.tb, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range p.Findings {
				if f.Code == tc.code && f.Column == tc.column {
					if f.Severity != tc.severity || f.Message == "" || f.Suggestion == "" {
						t.Errorf("finding %v", f)
					}
					return
				}
			}
			t.Errorf("no %s finding on %q in %v", tc.code, tc.column, p.Findings)
		})
	}
}

func TestFindingsQuiet(t *testing.T) {
	// A clean table: no findings at all.
	p, err := Profile(tbl(num("x", 1, 2, 3, 4, 5, 6), cat("y", "a", "b", "a", "b", "a", "b")), &prepv1.ProfileOptions{Label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Findings) != 0 {
		t.Errorf("findings on a clean table: %v", p.Findings)
	}
}

func TestDuplicatesAndOrder(t *testing.T) {
	tb := tbl(num("x", 1, 2, 1, 0, math.Copysign(0, -1), nan, nan), cat("c", "a", "b", "a", "z", "z", "", ""), cat("k", "q", "q", "q", "q", "q", "q", "q"))
	p, err := Profile(tb, &prepv1.ProfileOptions{Label: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if p.DuplicateRows != 3 {
		t.Errorf("duplicate rows %d, want 3", p.DuplicateRows)
	}
	for i := 1; i < len(p.Findings); i++ {
		a, b := p.Findings[i-1], p.Findings[i]
		if a.Severity < b.Severity || a.Severity == b.Severity && a.Column > b.Column {
			t.Errorf("findings out of order: %v before %v", a, b)
		}
	}
	if p.Findings[0].Code != "label_missing" {
		t.Errorf("first finding %v, want label_missing", p.Findings[0])
	}
	// Rows that differ only in a value whose dictionary repeats a string
	// are equal.
	dup := tbl(table.NewCategorical("c", []int32{0, 1}, []string{"a", "a"}))
	if n := duplicateRows(dup); n != 1 {
		t.Errorf("dictionary duplicate: %d, want 1", n)
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		opts  *prepv1.ProfileOptions
		field string
	}{
		{nil, ""},
		{&prepv1.ProfileOptions{HistogramBins: -1}, "options.histogram_bins"},
		{&prepv1.ProfileOptions{HistogramBins: MaxHistogramBins + 1}, "options.histogram_bins"},
		{&prepv1.ProfileOptions{TopCategories: -2}, "options.top_categories"},
		{&prepv1.ProfileOptions{HistogramBins: 7, TopCategories: 3}, ""},
	} {
		err := ValidateOptions(tc.opts)
		var oe *OptionError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%v: %v", tc.opts, err)
		case tc.field != "" && (!errors.As(err, &oe) || oe.Field != tc.field):
			t.Errorf("%v: error %v, want field %s", tc.opts, err, tc.field)
		}
	}
	if _, err := Profile(tbl(table.NewCategorical("c", []int32{4}, nil)), nil); err == nil {
		t.Errorf("invalid table: want an error")
	}
	p, err := Profile(nil, nil)
	if err != nil || p.RowCount != 0 {
		t.Errorf("nil table: %v %v", p, err)
	}
}

func FuzzProfile(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, int32(3), int32(2))
	f.Add([]byte{255, 0, 255, 0}, int32(0), int32(0))
	f.Fuzz(func(t *testing.T, data []byte, bins, top int32) {
		vals := []float64{nan, 0, 1, -1, 2.5, math.Inf(1), math.Inf(-1), 1e308, -1e308, 5e-324}
		rows := len(data) / 2
		x := make([]float64, rows)
		codes := make([]int32, rows)
		for i := range rows {
			x[i] = vals[int(data[2*i])%len(vals)]
			codes[i] = int32(data[2*i+1]%5) - 1
		}
		// A second numeric column and a mostly numeric categorical one feed
		// the correlation, leakage, mixed-type and missing-pattern checks;
		// the label alternates between a class and a number.
		x2 := make([]float64, rows)
		for i := range x2 {
			x2[i] = vals[int(data[2*i+1])%len(vals)]
		}
		nums := table.NewCategorical("n", append([]int32(nil), codes...), []string{"1", "2.5", "x", "4"})
		tb := tbl(num("x", x...), table.NewCategorical("c", codes, []string{"a", "b", "a", "d"}), num("x2", x2...), nums)
		label := "c"
		if len(data)%2 == 1 {
			label = "x2"
		}
		p, err := Profile(tb, &prepv1.ProfileOptions{HistogramBins: bins, TopCategories: top, Label: label})
		if err != nil {
			if ValidateOptions(&prepv1.ProfileOptions{HistogramBins: bins, TopCategories: top}) == nil {
				t.Fatalf("valid options, error %v", err)
			}
			return
		}
		if m := p.GetCorrelation(); m != nil {
			if len(m.GetValues()) != len(m.GetColumns())*len(m.GetColumns()) {
				t.Fatalf("matrix of %d columns has %d values", len(m.GetColumns()), len(m.GetValues()))
			}
			for _, r := range m.GetValues() {
				if !math.IsNaN(r) && (r < -1 || r > 1) {
					t.Fatalf("correlation %v", r)
				}
			}
		}
		for _, f := range p.GetFindings() {
			if f.GetMessage() == "" || f.GetCode() == "" || f.GetSeverity() == datav1.Severity_SEVERITY_UNSPECIFIED {
				t.Fatalf("finding %v", f)
			}
		}
		for _, cp := range p.Columns {
			if cp.Count+cp.Missing != int64(rows) {
				t.Fatalf("%s: count %d + missing %d != %d", cp.Name, cp.Count, cp.Missing, rows)
			}
			if h := cp.Histogram; h != nil {
				var n int64
				for _, k := range h.Counts {
					n += k
				}
				if len(h.Edges) != len(h.Counts)+1 || n > cp.Count {
					t.Fatalf("histogram %v for %d values", h, cp.Count)
				}
			}
		}
	})
}
