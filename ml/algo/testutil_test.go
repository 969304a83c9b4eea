package algo

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// linBlobs returns a classification dataset of k Gaussian blobs in d
// dimensions (unit variance, centres spread by sep), n rows in class order
// shuffled by a fixed seed.
func linBlobs(seed uint64, n, d, k int, sep float64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	centres := make([][]float64, k)
	for c := range centres {
		centres[c] = make([]float64, d)
		for j := range centres[c] {
			centres[c][j] = sep * rng.NormFloat64()
		}
	}
	X := mat.NewDense(n, d, nil)
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		c := rng.IntN(k)
		y[i] = float64(c)
		for j := 0; j < d; j++ {
			X.Set(i, j, centres[c][j]+rng.NormFloat64())
		}
	}
	return &Dataset{
		X: X, Y: y, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: k,
		FeatureNames: linNames("x", d), ClassNames: linNames("class", k),
	}
}

// linLinearData returns a regression dataset y = X w + b + noise·N(0,1) with
// X uniform on [-2, 2].
func linLinearData(seed uint64, n int, w []float64, b, noise float64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	d := len(w)
	X := mat.NewDense(n, d, nil)
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		s := b
		for j := 0; j < d; j++ {
			v := 4*rng.Float64() - 2
			X.Set(i, j, v)
			s += w[j] * v
		}
		y[i] = s + noise*rng.NormFloat64()
	}
	return &Dataset{X: X, Y: y, Task: datav1.Task_TASK_REGRESSION, FeatureNames: linNames("x", d)}
}

// linNames returns prefix0, prefix1, ….
func linNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// linFit fits the named algorithm through the registry, failing the test on
// error.
func linFit(t testing.TB, name string, ds *Dataset, params map[string]float64) *datav1.Model {
	t.Helper()
	m, err := Fit(context.Background(), name, ds, params, 1, nil)
	if err != nil {
		t.Fatalf("Fit(%s): %v", name, err)
	}
	return m
}

// linPredict predicts through the registry, failing the test on error.
func linPredict(t testing.TB, m *datav1.Model, X *mat.Dense) *mat.Dense {
	t.Helper()
	p, err := Predict(m, X)
	if err != nil {
		t.Fatalf("Predict(%s): %v", m.GetAlgorithm(), err)
	}
	return p
}

// linAccuracy is the share of rows whose most probable class is the label.
func linAccuracy(proba *mat.Dense, y []float64) float64 {
	n, k := proba.Dims()
	var correct int
	for i := 0; i < n; i++ {
		best := 0
		for c := 1; c < k; c++ {
			if proba.At(i, c) > proba.At(i, best) {
				best = c
			}
		}
		if float64(best) == y[i] {
			correct++
		}
	}
	return float64(correct) / float64(n)
}

// linRoundTrip marshals and unmarshals a model, as storing it does.
func linRoundTrip(t testing.TB, m *datav1.Model) *datav1.Model {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out datav1.Model
	if err := proto.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// linClose reports whether a and b agree within an absolute or relative tol.
func linClose(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// linSplit splits a dataset into its first n rows and the rest.
func linSplit(ds *Dataset, n int) (train, test *Dataset) {
	r, c := ds.X.Dims()
	head := *ds
	head.X = mat.DenseCopyOf(ds.X.Slice(0, n, 0, c))
	head.Y = ds.Y[:n]
	tail := *ds
	tail.X = mat.DenseCopyOf(ds.X.Slice(n, r, 0, c))
	tail.Y = ds.Y[n:]
	return &head, &tail
}
