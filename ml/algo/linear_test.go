package algo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

func TestLinearRegressionRecoversCoefficients(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		w     []float64
		b     float64
		tweak func(X *mat.Dense) // makes the design rank deficient
		wantW []float64
	}{
		{name: "full rank", n: 40, w: []float64{2, -1, 0.5}, b: 3, wantW: []float64{2, -1, 0.5}},
		{name: "one feature", n: 5, w: []float64{-4}, b: 0.25, wantW: []float64{-4}},
		{
			// x1 := x0, so y = 2 x0 + 0 x1 is also 1 x0 + 1 x1: the
			// minimum-norm solution splits the weight equally.
			name: "duplicated column", n: 30, w: []float64{2, 0, 1}, b: -1,
			tweak: func(X *mat.Dense) {
				r, _ := X.Dims()
				for i := 0; i < r; i++ {
					X.Set(i, 1, X.At(i, 0))
				}
			},
			wantW: []float64{1, 1, 1},
		},
		{
			// A constant column is zero once centred; minimum norm gives it
			// no weight.
			name: "constant column", n: 30, w: []float64{1.5, 0, -2}, b: 7,
			tweak: func(X *mat.Dense) {
				r, _ := X.Dims()
				for i := 0; i < r; i++ {
					X.Set(i, 1, 3)
				}
			},
			wantW: []float64{1.5, 0, -2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := linLinearData(7, tc.n, tc.w, tc.b, 0)
			if tc.tweak != nil {
				tc.tweak(ds.X)
				for i := range ds.Y {
					ds.Y[i] = tc.b + mat.Dot(ds.X.RowView(i), mat.NewVecDense(len(tc.w), tc.w))
				}
			}
			m := linFit(t, "linear_regression", ds, nil)
			lm := m.GetLinear()
			for j, want := range tc.wantW {
				if !linClose(lm.Weights[j], want, 1e-9) {
					t.Errorf("w[%d] = %.12g, want %g", j, lm.Weights[j], want)
				}
			}
			if !linClose(lm.Intercepts[0], tc.b, 1e-9) {
				t.Errorf("b = %.12g, want %g", lm.Intercepts[0], tc.b)
			}
			pred := linPredict(t, m, ds.X)
			for i, y := range ds.Y {
				if !linClose(pred.At(i, 0), y, 1e-9) {
					t.Fatalf("row %d: predicted %g, want %g", i, pred.At(i, 0), y)
				}
			}
			var sum float64
			for _, v := range m.FeatureImportances {
				sum += v
			}
			if !linClose(sum, 1, 1e-12) {
				t.Errorf("importances sum to %g", sum)
			}
		})
	}
}

func TestLinearRegressionMoreFeaturesThanRows(t *testing.T) {
	// Three rows, five features: infinitely many exact fits; the SVD path
	// must return one that interpolates the data with finite coefficients.
	ds := linLinearData(3, 3, []float64{1, 2, 3, 4, 5}, 1, 0)
	m := linFit(t, "linear_regression", ds, nil)
	pred := linPredict(t, m, ds.X)
	for i, y := range ds.Y {
		if !linClose(pred.At(i, 0), y, 1e-9) {
			t.Errorf("row %d: predicted %g, want %g", i, pred.At(i, 0), y)
		}
	}
}

func TestRidgeMatchesClosedForm(t *testing.T) {
	// One feature: w = Sxy / (Sxx + alpha), b = ȳ − w x̄ with centred sums.
	ds := linLinearData(11, 25, []float64{3}, -2, 0.5)
	var xm, ym float64
	for i, y := range ds.Y {
		xm += ds.X.At(i, 0)
		ym += y
	}
	xm /= 25
	ym /= 25
	var sxx, sxy float64
	for i, y := range ds.Y {
		dx := ds.X.At(i, 0) - xm
		sxx += dx * dx
		sxy += dx * (y - ym)
	}
	for _, alpha := range []float64{0, 0.5, 10, 1e6, 1e9} {
		m := linFit(t, "ridge", ds, map[string]float64{"alpha": alpha})
		wantW := sxy / (sxx + alpha)
		wantB := ym - wantW*xm
		lm := m.GetLinear()
		if !linClose(lm.Weights[0], wantW, 1e-10) || !linClose(lm.Intercepts[0], wantB, 1e-10) {
			t.Errorf("alpha %g: w, b = %g, %g; want %g, %g", alpha, lm.Weights[0], lm.Intercepts[0], wantW, wantB)
		}
	}
}

func TestRidgeNormalEquations(t *testing.T) {
	// At the ridge optimum Xcᵀ(Xc w − yc) + alpha w = 0.
	ds := linLinearData(5, 60, []float64{1, -2, 0.3, 4}, 0.7, 1)
	for _, alpha := range []float64{0, 0.1, 3, 100} {
		m := linFit(t, "ridge", ds, map[string]float64{"alpha": alpha})
		w := m.GetLinear().Weights
		xc, yc, _, _ := linCentre(ds.X, ds.Y)
		r := mat.NewVecDense(len(yc), nil)
		r.MulVec(xc, mat.NewVecDense(len(w), w))
		r.SubVec(r, mat.NewVecDense(len(yc), yc))
		g := mat.NewVecDense(len(w), nil)
		g.MulVec(xc.T(), r)
		for j := range w {
			if v := g.AtVec(j) + alpha*w[j]; math.Abs(v) > 1e-9 {
				t.Errorf("alpha %g: gradient[%d] = %g", alpha, j, v)
			}
		}
		if alpha == 0 {
			ols := linFit(t, "linear_regression", ds, nil).GetLinear()
			for j := range w {
				if !linClose(w[j], ols.Weights[j], 1e-10) {
					t.Errorf("alpha 0: w[%d] = %g, OLS %g", j, w[j], ols.Weights[j])
				}
			}
		}
	}
}

func TestRidgeSingularFallsBackToMinimumNorm(t *testing.T) {
	ds := linLinearData(2, 20, []float64{2, 0}, 1, 0)
	for i := range ds.Y {
		ds.X.Set(i, 1, ds.X.At(i, 0))
	}
	m := linFit(t, "ridge", ds, map[string]float64{"alpha": 0})
	w := m.GetLinear().Weights
	if !linClose(w[0], 1, 1e-9) || !linClose(w[1], 1, 1e-9) {
		t.Errorf("w = %v, want [1 1]", w)
	}
}

func TestLogisticGradientMatchesFiniteDifferences(t *testing.T) {
	for _, tc := range []struct {
		k        int
		weighted bool
	}{{2, false}, {3, false}, {5, false}, {2, true}, {3, true}, {5, true}} {
		k := tc.k
		ds := linBlobs(uint64(k), 40, 3, k, 1)
		var classW []float64
		if tc.weighted {
			// Arbitrary positive weights exercise the weighted loss
			// beyond the balanced ones.
			classW = make([]float64, k)
			for c := range classW {
				classW[c] = 0.3 + 0.7*float64(c)
			}
		}
		obj := newLogisticObjective(ds, 0.7, classW)
		rng := rand.New(rand.NewPCG(1, 2))
		theta := make([]float64, obj.dim())
		for i := range theta {
			theta[i] = rng.NormFloat64()
		}
		grad := make([]float64, len(theta))
		obj.eval(theta, grad)
		const h = 1e-6
		for i := range theta {
			orig := theta[i]
			theta[i] = orig + h
			fp := obj.eval(theta, nil)
			theta[i] = orig - h
			fm := obj.eval(theta, nil)
			theta[i] = orig
			fd := (fp - fm) / (2 * h)
			if math.Abs(fd-grad[i]) > 1e-7*math.Max(1, math.Abs(fd)) {
				t.Errorf("k=%d weighted=%v: d/dθ[%d]: analytic %g, finite difference %g", k, tc.weighted, i, grad[i], fd)
			}
		}
	}
}

// linSolveSymmetric finds the root of w − 2C/(1+e^w), the optimum of the
// symmetric two-point problem below, by bisection.
func linSolveSymmetric(c float64) float64 {
	lo, hi := 0.0, 2*c
	for i := 0; i < 200; i++ {
		mid := (lo + hi) / 2
		if mid-2*c/(1+math.Exp(mid)) > 0 {
			hi = mid
		} else {
			lo = mid
		}
	}
	return (lo + hi) / 2
}

func TestLogisticRegressionKnownOptimum(t *testing.T) {
	// Points x = +1 (class 1) and x = −1 (class 0). By symmetry b = 0 and
	// the objective is 2C·log(1+e^{−w}) + w²/2, minimised where
	// w = 2C / (1 + e^w).
	for _, c := range []float64{0.1, 1, 10} {
		ds := &Dataset{
			X: mat.NewDense(2, 1, []float64{1, -1}), Y: []float64{1, 0},
			Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 2,
		}
		m := linFit(t, "logistic_regression", ds, map[string]float64{"C": c, "tol": 1e-10})
		lm := m.GetLinear()
		if lm.NumOutputs != 1 {
			t.Fatalf("binary model has %d outputs, want 1", lm.NumOutputs)
		}
		want := linSolveSymmetric(c)
		if !linClose(lm.Weights[0], want, 1e-7) || math.Abs(lm.Intercepts[0]) > 1e-7 {
			t.Errorf("C=%g: w, b = %.10g, %.3g; want %.10g, 0", c, lm.Weights[0], lm.Intercepts[0], want)
		}
		if !lm.Converged || lm.Iterations < 1 {
			t.Errorf("C=%g: converged %v after %d iterations", c, lm.Converged, lm.Iterations)
		}
	}
}

func TestLogisticRegressionInterceptOnly(t *testing.T) {
	// A feature that is always 0 carries no information: the unpenalised
	// intercepts alone fit the class frequencies.
	tests := []struct {
		name   string
		labels []float64
		k      int
		want   []float64
	}{
		{"binary", []float64{0, 1, 1, 1}, 2, []float64{0.25, 0.75}},
		{"three classes", []float64{0, 0, 1, 1, 1, 2, 2, 2, 2, 2}, 3, []float64{0.2, 0.3, 0.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(tc.labels)
			ds := &Dataset{
				X: mat.NewDense(n, 1, nil), Y: tc.labels,
				Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: tc.k,
			}
			m := linFit(t, "logistic_regression", ds, map[string]float64{"tol": 1e-10})
			p := linPredict(t, m, mat.NewDense(1, 1, []float64{0}))
			for c, want := range tc.want {
				if !linClose(p.At(0, c), want, 1e-7) {
					t.Errorf("P(class %d) = %g, want %g", c, p.At(0, c), want)
				}
			}
		})
	}
}

func TestLogisticRegressionOptimality(t *testing.T) {
	// Overlapping blobs: the optimum is interior and the gradient of the
	// objective must vanish there (to the requested tolerance).
	for _, k := range []int{2, 4} {
		ds := linBlobs(9, 300, 4, k, 1)
		const tol = 1e-8
		m := linFit(t, "logistic_regression", ds, map[string]float64{"C": 2, "tol": tol})
		lm := m.GetLinear()
		if !lm.Converged {
			t.Errorf("k=%d: not converged after %d iterations", k, lm.Iterations)
		}
		obj := newLogisticObjective(ds, 2, nil)
		theta := append(append([]float64(nil), lm.Weights...), lm.Intercepts...)
		grad := make([]float64, len(theta))
		obj.eval(theta, grad)
		for i, g := range grad {
			if math.Abs(g) > tol {
				t.Errorf("k=%d: gradient[%d] = %g at the solution", k, i, g)
			}
		}
	}
}

func TestLogisticRegressionBlobsAccuracy(t *testing.T) {
	ds := linBlobs(42, 1200, 5, 4, 3)
	train, test := linSplit(ds, 900)
	m := linFit(t, "logistic_regression", train, nil)
	p := linPredict(t, m, test.X)
	if acc := linAccuracy(p, test.Y); acc < 0.9 {
		t.Errorf("accuracy %g < 0.9", acc)
	}
	n, k := p.Dims()
	for i := 0; i < n; i++ {
		var s float64
		for c := 0; c < k; c++ {
			s += p.At(i, c)
		}
		if !linClose(s, 1, 1e-12) {
			t.Fatalf("row %d: probabilities sum to %g", i, s)
		}
	}
	if len(m.FeatureImportances) != 5 {
		t.Errorf("%d importances for 5 features", len(m.FeatureImportances))
	}
}

func TestLogisticRegressionProgressAndCancel(t *testing.T) {
	ds := linBlobs(1, 200, 3, 3, 1)
	var calls int
	var last string
	var lastDone int64 = -1
	progress := func(done, total int64, loss float64, msg string) {
		calls++
		if done < lastDone {
			t.Errorf("progress went back from %d to %d", lastDone, done)
		}
		lastDone, last = done, msg
		if total != 1000 {
			t.Errorf("total = %d, want max_iter 1000", total)
		}
	}
	if _, err := Fit(context.Background(), "logistic_regression", ds, nil, 0, progress); err != nil {
		t.Fatal(err)
	}
	if calls < 2 || last != "done" {
		t.Errorf("%d progress calls, last %q", calls, last)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fit(ctx, "logistic_regression", ds, nil, 0, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled fit: err = %v, want context.Canceled", err)
	}
}

func TestLogisticRegressionIterationLimit(t *testing.T) {
	ds := linBlobs(4, 300, 4, 3, 1)
	m := linFit(t, "logistic_regression", ds, map[string]float64{"max_iter": 2, "tol": 1e-12})
	lm := m.GetLinear()
	if lm.Iterations > 2 || lm.Converged {
		t.Errorf("max_iter 2: %d iterations, converged %v", lm.Iterations, lm.Converged)
	}
}

func TestFitRejectsNonFinite(t *testing.T) {
	for _, name := range []string{"logistic_regression", "linear_regression", "ridge", "knn", "naive_bayes"} {
		s, _ := Lookup(name)
		var ds *Dataset
		if s.Supports(datav1.Task_TASK_CLASSIFICATION) {
			ds = linBlobs(1, 20, 2, 2, 1)
		} else {
			ds = linLinearData(1, 20, []float64{1, 2}, 0, 0)
		}
		ds.X.Set(12, 1, math.NaN())
		_, err := Fit(context.Background(), name, ds, nil, 0, nil)
		want := `row 12, feature "x1": not a finite number`
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %q", name, err, want)
		}
		ds.X.Set(12, 1, math.Inf(1))
		ds.FeatureNames = nil
		if _, err := Fit(context.Background(), name, ds, nil, 0, nil); err == nil || !strings.Contains(err.Error(), "feature 1") {
			t.Errorf("%s with +Inf and no names: err = %v", name, err)
		}
	}
}

// linAllModels fits every algorithm of this file set on small data.
func linAllModels(t testing.TB) []*datav1.Model {
	cls := linBlobs(3, 120, 3, 3, 2)
	bin := linBlobs(4, 80, 2, 2, 2)
	reg := linLinearData(5, 100, []float64{1, -1, 2}, 0.5, 0.1)
	return []*datav1.Model{
		linFit(t, "logistic_regression", cls, nil),
		linFit(t, "logistic_regression", bin, nil),
		linFit(t, "linear_regression", reg, nil),
		linFit(t, "ridge", reg, map[string]float64{"alpha": 2}),
		linFit(t, "knn", cls, map[string]float64{"k": 7}),
		linFit(t, "knn", reg, map[string]float64{"k": 3, "distance_weighted": 1}),
		linFit(t, "naive_bayes", cls, nil),
	}
}

func TestModelsDeterministicAndRoundTrip(t *testing.T) {
	first, second := linAllModels(t), linAllModels(t)
	for i, m := range first {
		if !proto.Equal(m, second[i]) {
			t.Errorf("%s: two fits with the same data and seed differ", m.Algorithm)
		}
		X := mat.NewDense(9, len(m.FeatureNames), nil)
		rng := rand.New(rand.NewPCG(uint64(i), 0))
		for r := 0; r < 9; r++ {
			for c := range m.FeatureNames {
				X.Set(r, c, 3*rng.NormFloat64())
			}
		}
		want := linPredict(t, m, X)
		got := linPredict(t, linRoundTrip(t, m), X)
		if !mat.Equal(want, got) {
			t.Errorf("%s: predictions differ after marshal/unmarshal", m.Algorithm)
		}
	}
}

func TestLinearPredictRejectsCorruptModels(t *testing.T) {
	good := func() *datav1.Model {
		return &datav1.Model{
			Algorithm: "logistic_regression", Task: datav1.Task_TASK_CLASSIFICATION,
			ClassNames: []string{"a", "b", "c"},
			Parameters: &datav1.Model_Linear{Linear: &datav1.LinearModel{
				NumOutputs: 3, NumFeatures: 2, Weights: []float64{1, 2, 3, 4, 5, 6}, Intercepts: []float64{0, 0, 0},
			}},
		}
	}
	tests := []struct {
		name   string
		mutate func(m *datav1.Model)
		x      *mat.Dense
	}{
		{"no parameters", func(m *datav1.Model) { m.Parameters = nil }, nil},
		{"knn parameters", func(m *datav1.Model) { m.Parameters = &datav1.Model_Knn{Knn: &datav1.KnnModel{}} }, nil},
		{"zero outputs", func(m *datav1.Model) { m.GetLinear().NumOutputs = 0 }, nil},
		{"negative features", func(m *datav1.Model) { m.GetLinear().NumFeatures = -2 }, nil},
		{"short weights", func(m *datav1.Model) { m.GetLinear().Weights = m.GetLinear().Weights[:5] }, nil},
		{"short intercepts", func(m *datav1.Model) { m.GetLinear().Intercepts = nil }, nil},
		{"NaN weight", func(m *datav1.Model) { m.GetLinear().Weights[3] = math.NaN() }, nil},
		{"Inf intercept", func(m *datav1.Model) { m.GetLinear().Intercepts[1] = math.Inf(-1) }, nil},
		{"outputs vs classes", func(m *datav1.Model) { m.ClassNames = []string{"a", "b"} }, nil},
		{"huge dims", func(m *datav1.Model) {
			m.GetLinear().NumOutputs, m.GetLinear().NumFeatures = math.MaxInt32, math.MaxInt32
		}, nil},
		{"wrong width", func(*datav1.Model) {}, mat.NewDense(2, 3, nil)},
		{"NaN input", func(*datav1.Model) {}, mat.NewDense(1, 2, []float64{0, math.NaN()})},
		{"empty input", func(*datav1.Model) {}, &mat.Dense{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			if _, err := Predict(m, mat.NewDense(2, 2, nil)); err != nil {
				t.Fatalf("good model: %v", err)
			}
			tc.mutate(m)
			x := tc.x
			if x == nil {
				x = mat.NewDense(2, 2, nil)
			}
			if _, err := Predict(m, x); err == nil {
				t.Error("no error")
			}
		})
	}
	reg := &datav1.Model{Algorithm: "ridge", Parameters: &datav1.Model_Linear{Linear: &datav1.LinearModel{
		NumOutputs: 2, NumFeatures: 1, Weights: []float64{1, 2}, Intercepts: []float64{0, 0},
	}}}
	if _, err := Predict(reg, mat.NewDense(1, 1, nil)); err == nil {
		t.Error("regression model with 2 outputs: no error")
	}
}

// FuzzLinPredictModel decodes arbitrary bytes as a model and runs every
// predictor of this file set on it: corrupt models must give errors, never
// panics, and accepted models must give one output row per input row.
func FuzzLinPredictModel(f *testing.F) {
	for _, m := range linAllModels(f) {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(len(m.FeatureNames)))
	}
	names := []string{"logistic_regression", "linear_regression", "ridge", "knn", "naive_bayes"}
	f.Fuzz(func(t *testing.T, data []byte, width uint8) {
		var m datav1.Model
		if proto.Unmarshal(data, &m) != nil {
			return
		}
		c := int(width%16) + 1
		X := mat.NewDense(3, c, nil)
		for i := 0; i < 3; i++ {
			for j := 0; j < c; j++ {
				X.Set(i, j, float64(i*c+j)-4)
			}
		}
		for _, name := range names {
			s, _ := Lookup(name)
			out, err := s.Predict(&m, X)
			if err != nil {
				continue
			}
			r, _ := out.Dims()
			if r != 3 {
				t.Fatalf("%s: %d output rows for 3 inputs", name, r)
			}
		}
	})
}

func BenchmarkLogisticRegressionFit(b *testing.B) {
	ds := linBlobs(1, 2000, 10, 3, 1.5)
	s, _ := Lookup("logistic_regression")
	params, err := s.ResolveParams(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Fit(context.Background(), ds, params, 1, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// balancedImbalanced returns a two-class problem where class 1 holds about
// 5% of the rows and is shifted by 1.5 standard deviations along two of
// four Gaussian features, so the classes overlap and an unweighted model
// favours the majority.
func balancedImbalanced(n int, seed uint64) *Dataset {
	return treeDataset(n, 4, datav1.Task_TASK_CLASSIFICATION, 2, seed, func(rng *rand.Rand, x []float64) float64 {
		y := 0.0
		if rng.Float64() < 0.05 {
			y = 1
		}
		for f := range x {
			x[f] = rng.NormFloat64()
		}
		x[0] += 1.5 * y
		x[1] += 1.5 * y
		return y
	})
}

// balancedRecall is the share of class-c rows whose most probable class
// is c.
func balancedRecall(proba *mat.Dense, y []float64, c int) float64 {
	var hit, total float64
	for i, v := range y {
		if int(v) != c {
			continue
		}
		total++
		best := 0
		for k := 1; k < proba.RawMatrix().Cols; k++ {
			if proba.At(i, k) > proba.At(i, best) {
				best = k
			}
		}
		if best == c {
			hit++
		}
	}
	return hit / total
}

func TestBalancedRaisesMinorityRecall(t *testing.T) {
	// On a 95/5 problem the balanced weights move the decision boundary
	// towards the majority, so held-out minority recall rises by a wide
	// margin. Trees need a growth limit for the weights to matter: a fully
	// grown tree's pure leaves are the same whatever the class weights (as
	// in scikit-learn).
	train, test := balancedImbalanced(2000, 1), balancedImbalanced(4000, 2)
	const margin = 0.25
	tests := []struct {
		algorithm string
		params    map[string]float64
	}{
		{"logistic_regression", nil},
		{"decision_tree", map[string]float64{"max_depth": 4}},
		{"decision_tree", map[string]float64{"min_samples_leaf": 20}},
		{"random_forest", map[string]float64{"n_estimators": 30, "min_samples_leaf": 10}},
		{"random_forest", map[string]float64{"n_estimators": 30, "max_depth": 5}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.algorithm, tc.params), func(t *testing.T) {
			recall := [2]float64{}
			for b := range 2 {
				p := map[string]float64{"balanced": float64(b)}
				for k, v := range tc.params {
					p[k] = v
				}
				m := treeFit(t, tc.algorithm, train, p, 3)
				recall[b] = balancedRecall(treePredict(t, m, test.X), test.Y, 1)
			}
			if recall[1] < recall[0]+margin || recall[1] < 0.7 {
				t.Errorf("minority recall %.3f unweighted, %.3f balanced; want balanced >= 0.7 and %.2f above", recall[0], recall[1], margin)
			}
		})
	}
}

func TestBalancedClassWeights(t *testing.T) {
	tests := []struct {
		name    string
		y       []float64
		classes int
		want    []float64
	}{
		{"equal", []float64{0, 1, 1, 0}, 2, []float64{1, 1}},
		{"3 to 1", []float64{0, 0, 1, 0}, 2, []float64{4.0 / 6, 2}},
		{"three classes", []float64{0, 1, 2, 2, 2, 2}, 3, []float64{2, 2, 0.5}},
		// scikit-learn counts only the classes present in y.
		{"absent class", []float64{0, 2, 2, 2}, 3, []float64{2, 0, 4.0 / 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := balancedClassWeights(tc.y, tc.classes)
			for k := range tc.want {
				if !linClose(got[k], tc.want[k], 1e-15) {
					t.Fatalf("weights %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func FuzzBalancedClassWeights(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1}, uint8(2))
	f.Add([]byte{3, 1, 4, 1, 5, 9, 2, 6}, uint8(10))
	f.Fuzz(func(t *testing.T, labels []byte, classes uint8) {
		k := int(classes%16) + 1
		if len(labels) == 0 {
			return
		}
		y := make([]float64, len(labels))
		for i, b := range labels {
			y[i] = float64(int(b) % k)
		}
		w := balancedClassWeights(y, k)
		if len(w) != k {
			t.Fatalf("%d weights for %d classes", len(w), k)
		}
		// Every row weighs > 0, and the rows' weights sum to n.
		var sum float64
		for _, v := range y {
			if !(w[int(v)] > 0) {
				t.Fatalf("class %g has weight %g", v, w[int(v)])
			}
			sum += w[int(v)]
		}
		if !linClose(sum, float64(len(y)), 1e-12) {
			t.Fatalf("row weights sum to %g, want %d", sum, len(y))
		}
	})
}

func TestBalancedParamValidation(t *testing.T) {
	ds := balancedImbalanced(200, 3)
	for _, name := range []string{"logistic_regression", "decision_tree", "random_forest"} {
		s, _ := Lookup(name)
		var found bool
		for _, p := range s.Params {
			if p.Name == "balanced" {
				found = p.Default == 0 && p.Min == 0 && p.Max == 1 && p.Integer
			}
		}
		if !found {
			t.Errorf("%s: no balanced param with default 0, integer in [0, 1]", name)
		}
		for _, v := range []float64{0.5, 2, -1} {
			if _, err := Fit(context.Background(), name, ds, map[string]float64{"balanced": v}, 1, nil); err == nil {
				t.Errorf("%s: balanced %g accepted", name, v)
			}
		}
		// A direct call bypasses ResolveParams; the fit checks too.
		var pe *ParamError
		if _, err := s.Fit(context.Background(), ds, map[string]float64{"balanced": 2, "C": 1, "max_iter": 10,
			"n_estimators": 1, "min_samples_split": 2, "min_samples_leaf": 1}, 1, nil); !errors.As(err, &pe) || pe.Param != "balanced" {
			t.Errorf("%s: balanced 2 gave %v, want a ParamError naming balanced", name, err)
		}
	}
}

func TestBalancedOnEqualClassesIsUnweighted(t *testing.T) {
	// With equal class counts every balanced weight is exactly 1, so the
	// model must be bit-identical to the unweighted one: the weights are
	// the only thing balanced changes.
	ds := treeDataset(600, 5, datav1.Task_TASK_CLASSIFICATION, 3, 11, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.NormFloat64()
		}
		return float64(rng.IntN(3))
	})
	for i := range ds.Y {
		ds.Y[i] = float64(i % 3)
	}
	for _, tc := range []struct {
		algorithm string
		params    map[string]float64
	}{
		{"logistic_regression", nil},
		{"decision_tree", nil},
		{"random_forest", map[string]float64{"n_estimators": 8}},
	} {
		fit := func(b float64) *datav1.Model {
			p := map[string]float64{"balanced": b}
			for k, v := range tc.params {
				p[k] = v
			}
			return treeFit(t, tc.algorithm, ds, p, 5)
		}
		a, b := fit(0), fit(1)
		// Only the recorded params (balanced 0 or 1) may differ.
		if !proto.Equal(&datav1.Model{Parameters: a.Parameters, FeatureImportances: a.FeatureImportances},
			&datav1.Model{Parameters: b.Parameters, FeatureImportances: b.FeatureImportances}) {
			t.Errorf("%s: balanced on equal classes changed the model", tc.algorithm)
		}
	}
}

func TestLogisticRegressionBalancedMatchesReplicatedRows(t *testing.T) {
	// Class weights scale each row's loss, so balanced weights w_k on a
	// data set are the same objective as unweighted rows repeated
	// w_k / w_0 times with C scaled by w_0 (when the ratios are whole).
	// Counts 4:2:1 give weights 7/12, 7/6, 7/3: ratios 1, 2, 4.
	base := linBlobs(21, 7, 2, 3, 1)
	counts := []int{4, 2, 1}
	var xs []float64
	var ys []float64
	for c, n := range counts {
		for range n {
			i := len(ys)
			xs = append(xs, base.X.RawRowView(i)...)
			ys = append(ys, float64(c))
		}
	}
	ds := &Dataset{X: mat.NewDense(len(ys), 2, xs), Y: ys, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 3}
	var rx, ry []float64
	for i, y := range ys {
		for range 1 << int(y) {
			rx = append(rx, ds.X.RawRowView(i)...)
			ry = append(ry, y)
		}
	}
	rep := &Dataset{X: mat.NewDense(len(ry), 2, rx), Y: ry, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 3}
	const c = 1.5
	w0 := 7.0 / 12
	got := linFit(t, "logistic_regression", ds, map[string]float64{"C": c, "tol": 1e-10, "balanced": 1}).GetLinear()
	want := linFit(t, "logistic_regression", rep, map[string]float64{"C": c * w0, "tol": 1e-10}).GetLinear()
	for i := range want.Weights {
		if !linClose(got.Weights[i], want.Weights[i], 1e-6) {
			t.Errorf("weights %v, want %v", got.Weights, want.Weights)
			break
		}
	}
	for i := range want.Intercepts {
		if !linClose(got.Intercepts[i], want.Intercepts[i], 1e-6) {
			t.Errorf("intercepts %v, want %v", got.Intercepts, want.Intercepts)
			break
		}
	}
}
