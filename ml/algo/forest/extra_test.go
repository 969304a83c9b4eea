package forest

import (
	"bytes"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/algo/internal/algotest"
	"github.com/alur-ml/alur/ml/algo/tree"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

func TestExtraTreesMatchesForestAccuracy(t *testing.T) {
	// Extremely randomized trees trade the best threshold for a random
	// one and the bootstrap for all rows; on these problems they must do
	// about as well as the random forest (Geurts et al. 2006 report them
	// as accurate or better on most data sets).
	reg := algotest.Generate(2500, 6, datav1.Task_TASK_REGRESSION, 0, 9, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.Float64()
		}
		return 5*math.Sin(3*x[0]) + 3*x[1]*x[1] + 100 + 0.5*rng.NormFloat64()
	})
	reg.ClassNames, reg.NumClasses = nil, 0
	for _, tc := range []struct {
		name   string
		ds     *algo.Dataset
		params map[string]float64
		// score is accuracy or R²; tol how far extra trees may fall below
		// the forest.
		min, tol float64
	}{
		{"noisy classes", algotest.Generate(3000, 10, datav1.Task_TASK_CLASSIFICATION, 2, 42, algotest.NoisyClass),
			map[string]float64{"n_estimators": 60}, 0.77, 0.02},
		{"blobs", algotest.Blobs(3, 3000, 5, 4, 1.5), map[string]float64{"n_estimators": 40}, 0.8, 0.02},
		{"regression", reg, map[string]float64{"n_estimators": 40}, 0.85, 0.03},
		{"regression min_samples_leaf 5", reg, map[string]float64{"n_estimators": 40, "min_samples_leaf": 5}, 0.85, 0.03},
	} {
		t.Run(tc.name, func(t *testing.T) {
			train, test := algotest.Split(tc.ds, 2000)
			score := func(name string) float64 {
				m := algotest.FitSeed(t, name, train, tc.params, 1)
				p := algotest.Predict(t, m, test.X)
				if tc.ds.Task == datav1.Task_TASK_REGRESSION {
					return algotest.R2(p, test.Y)
				}
				return algotest.Accuracy(p, test.Y)
			}
			et, rf := score("extra_trees"), score("random_forest")
			t.Logf("extra trees %.4f, random forest %.4f", et, rf)
			if et < tc.min || et < rf-tc.tol {
				t.Errorf("extra trees score %.3f, random forest %.3f: want at least %.2f and within %.2f of the forest", et, rf, tc.min, tc.tol)
			}
		})
	}
}

func TestExtraTreesDefaultsAndDeterminism(t *testing.T) {
	// extra_trees differs from random_forest by its bootstrap default
	// only; its model is the same forest form, the same for a seed
	// whatever the number of cores.
	for _, tc := range []struct {
		algorithm string
		bootstrap float64
	}{{"random_forest", 1}, {"extra_trees", 0}} {
		s, ok := algo.Lookup(tc.algorithm)
		if !ok {
			t.Fatalf("%s is not registered", tc.algorithm)
		}
		params, err := s.ResolveParams(nil)
		if err != nil {
			t.Fatal(err)
		}
		if params["bootstrap"] != tc.bootstrap || params["max_features"] != 0 || params["n_estimators"] != 100 {
			t.Errorf("%s defaults %v, want bootstrap %g, max_features 0, n_estimators 100", tc.algorithm, params, tc.bootstrap)
		}
	}
	for _, task := range []datav1.Task{datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION} {
		ds := algotest.Generate(1500, 6, task, 3, 17, func(rng *rand.Rand, x []float64) float64 {
			for f := range x {
				x[f] = math.Round(rng.NormFloat64() * 3)
			}
			return float64((int(x[0]) + int(x[1]) + 30) % 3)
		})
		if task == datav1.Task_TASK_REGRESSION {
			ds.NumClasses, ds.ClassNames = 0, nil
		}
		params := map[string]float64{"n_estimators": 6}
		fitWith := func(procs int, seed int64, params map[string]float64) *datav1.Model {
			prev := runtime.GOMAXPROCS(procs)
			defer runtime.GOMAXPROCS(prev)
			return algotest.FitSeed(t, "extra_trees", ds, params, seed)
		}
		one := fitWith(1, 5, params)
		if one.GetAlgorithm() != "extra_trees" || one.GetForest() == nil {
			t.Fatalf("%v: model of algorithm %q, forest %v", task, one.GetAlgorithm(), one.GetForest() != nil)
		}
		if two := fitWith(2, 5, params); !proto.Equal(one, two) {
			t.Errorf("%v: extra trees depend on GOMAXPROCS", task)
		}
		if other := fitWith(2, 6, params); proto.Equal(one.GetForest(), other.GetForest()) {
			t.Errorf("%v: different seeds gave identical forests", task)
		}
		explicit := fitWith(2, 5, map[string]float64{"n_estimators": 6, "bootstrap": 0})
		if !proto.Equal(one.GetForest(), explicit.GetForest()) {
			t.Errorf("%v: the default differs from bootstrap 0", task)
		}
		bagged := fitWith(2, 5, map[string]float64{"n_estimators": 6, "bootstrap": 1})
		if proto.Equal(one.GetForest(), bagged.GetForest()) {
			t.Errorf("%v: bootstrap 1 gave the forest of bootstrap 0", task)
		}
		rf := algotest.FitSeed(t, "random_forest", ds, map[string]float64{"n_estimators": 6, "bootstrap": 0}, 5)
		if proto.Equal(one.GetForest(), rf.GetForest()) {
			t.Errorf("%v: extra trees are the random forest's trees", task)
		}
		// Without a bootstrap sample every root holds every row.
		for i, tr := range forestTrees(t, one) {
			if tr.Samples[0] != 1500 {
				t.Errorf("%v: tree %d's root holds %d rows, want all 1500", task, i, tr.Samples[0])
			}
		}
	}
}

func TestExtraTreesPreparedMatchesWideWalk(t *testing.T) {
	// An extra-trees model must predict bit for bit the same through the
	// prepared (compact, 10-byte node) path, the registry's Predict, and
	// walking each expanded tree node by node, averaged in tree order, on
	// rows with missing values and zeros of both signs. Its thresholds
	// must all be binary32 numbers, which the 10-byte nodes need.
	for _, tc := range []struct {
		name    string
		task    datav1.Task
		classes int
		params  map[string]float64
	}{
		{"classification", datav1.Task_TASK_CLASSIFICATION, 3, map[string]float64{"n_estimators": 9}},
		{"classification balanced bootstrap", datav1.Task_TASK_CLASSIFICATION, 2, map[string]float64{"n_estimators": 9, "balanced": 1, "bootstrap": 1}},
		{"regression", datav1.Task_TASK_REGRESSION, 0, map[string]float64{"n_estimators": 9, "min_samples_leaf": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const p = 5
			ds := algotest.Generate(700, p, tc.task, tc.classes, 4, func(rng *rand.Rand, x []float64) float64 {
				for f := range x {
					x[f] = rng.NormFloat64() * 3
				}
				if tc.task == datav1.Task_TASK_REGRESSION {
					return 3*x[0] - x[1]*x[2] + rng.NormFloat64()
				}
				if x[0]+x[1]*x[1] > 2+rng.NormFloat64() {
					return float64(tc.classes - 1)
				}
				return float64(rng.IntN(tc.classes))
			})
			for i := 0; i < 700; i += 29 {
				ds.X.Set(i, i%p, math.NaN())
			}
			m := algotest.FitSeed(t, "extra_trees", ds, tc.params, 2)
			trees := forestTrees(t, m)
			for i, w := range trees {
				for j, f := range w.Feature {
					if thr := w.Threshold[j]; f >= 0 && thr != float64(float32(thr)) {
						t.Errorf("tree %d node %d: threshold %v is not a binary32 number", i, j, thr)
					}
				}
				again, _ := tree.Compact(w, nil)
				if !bytes.Equal(again.Nodes, m.GetForest().GetTrees()[i].Nodes) {
					t.Errorf("tree %d: re-encoding the expanded tree changed its bytes", i)
				}
			}
			rows := 400
			X := mat.NewDense(rows, p, nil)
			for r := range rows {
				for c := range p {
					v := ds.X.At(r, c)
					switch (r + c) % 13 {
					case 0:
						v = math.NaN()
					case 1:
						v = math.Copysign(0, -1)
					case 2:
						v = 0
					}
					X.Set(r, c, v)
				}
			}
			k := int(trees[0].NumOutputs)
			want := make([]float64, rows*k)
			for _, w := range trees {
				for r := range rows {
					leaf := leafOf(w, X.RawRowView(r))
					for j := range k {
						want[r*k+j] += w.Value[leaf*k+j]
					}
				}
			}
			for j := range want {
				want[j] *= 1 / float64(len(trees))
			}
			prepared, err := algo.Prepare(m, p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := prepared(X)
			if err != nil {
				t.Fatal(err)
			}
			plain := algotest.Predict(t, m, X)
			wide := algotest.Predict(t, treeWideForest(t, m), X)
			for j, v := range want {
				for _, g := range []struct {
					path string
					out  *mat.Dense
				}{{"prepared", got}, {"Predict", plain}, {"wide trees", wide}} {
					if w := g.out.RawMatrix().Data[j]; math.Float64bits(w) != math.Float64bits(v) {
						t.Fatalf("value %d is %v through the %s path, the node-by-node walk gives %v", j, w, g.path, v)
					}
				}
			}
		})
	}
}

// BenchmarkExtraTreesFit fits extra_trees as BenchmarkRandomForestFit fits
// the random forest, with each one's default bootstrap and then both on
// all rows.
func BenchmarkExtraTreesFit(b *testing.B) {
	ds := algotest.BenchData(20000)
	for _, bc := range []struct {
		name, algorithm string
		bootstrap       float64
	}{
		{"extra_trees", "extra_trees", 0},
		{"random_forest_bootstrap_0", "random_forest", 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			params := map[string]float64{"n_estimators": 20, "bootstrap": bc.bootstrap}
			for b.Loop() {
				if _, err := algo.Fit(b.Context(), bc.algorithm, ds, params, 1, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
