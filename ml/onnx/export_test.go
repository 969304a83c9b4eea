package onnx

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin" // registers the algorithms
	"github.com/alur-ml/alur/ml/algo/ensemble"
	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

func fitted(t *testing.T, algorithm string, task datav1.Task) (*datav1.FittedTransform, *datav1.Model) {
	t.Helper()
	return fittedSeed(t, algorithm, task, 1)
}

// fittedSeed fits algorithm with seed on the test table.
func fittedSeed(t *testing.T, algorithm string, task datav1.Task, seed int64) (*datav1.FittedTransform, *datav1.Model) {
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
	var params map[string]float64
	if algorithm == "random_forest" || algorithm == "extra_trees" {
		params = map[string]float64{"n_estimators": 5}
	}
	m, err := algo.Fit(context.Background(), algorithm, &algo.Dataset{X: X, Y: ys, Task: task, NumClasses: len(tr.GetClassNames()),
		FeatureNames: tr.GetFeatureNames(), ClassNames: tr.GetClassNames()}, params, seed, nil)
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
		{"extra_trees", datav1.Task_TASK_CLASSIFICATION, []string{OutputLabel, OutputProbabilities}, nil},
		{"extra_trees", datav1.Task_TASK_REGRESSION, []string{OutputPrediction}, nil},
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

// ensembleOf fits each of algorithms (with seed 1, 2, ... in turn) and
// joins them with weights into an ensemble.
func ensembleOf(t *testing.T, task datav1.Task, method string, algorithms []string, weights []float64) (*datav1.FittedTransform, *datav1.Model) {
	t.Helper()
	var (
		tr      *datav1.FittedTransform
		members []*datav1.Model
	)
	for i, a := range algorithms {
		var m *datav1.Model
		tr, m = fittedSeed(t, a, task, int64(i+1))
		members = append(members, m)
	}
	m, err := ensemble.New(members, weights, method, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tr, m
}

// opCounts counts the graph's nodes by operator type, reading the
// ModelProto bytes.
func opCounts(t *testing.T, b []byte) map[string]int {
	t.Helper()
	counts := map[string]int{}
	each(t, b, 7, func(g []byte) {
		each(t, g, 1, func(n []byte) {
			each(t, n, 4, func(op []byte) { counts[string(op)]++ })
		})
	})
	return counts
}

// each calls fn with every length-delimited field want of message b.
func each(t *testing.T, b []byte, want protowire.Number, fn func([]byte)) {
	t.Helper()
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

func TestExportEnsemble(t *testing.T) {
	const cls, reg = datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION
	tests := []struct {
		name       string
		task       datav1.Task
		algorithms []string
		weights    []float64
		want       []string
		// ops are node counts the graph must have: forests and trees merge
		// into one TreeEnsembleRegressor, every other member adds one Mul.
		ops map[string]int
	}{
		{"bagged forests", cls, []string{"random_forest", "random_forest", "random_forest", "random_forest", "random_forest"},
			[]float64{0.2, 0.2, 0.2, 0.2, 0.2}, []string{OutputLabel, OutputProbabilities},
			map[string]int{"TreeEnsembleRegressor": 1, "Sum": 0, "ArgMax": 1}},
		{"forest and extra trees", cls, []string{"random_forest", "extra_trees", "extra_trees"},
			[]float64{0.4, 0.3, 0.3}, []string{OutputLabel, OutputProbabilities},
			map[string]int{"TreeEnsembleRegressor": 1, "Sum": 0, "ArgMax": 1}},
		{"bagged trees", reg, []string{"decision_tree", "decision_tree", "decision_tree"},
			[]float64{0.5, 0.25, 0.25}, []string{OutputPrediction}, map[string]int{"TreeEnsembleRegressor": 1, "Sum": 0}},
		{"mixed", cls, []string{"logistic_regression", "random_forest", "naive_bayes"},
			[]float64{0.5, 0.3, 0.2}, []string{OutputLabel, OutputProbabilities},
			map[string]int{"TreeEnsembleRegressor": 1, "Mul": 2 + 2, "Sigmoid": 2, "Softmax": 1, "Sum": 1, "ArgMax": 1}},
		{"mixed with boosting and k-NN", cls, []string{"gradient_boosting", "knn", "decision_tree", "random_forest"},
			[]float64{0.4, 0.1, 0.2, 0.3}, []string{OutputLabel, OutputProbabilities},
			map[string]int{"TreeEnsembleRegressor": 2, "TopK": 1, "Sum": 1, "ArgMax": 1}},
		{"regression", reg, []string{"ridge", "random_forest", "gradient_boosting", "knn"},
			[]float64{0.25, 0.25, 0.25, 0.25}, []string{OutputPrediction},
			map[string]int{"TreeEnsembleRegressor": 2, "TopK": 1, "MatMul": 1, "Sum": 1, "ArgMax": 0}},
		{"weight 0 left out", reg, []string{"ridge", "knn"}, []float64{1, 0}, []string{OutputPrediction},
			map[string]int{"TopK": 0, "MatMul": 1, "Sum": 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, m := ensembleOf(t, tc.task, "k_fold_bagging", tc.algorithms, tc.weights)
			if tc.name == "weight 0 left out" {
				// ensemble.New drops members of weight 0; a stored model may keep them.
				_, knn := fitted(t, "knn", tc.task)
				m.GetEnsemble().Members = append(m.GetEnsemble().Members, knn)
				m.GetEnsemble().Weights = append(m.GetEnsemble().Weights, 0)
			}
			b, inputs, err := Export(tr, m, "test")
			if err != nil {
				t.Fatal(err)
			}
			if len(inputs) != 2 || inputs[0] != (Input{Name: "x"}) || inputs[1] != (Input{Name: "color", Categorical: true}) {
				t.Fatalf("inputs %v", inputs)
			}
			if got := outputs(t, b); !slices.Equal(got, tc.want) {
				t.Fatalf("outputs %v, want %v", got, tc.want)
			}
			ops := opCounts(t, b)
			for op, n := range tc.ops {
				if ops[op] != n {
					t.Errorf("%d %s nodes, want %d (all: %v)", ops[op], op, n, ops)
				}
			}
		})
	}
}

func TestExportEnsembleRefuses(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(t *testing.T, m *datav1.Model)
		wantErr error
		want    string
	}{
		{"distance-weighted k-NN member", func(t *testing.T, m *datav1.Model) {
			m.GetEnsemble().GetMembers()[1].GetKnn().DistanceWeighted = true
		}, ErrUnsupported, "ensemble member 1 (knn)"},
		{"nested ensemble", func(t *testing.T, m *datav1.Model) {
			inner := proto.Clone(m).(*datav1.Model)
			m.GetEnsemble().GetMembers()[0] = inner
		}, ErrUnsupported, "ensemble member 0 (ensemble)"},
		{"unknown algorithm", func(t *testing.T, m *datav1.Model) {
			m.GetEnsemble().GetMembers()[0] = &datav1.Model{Algorithm: "svm", Task: m.GetTask(),
				FeatureNames: m.GetFeatureNames(), ClassNames: m.GetClassNames()}
		}, ErrUnsupported, `ensemble member 0 (svm): algorithm "svm"`},
		{"other classes", func(t *testing.T, m *datav1.Model) {
			m.GetEnsemble().GetMembers()[1].ClassNames = []string{"yes", "no"}
		}, nil, "ensemble member 1 (knn) has classes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, m := ensembleOf(t, datav1.Task_TASK_CLASSIFICATION, "greedy_forward_selection",
				[]string{"logistic_regression", "knn"}, []float64{0.5, 0.5})
			tc.edit(t, m)
			_, _, err := Export(tr, m, "test")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one saying %q", err, tc.want)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
		})
	}
}
