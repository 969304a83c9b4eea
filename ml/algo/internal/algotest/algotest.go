// Package algotest holds the datasets and fit/predict shortcuts that the
// algorithm packages' tests share. It imports no algorithm: a test
// registers the ones it needs by importing their packages.
package algotest

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/algo"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Blobs returns a classification dataset of k Gaussian blobs in d
// dimensions (unit variance, centres spread by sep), n rows in class order
// shuffled by a fixed seed.
func Blobs(seed uint64, n, d, k int, sep float64) *algo.Dataset {
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
	return &algo.Dataset{
		X: X, Y: y, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: k,
		FeatureNames: Names("x", d), ClassNames: Names("class", k),
	}
}

// LinearData returns a regression dataset y = X w + b + noise·N(0,1) with
// X uniform on [-2, 2].
func LinearData(seed uint64, n int, w []float64, b, noise float64) *algo.Dataset {
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
	return &algo.Dataset{X: X, Y: y, Task: datav1.Task_TASK_REGRESSION, FeatureNames: Names("x", d)}
}

// Names returns prefix0, prefix1, ….
func Names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// Fit fits the named algorithm through the registry, failing the test on
// error.
func Fit(t testing.TB, name string, ds *algo.Dataset, params map[string]float64) *datav1.Model {
	t.Helper()
	m, err := algo.Fit(context.Background(), name, ds, params, 1, nil)
	if err != nil {
		t.Fatalf("Fit(%s): %v", name, err)
	}
	return m
}

// Predict predicts through the registry, failing the test on error.
func Predict(t testing.TB, m *datav1.Model, X *mat.Dense) *mat.Dense {
	t.Helper()
	p, err := algo.Predict(m, X)
	if err != nil {
		t.Fatalf("Predict(%s): %v", m.GetAlgorithm(), err)
	}
	return p
}

// Accuracy is the share of rows whose most probable class is the label.
func Accuracy(proba *mat.Dense, y []float64) float64 {
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

// RoundTrip marshals and unmarshals a model, as storing it does.
func RoundTrip(t testing.TB, m *datav1.Model) *datav1.Model {
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

// Close reports whether a and b agree within an absolute or relative tol.
func Close(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// Split splits a dataset into its first n rows and the rest.
func Split(ds *algo.Dataset, n int) (train, test *algo.Dataset) {
	r, c := ds.X.Dims()
	head := *ds
	head.X = mat.DenseCopyOf(ds.X.Slice(0, n, 0, c))
	head.Y = ds.Y[:n]
	tail := *ds
	tail.X = mat.DenseCopyOf(ds.X.Slice(n, r, 0, c))
	tail.Y = ds.Y[n:]
	return &head, &tail
}

// Generate builds a data set of n rows and p features from gen, which
// fills one row's features and returns its target.
func Generate(n, p int, task datav1.Task, classes int, seed uint64, gen func(rng *rand.Rand, x []float64) float64) *algo.Dataset {
	rng := rand.New(rand.NewPCG(seed, 7))
	X := mat.NewDense(n, p, nil)
	y := make([]float64, n)
	row := make([]float64, p)
	for i := range n {
		y[i] = gen(rng, row)
		X.SetRow(i, row)
	}
	ds := &algo.Dataset{X: X, Y: y, Task: task, NumClasses: classes}
	for f := range p {
		ds.FeatureNames = append(ds.FeatureNames, "f"+string(rune('a'+f%26))+strings.Repeat("x", f/26))
	}
	for c := range classes {
		ds.ClassNames = append(ds.ClassNames, "c"+string(rune('0'+c)))
	}
	return ds
}

// NoisyClass is a two-class problem where the label depends on the
// first three features through a non-linear boundary, with 15% of the
// labels flipped; the remaining features are noise.
func NoisyClass(rng *rand.Rand, x []float64) float64 {
	for f := range x {
		x[f] = rng.NormFloat64()
	}
	s := x[0] + 0.8*x[1] - 0.6*x[2]*x[0]
	y := 0.0
	if s > 0.2 {
		y = 1
	}
	if rng.Float64() < 0.15 {
		y = 1 - y
	}
	return y
}

// FitSeed trains through the registry, failing the test on error.
func FitSeed(t testing.TB, name string, ds *algo.Dataset, params map[string]float64, seed int64) *datav1.Model {
	t.Helper()
	m, err := algo.Fit(context.Background(), name, ds, params, seed, nil)
	if err != nil {
		t.Fatalf("Fit(%s, %v): %v", name, params, err)
	}
	return m
}

// R2 is the coefficient of determination of a rows × 1 prediction.
func R2(pred *mat.Dense, y []float64) float64 {
	var mean float64
	for _, v := range y {
		mean += v
	}
	mean /= float64(len(y))
	var ssRes, ssTot float64
	for i, v := range y {
		d := v - pred.At(i, 0)
		ssRes += d * d
		ssTot += (v - mean) * (v - mean)
	}
	return 1 - ssRes/ssTot
}

// Depth is the depth of the deepest leaf, the root being depth 0.
func Depth(t *datav1.TreeModel) int {
	depth := make([]int, len(t.Feature))
	deepest := 0
	for i, f := range t.Feature {
		deepest = max(deepest, depth[i])
		if f >= 0 {
			depth[t.Left[i]] = depth[i] + 1
			depth[t.Right[i]] = depth[i] + 1
		}
	}
	return deepest
}

// BenchData is a 20-feature classification problem in the style of
// scikit-learn's make_classification: a few informative features, the
// rest noise.
func BenchData(rows int) *algo.Dataset {
	return Generate(rows, 20, datav1.Task_TASK_CLASSIFICATION, 2, 1, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.NormFloat64()
		}
		s := x[0] - 0.7*x[1] + 0.5*x[2]*x[3] + 0.3*x[4]
		if s+0.5*rng.NormFloat64() > 0 {
			return 1
		}
		return 0
	})
}
