package dataprep

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/encoding/protojson"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

// column returns the fitted transform of a named column.
func column(t *testing.T, tr *datav1.FittedTransform, name string) *datav1.ColumnTransform {
	t.Helper()
	for _, ct := range tr.GetColumns() {
		if ct.GetName() == name {
			return ct
		}
	}
	t.Fatalf("no column %q", name)
	return nil
}

// feature returns the values of a named output feature.
func feature(t *testing.T, tr *datav1.FittedTransform, X *mat.Dense, name string) []float64 {
	t.Helper()
	j := slices.Index(tr.GetFeatureNames(), name)
	if j < 0 {
		t.Fatalf("no feature %q in %v", name, tr.GetFeatureNames())
	}
	r, _ := X.Dims()
	out := make([]float64, r)
	mat.Col(out, j, X)
	return out
}

func near(a, b []float64, tol float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Abs(x-y) <= tol*math.Max(1, math.Abs(y)) })
}

func TestCleaningClip(t *testing.T) {
	// x = 1..10 and 100. numpy quantiles (linear): Q1 = 3.5, Q3 = 8.5,
	// IQR 5; fences at k = 1.5: [-4, 16]. Quantiles 0.1 and 0.9: 2 and 10.
	x := append(seq(10), 100)
	y := repeatEach([]string{"a", "b"}, 6)[:11]
	tb := tbl(num("x", x...), cat("y", y...))
	tests := []struct {
		name   string
		clean  *datav1.CleaningOptions
		lo, hi float64
	}{
		{"iqr default", &datav1.CleaningOptions{ClipOutliers: []string{"x"}}, -4, 16},
		{"iqr k=3", &datav1.CleaningOptions{ClipOutliers: []string{"x"}, ClipIqrK: 3}, 3.5 - 15, 8.5 + 15},
		{"quantiles", &datav1.CleaningOptions{ClipOutliers: []string{"x"}, ClipLowerQuantile: 0.1, ClipUpperQuantile: 0.9}, 2, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", NoScaling: true, Cleaning: tc.clean})
			if err != nil {
				t.Fatal(err)
			}
			ct := column(t, tr, "x")
			if !ct.GetClipped() || math.Abs(ct.GetClipLow()-tc.lo) > 1e-12 || math.Abs(ct.GetClipHigh()-tc.hi) > 1e-12 {
				t.Fatalf("clip %v [%v, %v], want [%v, %v]", ct.GetClipped(), ct.GetClipLow(), ct.GetClipHigh(), tc.lo, tc.hi)
			}
			// New rows: below, inside, above, missing (median 6 is inside).
			X, err := ApplyFeatures(tr, tbl(num("x", -1000, 5, 1e6, nan)))
			if err != nil {
				t.Fatal(err)
			}
			want := []float64{max(-1000, tc.lo), 5, min(1e6, tc.hi), 6}
			if got := feature(t, tr, X, "x"); !near(got, want, 1e-12) {
				t.Errorf("applied %v, want %v", got, want)
			}
		})
	}
	// Bounds are learnt on the train rows only: rows 0..9 (no 100) give
	// Q1 = 3.25, Q3 = 7.75, IQR 4.5, fences [-3.5, 14.5].
	tr, err := Fit(tb, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, &prepv1.PrepareOptions{Label: "y", NoScaling: true, Cleaning: &datav1.CleaningOptions{ClipOutliers: []string{"x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ct := column(t, tr, "x"); math.Abs(ct.GetClipLow()+3.5) > 1e-12 || math.Abs(ct.GetClipHigh()-14.5) > 1e-12 {
		t.Errorf("train-only bounds [%v, %v], want [-3.5, 14.5]", ct.GetClipLow(), ct.GetClipHigh())
	}
	// Scaling learns from the clipped values: 1..10 and 16, mean 71/11.
	tr, err = Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", Cleaning: &datav1.CleaningOptions{ClipOutliers: []string{"x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ct := column(t, tr, "x"); math.Abs(ct.GetMean()-71.0/11) > 1e-12 {
		t.Errorf("scaler mean %v, want %v", ct.GetMean(), 71.0/11)
	}
}

func TestCleaningLog1p(t *testing.T) {
	// Values e^k - 1 become k after log1p. Median of 0, e-1, e²-1, e³-1 is
	// (e-1 + e²-1)/2, imputed before the log.
	e := math.E
	tb := tbl(num("m", 0, e-1, e*e-1, e*e*e-1, nan), cat("y", "a", "b", "a", "b", "a"))
	tr, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", NoScaling: true, Cleaning: &datav1.CleaningOptions{LogTransform: []string{"m"}}})
	if err != nil {
		t.Fatal(err)
	}
	ct := column(t, tr, "m")
	if !ct.GetLog1P() || math.Abs(ct.GetImputeNumber()-(e-1+e*e-1)/2) > 1e-12 {
		t.Fatalf("transform %v", ct)
	}
	X, err := ApplyFeatures(tr, tb)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0, 1, 2, 3, math.Log1p((e - 1 + e*e - 1) / 2)}
	if got := feature(t, tr, X, "m"); !near(got, want, 1e-12) {
		t.Errorf("log1p %v, want %v", got, want)
	}
	// Negative train values are refused, naming the option.
	_, err = Fit(tbl(num("m", -2, 1, 3), cat("y", "a", "b", "a")), nil, &prepv1.PrepareOptions{Label: "y", Cleaning: &datav1.CleaningOptions{LogTransform: []string{"m"}}})
	wantField(t, err, "options.cleaning.log_transform[0]", `"m" has negative values`)
	// A negative value at apply time is an error naming row and column.
	_, err = ApplyFeatures(tr, tbl(num("m", 1, -0.5)))
	wantField(t, err, "batch", `row 1 of column "m"`)
	// log then clip: the fences are learnt on the log scale.
	tb = tbl(num("m", 0, e-1, e*e-1, e*e*e-1, math.Exp(100)-1), cat("y", "a", "b", "a", "b", "a"))
	tr, err = Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", NoScaling: true, Cleaning: &datav1.CleaningOptions{LogTransform: []string{"m"}, ClipOutliers: []string{"m"}}})
	if err != nil {
		t.Fatal(err)
	}
	// log values 0 1 2 3 100: Q1 1, Q3 3, fences [-2, 6].
	if ct := column(t, tr, "m"); !ct.GetClipped() || math.Abs(ct.GetClipLow()+2) > 1e-12 || math.Abs(ct.GetClipHigh()-6) > 1e-12 {
		t.Errorf("log-scale fences [%v, %v], want [-2, 6]", ct.GetClipLow(), ct.GetClipHigh())
	}
}

func TestCleaningGroupRare(t *testing.T) {
	// a ×6, b ×3, c ×1 (10 present, one missing).
	vals := []string{"a", "a", "a", "a", "a", "a", "b", "b", "b", "c", ""}
	y := []string{"p", "q", "p", "q", "p", "q", "p", "q", "p", "q", "p"}
	tb := tbl(cat("k", vals...), cat("y", y...))
	tests := []struct {
		name  string
		clean *datav1.CleaningOptions
		cats  []string
		label string
	}{
		{"min frequency 0.15", &datav1.CleaningOptions{GroupRare: []string{"k"}, RareMinFrequency: 0.15}, []string{"a", "b", "other"}, "other"},
		{"default 1% keeps all", &datav1.CleaningOptions{GroupRare: []string{"k"}}, []string{"a", "b", "c"}, ""},
		{"top 1, own label", &datav1.CleaningOptions{GroupRare: []string{"k"}, RareTopN: 1, RareLabel: "rest"}, []string{"a", "rest"}, "rest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", Cleaning: tc.clean})
			if err != nil {
				t.Fatal(err)
			}
			ct := column(t, tr, "k")
			if !slices.Equal(ct.GetCategories(), tc.cats) || ct.GetRareLabel() != tc.label || ct.GetImputeCategory() != "a" {
				t.Fatalf("categories %v rare %q impute %q, want %v %q a", ct.GetCategories(), ct.GetRareLabel(), ct.GetImputeCategory(), tc.cats, tc.label)
			}
			// New rows: a, c, unseen z, missing.
			X, err := ApplyFeatures(tr, tbl(cat("k", "a", "c", "z", "")))
			if err != nil {
				t.Fatal(err)
			}
			if got := feature(t, tr, X, "k=a"); !slices.Equal(got, []float64{1, 0, 0, 1}) {
				t.Errorf("k=a %v", got)
			}
			if tc.label != "" {
				want := []float64{0, 1, 1, 0}
				if got := feature(t, tr, X, "k="+tc.label); !slices.Equal(got, want) {
					t.Errorf("k=%s %v, want %v", tc.label, got, want)
				}
			}
		})
	}
}

func TestCleaningImpute(t *testing.T) {
	tb := tbl(
		num("x", 1, 2, 2, 3, 10, nan),
		cat("c", "u", "v", "v", "w", "u", ""),
		boolean("b", 1, 0, 0, 1, 0, nan),
		cat("y", "p", "q", "p", "q", "p", "q"),
	)
	rule := func(col string, s datav1.ImputeStrategy, v string) *datav1.ImputeRule {
		return &datav1.ImputeRule{Column: col, Strategy: s, Value: v}
	}
	tests := []struct {
		name    string
		rules   []*datav1.ImputeRule
		x, b    float64
		c       string
		hasCatC bool
	}{
		{"defaults", nil, 2, 0, "u", false},
		{"mean x", []*datav1.ImputeRule{rule("x", datav1.ImputeStrategy_IMPUTE_STRATEGY_MEAN, "")}, 18.0 / 5, 0, "u", false},
		{"mode x", []*datav1.ImputeRule{rule("x", datav1.ImputeStrategy_IMPUTE_STRATEGY_MODE, "")}, 2, 0, "u", false},
		{"constants", []*datav1.ImputeRule{
			rule("x", datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT, "-1"),
			rule("c", datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT, "unknown"),
			rule("b", datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT, "true"),
		}, -1, 1, "unknown", true},
		{"default constant, column rule wins", []*datav1.ImputeRule{
			rule("", datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT, "0"),
			rule("x", datav1.ImputeStrategy_IMPUTE_STRATEGY_MEAN, ""),
		}, 18.0 / 5, 0, "0", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", NoScaling: true, Cleaning: &datav1.CleaningOptions{Impute: tc.rules}})
			if err != nil {
				t.Fatal(err)
			}
			if g := column(t, tr, "x").GetImputeNumber(); math.Abs(g-tc.x) > 1e-12 {
				t.Errorf("x imputes %v, want %v", g, tc.x)
			}
			if g := column(t, tr, "b").GetImputeNumber(); g != tc.b {
				t.Errorf("b imputes %v, want %v", g, tc.b)
			}
			if g := column(t, tr, "c"); g.GetImputeCategory() != tc.c || !slices.Contains(g.GetCategories(), tc.c) {
				t.Errorf("c imputes %q with categories %v", g.GetImputeCategory(), g.GetCategories())
			}
			X, err := ApplyFeatures(tr, tbl(num("x", nan), cat("c", ""), boolean("b", nan)))
			if err != nil {
				t.Fatal(err)
			}
			if g := feature(t, tr, X, "x"); math.Abs(g[0]-tc.x) > 1e-12 {
				t.Errorf("applied x %v, want %v", g, tc.x)
			}
			if g := feature(t, tr, X, "c="+tc.c); g[0] != 1 {
				t.Errorf("applied c=%s %v", tc.c, g)
			}
		})
	}
}

func TestCleaningParseNumeric(t *testing.T) {
	// "12" "13" "n/a?" "14" "twelve" " 15 ": numbers 12 13 14 15, median 13.5.
	tb := tbl(cat("age", "12", "13", "n/a?", "14", "twelve", " 15 "), cat("y", "p", "q", "p", "q", "p", "q"))
	tr, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", NoScaling: true, Cleaning: &datav1.CleaningOptions{ParseNumeric: []string{"age"}}})
	if err != nil {
		t.Fatal(err)
	}
	ct := column(t, tr, "age")
	if !ct.GetParseNumeric() || ct.GetAction() != datav1.ColumnAction_COLUMN_ACTION_NUMERIC || ct.GetImputeNumber() != 13.5 {
		t.Fatalf("transform %v", ct)
	}
	// Apply to categorical rows and to rows typed as numbers.
	X, err := ApplyFeatures(tr, tbl(cat("age", "40", "?", "")))
	if err != nil {
		t.Fatal(err)
	}
	if g := feature(t, tr, X, "age"); !slices.Equal(g, []float64{40, 13.5, 13.5}) {
		t.Errorf("categorical rows %v", g)
	}
	X, err = ApplyFeatures(tr, tbl(num("age", 40, nan)))
	if err != nil {
		t.Fatal(err)
	}
	if g := feature(t, tr, X, "age"); !slices.Equal(g, []float64{40, 13.5}) {
		t.Errorf("numeric rows %v", g)
	}
}

// TestOldTransformReplays: a transform stored before the cleaning fields
// existed (as JSON, the way a client may keep it) still validates and
// applies exactly as it always did: impute, scale, one-hot with unseen
// categories as zeros.
func TestOldTransformReplays(t *testing.T) {
	const stored = `{
	  "inputSchema": {"fields": [{"name": "age", "type": "COLUMN_TYPE_NUMERIC"}, {"name": "color", "type": "COLUMN_TYPE_CATEGORICAL"}, {"name": "y", "type": "COLUMN_TYPE_CATEGORICAL"}]},
	  "label": "y", "task": "TASK_CLASSIFICATION", "classNames": ["a", "b"],
	  "columns": [
	    {"name": "age", "type": "COLUMN_TYPE_NUMERIC", "action": "COLUMN_ACTION_NUMERIC", "imputeNumber": 25, "scaled": true, "mean": 25, "scale": 10},
	    {"name": "color", "type": "COLUMN_TYPE_CATEGORICAL", "action": "COLUMN_ACTION_ONE_HOT", "imputeCategory": "blue", "categories": ["blue", "red"]},
	    {"name": "y", "type": "COLUMN_TYPE_CATEGORICAL", "action": "COLUMN_ACTION_DROP", "dropReason": "label"}
	  ],
	  "featureNames": ["age", "color=blue", "color=red"]
	}`
	tr := &datav1.FittedTransform{}
	if err := protojson.Unmarshal([]byte(stored), tr); err != nil {
		t.Fatal(err)
	}
	X, err := ApplyFeatures(tr, tbl(num("age", 45, nan, -5), cat("color", "red", "", "green")))
	if err != nil {
		t.Fatal(err)
	}
	want := mat.NewDense(3, 3, []float64{
		2, 0, 1,
		0, 1, 0,
		-3, 0, 0,
	})
	if !mat.Equal(X, want) {
		t.Errorf("applied\n%v\nwant\n%v", mat.Formatted(X), mat.Formatted(want))
	}
}

func TestCleaningValidation(t *testing.T) {
	opts := func(c *datav1.CleaningOptions) *prepv1.PrepareOptions {
		return &prepv1.PrepareOptions{Label: "y", SplitColumn: "split", Cleaning: c}
	}
	tests := []struct {
		name  string
		c     *datav1.CleaningOptions
		field string
		text  string
	}{
		{"empty name", &datav1.CleaningOptions{ClipOutliers: []string{""}}, "options.cleaning.clip_outliers[0]", "empty"},
		{"label", &datav1.CleaningOptions{LogTransform: []string{"x", "y"}}, "options.cleaning.log_transform[1]", "label"},
		{"split column", &datav1.CleaningOptions{GroupRare: []string{"split"}}, "options.cleaning.group_rare[0]", "split column"},
		{"parse and group", &datav1.CleaningOptions{ParseNumeric: []string{"a"}, GroupRare: []string{"a"}}, "options.cleaning.group_rare[0]", "parse_numeric"},
		{"no strategy", &datav1.CleaningOptions{Impute: []*datav1.ImputeRule{{Column: "x"}}}, "options.cleaning.impute[0].strategy", "required"},
		{"constant without value", &datav1.CleaningOptions{Impute: []*datav1.ImputeRule{{Column: "x", Strategy: datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT}}}, "options.cleaning.impute[0].value", "required"},
		{"value without constant", &datav1.CleaningOptions{Impute: []*datav1.ImputeRule{{Column: "x", Strategy: datav1.ImputeStrategy_IMPUTE_STRATEGY_MEDIAN, Value: "3"}}}, "options.cleaning.impute[0].value", "CONSTANT"},
		{"two defaults", &datav1.CleaningOptions{Impute: []*datav1.ImputeRule{{Strategy: datav1.ImputeStrategy_IMPUTE_STRATEGY_MEDIAN}, {Strategy: datav1.ImputeStrategy_IMPUTE_STRATEGY_MODE}}}, "options.cleaning.impute[1].column", "default"},
		{"impute label", &datav1.CleaningOptions{Impute: []*datav1.ImputeRule{{Column: "y", Strategy: datav1.ImputeStrategy_IMPUTE_STRATEGY_MODE}}}, "options.cleaning.impute[0].column", "label"},
		{"iqr k", &datav1.CleaningOptions{ClipIqrK: -1}, "options.cleaning.clip_iqr_k", "outside"},
		{"quantiles reversed", &datav1.CleaningOptions{ClipLowerQuantile: 0.9, ClipUpperQuantile: 0.1}, "options.cleaning.clip_upper_quantile", "above"},
		{"quantile and k", &datav1.CleaningOptions{ClipLowerQuantile: 0.05, ClipUpperQuantile: 0.95, ClipIqrK: 2}, "options.cleaning.clip_iqr_k", "not both"},
		{"frequency", &datav1.CleaningOptions{RareMinFrequency: 1}, "options.cleaning.rare_min_frequency", "outside"},
		{"top n and frequency", &datav1.CleaningOptions{RareTopN: 3, RareMinFrequency: 0.1}, "options.cleaning.rare_top_n", "not both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantField(t, ValidateOptions(opts(tc.c)), tc.field, tc.text)
		})
	}
	// Checks against the table: missing columns and wrong types.
	tb := tbl(num("x", 1, 2, 3, 4), cat("k", "a", "b", "a", "b"), cat("y", "p", "q", "p", "q"))
	tableTests := []struct {
		name  string
		c     *datav1.CleaningOptions
		field string
		text  string
	}{
		{"unknown column", &datav1.CleaningOptions{ClipOutliers: []string{"x", "nope"}}, "options.cleaning.clip_outliers[1]", `"nope" is not in the table`},
		{"unknown impute column", &datav1.CleaningOptions{Impute: []*datav1.ImputeRule{{Column: "nope", Strategy: datav1.ImputeStrategy_IMPUTE_STRATEGY_MODE}}}, "options.cleaning.impute[0].column", `"nope"`},
		{"clip categories", &datav1.CleaningOptions{ClipOutliers: []string{"k"}}, "options.cleaning.clip_outliers[0]", "categorical"},
		{"log categories", &datav1.CleaningOptions{LogTransform: []string{"k"}}, "options.cleaning.log_transform[0]", "categorical"},
		{"group numbers", &datav1.CleaningOptions{GroupRare: []string{"x"}}, "options.cleaning.group_rare[0]", "NUMERIC"},
		{"parse numbers", &datav1.CleaningOptions{ParseNumeric: []string{"x"}}, "options.cleaning.parse_numeric[0]", "already"},
		{"median of categories", &datav1.CleaningOptions{Impute: []*datav1.ImputeRule{{Column: "k", Strategy: datav1.ImputeStrategy_IMPUTE_STRATEGY_MEDIAN}}}, "options.cleaning.impute[0].strategy", "categorical"},
		{"word for a number", &datav1.CleaningOptions{Impute: []*datav1.ImputeRule{{Column: "x", Strategy: datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT, Value: "zero"}}}, "options.cleaning.impute[0].value", "not a number"},
		{"default word for numbers", &datav1.CleaningOptions{Impute: []*datav1.ImputeRule{{Strategy: datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT, Value: "none"}}}, "options.cleaning.impute[0].value", `numeric column "x"`},
		{"unknown drop", &datav1.CleaningOptions{DropColumns: []string{"zz"}}, "options.cleaning.drop_columns[0]", `"zz"`},
	}
	for _, tc := range tableTests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", Cleaning: tc.c})
			wantField(t, err, tc.field, tc.text)
			wantField(t, CheckSchema(tb.Schema(), &prepv1.PrepareOptions{Label: "y", Cleaning: tc.c}), tc.field, tc.text)
		})
	}
	// A dropped column may be listed elsewhere: the drop wins.
	tr, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", Cleaning: &datav1.CleaningOptions{DropColumns: []string{"k"}, GroupRare: []string{"k"}}})
	if err != nil || column(t, tr, "k").GetAction() != datav1.ColumnAction_COLUMN_ACTION_DROP || column(t, tr, "k").GetDropReason() != DropRequested {
		t.Errorf("drop with group_rare: %v %v", tr, err)
	}
}

// TestValidateTransformCleaning: the transform's cleaning fields are
// checked before use.
func TestValidateTransformCleaning(t *testing.T) {
	base := func() *datav1.FittedTransform {
		return &datav1.FittedTransform{
			Label: "y", Task: datav1.Task_TASK_REGRESSION,
			Columns: []*datav1.ColumnTransform{
				{Name: "x", Type: datav1.ColumnType_COLUMN_TYPE_NUMERIC, Action: datav1.ColumnAction_COLUMN_ACTION_NUMERIC, Scale: 1},
				{Name: "k", Type: datav1.ColumnType_COLUMN_TYPE_CATEGORICAL, Action: datav1.ColumnAction_COLUMN_ACTION_ONE_HOT, Categories: []string{"a", "other"}},
			},
			FeatureNames: []string{"x", "k=a", "k=other"},
		}
	}
	if err := ValidateTransform(base()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		edit  func(*datav1.FittedTransform)
		field string
	}{
		{"clip reversed", func(tr *datav1.FittedTransform) {
			tr.Columns[0].Clipped, tr.Columns[0].ClipLow, tr.Columns[0].ClipHigh = true, 5, 1
		}, "transform.columns[0].clip_low"},
		{"clip infinite", func(tr *datav1.FittedTransform) { tr.Columns[0].Clipped, tr.Columns[0].ClipHigh = true, math.Inf(1) }, "transform.columns[0].clip_low"},
		{"log of negative impute", func(tr *datav1.FittedTransform) { tr.Columns[0].Log1P, tr.Columns[0].ImputeNumber = true, -1 }, "transform.columns[0].impute_number"},
		{"rare label not a category", func(tr *datav1.FittedTransform) { tr.Columns[1].RareLabel = "rest" }, "transform.columns[1].rare_label"},
		{"log on one-hot", func(tr *datav1.FittedTransform) { tr.Columns[1].Log1P = true }, "transform.columns[1].action"},
		{"parse a numeric column", func(tr *datav1.FittedTransform) { tr.Columns[0].ParseNumeric = true }, "transform.columns[0].parse_numeric"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := base()
			tc.edit(tr)
			wantField(t, ValidateTransform(tr), tc.field, "")
		})
	}
}

// FuzzCleaning fits arbitrary cleaning options on a small mixed table:
// Fit never panics, every refusal of the options names an options field,
// and every transform it makes validates and replays on the same rows.
func FuzzCleaning(f *testing.F) {
	f.Add("x", "k", "n", 1.5, 0.0, 0.0, 0.05, int32(0), "other", uint8(3), "-1")
	f.Add("k", "x", "y", -1.0, 0.9, 0.1, 1.0, int32(-2), "", uint8(4), "")
	f.Add("n", "n", "x", 0.0, 0.05, 0.95, 0.0, int32(2), "a", uint8(1), "abc")
	f.Fuzz(func(t *testing.T, clip, rare, logc string, k, ql, qh, freq float64, topN int32, rareLabel string, strategy uint8, value string) {
		tb := tbl(
			num("x", 1, 2, nan, 4, 100, 6, 7, 8),
			num("n", -3, 0, 1, 2, nan, 5, 5, 9),
			cat("k", "a", "a", "b", "", "c", "a", "b", "12"),
			cat("s", "1", "2", "x", "3", "", "4", "5", "6"),
			cat("y", "p", "q", "p", "q", "p", "q", "p", "q"),
		)
		c := &datav1.CleaningOptions{
			ClipOutliers: []string{clip}, GroupRare: []string{rare}, LogTransform: []string{logc}, ParseNumeric: []string{"s"},
			ClipIqrK: k, ClipLowerQuantile: ql, ClipUpperQuantile: qh, RareMinFrequency: freq, RareTopN: topN, RareLabel: rareLabel,
			Impute: []*datav1.ImputeRule{{Column: clip, Strategy: datav1.ImputeStrategy(strategy % 6), Value: value}},
		}
		tr, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", Cleaning: c})
		if err != nil {
			var oe *OptionError
			if errors.As(err, &oe) && !strings.HasPrefix(oe.Field, "options") {
				t.Fatalf("error %v names %q", err, oe.Field)
			}
			return
		}
		if err := ValidateTransform(tr); err != nil {
			t.Fatalf("Fit made an invalid transform: %v", err)
		}
		X, err := ApplyFeatures(tr, tb)
		if err != nil {
			t.Fatalf("the transform does not replay on its own rows: %v", err)
		}
		r, cols := X.Dims()
		for i := range r {
			for j := range cols {
				if v := X.At(i, j); math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("feature %s row %d is %v", tr.GetFeatureNames()[j], i, v)
				}
			}
		}
	})
}

// TestGroupRareEverythingRare: when no category is frequent enough the
// column would be one category, so it is dropped as constant.
func TestGroupRareEverythingRare(t *testing.T) {
	tb := tbl(cat("k", "a", "b", "c", "d"), num("x", 1, 2, 3, 4), cat("y", "p", "q", "p", "q"))
	tr, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", Cleaning: &datav1.CleaningOptions{GroupRare: []string{"k"}, RareMinFrequency: 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if ct := column(t, tr, "k"); ct.GetAction() != datav1.ColumnAction_COLUMN_ACTION_DROP || ct.GetDropReason() != DropConstant || ct.GetRareLabel() != "" {
		t.Errorf("k %v", ct)
	}
}
