package selection

import (
	"math"
	"strings"
	"testing"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// codes returns n values cycling through 0..k-1 plus offset.
func codes(n, k int, offset float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(i%k) + offset
	}
	return v
}

func TestInferTask(t *testing.T) {
	cls, reg := datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION
	withNaN := codes(100, 3, 0)
	withNaN[5] = math.NaN()
	for _, tc := range []struct {
		name     string
		label    Label
		want     datav1.Task
		distinct int
		reason   string
	}{
		{"text", Label{Name: "species", TextClasses: 3}, cls, 3, "holds text"},
		{"digits 0-9", Label{Name: "digit", Numeric: true, Values: codes(1797, 10, 0)}, cls, 10, "10 distinct whole numbers (at most 20)"},
		{"quoted 1-7 read as numbers", Label{Name: "cover", Numeric: true, Values: codes(500, 7, 1)}, cls, 7, "class codes"},
		{"binary 0/1", Label{Name: "churn", Numeric: true, Values: codes(40, 2, 0)}, cls, 2, "class codes"},
		{"exactly 20 codes", Label{Name: "c", Numeric: true, Values: codes(40, 20, 0)}, cls, 20, "at most 20"},
		{"missing values ignored", Label{Name: "c", Numeric: true, Values: withNaN}, cls, 3, "3 distinct"},
		{"40 codes on 10000 rows", Label{Name: "c", Numeric: true, Values: codes(10000, 40, 0)}, cls, 40, "5% of its 10000 rows"},
		{"40 codes on 500 rows", Label{Name: "c", Numeric: true, Values: codes(500, 40, 0)}, reg, 40, "regression"},
		{"60 codes on 100000 rows", Label{Name: "c", Numeric: true, Values: codes(100000, 60, 0)}, reg, 60, "more than 20"},
		{"fractions", Label{Name: "price", Numeric: true, Values: []float64{1.5, 2, 3}}, reg, 3, "fractions"},
		{"few fractions", Label{Name: "p", Numeric: true, Values: []float64{0.5, 0.5, 1}}, reg, 2, "fractions"},
		{"no values", Label{Name: "p", Numeric: true, Values: []float64{math.NaN()}}, reg, 0, "no values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := InferTask(tc.label)
			if got.Task != tc.want || got.Distinct != tc.distinct {
				t.Fatalf("InferTask = %v with %d distinct, want %v with %d (%s)", got.Task, got.Distinct, tc.want, tc.distinct, got.Reason)
			}
			if !strings.Contains(got.Reason, tc.reason) || !strings.Contains(got.Reason, tc.label.Name) {
				t.Errorf("reason %q does not say %q and name the label", got.Reason, tc.reason)
			}
		})
	}
}
