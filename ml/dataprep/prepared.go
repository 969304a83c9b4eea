package dataprep

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// PreparedTable packs a feature matrix and targets as the prepared table of
// prep.proto's SplitBatch: one NUMERIC column per feature name, then, when y
// is not nil, the label column — CATEGORICAL with the class names as
// dictionary for classification, NUMERIC for regression. A NaN target
// (see Targets) becomes a missing label.
//
// X must have len(tr.FeatureNames) columns (or be empty, for no rows) and y
// one value per row of X; ApplyFeatures and Targets guarantee both.
func PreparedTable(tr *datav1.FittedTransform, X *mat.Dense, y []float64) *table.Table {
	rows := 0
	if X != nil && !X.IsEmpty() {
		rows, _ = X.Dims()
	}
	names := tr.GetFeatureNames()
	out := &table.Table{Columns: make([]*table.Column, 0, len(names)+1)}
	for j, name := range names {
		vals := make([]float64, rows)
		if rows > 0 {
			mat.Col(vals, j, X)
		}
		out.Columns = append(out.Columns, table.NewNumeric(name, vals))
	}
	if y == nil {
		return out
	}
	if tr.GetTask() == datav1.Task_TASK_CLASSIFICATION {
		classes := tr.GetClassNames()
		codes := make([]int32, len(y))
		for i, v := range y {
			if v >= 0 && int(v) < len(classes) && v == math.Trunc(v) {
				codes[i] = int32(v)
			} else {
				codes[i] = -1
			}
		}
		out.Columns = append(out.Columns, table.NewCategorical(tr.GetLabel(), codes, append([]string(nil), classes...)))
		return out
	}
	out.Columns = append(out.Columns, table.NewNumeric(tr.GetLabel(), append([]float64(nil), y...)))
	return out
}

// PreparedData is a prepared table read back for training or evaluation.
type PreparedData struct {
	// X is rows × features.
	X *mat.Dense
	// Y holds the class index (classification) or value (regression) of
	// each row.
	Y []float64
	// FeatureNames name the columns of X.
	FeatureNames []string
	// ClassNames are the classes in index order (classification only).
	ClassNames []string
	// Task follows from the label column's type: CATEGORICAL (or BOOLEAN,
	// with classes "false" and "true") is classification, NUMERIC is
	// regression.
	Task datav1.Task
}

// FromPrepared reads a prepared table (see PreparedTable) back into a
// matrix and targets. Every column but the label is a feature and must be
// NUMERIC with finite values; every label must be present. Errors name the
// column and row at fault.
func FromPrepared(t *table.Table, label string) (*PreparedData, error) {
	if label == "" {
		return nil, errors.New("no label column named")
	}
	if t == nil || len(t.Columns) == 0 {
		return nil, errors.New("the prepared table has no columns")
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	lc, li := t.Column(label)
	if lc == nil {
		return nil, fmt.Errorf("label column %q is not in the prepared table (columns: %s)", label, columnList(columnNames(t)))
	}
	n := t.NumRows()
	if n == 0 {
		return nil, errors.New("the prepared table has no rows")
	}
	if len(t.Columns) < 2 {
		return nil, errors.New("the prepared table has no feature columns")
	}
	pd := &PreparedData{Y: make([]float64, n)}
	switch lc.Type {
	case datav1.ColumnType_COLUMN_TYPE_CATEGORICAL:
		pd.Task = datav1.Task_TASK_CLASSIFICATION
		seen := make(map[string]bool, len(lc.Dict))
		for _, c := range lc.Dict {
			if seen[c] {
				return nil, fmt.Errorf("label column %q repeats class %q in its dictionary", label, c)
			}
			seen[c] = true
		}
		pd.ClassNames = append([]string(nil), lc.Dict...)
		for r, code := range lc.Codes {
			if code < 0 {
				return nil, fmt.Errorf("row %d: label %q is missing", r, label)
			}
			pd.Y[r] = float64(code)
		}
	case datav1.ColumnType_COLUMN_TYPE_BOOLEAN:
		pd.Task = datav1.Task_TASK_CLASSIFICATION
		pd.ClassNames = []string{"false", "true"}
		for r, v := range lc.Nums {
			if math.IsNaN(v) {
				return nil, fmt.Errorf("row %d: label %q is missing", r, label)
			}
			if v != 0 {
				pd.Y[r] = 1
			}
		}
	default:
		pd.Task = datav1.Task_TASK_REGRESSION
		for r, v := range lc.Nums {
			if !finite(v) {
				return nil, fmt.Errorf("row %d: label %q is %s", r, label, missingOrInf(v))
			}
			pd.Y[r] = v
		}
	}
	pd.X = mat.NewDense(n, len(t.Columns)-1, nil)
	raw := pd.X.RawMatrix()
	j := 0
	for ci, c := range t.Columns {
		if ci == li {
			continue
		}
		if c.Type != datav1.ColumnType_COLUMN_TYPE_NUMERIC {
			return nil, fmt.Errorf("feature column %q is %v; prepared features are NUMERIC", c.Name, c.Type)
		}
		for r, v := range c.Nums {
			if !finite(v) {
				return nil, fmt.Errorf("row %d of feature column %q: %g is not a finite number", r, c.Name, v)
			}
			raw.Data[r*raw.Stride+j] = v
		}
		pd.FeatureNames = append(pd.FeatureNames, c.Name)
		j++
	}
	return pd, nil
}
