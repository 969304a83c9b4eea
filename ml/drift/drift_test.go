package drift

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

const tol = 1e-9

func near(a, b, eps float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= eps
}

func TestPSI(t *testing.T) {
	// 0.25·ln 2 + 0.25·ln 1.5, by hand.
	const halfQuarter = 0.2746530721670274
	for _, tc := range []struct {
		name             string
		expected, actual []float64
		want             float64
	}{
		{"identical", []float64{1, 2, 3}, []float64{1, 2, 3}, 0},
		{"same shares, other totals", []float64{1, 2, 3}, []float64{10, 20, 30}, 0},
		{"half to quarter", []float64{50, 50}, []float64{25, 75}, halfQuarter},
		{"symmetric", []float64{25, 75}, []float64{50, 50}, halfQuarter},
		// An empty bin is floored at 1e-4.
		{"empty bin floored", []float64{1, 1}, []float64{0, 2},
			(1e-4-0.5)*math.Log(1e-4/0.5) + (1-0.5)*math.Log(1/0.5)},
		{"length mismatch", []float64{1}, []float64{1, 2}, math.NaN()},
		{"zero total", []float64{0, 0}, []float64{1, 1}, math.NaN()},
		{"empty", nil, nil, math.NaN()},
	} {
		if got := PSI(tc.expected, tc.actual); !near(got, tc.want, tol) {
			t.Errorf("%s: PSI = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestGrade(t *testing.T) {
	for _, tc := range []struct {
		psi  float64
		want Level
	}{
		{0, Stable}, {0.0999, Stable}, {0.1, Moderate}, {0.25, Moderate}, {0.2501, Major}, {3, Major}, {math.NaN(), Unmeasured},
	} {
		if got := Grade(tc.psi); got != tc.want {
			t.Errorf("Grade(%v) = %v, want %v", tc.psi, got, tc.want)
		}
	}
}

func TestNoiseFloor(t *testing.T) {
	// χ²₉ at 0.95 is 16.918977604620448 (statistical tables give 16.919).
	const chi9 = 16.918977604620448
	for _, tc := range []struct {
		bins int
		n, m float64
		want float64
	}{
		{10, 75, 75, chi9 * 2 / 75},
		{10, 1e6, 1e6, chi9 * 2e-6},
		{2, 100, 100, 3.841458820694124 * 0.02},
		{1, 100, 100, 0},
		{10, 0, 100, 0},
	} {
		if got := NoiseFloor(tc.bins, tc.n, tc.m, NoiseAlpha); !near(got, tc.want, 1e-9) {
			t.Errorf("NoiseFloor(%d, %v, %v) = %v, want %v", tc.bins, tc.n, tc.m, got, tc.want)
		}
	}
	for _, tc := range []struct {
		psi  float64
		n    float64
		want Level
	}{
		{0.42, 75, Stable}, {0.5, 75, Major}, {0.3, 10000, Major}, {0.15, 10000, Moderate}, {0.05, 10000, Stable}, {math.NaN(), 75, Unmeasured},
	} {
		if got := GradeSample(tc.psi, 10, tc.n, tc.n); got != tc.want {
			t.Errorf("GradeSample(%v, 10 bins, %v rows each) = %v, want %v", tc.psi, tc.n, got, tc.want)
		}
	}
}

func TestQuantileEdges(t *testing.T) {
	for _, tc := range []struct {
		name string
		ref  []float64
		bins int
		want []float64
	}{
		{"deciles of 1..10", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"ties merge bins", []float64{1, 1, 1, 1, 1, 1, 1, 1, 2, 3}, 10, []float64{1, 2}},
		{"constant has one bin", []float64{4, 4, 4}, 10, nil},
		{"quartiles", []float64{1, 2, 3, 4, 5, 6, 7, 8}, 4, []float64{2, 4, 6}},
		{"empty", nil, 10, nil},
	} {
		if got := QuantileEdges(tc.ref, tc.bins); !slices.Equal(got, tc.want) {
			t.Errorf("%s: edges = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNumericPSI(t *testing.T) {
	ref := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	for _, tc := range []struct {
		name string
		cur  []float64
		want float64
	}{
		{"identical", ref, 0},
		{"reordered with missing", []float64{8, math.NaN(), 7, 6, 5, 4, 3, 2, 1}, 0},
		// Quartile bins (≤2, ≤4, ≤6, >6) hold 1/4 each in ref; cur puts
		// 2/4 in the first two bins and 0 in the last: by hand,
		// 2·(0.5−0.25)·ln 2 + (1e-4−0.25)·ln(1e-4/0.25).
		{"left heavy", []float64{1, 2, 3, 4, 1, 2, 3, 4}, 2*(0.5-0.25)*math.Log(2) + 2*(1e-4-0.25)*math.Log(1e-4/0.25)},
		{"no values", []float64{math.NaN()}, math.NaN()},
	} {
		if got := NumericPSI(ref, tc.cur, 4); !near(got, tc.want, tol) {
			t.Errorf("%s: NumericPSI = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestKolmogorovQ(t *testing.T) {
	// Reference values of the Kolmogorov distribution's tail, from its
	// series summed to 200 terms.
	for _, tc := range []struct{ lambda, want float64 }{
		{0, 1}, {0.1, 1}, {0.5, 0.9639452436648751}, {1.0, 0.26999967167735456},
		{1.36, 0.049485876755377876}, {2.0, 0.0006709252557796953},
	} {
		if got := KolmogorovQ(tc.lambda); !near(got, tc.want, 1e-9) {
			t.Errorf("Q(%v) = %v, want %v", tc.lambda, got, tc.want)
		}
	}
}

func TestKS(t *testing.T) {
	for _, tc := range []struct {
		name  string
		a, b  []float64
		wantD float64
		wantP float64
	}{
		{"identical", []float64{1, 2, 3}, []float64{3, 1, 2}, 0, 1},
		// ECDF gap is 0.5 from x=2 to x=4; nₑ = 2, λ = (√2+0.12+0.11/√2)·0.5.
		{"half overlap", []float64{1, 2, 3, 4}, []float64{3, 4, 5, 6}, 0.5, 0.5344157192165071},
		{"disjoint", []float64{1, 2}, []float64{5, 6, math.NaN()}, 1, math.NaN()},
		{"empty side", []float64{math.NaN()}, []float64{1}, math.NaN(), math.NaN()},
	} {
		d, p := KS(tc.a, tc.b)
		if !near(d, tc.wantD, tol) {
			t.Errorf("%s: D = %v, want %v", tc.name, d, tc.wantD)
		}
		if !math.IsNaN(tc.wantP) && !near(p, tc.wantP, 1e-9) {
			t.Errorf("%s: p = %v, want %v", tc.name, p, tc.wantP)
		}
	}
}

func TestShiftedNormal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ref, same, shifted := make([]float64, 2000), make([]float64, 2000), make([]float64, 2000)
	for i := range ref {
		ref[i] = rng.NormFloat64()
		same[i] = rng.NormFloat64()
		shifted[i] = rng.NormFloat64() + 1
	}
	d, p := KS(ref, same)
	if d > 0.06 || p < 0.01 {
		t.Errorf("same distribution: D = %v, p = %v; want small D, large p", d, p)
	}
	if psi := NumericPSI(ref, same, DefaultBins); Grade(psi) != Stable {
		t.Errorf("same distribution: PSI = %v, want stable", psi)
	}
	d, p = KS(ref, shifted)
	// The population KS distance between N(0,1) and N(1,1) is
	// 2Φ(0.5)−1 ≈ 0.383.
	if !near(d, 0.383, 0.05) || p > 1e-10 {
		t.Errorf("shifted by one sd: D = %v, p = %v; want D ≈ 0.383, p ≈ 0", d, p)
	}
	if psi := NumericPSI(ref, shifted, DefaultBins); Grade(psi) != Major {
		t.Errorf("shifted by one sd: PSI = %v, want major", psi)
	}
}

func TestCategoricalPSI(t *testing.T) {
	for _, tc := range []struct {
		name          string
		ref, cur      map[string]float64
		max           int
		want          float64
		new, vanished []string
	}{
		{"identical", map[string]float64{"a": 3, "b": 1}, map[string]float64{"a": 6, "b": 2}, 20, 0, nil, nil},
		{"half to quarter", map[string]float64{"a": 50, "b": 50}, map[string]float64{"a": 25, "b": 75}, 20, 0.2746530721670274, nil, nil},
		// "c" is new: it lands in "other", empty in ref (floored).
		{"new category", map[string]float64{"a": 1, "b": 1}, map[string]float64{"a": 1, "b": 1, "c": 2}, 20,
			2*(0.25-0.5)*math.Log(0.25/0.5) + (0.5-1e-4)*math.Log(0.5/1e-4), []string{"c"}, nil},
		{"vanished category", map[string]float64{"a": 1, "b": 1}, map[string]float64{"a": 2}, 20,
			(1-0.5)*math.Log(1/0.5) + (1e-4-0.5)*math.Log(1e-4/0.5), nil, []string{"b"}},
		// With one bin of its own, "a" (most frequent) is kept and b, c pool.
		{"pooled", map[string]float64{"a": 2, "b": 1, "c": 1}, map[string]float64{"a": 2, "b": 2}, 1, 0, nil, []string{"c"}},
	} {
		got := CategoricalPSI(tc.ref, tc.cur, tc.max)
		if !near(got.PSI, tc.want, tol) || !slices.Equal(got.New, tc.new) || !slices.Equal(got.Vanished, tc.vanished) {
			t.Errorf("%s: got %+v, want PSI %v new %v vanished %v", tc.name, got, tc.want, tc.new, tc.vanished)
		}
	}
}

func TestDiffSchema(t *testing.T) {
	num, cat, boo := datav1.ColumnType_COLUMN_TYPE_NUMERIC, datav1.ColumnType_COLUMN_TYPE_CATEGORICAL, datav1.ColumnType_COLUMN_TYPE_BOOLEAN
	schema := func(fs ...*datav1.Field) *datav1.Schema { return &datav1.Schema{Fields: fs} }
	f := func(n string, t datav1.ColumnType) *datav1.Field { return &datav1.Field{Name: n, Type: t} }
	d := DiffSchema(schema(f("a", num), f("b", cat), f("c", num), f("d", boo)), schema(f("e", num), f("a", num), f("c", cat), f("d", boo)))
	if !slices.Equal(d.Added, []string{"e"}) || !slices.Equal(d.Removed, []string{"b"}) ||
		!slices.Equal(d.Retyped, []Retyped{{Name: "c", From: num, To: cat}}) {
		t.Errorf("diff = %+v", d)
	}
	if d.Empty() {
		t.Error("Empty() = true for a diff with changes")
	}
	if d := DiffSchema(schema(f("a", num)), schema(f("a", num))); !d.Empty() {
		t.Errorf("same schema: %+v", d)
	}
}

func TestCompare(t *testing.T) {
	nan := math.NaN()
	from := &table.Table{Columns: []*table.Column{
		table.NewNumeric("x", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}),
		table.NewCategorical("k", []int32{0, 0, 1, 1, 0, 0, 1, 1, 0, 1}, []string{"a", "b"}),
		table.NewNumeric("gone", make([]float64, 10)),
	}}
	to := &table.Table{Columns: []*table.Column{
		table.NewNumeric("x", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}),
		table.NewCategorical("k", []int32{0, 0, 1, 1, 0, 0, 1, 1, 2, -1}, []string{"a", "b", "c"}),
		table.NewNumeric("fresh", []float64{nan, 1, 2, 3, 4, 5, 6, 7, 8, 9}),
	}}
	rep := Compare(from, to)
	if !slices.Equal(rep.Schema.Added, []string{"fresh"}) || !slices.Equal(rep.Schema.Removed, []string{"gone"}) {
		t.Fatalf("schema diff = %+v", rep.Schema)
	}
	if len(rep.Columns) != 2 {
		t.Fatalf("columns = %+v, want x and k", rep.Columns)
	}
	x, k := rep.Columns[0], rep.Columns[1]
	if x.Name != "x" || x.PSI != 0 || x.KS != 0 || x.Level != Stable || x.MeanFrom != 5.5 || x.MeanTo != 5.5 {
		t.Errorf("x = %+v, want no shift", x)
	}
	if k.Name != "k" || !slices.Equal(k.New, []string{"c"}) || k.MissingTo != 0.1 || k.MissingFrom != 0 || !math.IsNaN(k.KS) {
		t.Errorf("k = %+v", k)
	}
	// A new category in 1 of 9 rows is a large PSI, but within what
	// chance gives on 10 rows; the same shares on 1000 rows are not.
	if k.PSI < MajorThreshold || k.PSI > k.NoiseFloor || k.Level != Stable || rep.Level != Stable {
		t.Errorf("k PSI %v, floor %v, level %v, report level %v; want a major PSI graded stable on 10 rows", k.PSI, k.NoiseFloor, k.Level, rep.Level)
	}
	big := func(c *table.Column) *table.Column {
		out := &table.Column{Name: c.Name, Type: c.Type, Dict: c.Dict}
		for range 100 {
			out.Codes = append(out.Codes, c.Codes...)
		}
		return out
	}
	if kb := CompareColumns(big(from.Columns[1]), big(to.Columns[1])); kb.Level != Major || !near(kb.PSI, k.PSI, 1e-9) {
		t.Errorf("k on 1000 rows: PSI %v, level %v; want the same PSI, major", kb.PSI, kb.Level)
	}
	if s := rep.Summary(); s == "" {
		t.Error("empty summary")
	}
	if s := Compare(from, from).Summary(); s != "no schema change; all 3 shared columns stable" {
		t.Errorf("summary of no change = %q", s)
	}
}
