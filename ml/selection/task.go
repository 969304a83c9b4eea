package selection

import (
	"fmt"
	"math"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// The task inference rule. A numeric label is read as class codes when its
// values are all whole numbers and there are few of them: at most
// MaxClassCodes distinct values, or at most MaxClassCodesShareCap distinct
// values when that is no more than ClassCodesShare of the labelled rows.
// scikit-learn's type_of_target calls every integer-valued target
// "multiclass"; this rule is stricter, so that counts and years with many
// distinct values stay regression targets, and it says why it decided.
const (
	// MaxClassCodes is the number of distinct whole numbers up to which a
	// numeric label is always class codes: digits 0–9, ratings 1–10, a
	// category number.
	MaxClassCodes = 20
	// MaxClassCodesShareCap bounds the second arm of the rule: even on
	// large data, more distinct values than this are a quantity.
	MaxClassCodesShareCap = 50
	// ClassCodesShare is the share of labelled rows the distinct values may
	// reach under the second arm (5 %: each class has 20 rows on average).
	ClassCodesShare = 0.05
)

// Label summarises a label column for InferTask. A reader that found every
// present value numeric (quoted numbers such as "1" count as numbers) sets
// Numeric and Values; any other column is text.
type Label struct {
	// Name is the column's name, used in the reason.
	Name string
	// Numeric says the column was read as numbers.
	Numeric bool
	// Values are the numeric values, NaN where missing (Numeric only).
	Values []float64
	// TextClasses is the number of distinct text values (text labels only).
	TextClasses int
}

// Inference is the task a label asks for and why, in words a user reads in
// the run's findings and in `alur run`'s output.
type Inference struct {
	Task datav1.Task
	// Reason states the rule and the facts it was applied to.
	Reason string
	// Distinct is the number of distinct present values.
	Distinct int
	// Rows is the number of labelled (present) rows.
	Rows int
}

// InferTask applies the task inference rule to a label column.
func InferTask(l Label) Inference {
	if !l.Numeric {
		return Inference{
			Task:     datav1.Task_TASK_CLASSIFICATION,
			Distinct: l.TextClasses,
			Reason:   fmt.Sprintf("label %q holds text: classification with %d classes", l.Name, l.TextClasses),
		}
	}
	seen := make(map[float64]struct{})
	rows, whole := 0, true
	for _, v := range l.Values {
		if math.IsNaN(v) {
			continue
		}
		rows++
		if v != math.Trunc(v) || math.IsInf(v, 0) {
			whole = false
		}
		seen[v] = struct{}{}
	}
	inf := Inference{Distinct: len(seen), Rows: rows}
	switch {
	case rows == 0:
		inf.Task = datav1.Task_TASK_REGRESSION
		inf.Reason = fmt.Sprintf("label %q has no values: regression by default", l.Name)
	case !whole:
		inf.Task = datav1.Task_TASK_REGRESSION
		inf.Reason = fmt.Sprintf("label %q holds numbers with fractions (%d distinct values): regression", l.Name, len(seen))
	case len(seen) <= MaxClassCodes:
		inf.Task = datav1.Task_TASK_CLASSIFICATION
		inf.Reason = fmt.Sprintf("label %q holds %d distinct whole numbers (at most %d): classification, the numbers read as class codes; --task regression overrides",
			l.Name, len(seen), MaxClassCodes)
	case len(seen) <= MaxClassCodesShareCap && float64(len(seen)) <= ClassCodesShare*float64(rows):
		inf.Task = datav1.Task_TASK_CLASSIFICATION
		inf.Reason = fmt.Sprintf("label %q holds %d distinct whole numbers, at most %d and at most %g%% of its %d rows: classification, the numbers read as class codes; --task regression overrides",
			l.Name, len(seen), MaxClassCodesShareCap, 100*ClassCodesShare, rows)
	default:
		inf.Task = datav1.Task_TASK_REGRESSION
		inf.Reason = fmt.Sprintf("label %q holds %d distinct whole numbers in %d rows (more than %d, and more than %d or %g%% of the rows): regression; --task classification overrides",
			l.Name, len(seen), rows, MaxClassCodes, MaxClassCodesShareCap, 100*ClassCodesShare)
	}
	return inf
}
