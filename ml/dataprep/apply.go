package dataprep

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// ValidateTransform checks a FittedTransform that may have come over the
// wire before anything is computed with it: a known task, unique class
// names, unique column names, actions consistent with column types, finite
// imputation and scaling numbers, and feature_names matching what the
// columns produce. Apply relies on it never to index out of range.
func ValidateTransform(tr *datav1.FittedTransform) error {
	if tr == nil {
		return optErr("transform", "is required")
	}
	if tr.GetLabel() == "" {
		return optErr("transform.label", "is empty")
	}
	switch tr.GetTask() {
	case datav1.Task_TASK_CLASSIFICATION:
		if len(tr.GetClassNames()) < 2 {
			return optErr("transform.class_names", "classification needs at least 2 classes, got %d", len(tr.GetClassNames()))
		}
		seen := make(map[string]bool, len(tr.GetClassNames()))
		for i, c := range tr.GetClassNames() {
			if seen[c] {
				return optErr(fmt.Sprintf("transform.class_names[%d]", i), "class %q is repeated", c)
			}
			seen[c] = true
		}
	case datav1.Task_TASK_REGRESSION:
		if len(tr.GetClassNames()) != 0 {
			return optErr("transform.class_names", "must be empty for regression, got %d", len(tr.GetClassNames()))
		}
	default:
		return optErr("transform.task", "must be classification or regression, got %v", tr.GetTask())
	}
	names := make(map[string]bool, len(tr.GetColumns()))
	for i, ct := range tr.GetColumns() {
		if err := validateColumn(fmt.Sprintf("transform.columns[%d]", i), ct); err != nil {
			return err
		}
		if names[ct.GetName()] {
			return optErr(fmt.Sprintf("transform.columns[%d].name", i), "column %q is repeated", ct.GetName())
		}
		names[ct.GetName()] = true
	}
	want := featureNames(tr.GetColumns())
	if len(want) == 0 {
		return optErr("transform.columns", "produce no features")
	}
	if len(want) != len(tr.GetFeatureNames()) {
		return optErr("transform.feature_names", "has %d names but the columns produce %d features", len(tr.GetFeatureNames()), len(want))
	}
	for i, f := range tr.GetFeatureNames() {
		if f != want[i] {
			return optErr(fmt.Sprintf("transform.feature_names[%d]", i), "is %q but the columns produce %q", f, want[i])
		}
	}
	return nil
}

func validateColumn(field string, ct *datav1.ColumnTransform) error {
	if ct.GetName() == "" {
		return optErr(field+".name", "is empty")
	}
	numeric := ct.GetType() == datav1.ColumnType_COLUMN_TYPE_NUMERIC || ct.GetType() == datav1.ColumnType_COLUMN_TYPE_BOOLEAN
	if !numeric && ct.GetType() != datav1.ColumnType_COLUMN_TYPE_CATEGORICAL {
		return optErr(field+".type", "unknown column type %v", ct.GetType())
	}
	if ct.GetParseNumeric() && (ct.GetType() != datav1.ColumnType_COLUMN_TYPE_CATEGORICAL || ct.GetAction() != datav1.ColumnAction_COLUMN_ACTION_NUMERIC) {
		return optErr(field+".parse_numeric", "is only for a CATEGORICAL column with the numeric action, not a %v column with %v", ct.GetType(), ct.GetAction())
	}
	if (ct.GetLog1P() || ct.GetClipped()) && ct.GetAction() != datav1.ColumnAction_COLUMN_ACTION_NUMERIC {
		return optErr(field+".action", "log1p and clipping need the numeric action, not %v", ct.GetAction())
	}
	if ct.GetRareLabel() != "" && ct.GetAction() != datav1.ColumnAction_COLUMN_ACTION_ONE_HOT {
		return optErr(field+".rare_label", "needs the one-hot action, not %v", ct.GetAction())
	}
	switch ct.GetAction() {
	case datav1.ColumnAction_COLUMN_ACTION_DROP:
	case datav1.ColumnAction_COLUMN_ACTION_NUMERIC:
		if !numeric && !ct.GetParseNumeric() {
			return optErr(field+".action", "numeric action on a %v column", ct.GetType())
		}
		if !finite(ct.GetImputeNumber()) {
			return optErr(field+".impute_number", "%g is not finite", ct.GetImputeNumber())
		}
		if ct.GetLog1P() && ct.GetImputeNumber() < 0 {
			return optErr(field+".impute_number", "%g is negative but the column is log-transformed", ct.GetImputeNumber())
		}
		if ct.GetClipped() {
			lo, hi := ct.GetClipLow(), ct.GetClipHigh()
			if !finite(lo) || !finite(hi) || lo > hi {
				return optErr(field+".clip_low", "[%g, %g] is not a finite interval", lo, hi)
			}
		}
		if ct.GetScaled() {
			if !finite(ct.GetMean()) {
				return optErr(field+".mean", "%g is not finite", ct.GetMean())
			}
			if s := ct.GetScale(); !finite(s) || s <= 0 {
				return optErr(field+".scale", "%g is not a positive finite number", s)
			}
		}
	case datav1.ColumnAction_COLUMN_ACTION_ONE_HOT:
		if numeric {
			return optErr(field+".action", "one-hot action on a %v column", ct.GetType())
		}
		if len(ct.GetCategories()) == 0 {
			return optErr(field+".categories", "is empty")
		}
		seen := make(map[string]bool, len(ct.GetCategories()))
		for j, v := range ct.GetCategories() {
			if seen[v] {
				return optErr(fmt.Sprintf("%s.categories[%d]", field, j), "category %q is repeated", v)
			}
			seen[v] = true
		}
		if r := ct.GetRareLabel(); r != "" && !seen[r] {
			return optErr(field+".rare_label", "%q is not one of the categories", r)
		}
	default:
		return optErr(field+".action", "unknown action %v", ct.GetAction())
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// ApplyFeatures turns the rows of t into the feature matrix the transform
// describes: rows × len(feature_names). Columns are matched by name, so
// their order and any extra columns do not matter. A column the transform
// needs that is absent, or a numeric column that arrives categorical, is an
// error naming it. A category not in the vocabulary encodes as all zeros; a
// categorical column that arrives as numbers is matched by the numbers'
// text. A table without rows gives an empty matrix (the mat.Dense zero
// value), since gonum has no 0-row matrices.
func ApplyFeatures(tr *datav1.FittedTransform, t *table.Table) (*mat.Dense, error) {
	if err := ValidateTransform(tr); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, optErr("schema", "no table to apply the transform to")
	}
	if err := t.Validate(); err != nil {
		return nil, optErr("schema", "%v", err)
	}
	idx := columnIndex(t)
	cols := make([]*table.Column, len(tr.GetColumns()))
	for i, ct := range tr.GetColumns() {
		if ct.GetAction() == datav1.ColumnAction_COLUMN_ACTION_DROP {
			continue
		}
		ci, ok := idx[ct.GetName()]
		if !ok {
			return nil, optErr("schema", "column %q, which the transform needs, is missing (columns: %s)", ct.GetName(), columnList(columnNames(t)))
		}
		c := t.Columns[ci]
		if ct.GetAction() == datav1.ColumnAction_COLUMN_ACTION_NUMERIC && c.IsCategorical() && !ct.GetParseNumeric() {
			return nil, optErr("schema", "column %q is categorical but the transform was fitted on %v values", c.Name, ct.GetType())
		}
		cols[i] = c
	}
	n, width := t.NumRows(), len(tr.GetFeatureNames())
	if n == 0 {
		return &mat.Dense{}, nil
	}
	X := mat.NewDense(n, width, nil)
	raw := X.RawMatrix()
	at := 0
	for i, ct := range tr.GetColumns() {
		switch ct.GetAction() {
		case datav1.ColumnAction_COLUMN_ACTION_NUMERIC:
			if err := applyNumeric(ct, cols[i], raw, at); err != nil {
				return nil, err
			}
			at++
		case datav1.ColumnAction_COLUMN_ACTION_ONE_HOT:
			applyOneHot(ct, cols[i], raw, at)
			at += len(ct.GetCategories())
		}
	}
	return X, nil
}

// applyNumeric fills feature column at: parse (parse_numeric), impute,
// log1p, clip, then (x - mean) / scale, as fitNumeric learnt them.
func applyNumeric(ct *datav1.ColumnTransform, c *table.Column, raw blas64.General, at int) error {
	nums := c.Nums
	if ct.GetParseNumeric() {
		nums = parsedNumbers(c)
	}
	for r, v := range nums {
		if !finite(v) {
			v = ct.GetImputeNumber()
		}
		if ct.GetLog1P() {
			if v < 0 {
				return optErr("batch", "row %d of column %q: %g is negative, but the transform takes log(1+x) of this column, which needs values of 0 or more", r, c.Name, v)
			}
			v = math.Log1p(v)
		}
		if ct.GetClipped() {
			v = min(max(v, ct.GetClipLow()), ct.GetClipHigh())
		}
		if ct.GetScaled() {
			v = (v - ct.GetMean()) / ct.GetScale()
			if !finite(v) {
				return optErr("batch", "row %d of column %q: %g is too large to scale", r, c.Name, nums[r])
			}
		}
		raw.Data[r*raw.Stride+at] = v
	}
	return nil
}

// applyOneHot fills the one-hot block that starts at feature column at.
func applyOneHot(ct *datav1.ColumnTransform, c *table.Column, raw blas64.General, at int) {
	pos := make(map[string]int, len(ct.GetCategories()))
	for j, v := range ct.GetCategories() {
		pos[v] = j
	}
	// Without rare_label an unknown category encodes as all zeros; with it,
	// as the rare category.
	unknown := -1
	if r := ct.GetRareLabel(); r != "" {
		unknown = pos[r]
	}
	imputed, ok := pos[ct.GetImputeCategory()]
	if !ok {
		imputed = unknown
	}
	if c.IsCategorical() {
		// Resolve each dictionary entry once, not each row.
		byCode := make([]int, len(c.Dict))
		for code, v := range c.Dict {
			if j, ok := pos[v]; ok {
				byCode[code] = j
			} else {
				byCode[code] = unknown
			}
		}
		for r, code := range c.Codes {
			j := imputed
			if code >= 0 {
				j = byCode[code]
			}
			if j >= 0 {
				raw.Data[r*raw.Stride+at+j] = 1
			}
		}
		return
	}
	for r := range c.Nums {
		j := imputed
		if !c.IsMissing(r) {
			if k, ok := pos[c.Text(r)]; ok {
				j = k
			} else {
				j = unknown
			}
		}
		if j >= 0 {
			raw.Data[r*raw.Stride+at+j] = 1
		}
	}
}

// Targets returns the label of every row of t as the models see it: the
// class index for classification, the value for regression. A missing label
// or a class the transform does not know is NaN when allowMissing, and an
// error naming the row otherwise (evaluation cannot score such a row;
// prediction does not need it).
func Targets(tr *datav1.FittedTransform, t *table.Table, allowMissing bool) ([]float64, error) {
	if err := ValidateTransform(tr); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, optErr("schema", "no table to read labels from")
	}
	c, _ := t.Column(tr.GetLabel())
	if c == nil {
		return nil, optErr("schema", "label column %q is missing (columns: %s)", tr.GetLabel(), columnList(columnNames(t)))
	}
	if err := t.Validate(); err != nil {
		return nil, optErr("schema", "%v", err)
	}
	y := make([]float64, c.Len())
	if tr.GetTask() == datav1.Task_TASK_REGRESSION {
		if c.IsCategorical() {
			return nil, optErr("schema", "label column %q is categorical but the transform is for regression", c.Name)
		}
		for r, v := range c.Nums {
			if !finite(v) {
				if !allowMissing {
					return nil, optErr("batch", "row %d: label %q is %s", r, c.Name, missingOrInf(v))
				}
				v = math.NaN()
			}
			y[r] = v
		}
		return y, nil
	}
	classes := make(map[string]int, len(tr.GetClassNames()))
	for i, name := range tr.GetClassNames() {
		classes[name] = i
	}
	for r := range y {
		if c.IsMissing(r) {
			if !allowMissing {
				return nil, optErr("batch", "row %d: label %q is missing", r, c.Name)
			}
			y[r] = math.NaN()
			continue
		}
		k, ok := classes[classKey(c, r)]
		if !ok {
			if !allowMissing {
				return nil, optErr("batch", "row %d: label %q is %q, which is not one of the %d classes seen in training (%s)", r, c.Name, classKey(c, r), len(classes), columnList(tr.GetClassNames()))
			}
			y[r] = math.NaN()
			continue
		}
		y[r] = float64(k)
	}
	return y, nil
}

func missingOrInf(v float64) string {
	if math.IsNaN(v) {
		return "missing"
	}
	return "infinite"
}

// ApplyWithLabel is ApplyFeatures plus the targets, for evaluation: every
// row must have a label the transform knows.
func ApplyWithLabel(tr *datav1.FittedTransform, t *table.Table) (X *mat.Dense, y []float64, err error) {
	X, err = ApplyFeatures(tr, t)
	if err != nil {
		return nil, nil, err
	}
	y, err = Targets(tr, t, false)
	if err != nil {
		return nil, nil, err
	}
	return X, y, nil
}
