package builtin_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin"
	"github.com/alur-ml/alur/ml/algo/internal/algotest"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"
)

func TestFitRejectsNonFinite(t *testing.T) {
	for _, name := range []string{"logistic_regression", "linear_regression", "ridge", "knn", "naive_bayes"} {
		s, _ := algo.Lookup(name)
		var ds *algo.Dataset
		if s.Supports(datav1.Task_TASK_CLASSIFICATION) {
			ds = algotest.Blobs(1, 20, 2, 2, 1)
		} else {
			ds = algotest.LinearData(1, 20, []float64{1, 2}, 0, 0)
		}
		ds.X.Set(12, 1, math.NaN())
		_, err := algo.Fit(context.Background(), name, ds, nil, 0, nil)
		want := `row 12, feature "x1": not a finite number`
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %q", name, err, want)
		}
		ds.X.Set(12, 1, math.Inf(1))
		ds.FeatureNames = nil
		if _, err := algo.Fit(context.Background(), name, ds, nil, 0, nil); err == nil || !strings.Contains(err.Error(), "feature 1") {
			t.Errorf("%s with +Inf and no names: err = %v", name, err)
		}
	}
}

// linAllModels fits every algorithm of this file set on small data.
func linAllModels(t testing.TB) []*datav1.Model {
	cls := algotest.Blobs(3, 120, 3, 3, 2)
	bin := algotest.Blobs(4, 80, 2, 2, 2)
	reg := algotest.LinearData(5, 100, []float64{1, -1, 2}, 0.5, 0.1)
	return []*datav1.Model{
		algotest.Fit(t, "logistic_regression", cls, nil),
		algotest.Fit(t, "logistic_regression", bin, nil),
		algotest.Fit(t, "linear_regression", reg, nil),
		algotest.Fit(t, "ridge", reg, map[string]float64{"alpha": 2}),
		algotest.Fit(t, "knn", cls, map[string]float64{"k": 7}),
		algotest.Fit(t, "knn", reg, map[string]float64{"k": 3, "distance_weighted": 1}),
		algotest.Fit(t, "naive_bayes", cls, nil),
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
		want := algotest.Predict(t, m, X)
		got := algotest.Predict(t, algotest.RoundTrip(t, m), X)
		if !mat.Equal(want, got) {
			t.Errorf("%s: predictions differ after marshal/unmarshal", m.Algorithm)
		}
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
			s, _ := algo.Lookup(name)
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

// balancedImbalanced returns a two-class problem where class 1 holds about
// 5% of the rows and is shifted by 1.5 standard deviations along two of
// four Gaussian features, so the classes overlap and an unweighted model
// favours the majority.
func balancedImbalanced(n int, seed uint64) *algo.Dataset {
	return algotest.Generate(n, 4, datav1.Task_TASK_CLASSIFICATION, 2, seed, func(rng *rand.Rand, x []float64) float64 {
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
		{"extra_trees", map[string]float64{"n_estimators": 30, "min_samples_leaf": 10}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.algorithm, tc.params), func(t *testing.T) {
			recall := [2]float64{}
			for b := range 2 {
				p := map[string]float64{"balanced": float64(b)}
				for k, v := range tc.params {
					p[k] = v
				}
				m := algotest.FitSeed(t, tc.algorithm, train, p, 3)
				recall[b] = balancedRecall(algotest.Predict(t, m, test.X), test.Y, 1)
			}
			if recall[1] < recall[0]+margin || recall[1] < 0.7 {
				t.Errorf("minority recall %.3f unweighted, %.3f balanced; want balanced >= 0.7 and %.2f above", recall[0], recall[1], margin)
			}
		})
	}
}

func TestBalancedParamValidation(t *testing.T) {
	ds := balancedImbalanced(200, 3)
	for _, name := range []string{"logistic_regression", "decision_tree", "random_forest", "extra_trees"} {
		s, _ := algo.Lookup(name)
		var found bool
		for _, p := range s.Params {
			if p.Name == "balanced" {
				found = p.Default == 0 && p.Min == 0 && p.Max == 1 && p.Type == algo.Flag
			}
		}
		if !found {
			t.Errorf("%s: no balanced param with default 0, integer in [0, 1]", name)
		}
		for _, v := range []float64{0.5, 2, -1} {
			if _, err := algo.Fit(context.Background(), name, ds, map[string]float64{"balanced": v}, 1, nil); err == nil {
				t.Errorf("%s: balanced %g accepted", name, v)
			}
		}
		// A direct call bypasses ResolveParams; the fit checks too.
		var pe *algo.ParamError
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
	ds := algotest.Generate(600, 5, datav1.Task_TASK_CLASSIFICATION, 3, 11, func(rng *rand.Rand, x []float64) float64 {
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
		{"extra_trees", map[string]float64{"n_estimators": 8}},
	} {
		fit := func(b float64) *datav1.Model {
			p := map[string]float64{"balanced": b}
			for k, v := range tc.params {
				p[k] = v
			}
			return algotest.FitSeed(t, tc.algorithm, ds, p, 5)
		}
		a, b := fit(0), fit(1)
		// Only the recorded params (balanced 0 or 1) may differ.
		if !proto.Equal(&datav1.Model{Parameters: a.Parameters, FeatureImportances: a.FeatureImportances},
			&datav1.Model{Parameters: b.Parameters, FeatureImportances: b.FeatureImportances}) {
			t.Errorf("%s: balanced on equal classes changed the model", tc.algorithm)
		}
	}
}
