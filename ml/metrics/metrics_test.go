package metrics

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

const tol = 1e-12

// approx reports whether a is within tol (relative above 1) of b.
func approx(a, b float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

// oneHot turns predicted classes into a probability matrix whose argmax is
// the prediction.
func oneHot(pred []int, k int) *mat.Dense {
	p := mat.NewDense(len(pred), k, nil)
	for i, c := range pred {
		p.Set(i, c, 1)
	}
	return p
}

// binary builds a two-column probability matrix from class-1 scores.
func binary(scores []float64) *mat.Dense {
	p := mat.NewDense(len(scores), 2, nil)
	for i, s := range scores {
		p.Set(i, 0, 1-s)
		p.Set(i, 1, s)
	}
	return p
}

func TestClassificationAverages(t *testing.T) {
	tests := []struct {
		name                         string
		yTrue, yPred                 []int
		k                            int
		accuracy                     float64
		precMacro, recMacro, f1Macro float64
		precW, recW, f1W             float64
		confusion                    []int64
	}{
		{
			// scikit-learn's f1_score documentation example.
			name: "sklearn f1 example", yTrue: []int{0, 1, 2, 0, 1, 2}, yPred: []int{0, 2, 1, 0, 0, 1}, k: 3,
			accuracy:  1.0 / 3,
			precMacro: 2.0 / 9, recMacro: 1.0 / 3, f1Macro: 0.8 / 3,
			precW: 2.0 / 9, recW: 1.0 / 3, f1W: 0.8 / 3,
			confusion: []int64{2, 0, 0, 1, 0, 1, 0, 2, 0},
		},
		{
			// scikit-learn's confusion_matrix documentation example; class 1
			// is never predicted (precision 0 by zero_division=0).
			name: "sklearn confusion example", yTrue: []int{2, 0, 2, 2, 0, 1}, yPred: []int{0, 0, 2, 2, 0, 2}, k: 3,
			accuracy:  4.0 / 6,
			precMacro: (2.0/3 + 0 + 2.0/3) / 3, recMacro: (1 + 0 + 2.0/3) / 3, f1Macro: (0.8 + 0 + 2.0/3) / 3,
			precW: (2*2.0/3 + 0 + 3*2.0/3) / 6, recW: (2*1 + 0 + 3*2.0/3) / 6, f1W: (2*0.8 + 0 + 3*2.0/3) / 6,
			confusion: []int64{2, 0, 0, 0, 0, 1, 1, 0, 2},
		},
		{
			// Class 2 neither occurs nor is predicted: it is left out of the
			// macro averages.
			name: "absent class", yTrue: []int{0, 1, 1}, yPred: []int{0, 1, 1}, k: 3,
			accuracy: 1, precMacro: 1, recMacro: 1, f1Macro: 1, precW: 1, recW: 1, f1W: 1,
			confusion: []int64{1, 0, 0, 0, 2, 0, 0, 0, 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Classification(tc.yTrue, oneHot(tc.yPred, tc.k), []string{"a", "b", "c"})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name      string
				got, want float64
			}{
				{"accuracy", m.Accuracy, tc.accuracy},
				{"precision_macro", m.PrecisionMacro, tc.precMacro},
				{"recall_macro", m.RecallMacro, tc.recMacro},
				{"f1_macro", m.F1Macro, tc.f1Macro},
				{"precision_weighted", m.PrecisionWeighted, tc.precW},
				{"recall_weighted", m.RecallWeighted, tc.recW},
				{"f1_weighted", m.F1Weighted, tc.f1W},
			} {
				if !approx(c.got, c.want) {
					t.Errorf("%s = %.15g, want %.15g", c.name, c.got, c.want)
				}
			}
			cm := m.ConfusionMatrix
			if len(cm.Counts) != len(tc.confusion) {
				t.Fatalf("confusion %v, want %v", cm.Counts, tc.confusion)
			}
			for i := range cm.Counts {
				if cm.Counts[i] != tc.confusion[i] {
					t.Fatalf("confusion %v, want %v", cm.Counts, tc.confusion)
				}
			}
			if got := cm.Labels; len(got) != 3 || got[0] != "a" || got[2] != "c" {
				t.Errorf("labels %v", got)
			}
			var support int64
			for c, s := range m.PerClass {
				if s.Label != cm.Labels[c] {
					t.Errorf("per_class[%d] label %q", c, s.Label)
				}
				support += s.Support
			}
			if support != int64(len(tc.yTrue)) {
				t.Errorf("supports sum to %d, want %d", support, len(tc.yTrue))
			}
		})
	}
}

func TestLogLoss(t *testing.T) {
	// scikit-learn's log_loss documentation example: classes ham (0) and
	// spam (1).
	p := mat.NewDense(4, 2, []float64{.1, .9, .9, .1, .8, .2, .35, .65})
	m, err := Classification([]int{1, 0, 0, 1}, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := 0.21616187468057912; !approx(m.LogLoss, want) {
		t.Errorf("log_loss = %.17g, want %.17g", m.LogLoss, want)
	}
	if m.RocAuc != 1 {
		t.Errorf("roc_auc = %g, want 1", m.RocAuc)
	}
	if m.ConfusionMatrix.Labels[1] != "1" {
		t.Errorf("labels %v, want indexes", m.ConfusionMatrix.Labels)
	}
	// A confident mistake is clipped at −log(1e-15).
	m, err = Classification([]int{0}, mat.NewDense(1, 2, []float64{0, 1}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := -math.Log(1e-15); !approx(m.LogLoss, want) {
		t.Errorf("clipped log_loss = %g, want %g", m.LogLoss, want)
	}
}

func TestROCAUC(t *testing.T) {
	tests := []struct {
		name  string
		yTrue []int
		proba *mat.Dense
		want  float64
	}{
		// scikit-learn's roc_auc_score documentation example.
		{"sklearn example", []int{0, 0, 1, 1}, binary([]float64{0.1, 0.4, 0.35, 0.8}), 0.75},
		{"all tied", []int{0, 1, 0, 1}, binary([]float64{0.5, 0.5, 0.5, 0.5}), 0.5},
		// Pairs (positive, negative): (.5,.5) ½, (.5,.2) 1, (.9,.5) 1, (.9,.2) 1.
		{"some ties", []int{0, 1, 0, 1}, binary([]float64{0.5, 0.5, 0.2, 0.9}), 3.5 / 4},
		{"inverted", []int{1, 1, 0, 0}, binary([]float64{0.1, 0.2, 0.8, 0.9}), 0},
		{"one class only", []int{1, 1}, binary([]float64{0.1, 0.2}), math.NaN()},
		{
			// One-vs-rest: class 0 and 1 separate perfectly; class 2 has
			// positives .6, .3 and negatives .1, .3 → 3.5/4.
			"multiclass", []int{0, 1, 2, 2},
			mat.NewDense(4, 3, []float64{.7, .2, .1, .2, .5, .3, .1, .3, .6, .3, .4, .3}),
			(1 + 1 + 0.875) / 3,
		},
		{
			// Class 2 has no positives and is skipped. Class 0: positives
			// .8, .3 against negatives .2, .5 → 3/4; class 1: positives .7,
			// .4 against .1, .3 → 1.
			"multiclass absent class", []int{0, 0, 1, 1},
			mat.NewDense(4, 3, []float64{.8, .1, .1, .3, .3, .4, .2, .7, .1, .5, .4, .1}),
			(0.75 + 1) / 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := rocAUC(tc.yTrue, tc.proba)
			if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && !approx(got, tc.want)) {
				t.Errorf("ROC AUC = %g, want %g", got, tc.want)
			}
		})
	}
}

func TestArgmaxTiesPickLowestIndex(t *testing.T) {
	m, err := Classification([]int{1, 0}, mat.NewDense(2, 3, []float64{.4, .4, .2, .2, .4, .4}), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Row 0 predicts class 0 (true 1), row 1 predicts class 1 (true 0).
	if want := []int64{0, 1, 0, 1, 0, 0, 0, 0, 0}; !equalInts(m.ConfusionMatrix.Counts, want) {
		t.Errorf("confusion %v, want %v", m.ConfusionMatrix.Counts, want)
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestClassificationErrors(t *testing.T) {
	tests := []struct {
		name  string
		yTrue []int
		proba *mat.Dense
		names []string
	}{
		{"nil proba", []int{0}, nil, nil},
		{"empty proba", nil, &mat.Dense{}, nil},
		{"length mismatch", []int{0, 1}, binary([]float64{0.3}), nil},
		{"one column", []int{0}, mat.NewDense(1, 1, []float64{1}), nil},
		{"names mismatch", []int{0}, binary([]float64{0.3}), []string{"a"}},
		{"label too large", []int{2}, binary([]float64{0.3}), nil},
		{"negative label", []int{-1}, binary([]float64{0.3}), nil},
		{"NaN probability", []int{0}, binary([]float64{math.NaN()}), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Classification(tc.yTrue, tc.proba, tc.names); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestRegression(t *testing.T) {
	tests := []struct {
		name          string
		yTrue, yPred  []float64
		rmse, mae, r2 float64
	}{
		// scikit-learn's r2_score / mean_squared_error documentation example.
		{"sklearn example", []float64{3, -0.5, 2, 7}, []float64{2.5, 0, 2, 8}, math.Sqrt(0.375), 0.5, 0.9486081370449679},
		{"perfect", []float64{1, 2, 3}, []float64{1, 2, 3}, 0, 0, 1},
		{"mean predictor", []float64{1, 2, 3}, []float64{2, 2, 2}, math.Sqrt(2.0 / 3), 2.0 / 3, 0},
		{"worse than mean", []float64{1, 2, 3}, []float64{3, 2, 1}, math.Sqrt(8.0 / 3), 4.0 / 3, -3},
		{"constant truth, perfect", []float64{4, 4}, []float64{4, 4}, 0, 0, 1},
		{"constant truth, imperfect", []float64{4, 4}, []float64{4, 5}, math.Sqrt(0.5), 0.5, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Regression(tc.yTrue, tc.yPred)
			if err != nil {
				t.Fatal(err)
			}
			if !approx(m.Rmse, tc.rmse) || !approx(m.Mae, tc.mae) || !approx(m.R2, tc.r2) {
				t.Errorf("rmse, mae, r2 = %.15g, %.15g, %.15g; want %.15g, %.15g, %.15g",
					m.Rmse, m.Mae, m.R2, tc.rmse, tc.mae, tc.r2)
			}
		})
	}
	for _, bad := range [][2][]float64{
		{nil, nil},
		{{1, 2}, {1}},
		{{math.NaN()}, {1}},
		{{1}, {math.Inf(1)}},
	} {
		if _, err := Regression(bad[0], bad[1]); err == nil {
			t.Errorf("Regression(%v, %v): no error", bad[0], bad[1])
		}
	}
}

func TestScore(t *testing.T) {
	cls := &datav1.Metrics{NumSamples: 4, Kind: &datav1.Metrics_Classification{Classification: &datav1.ClassificationMetrics{
		Accuracy: 0.9, F1Macro: 0.8, F1Weighted: 0.85, PrecisionMacro: 0.7, RecallMacro: 0.75,
		PrecisionWeighted: 0.71, RecallWeighted: 0.76, RocAuc: 0.95, LogLoss: 0.3,
	}}}
	reg := &datav1.Metrics{NumSamples: 4, Kind: &datav1.Metrics_Regression{Regression: &datav1.RegressionMetrics{
		R2: 0.6, Rmse: 1.5, Mae: 1.1,
	}}}
	nanAUC := &datav1.Metrics{Kind: &datav1.Metrics_Classification{Classification: &datav1.ClassificationMetrics{RocAuc: math.NaN()}}}
	tests := []struct {
		m       *datav1.Metrics
		name    string
		want    float64
		higher  bool
		wantErr bool
	}{
		{cls, "accuracy", 0.9, true, false},
		{cls, "f1_macro", 0.8, true, false},
		{cls, "f1_weighted", 0.85, true, false},
		{cls, "precision_macro", 0.7, true, false},
		{cls, "recall_macro", 0.75, true, false},
		{cls, "precision_weighted", 0.71, true, false},
		{cls, "recall_weighted", 0.76, true, false},
		{cls, "roc_auc", 0.95, true, false},
		{cls, "log_loss", 0.3, false, false},
		{reg, "r2", 0.6, true, false},
		{reg, "rmse", 1.5, false, false},
		{reg, "mae", 1.1, false, false},
		{cls, "r2", 0, false, true},
		{reg, "accuracy", 0, false, true},
		{cls, "auc", 0, false, true},
		{&datav1.Metrics{}, "accuracy", 0, false, true},
		{nil, "accuracy", 0, false, true},
		{nanAUC, "roc_auc", 0, false, true},
	}
	for _, tc := range tests {
		v, higher, err := Score(tc.m, tc.name)
		if (err != nil) != tc.wantErr {
			t.Errorf("Score(%s): err = %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if err == nil && (v != tc.want || higher != tc.higher) {
			t.Errorf("Score(%s) = %g, %v; want %g, %v", tc.name, v, higher, tc.want, tc.higher)
		}
	}
}

func TestKnownAndDefaultMetric(t *testing.T) {
	c, r := datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION
	tests := []struct {
		name string
		task datav1.Task
		want bool
	}{
		{"accuracy", c, true}, {"roc_auc", c, true}, {"log_loss", c, true}, {"f1_weighted", c, true},
		{"r2", r, true}, {"rmse", r, true}, {"mae", r, true},
		{"accuracy", r, false}, {"r2", c, false}, {"nope", c, false},
		{"accuracy", datav1.Task_TASK_UNSPECIFIED, false},
	}
	for _, tc := range tests {
		if got := KnownMetric(tc.name, tc.task); got != tc.want {
			t.Errorf("KnownMetric(%q, %v) = %v", tc.name, tc.task, got)
		}
	}
	for task, want := range map[datav1.Task]string{c: "accuracy", r: "r2", datav1.Task_TASK_UNSPECIFIED: ""} {
		if got := DefaultMetric(task); got != want {
			t.Errorf("DefaultMetric(%v) = %q, want %q", task, got, want)
		}
		if want != "" && !KnownMetric(want, task) {
			t.Errorf("default %q is not a known %v metric", want, task)
		}
	}
	if n := len(Names(c)) + len(Names(r)); n != len(known) {
		t.Errorf("Names lists %d metrics of %d", n, len(known))
	}
}

// pairwiseAUC is the definition of AUC: the share of (positive, negative)
// pairs ranked correctly, ties counting one half.
func pairwiseAUC(pos []bool, s []float64) float64 {
	var num, pairs float64
	for i := range s {
		for j := range s {
			if !pos[i] || pos[j] {
				continue
			}
			pairs++
			switch {
			case s[i] > s[j]:
				num++
			case s[i] == s[j]:
				num += 0.5
			}
		}
	}
	if pairs == 0 {
		return math.NaN()
	}
	return num / pairs
}

// FuzzBinaryAUC checks the rank formula against the pairwise definition on
// arbitrary data with many ties (scores are quantised to 8 levels).
func FuzzBinaryAUC(f *testing.F) {
	f.Add([]byte{0x01, 0x12, 0x23, 0x05, 0x17})
	f.Add([]byte{0x10, 0x10, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		pos := make([]bool, len(data))
		s := make([]float64, len(data))
		for i, b := range data {
			pos[i] = b&0x10 != 0
			s[i] = float64(b&0x07) / 7
		}
		got, want := binaryAUC(pos, s), pairwiseAUC(pos, s)
		if math.IsNaN(got) != math.IsNaN(want) || (!math.IsNaN(want) && math.Abs(got-want) > 1e-12) {
			t.Fatalf("binaryAUC = %g, pairwise %g", got, want)
		}
	})
}

// FuzzClassification scores arbitrary labels and probabilities: the
// function must reject bad input with an error, never panic, and keep every
// score in its range.
func FuzzClassification(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 200, 17, 9, 1}, uint8(3))
	f.Add([]byte{1, 0, 0, 255}, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, kb uint8) {
		k := int(kb%6) + 1
		rows := len(data) / (k + 1)
		if rows == 0 {
			return
		}
		y := make([]int, rows)
		p := mat.NewDense(rows, k, nil)
		for i := 0; i < rows; i++ {
			chunk := data[i*(k+1) : (i+1)*(k+1)]
			y[i] = int(int8(chunk[0])) % (k + 1) // sometimes out of range
			for c := 0; c < k; c++ {
				p.Set(i, c, float64(chunk[c+1])/255)
			}
		}
		m, err := Classification(y, p, nil)
		if err != nil {
			return
		}
		in01 := func(name string, v float64) {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("%s = %g outside [0, 1]", name, v)
			}
		}
		in01("accuracy", m.Accuracy)
		in01("precision_macro", m.PrecisionMacro)
		in01("recall_macro", m.RecallMacro)
		in01("f1_macro", m.F1Macro)
		in01("f1_weighted", m.F1Weighted)
		if !math.IsNaN(m.RocAuc) {
			in01("roc_auc", m.RocAuc)
		}
		if !(m.LogLoss >= 0 && m.LogLoss <= -math.Log(1e-15)+1e-9) {
			t.Fatalf("log_loss = %g", m.LogLoss)
		}
		var total int64
		for _, c := range m.ConfusionMatrix.Counts {
			total += c
		}
		if total != int64(rows) {
			t.Fatalf("confusion matrix counts %d rows of %d", total, rows)
		}
	})
}
