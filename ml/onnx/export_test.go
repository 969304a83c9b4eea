package onnx

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin" // registers the algorithms
	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

func fitted(t *testing.T, algorithm string, task datav1.Task) (*datav1.FittedTransform, *datav1.Model) {
	t.Helper()
	const n = 40
	x, y := make([]float64, n), make([]float64, n)
	color, label := make([]int32, n), make([]int32, n)
	for i := range n {
		x[i] = float64(i%11) - 5
		color[i] = int32(i % 3)
		label[i] = int32(i % 2)
		y[i] = x[i]*2 + float64(color[i])
	}
	cols := []*table.Column{table.NewNumeric("x", x), table.NewCategorical("color", color, []string{"a", "b", "c"})}
	if task == datav1.Task_TASK_CLASSIFICATION {
		cols = append(cols, table.NewCategorical("label", label, []string{"no", "yes"}))
	} else {
		cols = append(cols, table.NewNumeric("label", y))
	}
	tab := &table.Table{Columns: cols}
	tr, err := dataprep.Fit(tab, nil, &prepv1.PrepareOptions{Label: "label", Task: task})
	if err != nil {
		t.Fatal(err)
	}
	X, ys, err := dataprep.ApplyWithLabel(tr, tab)
	if err != nil {
		t.Fatal(err)
	}
	m, err := algo.Fit(context.Background(), algorithm, &algo.Dataset{X: X, Y: ys, Task: task, NumClasses: len(tr.GetClassNames()),
		FeatureNames: tr.GetFeatureNames(), ClassNames: tr.GetClassNames()}, nil, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr, m
}

// outputs lists the graph's output names, reading the ModelProto bytes.
func outputs(t *testing.T, b []byte) []string {
	t.Helper()
	var names []string
	walk := func(b []byte, want protowire.Number, fn func([]byte)) {
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				t.Fatal("bad tag")
			}
			b = b[n:]
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				t.Fatal("bad field")
			}
			if num == want && typ == protowire.BytesType {
				v, _ := protowire.ConsumeBytes(b)
				fn(v)
			}
			b = b[n:]
		}
	}
	walk(b, 7, func(g []byte) {
		walk(g, 12, func(vi []byte) {
			walk(vi, 1, func(name []byte) { names = append(names, string(name)) })
		})
	})
	return names
}

func TestExport(t *testing.T) {
	tests := []struct {
		algorithm string
		task      datav1.Task
		want      []string
		wantErr   error
	}{
		{"logistic_regression", datav1.Task_TASK_CLASSIFICATION, []string{OutputLabel, OutputProbabilities}, nil},
		{"naive_bayes", datav1.Task_TASK_CLASSIFICATION, []string{OutputLabel, OutputProbabilities}, nil},
		{"decision_tree", datav1.Task_TASK_CLASSIFICATION, []string{OutputLabel, OutputProbabilities}, nil},
		{"random_forest", datav1.Task_TASK_REGRESSION, []string{OutputPrediction}, nil},
		{"gradient_boosting", datav1.Task_TASK_REGRESSION, []string{OutputPrediction}, nil},
		{"ridge", datav1.Task_TASK_REGRESSION, []string{OutputPrediction}, nil},
		{"knn", datav1.Task_TASK_CLASSIFICATION, []string{OutputLabel, OutputProbabilities}, nil},
		{"knn", datav1.Task_TASK_REGRESSION, []string{OutputPrediction}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.algorithm+"/"+tc.task.String(), func(t *testing.T) {
			tr, m := fitted(t, tc.algorithm, tc.task)
			b, inputs, err := Export(tr, m, "test")
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if len(inputs) != 2 || inputs[0] != (Input{Name: "x"}) || inputs[1] != (Input{Name: "color", Categorical: true}) {
				t.Fatalf("inputs %v", inputs)
			}
			if got := outputs(t, b); len(got) != len(tc.want) || got[0] != tc.want[0] {
				t.Fatalf("outputs %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExportRefusesParsedNumbers(t *testing.T) {
	tr, m := fitted(t, "logistic_regression", datav1.Task_TASK_CLASSIFICATION)
	for _, ct := range tr.GetColumns() {
		if ct.GetName() == "x" {
			ct.Type, ct.ParseNumeric = datav1.ColumnType_COLUMN_TYPE_CATEGORICAL, true
		}
	}
	if _, _, err := Export(tr, m, "test"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err %v, want ErrUnsupported", err)
	}
}

func TestExportRefusesWeightedKNN(t *testing.T) {
	tr, m := fitted(t, "knn", datav1.Task_TASK_CLASSIFICATION)
	m.GetKnn().DistanceWeighted = true
	if _, _, err := Export(tr, m, "test"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err %v, want ErrUnsupported", err)
	}
}
