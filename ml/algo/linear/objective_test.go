package linear

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/algo/internal/algotest"
	"github.com/alur-ml/alur/ml/algo/internal/numeric"
)

// refLogisticEval is the logistic objective written plainly, with
// mat.Dense.Mul for X·Wᵀ and Rᵀ·X, a softmax and a logarithm per row, and
// the row losses added in row order: the reference the one-pass, chunked
// eval must agree with to rounding.
func refLogisticEval(o *logisticObjective, theta, grad []float64) float64 {
	n, _ := o.x.Dims()
	nw := o.outputs * o.features
	W := mat.NewDense(o.outputs, o.features, theta[:nw])
	b := theta[nw:]
	z := mat.NewDense(n, o.outputs, nil)
	z.Mul(o.x, W.T())
	row := make([]float64, o.classes)
	var loss float64
	for i := range n {
		zi := z.RawRowView(i)
		if o.outputs == 1 {
			row[0], row[1] = 0, zi[0]+b[0]
		} else {
			for k := range zi {
				row[k] = zi[k] + b[k]
			}
		}
		yi := o.y[i]
		lse := numeric.SoftmaxInPlace(row)
		s := 1.0
		if o.classW != nil {
			s = o.classW[yi]
		}
		if o.outputs == 1 {
			if o.classW != nil {
				loss += s * (lse - (zi[0]+b[0])*float64(yi))
				zi[0] = s * (row[1] - float64(yi))
			} else {
				loss += lse - (zi[0]+b[0])*float64(yi)
				zi[0] = row[1] - float64(yi)
			}
			continue
		}
		if o.classW != nil {
			loss += s * (lse - (zi[yi] + b[yi]))
			for k := range zi {
				zi[k] = s * row[k]
			}
			zi[yi] -= s
		} else {
			loss += lse - (zi[yi] + b[yi])
			copy(zi, row)
			zi[yi]--
		}
	}
	invN := 1 / float64(n)
	var sq float64
	for _, v := range theta[:nw] {
		sq += v * v
	}
	f := loss*invN + 0.5*o.invCN*sq
	var g mat.Dense
	g.Mul(z.T(), o.x)
	for k := range o.outputs {
		for j := range o.features {
			grad[k*o.features+j] = g.At(k, j)*invN + o.invCN*theta[k*o.features+j]
		}
	}
	for k := range o.outputs {
		var s float64
		for i := range n {
			s += z.At(i, k)
		}
		grad[nw+k] = s * invN
	}
	return f
}

// linObjectiveCases are the shapes the objective tests run on: one and
// several chunks of rows, binary (one output) and multinomial, with and
// without class weights.
var linObjectiveCases = []struct {
	name          string
	n, d, classes int
	classW        []float64
}{
	{"tiny", 100, 3, 3, nil},
	{"binary, wide", 150, 70, 2, nil},
	{"binary, wide, several chunks, weighted", 9000, 70, 2, []float64{0.7, 1.9}},
	{"multiclass, several chunks", 10000, 20, 3, nil},
	{"multiclass, wide, weighted", 5000, 130, 4, []float64{1, 2, 0.5, 1.5}},
}

func TestLogisticObjectiveMatchesReference(t *testing.T) {
	for _, tc := range linObjectiveCases {
		t.Run(tc.name, func(t *testing.T) {
			ds := algotest.Blobs(7, tc.n, tc.d, tc.classes, 1)
			rng := rand.New(rand.NewPCG(3, 5))
			o := newLogisticObjective(ds, 0.7, tc.classW)
			ref := newLogisticObjective(ds, 0.7, tc.classW)
			theta := make([]float64, o.dim())
			for round := range 3 {
				for i := range theta {
					theta[i] = rng.NormFloat64() * float64(round)
				}
				got, want := make([]float64, o.dim()), make([]float64, o.dim())
				fGot, fWant := o.eval(theta, got), refLogisticEval(ref, theta, want)
				if !algotest.Close(fGot, fWant, 1e-12) {
					t.Errorf("round %d: f = %.17g, want %.17g", round, fGot, fWant)
				}
				for i := range got {
					if math.Abs(got[i]-want[i]) > 1e-12*math.Max(1, math.Abs(want[i])) {
						t.Errorf("round %d: grad[%d] = %.17g, want %.17g", round, i, got[i], want[i])
						break
					}
				}
				if f := o.eval(theta, nil); f != fGot {
					t.Errorf("round %d: f without the gradient = %.17g, with it %.17g", round, f, fGot)
				}
			}
		})
	}
}

func TestLogisticObjectiveSameOnEveryCoreCount(t *testing.T) {
	for _, tc := range linObjectiveCases {
		t.Run(tc.name, func(t *testing.T) {
			ds := algotest.Blobs(7, tc.n, tc.d, tc.classes, 1)
			rng := rand.New(rand.NewPCG(3, 5))
			dim := newLogisticObjective(ds, 0.7, tc.classW).dim()
			theta := make([]float64, dim)
			for i := range theta {
				theta[i] = rng.NormFloat64()
			}
			type result struct {
				f       float64
				grad    []float64
				hessian []float64
			}
			at := func(procs int) result {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				o := newLogisticObjective(ds, 0.7, tc.classW)
				o.hessRows = tc.n / 3 // a subset of the rows, evenly spaced
				r := result{grad: make([]float64, dim)}
				r.f = o.eval(theta, r.grad)
				h := mat.NewSymDense(dim, nil)
				o.hessian(h, theta)
				r.hessian = h.RawSymmetric().Data
				return r
			}
			want := at(1)
			for _, procs := range []int{2, 3, 8} {
				got := at(procs)
				if math.Float64bits(got.f) != math.Float64bits(want.f) {
					t.Errorf("GOMAXPROCS %d: f = %v, on one core %v", procs, got.f, want.f)
				}
				for i := range got.grad {
					if math.Float64bits(got.grad[i]) != math.Float64bits(want.grad[i]) {
						t.Errorf("GOMAXPROCS %d: grad[%d] = %v, on one core %v", procs, i, got.grad[i], want.grad[i])
						break
					}
				}
				for i := range got.hessian {
					if math.Float64bits(got.hessian[i]) != math.Float64bits(want.hessian[i]) {
						t.Errorf("GOMAXPROCS %d: Hessian data[%d] = %v, on one core %v", procs, i, got.hessian[i], want.hessian[i])
						break
					}
				}
			}
		})
	}
}

// linFDHessian is the Hessian of o at theta by central differences of its
// gradient, symmetrised.
func linFDHessian(o *logisticObjective, theta []float64) *mat.Dense {
	dim := len(theta)
	h := mat.NewDense(dim, dim, nil)
	gp, gm := make([]float64, dim), make([]float64, dim)
	const eps = 1e-5
	for a := range theta {
		orig := theta[a]
		theta[a] = orig + eps
		o.eval(theta, gp)
		theta[a] = orig - eps
		o.eval(theta, gm)
		theta[a] = orig
		for b := range theta {
			h.Set(a, b, (gp[b]-gm[b])/(2*eps))
		}
	}
	var sym mat.Dense
	sym.Add(h, h.T())
	sym.Scale(0.5, &sym)
	return &sym
}

// linCompareHessian checks that got (with u uᵀ on the intercepts when there
// are several outputs, see hessian) is want.
func linCompareHessian(t *testing.T, got *mat.SymDense, want *mat.Dense, outputs, features int) {
	t.Helper()
	dim, _ := want.Dims()
	nw := outputs * features
	for a := range dim {
		for b := range dim {
			w := want.At(a, b)
			if outputs > 1 && a >= nw && b >= nw {
				w++
			}
			if g := got.At(a, b); math.Abs(g-w) > 1e-6*math.Max(1, math.Abs(w)) {
				t.Errorf("H[%d][%d] = %.10g, want %.10g", a, b, g, w)
				return
			}
		}
	}
}

func TestLogisticHessianMatchesFiniteDifferences(t *testing.T) {
	tests := []struct {
		name     string
		k        int
		classW   []float64
		hessRows int // 0: every row
	}{
		{"binary", 2, nil, 0},
		{"binary, weighted", 2, []float64{0.4, 1.6}, 0},
		{"three classes", 3, nil, 0},
		{"five classes, weighted", 5, []float64{0.3, 1, 1.7, 2.4, 0.5}, 0},
		{"binary, every third row", 2, []float64{0.4, 1.6}, 40},
		{"four classes, every third row", 4, nil, 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := algotest.Blobs(uint64(tc.k), 120, 3, tc.k, 1)
			rng := rand.New(rand.NewPCG(1, 2))
			o := newLogisticObjective(ds, 0.7, tc.classW)
			theta := make([]float64, o.dim())
			for i := range theta {
				theta[i] = rng.NormFloat64()
			}
			h := mat.NewSymDense(o.dim(), nil)
			ref := o
			if tc.hessRows > 0 {
				// The Hessian from every third row is the Hessian of the
				// objective on those rows, with C scaled so that the
				// penalty per row is the same.
				o.hessRows = tc.hessRows
				n, d := ds.X.Dims()
				sub := &algo.Dataset{X: mat.NewDense(tc.hessRows, d, nil), Y: make([]float64, tc.hessRows), Task: ds.Task, NumClasses: tc.k}
				for r := range tc.hessRows {
					i := r * n / tc.hessRows
					copy(sub.X.RawRowView(r), ds.X.RawRowView(i))
					sub.Y[r] = ds.Y[i]
				}
				ref = newLogisticObjective(sub, 0.7*float64(n)/float64(tc.hessRows), tc.classW)
			}
			o.hessian(h, theta)
			linCompareHessian(t, h, linFDHessian(ref, theta), o.outputs, o.features)
		})
	}
}

func TestLogisticObjectiveEvalAllocatesNoBuffers(t *testing.T) {
	ds := algotest.Blobs(7, 2000, 10, 3, 1)
	o := newLogisticObjective(ds, 1, nil)
	theta, grad := make([]float64, o.dim()), make([]float64, o.dim())
	o.eval(theta, grad)
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	// The closure handed to numeric.Parallel is all it may allocate: no
	// buffer per call, whatever the rows.
	if a := testing.AllocsPerRun(5, func() { o.eval(theta, grad) }); a > 1 {
		t.Errorf("eval allocates %v times per call on one core, want at most 1 (the closure)", a)
	}
}

func TestLinLinesearch(t *testing.T) {
	// φ(0) = 1, φ'(0) = −1, first step 1.
	tests := []struct {
		name     string
		f, g     float64
		wantOp   optimize.Operation
		wantStep float64
	}{
		{"sufficient decrease", 0.5, -0.2, optimize.MajorIteration, 1},
		{"sufficient decrease, steep slope", 0.5, -2, optimize.MajorIteration, 1},
		{"flat within rounding, slope fell", 1 + 1e-14, -0.5, optimize.MajorIteration, 1},
		{"flat within rounding, past the minimum", 1 + 1e-14, 0.8, optimize.MajorIteration, 1},
		{"flat within rounding, slope did not fall", 1 + 1e-14, -0.95, optimize.FuncEvaluation | optimize.GradEvaluation, 0.5},
		{"increase", 1.1, 0.2, optimize.FuncEvaluation | optimize.GradEvaluation, 0.5},
		{"increase beyond rounding, slope fell", 1 + 1e-9, -0.1, optimize.FuncEvaluation | optimize.GradEvaluation, 0.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ls linLinesearch
			if op := ls.Init(1, -1, 1); op != optimize.FuncEvaluation|optimize.GradEvaluation {
				t.Fatalf("Init asks for %v, want the value and the slope", op)
			}
			op, step, err := ls.Iterate(tc.f, tc.g)
			if err != nil || op != tc.wantOp || step != tc.wantStep {
				t.Errorf("Iterate(%g, %g) = %v, %g, %v; want %v, %g", tc.f, tc.g, op, step, err, tc.wantOp, tc.wantStep)
			}
		})
	}
}

func TestLogisticHessianReusedOnlyNearWhereFormed(t *testing.T) {
	ds := algotest.Blobs(3, 500, 4, 3, 1)
	o := newLogisticObjective(ds, 1, nil)
	theta := make([]float64, o.dim())
	for i := range theta {
		theta[i] = 0.1 * float64(i%5)
	}
	first := mat.NewSymDense(o.dim(), nil)
	o.hessian(first, theta)
	fresh := func(theta []float64) *mat.SymDense {
		h := mat.NewSymDense(o.dim(), nil)
		newLogisticObjective(ds, 1, nil).hessian(h, theta)
		return h
	}
	tests := []struct {
		name   string
		move   float64 // added to every parameter
		reused bool
	}{
		{"within linReuse", 0.5 * linReuse, true},
		{"beyond linReuse", 2 * linReuse, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			moved := append([]float64(nil), theta...)
			for i := range moved {
				moved[i] += tc.move
			}
			got := mat.NewSymDense(o.dim(), nil)
			// As after a step that converged fast: a slow one forms
			// the Hessian again (see linSlowRatio).
			o.hessGmax = math.Inf(1)
			o.hessian(got, moved)
			want := fresh(moved)
			if tc.reused {
				want = first
			}
			if !mat.Equal(got, want) {
				t.Errorf("reused %v: the Hessian is not the expected one", tc.reused)
			}
			if mat.Equal(fresh(moved), first) {
				t.Fatal("the move does not change the Hessian: the test proves nothing")
			}
			o.hessGmax = math.Inf(1)
			o.hessian(got, theta) // back to the first point for the next case
		})
	}
}

func TestLogisticHessianRowsDoubleAfterSlowSteps(t *testing.T) {
	ds := algotest.Blobs(3, 1000, 4, 2, 1)
	o := newLogisticObjective(ds, 1, nil)
	o.hessRows = 300
	theta := make([]float64, o.dim())
	h := mat.NewSymDense(o.dim(), nil)
	// Each call is at a new point whose gradient is, as the fields say,
	// more than linSlowRatio of the last: 300 rows, then 600, then all
	// 1000.
	for step, want := range []int{300, 600, 1000, 1000} {
		theta[0] = 0.5 * float64(step)
		o.hessGmax = 0
		o.hessian(h, theta)
		if got := len(o.hess.rows); got != want {
			t.Errorf("step %d: Hessian on %d rows, want %d", step, got, want)
		}
	}
}
