package forest

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/bayes" // TestForestColumnsMatchRows compares with naive_bayes
	"github.com/alur-ml/alur/ml/algo/internal/algotest"
	"github.com/alur-ml/alur/ml/algo/tree"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

func TestRandomForestBeatsTree(t *testing.T) {
	ds := algotest.Generate(3000, 10, datav1.Task_TASK_CLASSIFICATION, 2, 42, algotest.NoisyClass)
	train, test := algotest.Split(ds, 2000)
	tree := algotest.FitSeed(t, "decision_tree", train, nil, 1)
	forest := algotest.FitSeed(t, "random_forest", train, map[string]float64{"n_estimators": 60}, 1)
	treeAcc := algotest.Accuracy(algotest.Predict(t, tree, test.X), test.Y)
	forestAcc := algotest.Accuracy(algotest.Predict(t, forest, test.X), test.Y)
	// With 15% label noise the Bayes accuracy is about 0.85; a fully
	// grown tree overfits the noise, the forest's average does not.
	if forestAcc < 0.77 || forestAcc < treeAcc+0.04 {
		t.Errorf("test accuracy: forest %.3f, tree %.3f; want forest >= 0.77 and 0.04 above the tree", forestAcc, treeAcc)
	}
	probs := algotest.Predict(t, forest, test.X)
	for i := range 10 {
		if s := probs.At(i, 0) + probs.At(i, 1); math.Abs(s-1) > 1e-12 {
			t.Errorf("row %d: probabilities sum to %g", i, s)
		}
	}
}

func TestRandomForestRegression(t *testing.T) {
	ds := algotest.Generate(2500, 6, datav1.Task_TASK_REGRESSION, 0, 9, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.Float64()
		}
		return 5*math.Sin(3*x[0]) + 3*x[1]*x[1] + 100 + 0.5*rng.NormFloat64()
	})
	train, test := algotest.Split(ds, 2000)
	for _, tc := range []struct {
		name   string
		params map[string]float64
		minR2  float64
	}{
		{"defaults", map[string]float64{"n_estimators": 40}, 0.85},
		{"no bootstrap, half the features", map[string]float64{"n_estimators": 20, "bootstrap": 0, "max_features": 0.5}, 0.8},
		{"shallow", map[string]float64{"n_estimators": 20, "max_depth": 4, "min_samples_leaf": 5}, 0.75},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := algotest.FitSeed(t, "random_forest", train, tc.params, 2)
			if r2 := algotest.R2(algotest.Predict(t, m, test.X), test.Y); r2 < tc.minR2 {
				t.Errorf("test R² %.3f, want >= %.2f", r2, tc.minR2)
			}
			if d, ok := tc.params["max_depth"]; ok {
				for i, tr := range forestTrees(t, m) {
					if got := algotest.Depth(tr); got > int(d) {
						t.Errorf("tree %d depth %d > max_depth %g", i, got, d)
					}
				}
			}
		})
	}
}

func TestRandomForestDeterminism(t *testing.T) {
	ds := algotest.Generate(500, 8, datav1.Task_TASK_CLASSIFICATION, 3, 17, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = math.Round(rng.NormFloat64() * 3)
		}
		return float64((int(x[0]) + int(x[1]) + 30) % 3)
	})
	params := map[string]float64{"n_estimators": 12}
	fitWith := func(procs int, seed int64) *datav1.Model {
		prev := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(prev)
		return algotest.FitSeed(t, "random_forest", ds, params, seed)
	}
	one := fitWith(1, 5)
	two := fitWith(2, 5)
	four := fitWith(4, 5)
	if !proto.Equal(one, two) || !proto.Equal(one, four) {
		t.Error("the forest depends on GOMAXPROCS")
	}
	if again := fitWith(2, 5); !proto.Equal(two, again) {
		t.Error("same seed gave different forests")
	}
	if other := fitWith(2, 6); proto.Equal(one.GetForest(), other.GetForest()) {
		t.Error("different seeds gave identical forests")
	}
	trees := one.GetForest().Trees
	if len(trees) != 12 {
		t.Fatalf("%d trees, want 12", len(trees))
	}
	if proto.Equal(trees[0], trees[1]) {
		t.Error("trees 0 and 1 are identical: bootstrap or feature sampling is not per tree")
	}

	buf, err := proto.Marshal(one)
	if err != nil {
		t.Fatal(err)
	}
	var back datav1.Model
	if err := proto.Unmarshal(buf, &back); err != nil {
		t.Fatal(err)
	}
	serial := func() *mat.Dense {
		prev := runtime.GOMAXPROCS(1)
		defer runtime.GOMAXPROCS(prev)
		return algotest.Predict(t, &back, ds.X)
	}()
	full := algotest.Predict(t, one, ds.X)
	if !mat.Equal(full, serial) {
		t.Error("predictions differ after a round trip or between serial and parallel prediction")
	}
	// A row predicted alone must get what it gets in a batch.
	for i := range 5 {
		row := algotest.Predict(t, one, mat.NewDense(1, 8, ds.X.RawRowView(i)))
		if !mat.Equal(row, full.Slice(i, i+1, 0, 3)) {
			t.Errorf("row %d predicted alone differs from the batch", i)
		}
	}
}

func TestRandomForestCancellation(t *testing.T) {
	ds := algotest.Generate(300, 4, datav1.Task_TASK_CLASSIFICATION, 2, 3, algotest.NoisyClass)
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := algo.Fit(ctx, "random_forest", ds, nil, 0, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
	t.Run("during", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		calls := 0
		progress := func(done, total int64, loss float64, msg string) {
			calls++
			if done == 3 {
				cancel()
			}
		}
		_, err := algo.Fit(ctx, "random_forest", ds, map[string]float64{"n_estimators": 5000}, 0, progress)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
		if calls >= 5000 {
			t.Errorf("%d trees reported after cancelling at 3", calls)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 0)
		defer cancel()
		if _, err := algo.Fit(ctx, "random_forest", ds, nil, 0, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestRandomForestProgress(t *testing.T) {
	ds := algotest.Generate(200, 4, datav1.Task_TASK_REGRESSION, 0, 3, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.Float64()
		}
		return x[0]
	})
	var mu sync.Mutex
	inside := false
	var seen []int64
	progress := func(done, total int64, loss float64, msg string) {
		mu.Lock()
		if inside {
			t.Error("progress called concurrently")
		}
		inside = true
		mu.Unlock()
		if total != 30 || !math.IsNaN(loss) || msg == "" {
			t.Errorf("progress(%d, %d, %g, %q)", done, total, loss, msg)
		}
		seen = append(seen, done)
		mu.Lock()
		inside = false
		mu.Unlock()
	}
	if _, err := algo.Fit(context.Background(), "random_forest", ds, map[string]float64{"n_estimators": 30}, 0, progress); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 30 {
		t.Fatalf("%d progress calls, want 30", len(seen))
	}
	for i, d := range seen {
		if d != int64(i+1) {
			t.Fatalf("progress sequence %v, want 1..30", seen)
		}
	}
}

func TestRandomForestMaxFeaturesDefault(t *testing.T) {
	// Classification defaults to √features: with 16 features and one
	// informative, some trees must split at the root on a noise feature;
	// regression defaults to all features, so every root uses feature 0.
	gen := func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.Float64()
		}
		if x[0] > 0.5 {
			return 1
		}
		return 0
	}
	cls := algotest.Generate(300, 16, datav1.Task_TASK_CLASSIFICATION, 2, 4, gen)
	reg := algotest.Generate(300, 16, datav1.Task_TASK_REGRESSION, 0, 4, gen)
	reg.ClassNames, reg.NumClasses = nil, 0
	for _, tc := range []struct {
		ds          *algo.Dataset
		allOnFeat0  bool
		description string
	}{
		{cls, false, "classification (√16 = 4 features per split)"},
		{reg, true, "regression (all features)"},
	} {
		m := algotest.FitSeed(t, "random_forest", tc.ds, map[string]float64{"n_estimators": 30}, 1)
		all := true
		for _, tr := range forestTrees(t, m) {
			all = all && tr.Feature[0] == 0
		}
		if all != tc.allOnFeat0 {
			t.Errorf("%s: every root splits on feature 0 = %v, want %v", tc.description, all, tc.allOnFeat0)
		}
	}
}

func TestRandomForestPredictValidation(t *testing.T) {
	leaf := func(k int32, v ...float64) *datav1.TreeModel {
		return &datav1.TreeModel{Feature: []int32{-1}, Threshold: []float64{0}, Left: []int32{-1}, Right: []int32{-1}, NumOutputs: k, Value: v}
	}
	X := mat.NewDense(1, 1, []float64{0})
	tests := []struct {
		name  string
		trees []*datav1.TreeModel
		ok    bool
	}{
		{"two leaves", []*datav1.TreeModel{leaf(1, 1), leaf(1, 3)}, true},
		{"no trees", nil, false},
		{"nil tree", []*datav1.TreeModel{leaf(1, 1), nil}, false},
		{"mixed widths", []*datav1.TreeModel{leaf(1, 1), leaf(2, 0.5, 0.5)}, false},
	}
	for _, tc := range tests {
		m := &datav1.Model{Algorithm: "random_forest", Task: datav1.Task_TASK_REGRESSION,
			Parameters: &datav1.Model_Forest{Forest: &datav1.ForestModel{Trees: tc.trees}}}
		out, err := algo.Predict(m, X)
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok %v", tc.name, err, tc.ok)
		}
		if tc.ok && out.At(0, 0) != 2 {
			t.Errorf("%s: prediction %g, want the mean 2", tc.name, out.At(0, 0))
		}
	}
	if _, err := algo.Predict(&datav1.Model{Algorithm: "random_forest"}, X); err == nil {
		t.Error("model without forest parameters: want an error")
	}
}

func BenchmarkDecisionTreeFit(b *testing.B) {
	ds := algotest.BenchData(20000)
	for b.Loop() {
		if _, err := algo.Fit(context.Background(), "decision_tree", ds, nil, 1, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRandomForestFit(b *testing.B) {
	ds := algotest.BenchData(20000)
	params := map[string]float64{"n_estimators": 20}
	for b.Loop() {
		if _, err := algo.Fit(context.Background(), "random_forest", ds, params, 1, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRandomForestPredict(b *testing.B) {
	ds := algotest.BenchData(20000)
	m, err := algo.Fit(context.Background(), "random_forest", ds, map[string]float64{"n_estimators": 20}, 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := algo.Predict(m, ds.X); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRandomForestBalancedWeightsFromWholeTrainingSet(t *testing.T) {
	// As scikit-learn's class_weight='balanced' (not
	// 'balanced_subsample'), the class weights come from the whole
	// training set and multiply each tree's bootstrap counts: a leaf's
	// value is Σ count_i·w(y_i) per class over its rows, normalised.
	// Weights computed per bootstrap sample would make the weighted class
	// totals of every tree exactly uniform instead.
	const n = 300
	ds := algotest.Generate(n, 3, datav1.Task_TASK_CLASSIFICATION, 2, 6, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.NormFloat64()
		}
		if rng.Float64() < 0.1 {
			return 1
		}
		return 0
	})
	const seed, trees = 9, 6
	m := algotest.FitSeed(t, "random_forest", ds, map[string]float64{"n_estimators": trees, "max_depth": 2, "balanced": 1}, seed)
	classW := algo.BalancedClassWeights(ds.Y, 2)
	nonUniform := false
	for ti, tr := range forestTrees(t, m) {
		// Replay the tree's bootstrap draws from its random stream and
		// route each draw to its leaf.
		rng := tree.RNG(seed, ti)
		var want [2]float64
		leafW := map[int]*[2]float64{}
		for range n {
			i := rng.IntN(n)
			c := int(ds.Y[i])
			want[c] += classW[c]
			leaf := leafOf(tr, ds.X.RawRowView(i))
			if leafW[leaf] == nil {
				leafW[leaf] = new([2]float64)
			}
			leafW[leaf][c] += classW[c]
		}
		for leaf, w := range leafW {
			total := w[0] + w[1]
			for k := range 2 {
				if !algotest.Close(tr.Value[leaf*2+k], w[k]/total, 1e-12) {
					t.Errorf("tree %d leaf %d: value %v, want %v", ti, leaf, tr.Value[leaf*2:leaf*2+2], []float64{w[0] / total, w[1] / total})
					break
				}
			}
		}
		if tr.Samples[0] != n {
			t.Errorf("tree %d: root samples %d, want %d draws", ti, tr.Samples[0], n)
		}
		if total := want[0] + want[1]; math.Abs(want[0]/total-0.5) > 1e-6 {
			nonUniform = true
		}
	}
	if !nonUniform {
		t.Error("every bootstrap happened to be balanced; the test does not discriminate")
	}
}

// forestTrees returns m's trees in the wide form.
func forestTrees(t testing.TB, m *datav1.Model) []*datav1.TreeModel {
	t.Helper()
	p := len(m.GetFeatureNames())
	if p == 0 {
		p = math.MaxInt32
	}
	var out []*datav1.TreeModel
	for i, tr := range m.GetForest().GetTrees() {
		w, err := tree.Expand(tr, p)
		if err != nil {
			t.Fatalf("tree %d: %v", i, err)
		}
		out = append(out, w)
	}
	return out
}

// TestForestPredictGroupsMatchSingleRows checks the lockstep walk of eight
// rows at a time (treeFlat.leaves) against predicting each row alone, on
// row counts that leave every possible short last group.
func TestForestPredictGroupsMatchSingleRows(t *testing.T) {
	ds := algotest.BenchData(3000)
	m, err := algo.Fit(context.Background(), "random_forest", ds, map[string]float64{"n_estimators": 7}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, rows := range []int{1, 7, 8, 9, 15, 16, 17, 63} {
		X := mat.DenseCopyOf(ds.X.Slice(0, rows, 0, 20))
		all, err := algo.Predict(m, X)
		if err != nil {
			t.Fatal(err)
		}
		for r := range rows {
			one, err := algo.Predict(m, mat.DenseCopyOf(X.Slice(r, r+1, 0, 20)))
			if err != nil {
				t.Fatal(err)
			}
			if !mat.Equal(one, all.Slice(r, r+1, 0, 2)) {
				t.Fatalf("%d rows: row %d predicts %v in the group, %v alone", rows, r, mat.Formatted(all.Slice(r, r+1, 0, 2)), mat.Formatted(one))
			}
		}
	}
}

func TestTreeImportances(t *testing.T) {
	// Only feature 2 carries signal.
	cls := algotest.Generate(1000, 5, datav1.Task_TASK_CLASSIFICATION, 3, 11, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.Float64()
		}
		return math.Min(2, math.Floor(x[2]*3))
	})
	reg := algotest.Generate(1000, 5, datav1.Task_TASK_REGRESSION, 0, 12, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.Float64()
		}
		return 10*x[2]*x[2] + 0.1*rng.NormFloat64()
	})
	forest := map[string]float64{"n_estimators": 20}
	for _, tc := range []struct {
		algo   string
		ds     *algo.Dataset
		params map[string]float64
	}{
		{"decision_tree", cls, nil}, {"decision_tree", reg, nil},
		{"random_forest", cls, forest}, {"random_forest", reg, forest},
	} {
		t.Run(tc.algo+"/"+tc.ds.Task.String(), func(t *testing.T) {
			m := algotest.FitSeed(t, tc.algo, tc.ds, tc.params, 3)
			imp := m.FeatureImportances
			if len(imp) != 5 {
				t.Fatalf("%d importances, want 5", len(imp))
			}
			var sum float64
			for _, v := range imp {
				if v < 0 {
					t.Errorf("negative importance %g", v)
				}
				sum += v
			}
			if math.Abs(sum-1) > 1e-12 {
				t.Errorf("importances sum to %g, want 1", sum)
			}
			if imp[2] < 0.6 {
				t.Errorf("informative feature importance %g, want >= 0.6 (all: %v)", imp[2], imp)
			}
		})
	}
}

func TestTreeConstantData(t *testing.T) {
	// Constant features or targets give a single leaf and zero
	// importances rather than an error.
	X := mat.NewDense(4, 2, []float64{1, 5, 1, 5, 1, 5, 1, 5})
	for _, tc := range []struct {
		name string
		ds   *algo.Dataset
		want []float64
	}{
		{"constant features", &algo.Dataset{X: X, Y: []float64{0, 1, 1, 1}, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 2}, []float64{0.25, 0.75}},
		{"constant target", &algo.Dataset{X: mat.NewDense(4, 2, []float64{1, 2, 3, 4, 5, 6, 7, 8}), Y: []float64{3, 3, 3, 3}, Task: datav1.Task_TASK_REGRESSION}, []float64{3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, algo := range []string{"decision_tree", "random_forest"} {
				var params map[string]float64
				if algo == "random_forest" {
					params = map[string]float64{"bootstrap": 0} // keep the class proportions exact
				}
				m := algotest.FitSeed(t, algo, tc.ds, params, 0)
				pred := algotest.Predict(t, m, tc.ds.X)
				for j, want := range tc.want {
					if got := pred.At(0, j); math.Abs(got-want) > 1e-12 {
						t.Errorf("%s: output %d = %g, want %g", algo, j, got, want)
					}
				}
				for _, v := range m.FeatureImportances {
					if v != 0 {
						t.Errorf("%s: importances %v, want zeros", algo, m.FeatureImportances)
					}
				}
			}
		})
	}
}

func TestTreeBalancedNodeValues(t *testing.T) {
	// With balanced weights every present class carries the same total
	// weight, n/k, so the root's value is uniform, while Samples still
	// counts rows. A leaf's value is its weighted class distribution. The
	// forest's compact trees store no interior values, so only the
	// decision tree's root value is checked.
	ds := algotest.Generate(400, 3, datav1.Task_TASK_CLASSIFICATION, 3, 4, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.NormFloat64()
		}
		switch u := rng.Float64(); {
		case u < 0.7:
			return 0
		case u < 0.95:
			return 1
		default:
			return 2
		}
	})
	classW := algo.BalancedClassWeights(ds.Y, 3)
	for _, tc := range []struct {
		algorithm string
		params    map[string]float64
	}{
		{"decision_tree", map[string]float64{"max_depth": 3, "balanced": 1}},
		{"random_forest", map[string]float64{"n_estimators": 3, "bootstrap": 0, "max_depth": 3, "balanced": 1}},
	} {
		m := algotest.FitSeed(t, tc.algorithm, ds, tc.params, 2)
		trees := []*datav1.TreeModel{m.GetTree()}
		if f := m.GetForest(); f != nil {
			trees = forestTrees(t, m)
		}
		for ti, tr := range trees {
			if tr.Samples[0] != 400 {
				t.Errorf("%s tree %d: root samples %d, want 400 rows", tc.algorithm, ti, tr.Samples[0])
			}
			for k := range 3 {
				if m.GetForest() != nil {
					break
				}
				if !algotest.Close(tr.Value[k], 1.0/3, 1e-12) {
					t.Errorf("%s tree %d: root value %v, want uniform", tc.algorithm, ti, tr.Value[:3])
					break
				}
			}
			// Route every row to its leaf and check the leaf values.
			leafCnt := map[int][]float64{}
			leafRows := map[int]int64{}
			for i := range 400 {
				leaf := leafOf(tr, ds.X.RawRowView(i))
				if leafCnt[leaf] == nil {
					leafCnt[leaf] = make([]float64, 3)
				}
				leafCnt[leaf][int(ds.Y[i])] += classW[int(ds.Y[i])]
				leafRows[leaf]++
			}
			for leaf, cnt := range leafCnt {
				total := cnt[0] + cnt[1] + cnt[2]
				for k := range 3 {
					if !algotest.Close(tr.Value[leaf*3+k], cnt[k]/total, 1e-12) {
						t.Errorf("%s tree %d leaf %d: value %v, want weighted distribution of %v",
							tc.algorithm, ti, leaf, tr.Value[leaf*3:leaf*3+3], cnt)
						break
					}
				}
				if tr.Samples[leaf] != leafRows[leaf] {
					t.Errorf("%s tree %d leaf %d: samples %d, want %d rows", tc.algorithm, ti, leaf, tr.Samples[leaf], leafRows[leaf])
				}
			}
		}
	}
}

func TestTreeBalancedIgnoredForRegression(t *testing.T) {
	// balanced is documented as classification only; a regression fit
	// with it set must be the unweighted fit.
	ds := algotest.Generate(300, 4, datav1.Task_TASK_REGRESSION, 0, 8, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.NormFloat64()
		}
		return x[0] - 2*x[1]*x[2] + 0.1*rng.NormFloat64()
	})
	ds.ClassNames = nil
	for _, tc := range []struct {
		algorithm string
		params    map[string]float64
	}{
		{"decision_tree", map[string]float64{"max_depth": 6}},
		{"random_forest", map[string]float64{"n_estimators": 5}},
	} {
		fit := func(b float64) *datav1.Model {
			p := map[string]float64{"balanced": b}
			for k, v := range tc.params {
				p[k] = v
			}
			m := algotest.FitSeed(t, tc.algorithm, ds, p, 3)
			return &datav1.Model{Parameters: m.Parameters, FeatureImportances: m.FeatureImportances}
		}
		if !proto.Equal(fit(0), fit(1)) {
			t.Errorf("%s: balanced changed a regression model", tc.algorithm)
		}
	}
}

// treeWideForest returns m with every forest tree in the wide form.
func treeWideForest(t *testing.T, m *datav1.Model) *datav1.Model {
	t.Helper()
	wide := proto.Clone(m).(*datav1.Model)
	wide.GetForest().Trees = forestTrees(t, m)
	return wide
}

func TestTreeCompactMatchesWide(t *testing.T) {
	// The compact form must predict exactly what the wide form predicts,
	// and re-encoding an expanded tree must give back the same bytes.
	cls := algotest.Generate(600, 5, datav1.Task_TASK_CLASSIFICATION, 3, 11, algotest.NoisyClass)
	reg := algotest.Generate(600, 5, datav1.Task_TASK_REGRESSION, 0, 12, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.NormFloat64()
		}
		return 3*x[0] - x[1]*x[2] + 0.1*rng.NormFloat64()
	})
	reg.ClassNames, reg.NumClasses = nil, 0
	for _, tc := range []struct {
		name       string
		ds         *algo.Dataset
		params     map[string]float64
		leafCounts bool
	}{
		{"classification", cls, map[string]float64{"n_estimators": 8}, true},
		// Pure leaves are exact counts even with class weights.
		{"balanced", cls, map[string]float64{"n_estimators": 8, "balanced": 1}, true},
		{"balanced shallow", cls, map[string]float64{"n_estimators": 8, "balanced": 1, "max_depth": 3}, false},
		{"regression", reg, map[string]float64{"n_estimators": 8}, false},
		{"shallow", cls, map[string]float64{"n_estimators": 4, "max_depth": 3, "min_samples_leaf": 9}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := algotest.FitSeed(t, "random_forest", tc.ds, tc.params, 3)
			for i, tr := range m.GetForest().GetTrees() {
				if len(tr.Nodes) == 0 || len(tr.Feature) != 0 {
					t.Fatalf("tree %d is not compact", i)
				}
				if tr.LeafCounts != tc.leafCounts {
					t.Errorf("tree %d: leaf_counts %v, want %v", i, tr.LeafCounts, tc.leafCounts)
				}
			}
			wide := treeWideForest(t, m)
			got := algotest.Predict(t, m, tc.ds.X)
			want := algotest.Predict(t, wide, tc.ds.X)
			if !mat.Equal(got, want) {
				t.Error("compact and wide trees predict differently")
			}
			for i, w := range wide.GetForest().GetTrees() {
				again, _ := tree.Compact(w, nil)
				orig := m.GetForest().GetTrees()[i]
				if !bytes.Equal(again.Nodes, orig.Nodes) || again.LeafCounts != orig.LeafCounts {
					t.Errorf("tree %d: re-encoding the expanded tree changed its bytes", i)
				}
				if err := tree.Validate(w, 5); err != nil {
					t.Errorf("tree %d expanded: %v", i, err)
				}
			}
		})
	}
}

func TestTreeCompactIsSmall(t *testing.T) {
	// A fully grown forest's trees must take far less than the wide
	// arrays: the point of the compact form.
	ds := algotest.Generate(3000, 8, datav1.Task_TASK_CLASSIFICATION, 3, 5, algotest.NoisyClass)
	m := algotest.FitSeed(t, "random_forest", ds, map[string]float64{"n_estimators": 5}, 1)
	compact := proto.Size(m.GetForest())
	wide := proto.Size(treeWideForest(t, m).GetForest())
	nodes := 0
	for _, tr := range treeWideForest(t, m).GetForest().GetTrees() {
		nodes += len(tr.Feature)
	}
	if perNode := float64(compact) / float64(nodes); perNode > 6 {
		t.Errorf("%.1f bytes a node compact (%d bytes wide for %d nodes), want at most 6", perNode, wide, nodes)
	}
	if compact*4 > wide {
		t.Errorf("compact forest %d bytes, wide %d: want at least 4 times smaller", compact, wide)
	}
}

func TestForestTreeWorkers(t *testing.T) {
	tests := []struct {
		procs, trees, n, p int
		regression         bool
		want               int
	}{
		{2, 100, 1000, 20, false, 2},   // small data: one tree per core
		{8, 3, 1000, 20, false, 3},     // never more than the trees
		{2, 100, 160000, 20, false, 1}, // the benchmark's table: one tree at a time
		{2, 100, 160000, 20, true, 1},
		{2, 100, 160000, 60, false, 1},   // more features: the order arrays dominate
		{16, 100, 100000, 4, false, 6},   // the budget, not the cores, decides
		{2, 100, 1_000_000, 4, false, 1}, // the per-row scratch dominates
		{1, 100, 10_000_000, 5, false, 1},
	}
	for _, tc := range tests {
		if got := forestTreeWorkers(tc.procs, tc.trees, tc.n, tc.p, !tc.regression); got != tc.want {
			t.Errorf("forestTreeWorkers(%d, %d, %d, %d, regression %v) = %d, want %d", tc.procs, tc.trees, tc.n, tc.p, tc.regression, got, tc.want)
		}
	}
}

func TestForestColumnsMatchRows(t *testing.T) {
	// Column-major input (the train service's) must give the same forest
	// as row-major input; -0 and NaN columns are cleaned on a copy and the
	// caller's columns are left alone.
	ds := algotest.Generate(400, 4, datav1.Task_TASK_CLASSIFICATION, 3, 8, algotest.NoisyClass)
	ds.X.Set(3, 1, math.NaN())
	ds.X.Set(4, 2, math.Copysign(0, -1))
	n, p := ds.X.Dims()
	cols := make([][]float64, p)
	for f := range cols {
		cols[f] = mat.Col(nil, f, ds.X)
	}
	byCols := *ds
	byCols.X, byCols.Cols = nil, cols
	params := map[string]float64{"n_estimators": 6}
	a := algotest.FitSeed(t, "random_forest", ds, params, 4)
	b := algotest.FitSeed(t, "random_forest", &byCols, params, 4)
	if !proto.Equal(a, b) {
		t.Error("columns and rows gave different forests")
	}
	if !math.IsNaN(cols[1][3]) || !math.Signbit(cols[2][4]) {
		t.Error("fitting changed the caller's columns")
	}
	// Algorithms that read rows get X built from the columns.
	clean := algotest.Generate(n, p, datav1.Task_TASK_CLASSIFICATION, 3, 9, algotest.NoisyClass)
	cleanCols := *clean
	cleanCols.X, cleanCols.Cols = nil, make([][]float64, p)
	for f := range p {
		cleanCols.Cols[f] = mat.Col(nil, f, clean.X)
	}
	if nb, nbCols := algotest.FitSeed(t, "naive_bayes", clean, nil, 1), algotest.FitSeed(t, "naive_bayes", &cleanCols, nil, 1); !proto.Equal(nb, nbCols) {
		t.Error("naive Bayes on columns differs from naive Bayes on rows")
	}
}

// leafOf is tree.LeafPacked on a wide tree's own arrays.
func leafOf(t *datav1.TreeModel, x []float64) int {
	feat, thr, left, right := t.Feature, t.Threshold, t.Left, t.Right
	i := int32(0)
	for feat[i] >= 0 {
		if v := x[feat[i]]; v <= thr[i] || v != v {
			i = left[i]
		} else {
			i = right[i]
		}
	}
	return int(i)
}
