package dataprep

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

// mixedTable has missing values in every kind of column. Hand-computed fit:
//
//	age:   finite 10 20 30 40, median 25; imputed 10 20 25 40 30: mean 25,
//	       population std sqrt(500/5) = 10.
//	flag:  finite 1 0 1 1, median 1; imputed 1 0 1 1 1: mean 0.8, std 0.4.
//	color: red 2, blue 2 (tie -> "blue"), categories [blue red].
//	const: one value -> dropped.
func mixedTable() *table.Table {
	return tbl(
		num("age", 10, 20, nan, 40, 30),
		cat("color", "red", "blue", "", "red", "blue"),
		boolean("flag", 1, 0, 1, 1, nan),
		num("const", 7, 7, 7, nan, 7),
		cat("y", "b", "a", "b", "a", "c"),
	)
}

func TestFitHandComputed(t *testing.T) {
	tr, err := Fit(mixedTable(), nil, &prepv1.PrepareOptions{Label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateTransform(tr); err != nil {
		t.Fatalf("Fit produced an invalid transform: %v", err)
	}
	if tr.Task != datav1.Task_TASK_CLASSIFICATION || !slices.Equal(tr.ClassNames, []string{"a", "b", "c"}) {
		t.Errorf("task %v classes %v", tr.Task, tr.ClassNames)
	}
	if want := []string{"age", "color=blue", "color=red", "flag"}; !slices.Equal(tr.FeatureNames, want) {
		t.Errorf("features %v, want %v", tr.FeatureNames, want)
	}
	want := []*datav1.ColumnTransform{
		{Name: "age", Type: datav1.ColumnType_COLUMN_TYPE_NUMERIC, Action: datav1.ColumnAction_COLUMN_ACTION_NUMERIC, ImputeNumber: 25, Scaled: true, Mean: 25, Scale: 10},
		{Name: "color", Type: datav1.ColumnType_COLUMN_TYPE_CATEGORICAL, Action: datav1.ColumnAction_COLUMN_ACTION_ONE_HOT, ImputeCategory: "blue", Categories: []string{"blue", "red"}},
		{Name: "flag", Type: datav1.ColumnType_COLUMN_TYPE_BOOLEAN, Action: datav1.ColumnAction_COLUMN_ACTION_NUMERIC, ImputeNumber: 1, Scaled: true, Mean: 0.8, Scale: 0.4},
		{Name: "const", Type: datav1.ColumnType_COLUMN_TYPE_NUMERIC, Action: datav1.ColumnAction_COLUMN_ACTION_DROP, DropReason: DropConstant},
		{Name: "y", Type: datav1.ColumnType_COLUMN_TYPE_CATEGORICAL, Action: datav1.ColumnAction_COLUMN_ACTION_DROP, DropReason: DropLabel},
	}
	for i, w := range want {
		g := tr.Columns[i]
		if g.Name != w.Name || g.Type != w.Type || g.Action != w.Action || g.DropReason != w.DropReason || g.Scaled != w.Scaled ||
			g.ImputeCategory != w.ImputeCategory || !slices.Equal(g.Categories, w.Categories) ||
			math.Abs(g.ImputeNumber-w.ImputeNumber) > tol || math.Abs(g.Mean-w.Mean) > tol || math.Abs(g.GetScale()-w.GetScale()) > tol && w.Action == datav1.ColumnAction_COLUMN_ACTION_NUMERIC {
			t.Errorf("column %d:\n got %v\nwant %v", i, g, w)
		}
	}

	X, y, err := ApplyWithLabel(tr, mixedTable())
	if err != nil {
		t.Fatal(err)
	}
	wantX := mat.NewDense(5, 4, []float64{
		-1.5, 0, 1, 0.5,
		-0.5, 1, 0, -2,
		0, 1, 0, 0.5, // age imputed 25, color imputed blue
		1.5, 0, 1, 0.5,
		0.5, 1, 0, 0.5, // flag imputed 1
	})
	if !mat.EqualApprox(X, wantX, 1e-12) {
		t.Errorf("X =\n%v\nwant\n%v", mat.Formatted(X), mat.Formatted(wantX))
	}
	if want := []float64{1, 0, 1, 0, 2}; !slices.Equal(y, want) {
		t.Errorf("y = %v, want %v", y, want)
	}
}

func TestFitOptions(t *testing.T) {
	tb := mixedTable()
	t.Run("mean impute, no scaling", func(t *testing.T) {
		tr, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", NumericImpute: prepv1.NumericImpute_NUMERIC_IMPUTE_MEAN, NoScaling: true})
		if err != nil {
			t.Fatal(err)
		}
		age := tr.Columns[0]
		if age.Scaled || age.Scale != 1 || math.Abs(age.ImputeNumber-25) > tol {
			t.Errorf("age: %v", age)
		}
		if flag := tr.Columns[2]; math.Abs(flag.ImputeNumber-0.75) > tol || flag.Scaled {
			t.Errorf("flag: %v", flag)
		}
	})
	t.Run("train rows only", func(t *testing.T) {
		tr, err := Fit(tb, []int{0, 1, 3}, &prepv1.PrepareOptions{Label: "y"})
		if err != nil {
			t.Fatal(err)
		}
		// age 10 20 40: median 20, mean 70/3.
		if age := tr.Columns[0]; age.ImputeNumber != 20 || math.Abs(age.Mean-70.0/3) > tol {
			t.Errorf("age: %v", age)
		}
		if !slices.Equal(tr.ClassNames, []string{"a", "b"}) {
			t.Errorf("classes %v", tr.ClassNames)
		}
	})
	t.Run("drop columns and max categories", func(t *testing.T) {
		tb := tbl(num("x", 1, 2, 3, 4, 5, 6), cat("c", "p", "q", "q", "r", "r", "r"), num("y", 1, 2, 3, 4, 5, 7))
		tr, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", Task: datav1.Task_TASK_REGRESSION, DropColumns: []string{"x"}, MaxCategories: 2})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Task != datav1.Task_TASK_REGRESSION || len(tr.ClassNames) != 0 {
			t.Errorf("task %v classes %v", tr.Task, tr.ClassNames)
		}
		if want := []string{"c=q", "c=r"}; !slices.Equal(tr.FeatureNames, want) {
			t.Errorf("features %v, want %v", tr.FeatureNames, want)
		}
		if tr.Columns[0].DropReason != DropRequested || tr.Columns[1].ImputeCategory != "r" {
			t.Errorf("columns %v", tr.Columns)
		}
	})
	t.Run("id-like", func(t *testing.T) {
		ids := make([]string, 25)
		ys, xs := make([]float64, 25), make([]float64, 25)
		for i := range ids {
			ids[i] = fmt.Sprintf("id%02d", i)
			ys[i] = float64(i % 2)
			xs[i] = float64(i % 7)
		}
		tb := tbl(cat("id", ids...), num("x", xs...), boolean("y", ys...))
		tr, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y"})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Columns[0].DropReason != DropIDLike {
			t.Errorf("id column: %v", tr.Columns[0])
		}
		if !slices.Equal(tr.ClassNames, []string{"false", "true"}) {
			t.Errorf("boolean classes %v", tr.ClassNames)
		}
		tr, err = Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", KeepIdLike: true})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Columns[0].Action != datav1.ColumnAction_COLUMN_ACTION_ONE_HOT || len(tr.FeatureNames) != 26 {
			t.Errorf("kept id column: %v (%d features)", tr.Columns[0].Action, len(tr.FeatureNames))
		}
	})
	t.Run("numeric classes sort numerically", func(t *testing.T) {
		tb := tbl(num("x", 1, 2, 3, 4, 5), num("y", 10, 2, 1, 2, -0.0))
		tr, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", Task: datav1.Task_TASK_CLASSIFICATION})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"0", "1", "2", "10"}; !slices.Equal(tr.ClassNames, want) {
			t.Errorf("classes %v, want %v", tr.ClassNames, want)
		}
		_, y, err := ApplyWithLabel(tr, tb)
		if err != nil {
			t.Fatal(err)
		}
		if want := []float64{3, 2, 1, 2, 0}; !slices.Equal(y, want) {
			t.Errorf("y %v, want %v", y, want)
		}
	})
	t.Run("nothing left", func(t *testing.T) {
		_, err := Fit(tbl(num("x", 1, 1, 1), num("y", 1, 2, 3)), nil, &prepv1.PrepareOptions{Label: "y"})
		if err == nil || !strings.Contains(err.Error(), `"x" (constant)`) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("name clash", func(t *testing.T) {
		_, err := Fit(tbl(num("c=a", 1, 2, 3), cat("c", "a", "b", "a"), num("y", 1, 2, 3)), nil, &prepv1.PrepareOptions{Label: "y"})
		if err == nil || !strings.Contains(err.Error(), `"c=a"`) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("row out of range", func(t *testing.T) {
		if _, err := Fit(tb, []int{0, 99}, &prepv1.PrepareOptions{Label: "y"}); err == nil {
			t.Errorf("want an error")
		}
	})
}

func TestApplyFeatures(t *testing.T) {
	tr, err := Fit(mixedTable(), nil, &prepv1.PrepareOptions{Label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("unseen category, reordered columns, no label", func(t *testing.T) {
		tb := tbl(cat("color", "green", "red"), boolean("flag", 0, 1), num("age", 35, math.Inf(1)), num("extra", 1, 2))
		X, err := ApplyFeatures(tr, tb)
		if err != nil {
			t.Fatal(err)
		}
		want := mat.NewDense(2, 4, []float64{1, 0, 0, -2, 0, 0, 1, 0.5})
		if !mat.EqualApprox(X, want, tol) {
			t.Errorf("X =\n%v\nwant\n%v", mat.Formatted(X), mat.Formatted(want))
		}
		y, err := Targets(tr, tb, true)
		if err == nil {
			t.Errorf("Targets without a label column: got %v, want an error", y)
		}
	})
	t.Run("categories arriving as numbers", func(t *testing.T) {
		tr := &datav1.FittedTransform{Label: "y", Task: datav1.Task_TASK_REGRESSION, FeatureNames: []string{"zip=10", "zip=20"},
			Columns: []*datav1.ColumnTransform{{Name: "zip", Type: datav1.ColumnType_COLUMN_TYPE_CATEGORICAL, Action: datav1.ColumnAction_COLUMN_ACTION_ONE_HOT, Categories: []string{"10", "20"}, ImputeCategory: "20"}}}
		X, err := ApplyFeatures(tr, tbl(num("zip", 10, nan, 30)))
		if err != nil {
			t.Fatal(err)
		}
		if want := mat.NewDense(3, 2, []float64{1, 0, 0, 1, 0, 0}); !mat.Equal(X, want) {
			t.Errorf("X =\n%v", mat.Formatted(X))
		}
	})
	t.Run("no rows", func(t *testing.T) {
		X, err := ApplyFeatures(tr, tbl(num("age"), cat("color"), boolean("flag")))
		if err != nil || !X.IsEmpty() {
			t.Errorf("X %v err %v", X, err)
		}
		pt := PreparedTable(tr, X, nil)
		if pt.NumRows() != 0 || len(pt.Columns) != 4 {
			t.Errorf("prepared table of no rows: %d columns, %d rows", len(pt.Columns), pt.NumRows())
		}
	})
	errTests := []struct {
		name, field, substr string
		tb                  *table.Table
	}{
		{"missing column", "schema", `"flag"`, tbl(num("age", 1), cat("color", "red"))},
		{"numeric arrives categorical", "schema", `"age" is categorical`, tbl(cat("age", "1"), cat("color", "red"), boolean("flag", 1))},
		{"bad code", "schema", "outside dictionary", tbl(num("age", 1), table.NewCategorical("color", []int32{3}, []string{"red"}), boolean("flag", 1))},
		{"too large to scale", "batch", "too large", tbl(num("age", 1), cat("color", "red"), boolean("flag", -math.MaxFloat64))},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ApplyFeatures(tr, tc.tb)
			wantField(t, err, tc.field, tc.substr)
		})
	}
}

func TestTargets(t *testing.T) {
	tr, err := Fit(mixedTable(), nil, &prepv1.PrepareOptions{Label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	tb := tbl(num("age", 1, 2, 3), cat("color", "red", "red", "red"), boolean("flag", 1, 1, 1), cat("y", "c", "", "zzz"))
	y, err := Targets(tr, tb, true)
	if err != nil {
		t.Fatal(err)
	}
	if y[0] != 2 || !math.IsNaN(y[1]) || !math.IsNaN(y[2]) {
		t.Errorf("lenient targets %v", y)
	}
	_, _, err = ApplyWithLabel(tr, tb)
	wantField(t, err, "batch", "row 1")
	_, _, err = ApplyWithLabel(tr, tbl(num("age", 1), cat("color", "red"), boolean("flag", 1), cat("y", "zzz")))
	wantField(t, err, "batch", `"zzz", which is not one of the 3 classes`)

	reg, err := Fit(tbl(num("x", 1, 2, 3), num("y", 1, 2, 4)), nil, &prepv1.PrepareOptions{Label: "y", Task: datav1.Task_TASK_REGRESSION})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Targets(reg, tbl(num("x", 1), cat("y", "a")), true)
	wantField(t, err, "schema", "categorical")
	_, err = Targets(reg, tbl(num("x", 1), num("y", math.Inf(-1))), false)
	wantField(t, err, "batch", "infinite")
}

func TestPreparedRoundTrip(t *testing.T) {
	tb := mixedTable()
	tr, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	X, y, err := ApplyWithLabel(tr, tb)
	if err != nil {
		t.Fatal(err)
	}
	pt := PreparedTable(tr, X, y)
	if err := pt.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := pt.Schema().Fields[4]; got.Name != "y" || got.Type != datav1.ColumnType_COLUMN_TYPE_CATEGORICAL {
		t.Errorf("label field %v", got)
	}
	pd, err := FromPrepared(pt, "y")
	if err != nil {
		t.Fatal(err)
	}
	if !mat.Equal(pd.X, X) || !slices.Equal(pd.Y, y) || !slices.Equal(pd.FeatureNames, tr.FeatureNames) ||
		!slices.Equal(pd.ClassNames, tr.ClassNames) || pd.Task != datav1.Task_TASK_CLASSIFICATION {
		t.Errorf("round trip changed the data: %+v", pd)
	}

	reg := tbl(num("x", 1, 2, 3), num("y", 0.5, 2, 4))
	rtr, err := Fit(reg, nil, &prepv1.PrepareOptions{Label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	rX, ry, _ := ApplyWithLabel(rtr, reg)
	rpd, err := FromPrepared(PreparedTable(rtr, rX, ry), "y")
	if err != nil || rpd.Task != datav1.Task_TASK_REGRESSION || !slices.Equal(rpd.Y, []float64{0.5, 2, 4}) {
		t.Errorf("regression round trip: %+v, %v", rpd, err)
	}
}

func TestFromPreparedErrors(t *testing.T) {
	tests := []struct {
		name, label, substr string
		tb                  *table.Table
	}{
		{"no label name", "", "no label", tbl(num("f", 1), num("y", 1))},
		{"label absent", "y", `"f"`, tbl(num("f", 1), num("z", 1))},
		{"categorical feature", "y", `"f" is COLUMN_TYPE_CATEGORICAL`, tbl(cat("f", "a"), num("y", 1))},
		{"NaN feature", "y", "row 1 of feature column", tbl(num("f", 1, nan), num("y", 1, 2))},
		{"missing class", "y", "row 0: label", tbl(num("f", 1), cat("y", ""))},
		{"missing value", "y", "missing", tbl(num("f", 1), num("y", nan))},
		{"no features", "y", "no feature", tbl(num("y", 1))},
		{"no rows", "y", "no rows", tbl(num("f"), num("y"))},
		{"repeated class", "y", "repeats", tbl(num("f", 1), table.NewCategorical("y", []int32{0}, []string{"a", "a"}))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromPrepared(tc.tb, tc.label)
			if err == nil || !strings.Contains(err.Error(), tc.substr) {
				t.Errorf("error %v, want one mentioning %q", err, tc.substr)
			}
		})
	}
}

func TestValidateTransform(t *testing.T) {
	good, err := Fit(mixedTable(), nil, &prepv1.PrepareOptions{Label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, field string
		edit        func(tr *datav1.FittedTransform)
	}{
		{"no label", "transform.label", func(tr *datav1.FittedTransform) { tr.Label = "" }},
		{"bad task", "transform.task", func(tr *datav1.FittedTransform) { tr.Task = 0 }},
		{"one class", "transform.class_names", func(tr *datav1.FittedTransform) { tr.ClassNames = tr.ClassNames[:1] }},
		{"repeated class", "transform.class_names[1]", func(tr *datav1.FittedTransform) { tr.ClassNames[1] = "a" }},
		{"regression with classes", "transform.class_names", func(tr *datav1.FittedTransform) { tr.Task = datav1.Task_TASK_REGRESSION }},
		{"repeated column", "transform.columns[1].name", func(tr *datav1.FittedTransform) { tr.Columns[1].Name = "age" }},
		{"zero scale", "transform.columns[0].scale", func(tr *datav1.FittedTransform) { tr.Columns[0].Scale = 0 }},
		{"NaN mean", "transform.columns[2].mean", func(tr *datav1.FittedTransform) { tr.Columns[2].Mean = nan }},
		{"Inf impute", "transform.columns[0].impute_number", func(tr *datav1.FittedTransform) { tr.Columns[0].ImputeNumber = math.Inf(1) }},
		{"one-hot on numbers", "transform.columns[0].action", func(tr *datav1.FittedTransform) { tr.Columns[0].Action = datav1.ColumnAction_COLUMN_ACTION_ONE_HOT }},
		{"numeric on categories", "transform.columns[1].action", func(tr *datav1.FittedTransform) { tr.Columns[1].Action = datav1.ColumnAction_COLUMN_ACTION_NUMERIC }},
		{"no action", "transform.columns[3].action", func(tr *datav1.FittedTransform) { tr.Columns[3].Action = 0 }},
		{"bad type", "transform.columns[3].type", func(tr *datav1.FittedTransform) { tr.Columns[3].Type = 9 }},
		{"empty vocabulary", "transform.columns[1].categories", func(tr *datav1.FittedTransform) { tr.Columns[1].Categories = nil }},
		{"repeated category", "transform.columns[1].categories[1]", func(tr *datav1.FittedTransform) { tr.Columns[1].Categories[1] = "blue" }},
		{"feature count", "transform.feature_names", func(tr *datav1.FittedTransform) { tr.FeatureNames = tr.FeatureNames[1:] }},
		{"feature name", "transform.feature_names[1]", func(tr *datav1.FittedTransform) { tr.FeatureNames[1] = "color=green" }},
		{"all dropped", "transform.columns", func(tr *datav1.FittedTransform) {
			for _, c := range tr.Columns {
				c.Action = datav1.ColumnAction_COLUMN_ACTION_DROP
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := proto.Clone(good).(*datav1.FittedTransform)
			tc.edit(tr)
			wantField(t, ValidateTransform(tr), tc.field, "")
			_, err := ApplyFeatures(tr, mixedTable())
			wantField(t, err, tc.field, "")
		})
	}
	wantField(t, ValidateTransform(nil), "transform", "required")
}

// FuzzApply builds a transform and a table from fuzz input and checks that
// applying one to the other never panics: it returns a matrix of the
// promised shape or an error.
func FuzzApply(f *testing.F) {
	f.Add([]byte{3, 1, 1, 2, 0, 1, 4, 2, 2, 2, 5}, []byte{1, 2, 3, 255, 0, 9})
	f.Add([]byte{0, 0, 0}, []byte{})
	f.Add([]byte{5, 3, 2, 1, 1, 7, 0, 2, 8, 9, 9, 3, 3}, []byte{7, 7, 7, 7, 7, 7, 7, 7, 7})
	f.Fuzz(func(t *testing.T, spec, data []byte) {
		next := func(b *[]byte) int {
			if len(*b) == 0 {
				return 0
			}
			v := int((*b)[0])
			*b = (*b)[1:]
			return v
		}
		tr := &datav1.FittedTransform{Label: "y", Task: datav1.Task(next(&spec) % 4)}
		for i := range next(&spec) % 4 {
			tr.ClassNames = append(tr.ClassNames, fmt.Sprint("c", i%3))
		}
		ncols := next(&spec) % 6
		for i := range ncols {
			ct := &datav1.ColumnTransform{
				Name:         fmt.Sprint("col", next(&spec)%(ncols+1)),
				Type:         datav1.ColumnType(next(&spec) % 5),
				Action:       datav1.ColumnAction(next(&spec) % 5),
				Scaled:       next(&spec)%2 == 0,
				Mean:         float64(next(&spec)) - 100,
				Scale:        float64(next(&spec)%5) - 1,
				ImputeNumber: float64(next(&spec)),
			}
			for j := range next(&spec) % 4 {
				ct.Categories = append(ct.Categories, fmt.Sprint("v", (j+i)%3))
			}
			ct.ImputeCategory = fmt.Sprint("v", next(&spec)%5)
			// The cleaning fields of the transform.
			flags := next(&spec)
			ct.Log1P = flags&1 != 0
			ct.ParseNumeric = flags&2 != 0
			if flags&4 != 0 {
				ct.Clipped, ct.ClipLow, ct.ClipHigh = true, float64(next(&spec))-100, float64(next(&spec))-50
			}
			if flags&8 != 0 {
				ct.RareLabel = fmt.Sprint("v", next(&spec)%4)
			}
			tr.Columns = append(tr.Columns, ct)
		}
		tr.FeatureNames = featureNames(tr.Columns)
		if next(&spec)%7 == 0 && len(tr.FeatureNames) > 0 {
			tr.FeatureNames = tr.FeatureNames[1:]
		}
		rows := next(&data) % 8
		tb := &table.Table{}
		for i := range next(&data) % 6 {
			name := fmt.Sprint("col", i)
			if i == 0 && next(&data)%3 == 0 {
				name = "y"
			}
			switch next(&data) % 3 {
			case 0:
				c := table.NewCategorical(name, make([]int32, rows), []string{"v0", "v1", "c1", "v9", " 2.5"})
				for r := range c.Codes {
					c.Codes[r] = int32(next(&data)%6) - 1
				}
				tb.Columns = append(tb.Columns, c)
			default:
				vals := make([]float64, rows)
				for r := range vals {
					vals[r] = []float64{nan, 0, 1, -3.5, math.Inf(1), 1e308}[next(&data)%6]
				}
				tb.Columns = append(tb.Columns, table.NewNumeric(name, vals))
			}
		}
		X, err := ApplyFeatures(tr, tb)
		if err == nil && rows > 0 {
			if r, c := X.Dims(); r != rows || c != len(tr.FeatureNames) {
				t.Fatalf("X is %d×%d, want %d×%d", r, c, rows, len(tr.FeatureNames))
			}
			_ = PreparedTable(tr, X, nil)
		}
		if y, err := Targets(tr, tb, next(&data)%2 == 0); err == nil {
			if len(y) != tb.NumRows() {
				t.Fatalf("%d targets for %d rows", len(y), tb.NumRows())
			}
			if X != nil {
				_ = PreparedTable(tr, X, y)
			}
		}
	})
}
