package dataprep

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/alur-ml/alur/ml/selection"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

// labelInfo is what the label column says about the learning task, learnt
// from a set of rows.
type labelInfo struct {
	col  *table.Column
	task datav1.Task
	// classes are the class names in index order (classification only).
	classes []string
	// present are the rows whose label is present, in the order given.
	present []int
	// missing counts the rows whose label is missing.
	missing int
	// reason says how the task was settled (FittedTransform.task_reason).
	reason string
}

// selectionLabel describes the present label values for
// selection.InferTask: a numeric column's values, or a text or boolean
// column's number of classes.
func (li *labelInfo) selectionLabel(name string) selection.Label {
	c := li.col
	if c.Type == datav1.ColumnType_COLUMN_TYPE_NUMERIC {
		vals := make([]float64, len(li.present))
		for i, r := range li.present {
			vals[i] = c.Nums[r]
		}
		return selection.Label{Name: name, Numeric: true, Values: vals}
	}
	seen := make(map[string]bool)
	for _, r := range li.present {
		seen[classKey(c, r)] = true
	}
	return selection.Label{Name: name, TextClasses: len(seen)}
}

// taskWord names a task in prose.
func taskWord(t datav1.Task) string {
	if t == datav1.Task_TASK_REGRESSION {
		return "regression"
	}
	return "classification"
}

// classKey returns the class name of row i of a label column: the category,
// "true"/"false" for a boolean, or the number formatted with strconv 'g'
// (shortest representation). Negative zero is written "0" so that 0 and -0
// are one class, as they are one number.
func classKey(c *table.Column, i int) string {
	switch c.Type {
	case datav1.ColumnType_COLUMN_TYPE_CATEGORICAL:
		return c.Dict[c.Codes[i]]
	case datav1.ColumnType_COLUMN_TYPE_BOOLEAN:
		if c.Nums[i] != 0 {
			return "true"
		}
		return "false"
	default:
		v := c.Nums[i]
		if v == 0 {
			v = 0
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
}

// columnIndex maps column names to positions, so that lookups over wide
// tables stay linear.
func columnIndex(t *table.Table) map[string]int {
	m := make(map[string]int, len(t.Columns))
	for i, c := range t.Columns {
		if _, dup := m[c.Name]; !dup {
			m[c.Name] = i
		}
	}
	return m
}

func columnNames(t *table.Table) []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// checkColumnsExist makes sure the split column, every dropped column and
// every column the cleaning options name exist with a type the option can
// work on (CheckSchema), so that a typo is reported instead of being
// silently ignored.
func checkColumnsExist(t *table.Table, o *prepv1.PrepareOptions) error {
	return CheckSchema(t.Schema(), o)
}

// analyzeLabel finds the label column, infers or checks the task and, for
// classification, learns the class names from the given rows.
//
// Classes are sorted the way scikit-learn's LabelEncoder sorts them
// (numpy.unique): strings lexicographically, numbers numerically; a boolean
// label has the classes "false" and "true".
func analyzeLabel(t *table.Table, idx map[string]int, rows []int, o *prepv1.PrepareOptions) (*labelInfo, error) {
	name := o.GetLabel()
	ci, ok := idx[name]
	if !ok {
		return nil, optErr("options.label", "column %q is not in the table (columns: %s)", name, columnList(columnNames(t)))
	}
	li := &labelInfo{col: t.Columns[ci]}
	for _, r := range rows {
		if li.col.IsMissing(r) {
			li.missing++
		} else {
			li.present = append(li.present, r)
		}
	}
	if len(li.present) == 0 {
		return nil, optErr("options.label", "label column %q has no values in %d rows", name, len(rows))
	}
	li.task = o.GetTask()
	if li.task == datav1.Task_TASK_UNSPECIFIED {
		inf := selection.InferTask(li.selectionLabel(name))
		li.task, li.reason = inf.Task, inf.Reason
	} else {
		li.reason = fmt.Sprintf("%s, as the options ask", taskWord(li.task))
	}
	if li.task == datav1.Task_TASK_REGRESSION {
		return li, li.checkRegression(name)
	}
	return li, li.learnClasses(name)
}

// checkRegression requires a numeric (or boolean) label with finite values
// that is not constant.
func (li *labelInfo) checkRegression(name string) error {
	if li.col.IsCategorical() {
		return optErr("options.task", "regression needs a numeric label, but column %q is categorical; use classification", name)
	}
	first := li.col.Nums[li.present[0]]
	constant := true
	for _, r := range li.present {
		v := li.col.Nums[r]
		if math.IsInf(v, 0) {
			return optErr("options.label", "label column %q is infinite in row %d", name, r)
		}
		if v != first {
			constant = false
		}
	}
	if constant {
		return optErr("options.label", "label column %q is constant", name)
	}
	return nil
}

// learnClasses collects and orders the class names of the present rows.
func (li *labelInfo) learnClasses(name string) error {
	c := li.col
	switch c.Type {
	case datav1.ColumnType_COLUMN_TYPE_NUMERIC:
		seen := make(map[float64]bool)
		for _, r := range li.present {
			v := c.Nums[r]
			if v == 0 {
				v = 0
			}
			if !seen[v] {
				seen[v] = true
				if len(seen) > MaxClassificationClasses {
					return optErr("options.task", "classification with numeric label %q that has more than %d distinct values; it looks like a quantity: use task regression", name, MaxClassificationClasses)
				}
			}
		}
		vals := make([]float64, 0, len(seen))
		for v := range seen {
			vals = append(vals, v)
		}
		sort.Float64s(vals)
		for _, v := range vals {
			li.classes = append(li.classes, strconv.FormatFloat(v, 'g', -1, 64))
		}
	default:
		seen := make(map[string]bool)
		for _, r := range li.present {
			seen[classKey(c, r)] = true
		}
		for k := range seen {
			li.classes = append(li.classes, k)
		}
		sort.Strings(li.classes)
	}
	if len(li.classes) < 2 {
		return optErr("options.label", "label column %q is constant", name)
	}
	return nil
}
