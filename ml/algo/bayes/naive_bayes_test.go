package bayes

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/algo/internal/algotest"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// linNormalPDF is the normal density, written out for reference values.
func linNormalPDF(x, mean, variance float64) float64 {
	return math.Exp(-(x-mean)*(x-mean)/(2*variance)) / math.Sqrt(2*math.Pi*variance)
}

func TestNaiveBayesHandChecked(t *testing.T) {
	// Class 0 has x = 1, 2, 3 (mean 2, variance 2/3); class 1 has x = 10, 14
	// (mean 12, variance 4). All five values have variance 26, so smoothing
	// 0.01 adds 0.26 to both class variances.
	ds := &algo.Dataset{
		X: mat.NewDense(5, 1, []float64{1, 10, 2, 14, 3}), Y: []float64{0, 1, 0, 1, 0},
		Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 2,
	}
	m := algotest.Fit(t, "naive_bayes", ds, map[string]float64{"var_smoothing": 0.01})
	nb := m.GetGaussianNb()
	wantMeans := []float64{2, 12}
	wantVars := []float64{2.0/3 + 0.26, 4 + 0.26}
	wantPrior := []float64{math.Log(0.6), math.Log(0.4)}
	for c := 0; c < 2; c++ {
		if !algotest.Close(nb.Means[c], wantMeans[c], 1e-12) || !algotest.Close(nb.Variances[c], wantVars[c], 1e-12) ||
			!algotest.Close(nb.ClassLogPrior[c], wantPrior[c], 1e-12) {
			t.Errorf("class %d: mean %g var %g log prior %g; want %g %g %g",
				c, nb.Means[c], nb.Variances[c], nb.ClassLogPrior[c], wantMeans[c], wantVars[c], wantPrior[c])
		}
	}
	for _, x := range []float64{-3, 2, 5, 7, 12, 40} {
		p0 := 0.6 * linNormalPDF(x, 2, wantVars[0])
		p1 := 0.4 * linNormalPDF(x, 12, wantVars[1])
		got := algotest.Predict(t, m, mat.NewDense(1, 1, []float64{x}))
		if want := p1 / (p0 + p1); !algotest.Close(got.At(0, 1), want, 1e-9) || !algotest.Close(got.At(0, 0), 1-want, 1e-9) {
			t.Errorf("x=%g: P = %v, want [%g %g]", x, got.RawRowView(0), 1-want, want)
		}
	}
}

func TestNaiveBayesEdgeCases(t *testing.T) {
	t.Run("class without rows", func(t *testing.T) {
		ds := &algo.Dataset{
			X: mat.NewDense(4, 1, []float64{0, 1, 5, 6}), Y: []float64{0, 0, 2, 2},
			Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 3,
		}
		m := algotest.RoundTrip(t, algotest.Fit(t, "naive_bayes", ds, nil))
		p := algotest.Predict(t, m, mat.NewDense(2, 1, []float64{0.5, 5.5}))
		for i := 0; i < 2; i++ {
			if p.At(i, 1) != 0 || !algotest.Close(p.At(i, 0)+p.At(i, 2), 1, 1e-12) {
				t.Errorf("row %d: P = %v, want 0 for the empty class", i, p.RawRowView(i))
			}
		}
	})
	t.Run("constant feature without smoothing", func(t *testing.T) {
		ds := &algo.Dataset{
			X: mat.NewDense(4, 2, []float64{1, 0, 1, 1, 1, 5, 1, 6}), Y: []float64{0, 0, 1, 1},
			Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 2,
		}
		m := algotest.Fit(t, "naive_bayes", ds, map[string]float64{"var_smoothing": 0})
		p := algotest.Predict(t, m, mat.NewDense(2, 2, []float64{1, 0.5, 2, 5.5}))
		for i := 0; i < 2; i++ {
			for c := 0; c < 2; c++ {
				if v := p.At(i, c); math.IsNaN(v) || v < 0 || v > 1 {
					t.Fatalf("P[%d][%d] = %g", i, c, v)
				}
			}
		}
		if p.At(0, 0) < 0.99 || p.At(1, 1) < 0.99 {
			t.Errorf("P = %v, want the obvious classes", p.RawMatrix().Data)
		}
	})
	t.Run("row far from every class gets the priors", func(t *testing.T) {
		ds := &algo.Dataset{
			X: mat.NewDense(4, 1, []float64{0, 1, 2, 3}), Y: []float64{0, 1, 1, 1},
			Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 2,
		}
		m := algotest.Fit(t, "naive_bayes", ds, nil)
		p := algotest.Predict(t, m, mat.NewDense(1, 1, []float64{1e300}))
		if !algotest.Close(p.At(0, 0), 0.25, 1e-12) || !algotest.Close(p.At(0, 1), 0.75, 1e-12) {
			t.Errorf("P = %v, want priors [0.25 0.75]", p.RawRowView(0))
		}
	})
}

func TestNaiveBayesBlobsAccuracy(t *testing.T) {
	ds := algotest.Blobs(17, 1000, 4, 3, 3)
	train, test := algotest.Split(ds, 800)
	m := algotest.Fit(t, "naive_bayes", train, nil)
	if acc := algotest.Accuracy(algotest.Predict(t, m, test.X), test.Y); acc < 0.9 {
		t.Errorf("accuracy %g < 0.9", acc)
	}
}

func TestNaiveBayesPredictRejectsCorruptModels(t *testing.T) {
	good := func() *datav1.Model {
		return &datav1.Model{
			Algorithm: "naive_bayes", Task: datav1.Task_TASK_CLASSIFICATION,
			Parameters: &datav1.Model_GaussianNb{GaussianNb: &datav1.GaussianNbModel{
				ClassLogPrior: []float64{math.Log(0.5), math.Log(0.5)},
				Means:         []float64{0, 0, 1, 1},
				Variances:     []float64{1, 1, 1, 1},
			}},
		}
	}
	tests := []struct {
		name   string
		mutate func(m *datav1.Model)
	}{
		{"no parameters", func(m *datav1.Model) { m.Parameters = nil }},
		{"no classes", func(m *datav1.Model) { m.GetGaussianNb().ClassLogPrior = nil }},
		{"class names", func(m *datav1.Model) { m.ClassNames = []string{"a", "b", "c"} }},
		{"means length", func(m *datav1.Model) { m.GetGaussianNb().Means = m.GetGaussianNb().Means[:3] }},
		{"no means", func(m *datav1.Model) { m.GetGaussianNb().Means = nil }},
		{"variances length", func(m *datav1.Model) { m.GetGaussianNb().Variances = m.GetGaussianNb().Variances[:2] }},
		{"zero variance", func(m *datav1.Model) { m.GetGaussianNb().Variances[2] = 0 }},
		{"NaN mean", func(m *datav1.Model) { m.GetGaussianNb().Means[1] = math.NaN() }},
		{"positive infinite prior", func(m *datav1.Model) { m.GetGaussianNb().ClassLogPrior[0] = math.Inf(1) }},
		{"all priors zero", func(m *datav1.Model) {
			m.GetGaussianNb().ClassLogPrior = []float64{math.Inf(-1), math.Inf(-1)}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			if _, err := algo.Predict(m, mat.NewDense(1, 2, nil)); err != nil {
				t.Fatalf("good model: %v", err)
			}
			tc.mutate(m)
			if _, err := algo.Predict(m, mat.NewDense(1, 2, nil)); err == nil {
				t.Error("no error")
			}
		})
	}
}
