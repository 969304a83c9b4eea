package linear

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/algo/internal/algotest"
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
			ds := algotest.LinearData(7, tc.n, tc.w, tc.b, 0)
			if tc.tweak != nil {
				tc.tweak(ds.X)
				for i := range ds.Y {
					ds.Y[i] = tc.b + mat.Dot(ds.X.RowView(i), mat.NewVecDense(len(tc.w), tc.w))
				}
			}
			m := algotest.Fit(t, "linear_regression", ds, nil)
			lm := m.GetLinear()
			for j, want := range tc.wantW {
				if !algotest.Close(lm.Weights[j], want, 1e-9) {
					t.Errorf("w[%d] = %.12g, want %g", j, lm.Weights[j], want)
				}
			}
			if !algotest.Close(lm.Intercepts[0], tc.b, 1e-9) {
				t.Errorf("b = %.12g, want %g", lm.Intercepts[0], tc.b)
			}
			pred := algotest.Predict(t, m, ds.X)
			for i, y := range ds.Y {
				if !algotest.Close(pred.At(i, 0), y, 1e-9) {
					t.Fatalf("row %d: predicted %g, want %g", i, pred.At(i, 0), y)
				}
			}
			var sum float64
			for _, v := range m.FeatureImportances {
				sum += v
			}
			if !algotest.Close(sum, 1, 1e-12) {
				t.Errorf("importances sum to %g", sum)
			}
		})
	}
}

func TestLinearRegressionMoreFeaturesThanRows(t *testing.T) {
	// Three rows, five features: infinitely many exact fits; the SVD path
	// must return one that interpolates the data with finite coefficients.
	ds := algotest.LinearData(3, 3, []float64{1, 2, 3, 4, 5}, 1, 0)
	m := algotest.Fit(t, "linear_regression", ds, nil)
	pred := algotest.Predict(t, m, ds.X)
	for i, y := range ds.Y {
		if !algotest.Close(pred.At(i, 0), y, 1e-9) {
			t.Errorf("row %d: predicted %g, want %g", i, pred.At(i, 0), y)
		}
	}
}

func TestRidgeMatchesClosedForm(t *testing.T) {
	// One feature: w = Sxy / (Sxx + alpha), b = ȳ − w x̄ with centred sums.
	ds := algotest.LinearData(11, 25, []float64{3}, -2, 0.5)
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
		m := algotest.Fit(t, "ridge", ds, map[string]float64{"alpha": alpha})
		wantW := sxy / (sxx + alpha)
		wantB := ym - wantW*xm
		lm := m.GetLinear()
		if !algotest.Close(lm.Weights[0], wantW, 1e-10) || !algotest.Close(lm.Intercepts[0], wantB, 1e-10) {
			t.Errorf("alpha %g: w, b = %g, %g; want %g, %g", alpha, lm.Weights[0], lm.Intercepts[0], wantW, wantB)
		}
	}
}

func TestRidgeNormalEquations(t *testing.T) {
	// At the ridge optimum Xcᵀ(Xc w − yc) + alpha w = 0.
	ds := algotest.LinearData(5, 60, []float64{1, -2, 0.3, 4}, 0.7, 1)
	for _, alpha := range []float64{0, 0.1, 3, 100} {
		m := algotest.Fit(t, "ridge", ds, map[string]float64{"alpha": alpha})
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
			ols := algotest.Fit(t, "linear_regression", ds, nil).GetLinear()
			for j := range w {
				if !algotest.Close(w[j], ols.Weights[j], 1e-10) {
					t.Errorf("alpha 0: w[%d] = %g, OLS %g", j, w[j], ols.Weights[j])
				}
			}
		}
	}
}

func TestRidgeSingularFallsBackToMinimumNorm(t *testing.T) {
	ds := algotest.LinearData(2, 20, []float64{2, 0}, 1, 0)
	for i := range ds.Y {
		ds.X.Set(i, 1, ds.X.At(i, 0))
	}
	m := algotest.Fit(t, "ridge", ds, map[string]float64{"alpha": 0})
	w := m.GetLinear().Weights
	if !algotest.Close(w[0], 1, 1e-9) || !algotest.Close(w[1], 1, 1e-9) {
		t.Errorf("w = %v, want [1 1]", w)
	}
}

func TestLogisticGradientMatchesFiniteDifferences(t *testing.T) {
	for _, tc := range []struct {
		k        int
		weighted bool
	}{{2, false}, {3, false}, {5, false}, {2, true}, {3, true}, {5, true}} {
		k := tc.k
		ds := algotest.Blobs(uint64(k), 40, 3, k, 1)
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
		ds := &algo.Dataset{
			X: mat.NewDense(2, 1, []float64{1, -1}), Y: []float64{1, 0},
			Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 2,
		}
		m := algotest.Fit(t, "logistic_regression", ds, map[string]float64{"C": c, "tol": 1e-10})
		lm := m.GetLinear()
		if lm.NumOutputs != 1 {
			t.Fatalf("binary model has %d outputs, want 1", lm.NumOutputs)
		}
		want := linSolveSymmetric(c)
		if !algotest.Close(lm.Weights[0], want, 1e-7) || math.Abs(lm.Intercepts[0]) > 1e-7 {
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
			ds := &algo.Dataset{
				X: mat.NewDense(n, 1, nil), Y: tc.labels,
				Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: tc.k,
			}
			m := algotest.Fit(t, "logistic_regression", ds, map[string]float64{"tol": 1e-10})
			p := algotest.Predict(t, m, mat.NewDense(1, 1, []float64{0}))
			for c, want := range tc.want {
				if !algotest.Close(p.At(0, c), want, 1e-7) {
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
		ds := algotest.Blobs(9, 300, 4, k, 1)
		const tol = 1e-8
		m := algotest.Fit(t, "logistic_regression", ds, map[string]float64{"C": 2, "tol": tol})
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
	ds := algotest.Blobs(42, 1200, 5, 4, 3)
	train, test := algotest.Split(ds, 900)
	m := algotest.Fit(t, "logistic_regression", train, nil)
	p := algotest.Predict(t, m, test.X)
	if acc := algotest.Accuracy(p, test.Y); acc < 0.9 {
		t.Errorf("accuracy %g < 0.9", acc)
	}
	n, k := p.Dims()
	for i := 0; i < n; i++ {
		var s float64
		for c := 0; c < k; c++ {
			s += p.At(i, c)
		}
		if !algotest.Close(s, 1, 1e-12) {
			t.Fatalf("row %d: probabilities sum to %g", i, s)
		}
	}
	if len(m.FeatureImportances) != 5 {
		t.Errorf("%d importances for 5 features", len(m.FeatureImportances))
	}
}

func TestLogisticRegressionProgressAndCancel(t *testing.T) {
	ds := algotest.Blobs(1, 200, 3, 3, 1)
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
	if _, err := algo.Fit(context.Background(), "logistic_regression", ds, nil, 0, progress); err != nil {
		t.Fatal(err)
	}
	if calls < 2 || last != "done" {
		t.Errorf("%d progress calls, last %q", calls, last)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := algo.Fit(ctx, "logistic_regression", ds, nil, 0, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled fit: err = %v, want context.Canceled", err)
	}
}

func TestLogisticRegressionIterationLimit(t *testing.T) {
	ds := algotest.Blobs(4, 300, 4, 3, 1)
	m := algotest.Fit(t, "logistic_regression", ds, map[string]float64{"max_iter": 2, "tol": 1e-12})
	lm := m.GetLinear()
	if lm.Iterations > 2 || lm.Converged {
		t.Errorf("max_iter 2: %d iterations, converged %v", lm.Iterations, lm.Converged)
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
			if _, err := algo.Predict(m, mat.NewDense(2, 2, nil)); err != nil {
				t.Fatalf("good model: %v", err)
			}
			tc.mutate(m)
			x := tc.x
			if x == nil {
				x = mat.NewDense(2, 2, nil)
			}
			if _, err := algo.Predict(m, x); err == nil {
				t.Error("no error")
			}
		})
	}
	reg := &datav1.Model{Algorithm: "ridge", Parameters: &datav1.Model_Linear{Linear: &datav1.LinearModel{
		NumOutputs: 2, NumFeatures: 1, Weights: []float64{1, 2}, Intercepts: []float64{0, 0},
	}}}
	if _, err := algo.Predict(reg, mat.NewDense(1, 1, nil)); err == nil {
		t.Error("regression model with 2 outputs: no error")
	}
}

// BenchmarkLogisticRegressionFit fits with the default parameters: a small
// problem, and the shape of the benchmark harness's (160000 train rows ×
// 20 features) with two and with three overlapping classes.
func BenchmarkLogisticRegressionFit(b *testing.B) {
	cases := []struct {
		name string
		ds   func() *algo.Dataset
	}{
		{"2000x10_3classes", func() *algo.Dataset { return algotest.Blobs(1, 2000, 10, 3, 1.5) }},
		{"160000x20_2classes", func() *algo.Dataset { return algotest.BenchData(160000) }},
		{"160000x20_3classes", func() *algo.Dataset { return algotest.Blobs(2, 160000, 20, 3, 0.3) }},
	}
	s, _ := algo.Lookup("logistic_regression")
	params, err := s.ResolveParams(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range cases {
		ds := bc.ds()
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Fit(context.Background(), ds, params, 1, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestLogisticRegressionBalancedMatchesReplicatedRows(t *testing.T) {
	// Class weights scale each row's loss, so balanced weights w_k on a
	// data set are the same objective as unweighted rows repeated
	// w_k / w_0 times with C scaled by w_0 (when the ratios are whole).
	// Counts 4:2:1 give weights 7/12, 7/6, 7/3: ratios 1, 2, 4.
	base := algotest.Blobs(21, 7, 2, 3, 1)
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
	ds := &algo.Dataset{X: mat.NewDense(len(ys), 2, xs), Y: ys, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 3}
	var rx, ry []float64
	for i, y := range ys {
		for range 1 << int(y) {
			rx = append(rx, ds.X.RawRowView(i)...)
			ry = append(ry, y)
		}
	}
	rep := &algo.Dataset{X: mat.NewDense(len(ry), 2, rx), Y: ry, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 3}
	const c = 1.5
	w0 := 7.0 / 12
	got := algotest.Fit(t, "logistic_regression", ds, map[string]float64{"C": c, "tol": 1e-10, "balanced": 1}).GetLinear()
	want := algotest.Fit(t, "logistic_regression", rep, map[string]float64{"C": c * w0, "tol": 1e-10}).GetLinear()
	for i := range want.Weights {
		if !algotest.Close(got.Weights[i], want.Weights[i], 1e-6) {
			t.Errorf("weights %v, want %v", got.Weights, want.Weights)
			break
		}
	}
	for i := range want.Intercepts {
		if !algotest.Close(got.Intercepts[i], want.Intercepts[i], 1e-6) {
			t.Errorf("intercepts %v, want %v", got.Intercepts, want.Intercepts)
			break
		}
	}
}

// linSeparable returns n rows of d features whose class is the sign of the
// first feature, with a margin: the unpenalised problem has no optimum, so
// only the penalty keeps the weights finite.
func linSeparable(n, d int) *algo.Dataset {
	rng := rand.New(rand.NewPCG(8, 9))
	X := mat.NewDense(n, d, nil)
	y := make([]float64, n)
	for i := range n {
		for j := range d {
			X.Set(i, j, rng.NormFloat64())
		}
		if X.At(i, 0) > 0 {
			y[i] = 1
			X.Set(i, 0, X.At(i, 0)+0.5)
		} else {
			X.Set(i, 0, X.At(i, 0)-0.5)
		}
	}
	return &algo.Dataset{X: X, Y: y, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 2}
}

func TestLogisticNewtonMatchesLBFGS(t *testing.T) {
	// Newton's method (the fit's choice for many rows and few parameters)
	// and L-BFGS (otherwise) minimise the same objective: both must stop
	// at the same optimum, including where the Hessian is ill-conditioned.
	wide := algotest.Blobs(5, 400, 6, 3, 1)
	for i := range 400 {
		// A column a thousand times larger than the others and a nearly
		// collinear one: the Hessian's condition number grows by 1e6.
		wide.X.Set(i, 0, 1000*wide.X.At(i, 0))
		wide.X.Set(i, 1, wide.X.At(i, 2)+1e-4*wide.X.At(i, 1))
	}
	missing := algotest.Blobs(6, 300, 3, 4, 1)
	for i, y := range missing.Y {
		if y == 3 {
			missing.Y[i] = 0 // class 3 has no rows: its intercept goes to −∞
		}
	}
	tests := []struct {
		name     string
		ds       *algo.Dataset
		c        float64
		classW   []float64
		hessRows int     // 0: every row
		thetaTol float64 // 0: compare the predicted probabilities only
		lbfgsTol float64 // how close to the tolerance L-BFGS gets
	}{
		{"binary", algotest.Blobs(1, 500, 4, 2, 1), 1, nil, 0, 1e-6, 1e-7},
		{"binary, weighted, C 0.01", algotest.Blobs(2, 500, 4, 2, 1), 0.01, []float64{0.3, 2}, 0, 1e-6, 1e-7},
		{"three classes, C 100", algotest.Blobs(3, 600, 5, 3, 1), 100, nil, 0, 1e-6, 1e-7},
		{"five classes, weighted", algotest.Blobs(4, 800, 4, 5, 1), 1, []float64{1, 0.5, 2, 1.5, 0.8}, 0, 1e-6, 1e-7},
		{"three classes, Hessian from a fifth of the rows", algotest.Blobs(3, 3000, 5, 3, 1), 2, nil, 600, 1e-6, 1e-7},
		{"binary, Hessian from a tenth of the rows, weighted", algotest.Blobs(7, 3000, 8, 2, 0.5), 1, []float64{2, 0.7}, 300, 1e-6, 1e-7},
		{"ill-conditioned", wide, 1, nil, 0, 1e-4, 1e-5},
		{"separable, C 1e4", linSeparable(300, 3), 1e4, nil, 0, 1e-3, 1e-7},
		{"separable blobs, C 1e3", algotest.Blobs(8, 300, 2, 3, 8), 1e3, nil, 0, 1e-3, 1e-7},
		// Without an optimum (the empty class's intercept decreases for
		// ever) the two stop at different points with the same
		// predictions.
		{"class without rows", missing, 1, nil, 0, 0, 1e-7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const tol = 1e-9
			var thetas [2][]float64
			var probs [2]*mat.Dense
			for m, newton := range []bool{false, true} {
				o := newLogisticObjective(tc.ds, tc.c, tc.classW)
				if tc.hessRows > 0 {
					o.hessRows = tc.hessRows
				}
				res, err := o.minimise(context.Background(), make([]float64, o.dim()), newton, tol, 5000, nil)
				if res == nil {
					t.Fatalf("newton %v: %v", newton, err)
				}
				g := make([]float64, o.dim())
				o.eval(res.Location.X, g)
				gmax := 0.0
				for _, v := range g {
					gmax = math.Max(gmax, math.Abs(v))
				}
				// L-BFGS may stop short of the tolerance where the
				// objective no longer decreases in floating point;
				// Newton's steps get there.
				if limit := map[bool]float64{true: tol, false: tc.lbfgsTol}[newton]; gmax > limit || !algo.AllFinite(res.Location.X) {
					t.Errorf("newton %v: largest gradient component %g after %d iterations (status %v, %v)", newton, gmax, res.Stats.MajorIterations, res.Status, err)
				}
				thetas[m] = res.Location.X
				nw := o.outputs * o.features
				probs[m] = algotest.Predict(t, &datav1.Model{
					Algorithm: "logistic_regression", Task: datav1.Task_TASK_CLASSIFICATION,
					ClassNames: algotest.Names("class", tc.ds.NumClasses),
					Parameters: &datav1.Model_Linear{Linear: &datav1.LinearModel{
						NumOutputs: int32(o.outputs), NumFeatures: int32(o.features),
						Weights: res.Location.X[:nw], Intercepts: res.Location.X[nw:],
					}},
				}, tc.ds.X)
			}
			for i := range thetas[0] {
				if tc.thetaTol > 0 && math.Abs(thetas[0][i]-thetas[1][i]) > tc.thetaTol*math.Max(1, math.Abs(thetas[0][i])) {
					t.Errorf("θ[%d]: L-BFGS %.10g, Newton %.10g", i, thetas[0][i], thetas[1][i])
				}
			}
			if !mat.EqualApprox(probs[0], probs[1], 1e-5) {
				t.Errorf("the predicted probabilities differ by more than 1e-5")
			}
		})
	}
}

func TestLogisticRegressionSameModelOnEveryCoreCount(t *testing.T) {
	ds := algotest.Blobs(3, 9000, 6, 3, 1) // two chunks of rows, Hessian from 8192
	fit := func(procs int) *datav1.LinearModel {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		return algotest.Fit(t, "logistic_regression", ds, map[string]float64{"balanced": 1}).GetLinear()
	}
	want := fit(1)
	got := fit(3)
	for i := range want.Weights {
		if math.Float64bits(got.Weights[i]) != math.Float64bits(want.Weights[i]) {
			t.Fatalf("weights on 3 cores %v, on 1 core %v", got.Weights, want.Weights)
		}
	}
	for i := range want.Intercepts {
		if math.Float64bits(got.Intercepts[i]) != math.Float64bits(want.Intercepts[i]) {
			t.Fatalf("intercepts on 3 cores %v, on 1 core %v", got.Intercepts, want.Intercepts)
		}
	}
}

func TestLogisticUsesNewtonForManyRowsAndFewParameters(t *testing.T) {
	tests := []struct {
		name     string
		n, d, k  int
		newton   bool
		lbfgsWhy string
	}{
		{"the benchmark's shape", 160000, 20, 3, true, ""},
		{"binary, the benchmark's shape", 160000, 20, 2, true, ""},
		{"a million rows, 200 features", 1000000, 200, 2, true, ""},
		{"small", 2000, 10, 3, false, "a Hessian on every row costs more than a pass"},
		{"wide", 60000, 120, 2, false, "a Hessian of 121² entries on 8192 rows costs more than a pass"},
		{"too many parameters", 1000000, 100, 3, false, "303 parameters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outputs := tc.k
			if tc.k == 2 {
				outputs = 1
			}
			dim := outputs * (tc.d + 1)
			rows := max(linHessianRows, linHessianRowsPerParam*dim)
			if got := linUseNewton(tc.n, tc.d, outputs, rows); got != tc.newton {
				t.Errorf("Newton %v, want %v %s", got, tc.newton, tc.lbfgsWhy)
			}
		})
	}
}
