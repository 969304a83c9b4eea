package linear

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/algo/internal/algotest"
	"github.com/alur-ml/alur/ml/algo/internal/numeric"
)

// refLogisticEval is the logistic objective written with mat.Dense.Mul
// for X·Wᵀ and Rᵀ·X, as it was before the row pass: the reference the
// allocation-free, parallel eval must match bit for bit.
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

func TestLogisticObjectiveMatchesMatMulBitForBit(t *testing.T) {
	tests := []struct {
		name          string
		n, d, classes int
		classW        []float64
	}{
		{"tiny, unblocked", 100, 3, 3, nil},
		{"binary, wide, unblocked", 150, 70, 2, nil},
		{"binary, wide, blocked, weighted", 3000, 70, 2, []float64{0.7, 1.9}},
		{"multiclass, blocked, several chunks", 10000, 20, 3, nil},
		{"multiclass, wider than a block, weighted", 5000, 130, 4, []float64{1, 2, 0.5, 1.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := algotest.Blobs(7, tc.n, tc.d, tc.classes, 1)
			rng := rand.New(rand.NewPCG(3, 5))
			for _, procs := range []int{1, 3} {
				old := runtime.GOMAXPROCS(procs)
				o := newLogisticObjective(ds, 0.7, tc.classW)
				ref := newLogisticObjective(ds, 0.7, tc.classW)
				theta := make([]float64, o.dim())
				for round := range 3 {
					for i := range theta {
						theta[i] = rng.NormFloat64() * float64(round)
					}
					got, want := make([]float64, o.dim()), make([]float64, o.dim())
					fGot, fWant := o.eval(theta, got), refLogisticEval(ref, theta, want)
					if math.Float64bits(fGot) != math.Float64bits(fWant) {
						t.Errorf("GOMAXPROCS %d, round %d: f = %v, want %v", procs, round, fGot, fWant)
					}
					for i := range got {
						if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
							t.Errorf("GOMAXPROCS %d, round %d: grad[%d] = %v, want %v", procs, round, i, got[i], want[i])
							break
						}
					}
				}
				runtime.GOMAXPROCS(old)
			}
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
	// The two closures handed to numeric.Parallel are all it may allocate:
	// no buffer per call, whatever the rows.
	if a := testing.AllocsPerRun(5, func() { o.eval(theta, grad) }); a > 2 {
		t.Errorf("eval allocates %v times per call on one core, want at most 2 (the closures)", a)
	}
}
