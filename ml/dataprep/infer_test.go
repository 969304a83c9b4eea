package dataprep

import (
	"strings"
	"testing"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

// TestFitInfersTask: with no task in the options, a numeric label with few
// distinct whole numbers is classification and anything else numeric is
// regression, and the transform says which rule decided; a task in the
// options wins.
func TestFitInfersTask(t *testing.T) {
	codes := make([]float64, 60)
	many := make([]float64, 60)
	fractions := make([]float64, 60)
	for i := range codes {
		codes[i] = float64(i % 7)
		many[i] = float64(i * 3)
		fractions[i] = float64(i%7) + 0.5
	}
	x := make([]float64, 60)
	for i := range x {
		x[i] = float64(i % 5)
	}
	tests := []struct {
		name   string
		y      []float64
		task   datav1.Task
		want   datav1.Task
		reason string
	}{
		{"class codes", codes, 0, datav1.Task_TASK_CLASSIFICATION, "7 distinct whole numbers"},
		{"many whole numbers", many, 0, datav1.Task_TASK_REGRESSION, "60 distinct whole numbers"},
		{"fractions", fractions, 0, datav1.Task_TASK_REGRESSION, "fractions"},
		{"override", codes, datav1.Task_TASK_REGRESSION, datav1.Task_TASK_REGRESSION, "as the options ask"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Fit(tbl(num("x", x...), num("y", tc.y...)), nil, &prepv1.PrepareOptions{Label: "y", Task: tc.task})
			if err != nil {
				t.Fatal(err)
			}
			if tr.GetTask() != tc.want || !strings.Contains(tr.GetTaskReason(), tc.reason) {
				t.Errorf("task %v (%q), want %v with %q", tr.GetTask(), tr.GetTaskReason(), tc.want, tc.reason)
			}
		})
	}
}

// TestFitDropsNumericIDs: a row counter and near-unique whole numbers are
// dropped with a note; keep_columns keeps them.
func TestFitDropsNumericIDs(t *testing.T) {
	n := 40
	counter, ids, feature, y := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		counter[i] = float64(i + 1)
		ids[i] = float64((i * 7919) % 1000)
		feature[i] = float64(i % 6)
		y[i] = float64(i % 2)
	}
	tb := tbl(num("row", counter...), num("id", ids...), num("f", feature...), num("y", y...))
	tests := []struct {
		name     string
		keep     []string
		features []string
		notes    int
	}{
		{"dropped", nil, []string{"f"}, 2},
		{"kept", []string{"row", "id"}, []string{"row", "id", "f"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", KeepColumns: tc.keep})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(tr.GetFeatureNames(), ",") != strings.Join(tc.features, ",") || len(tr.GetNotes()) != tc.notes {
				t.Errorf("features %v notes %q, want %v and %d notes", tr.GetFeatureNames(), tr.GetNotes(), tc.features, tc.notes)
			}
		})
	}
	_, err := Fit(tb, nil, &prepv1.PrepareOptions{Label: "y", KeepColumns: []string{"nope"}})
	wantField(t, err, "options.keep_columns[0]", "nope")
}
