package algo

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

func TestRandomForestBeatsTree(t *testing.T) {
	ds := treeDataset(3000, 10, datav1.Task_TASK_CLASSIFICATION, 2, 42, treeNoisyClass)
	train, test := treeSplitRows(ds, 2000)
	tree := treeFit(t, "decision_tree", train, nil, 1)
	forest := treeFit(t, "random_forest", train, map[string]float64{"n_estimators": 60}, 1)
	treeAcc := treeAccuracy(treePredict(t, tree, test.X), test.Y)
	forestAcc := treeAccuracy(treePredict(t, forest, test.X), test.Y)
	// With 15% label noise the Bayes accuracy is about 0.85; a fully
	// grown tree overfits the noise, the forest's average does not.
	if forestAcc < 0.77 || forestAcc < treeAcc+0.04 {
		t.Errorf("test accuracy: forest %.3f, tree %.3f; want forest >= 0.77 and 0.04 above the tree", forestAcc, treeAcc)
	}
	probs := treePredict(t, forest, test.X)
	for i := range 10 {
		if s := probs.At(i, 0) + probs.At(i, 1); math.Abs(s-1) > 1e-12 {
			t.Errorf("row %d: probabilities sum to %g", i, s)
		}
	}
}

func TestRandomForestRegression(t *testing.T) {
	ds := treeDataset(2500, 6, datav1.Task_TASK_REGRESSION, 0, 9, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.Float64()
		}
		return 5*math.Sin(3*x[0]) + 3*x[1]*x[1] + 100 + 0.5*rng.NormFloat64()
	})
	train, test := treeSplitRows(ds, 2000)
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
			m := treeFit(t, "random_forest", train, tc.params, 2)
			if r2 := treeR2(treePredict(t, m, test.X), test.Y); r2 < tc.minR2 {
				t.Errorf("test R² %.3f, want >= %.2f", r2, tc.minR2)
			}
			if d, ok := tc.params["max_depth"]; ok {
				for i, tr := range forestTrees(t, m) {
					if got := treeDepth(tr); got > int(d) {
						t.Errorf("tree %d depth %d > max_depth %g", i, got, d)
					}
				}
			}
		})
	}
}

func TestRandomForestDeterminism(t *testing.T) {
	ds := treeDataset(500, 8, datav1.Task_TASK_CLASSIFICATION, 3, 17, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = math.Round(rng.NormFloat64() * 3)
		}
		return float64((int(x[0]) + int(x[1]) + 30) % 3)
	})
	params := map[string]float64{"n_estimators": 12}
	fitWith := func(procs int, seed int64) *datav1.Model {
		prev := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(prev)
		return treeFit(t, "random_forest", ds, params, seed)
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
		return treePredict(t, &back, ds.X)
	}()
	full := treePredict(t, one, ds.X)
	if !mat.Equal(full, serial) {
		t.Error("predictions differ after a round trip or between serial and parallel prediction")
	}
	// A row predicted alone must get what it gets in a batch.
	for i := range 5 {
		row := treePredict(t, one, mat.NewDense(1, 8, ds.X.RawRowView(i)))
		if !mat.Equal(row, full.Slice(i, i+1, 0, 3)) {
			t.Errorf("row %d predicted alone differs from the batch", i)
		}
	}
}

func TestRandomForestCancellation(t *testing.T) {
	ds := treeDataset(300, 4, datav1.Task_TASK_CLASSIFICATION, 2, 3, treeNoisyClass)
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Fit(ctx, "random_forest", ds, nil, 0, nil); !errors.Is(err, context.Canceled) {
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
		_, err := Fit(ctx, "random_forest", ds, map[string]float64{"n_estimators": 5000}, 0, progress)
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
		if _, err := Fit(ctx, "random_forest", ds, nil, 0, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestRandomForestProgress(t *testing.T) {
	ds := treeDataset(200, 4, datav1.Task_TASK_REGRESSION, 0, 3, func(rng *rand.Rand, x []float64) float64 {
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
	if _, err := Fit(context.Background(), "random_forest", ds, map[string]float64{"n_estimators": 30}, 0, progress); err != nil {
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
	cls := treeDataset(300, 16, datav1.Task_TASK_CLASSIFICATION, 2, 4, gen)
	reg := treeDataset(300, 16, datav1.Task_TASK_REGRESSION, 0, 4, gen)
	reg.ClassNames, reg.NumClasses = nil, 0
	for _, tc := range []struct {
		ds          *Dataset
		allOnFeat0  bool
		description string
	}{
		{cls, false, "classification (√16 = 4 features per split)"},
		{reg, true, "regression (all features)"},
	} {
		m := treeFit(t, "random_forest", tc.ds, map[string]float64{"n_estimators": 30}, 1)
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
		out, err := Predict(m, X)
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok %v", tc.name, err, tc.ok)
		}
		if tc.ok && out.At(0, 0) != 2 {
			t.Errorf("%s: prediction %g, want the mean 2", tc.name, out.At(0, 0))
		}
	}
	if _, err := Predict(&datav1.Model{Algorithm: "random_forest"}, X); err == nil {
		t.Error("model without forest parameters: want an error")
	}
}

// treeBenchData is a 20-feature classification problem in the style of
// scikit-learn's make_classification: a few informative features, the
// rest noise.
func treeBenchData(rows int) *Dataset {
	return treeDataset(rows, 20, datav1.Task_TASK_CLASSIFICATION, 2, 1, func(rng *rand.Rand, x []float64) float64 {
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

func BenchmarkDecisionTreeFit(b *testing.B) {
	ds := treeBenchData(20000)
	for b.Loop() {
		if _, err := Fit(context.Background(), "decision_tree", ds, nil, 1, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRandomForestFit(b *testing.B) {
	ds := treeBenchData(20000)
	params := map[string]float64{"n_estimators": 20}
	for b.Loop() {
		if _, err := Fit(context.Background(), "random_forest", ds, params, 1, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRandomForestPredict(b *testing.B) {
	ds := treeBenchData(20000)
	m, err := Fit(context.Background(), "random_forest", ds, map[string]float64{"n_estimators": 20}, 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Predict(m, ds.X); err != nil {
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
	ds := treeDataset(n, 3, datav1.Task_TASK_CLASSIFICATION, 2, 6, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.NormFloat64()
		}
		if rng.Float64() < 0.1 {
			return 1
		}
		return 0
	})
	const seed, trees = 9, 6
	m := treeFit(t, "random_forest", ds, map[string]float64{"n_estimators": trees, "max_depth": 2, "balanced": 1}, seed)
	classW := balancedClassWeights(ds.Y, 2)
	nonUniform := false
	for ti, tr := range forestTrees(t, m) {
		// Replay the tree's bootstrap draws from its random stream and
		// route each draw to its leaf.
		rng := treeRNG(seed, ti)
		var want [2]float64
		leafW := map[int]*[2]float64{}
		for range n {
			i := rng.IntN(n)
			c := int(ds.Y[i])
			want[c] += classW[c]
			leaf := treeLeaf(tr, ds.X.RawRowView(i))
			if leafW[leaf] == nil {
				leafW[leaf] = new([2]float64)
			}
			leafW[leaf][c] += classW[c]
		}
		for leaf, w := range leafW {
			total := w[0] + w[1]
			for k := range 2 {
				if !linClose(tr.Value[leaf*2+k], w[k]/total, 1e-12) {
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
		w, err := ExpandTree(tr, p)
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
	ds := treeBenchData(3000)
	m, err := Fit(context.Background(), "random_forest", ds, map[string]float64{"n_estimators": 7}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, rows := range []int{1, 7, 8, 9, 15, 16, 17, 63} {
		X := mat.DenseCopyOf(ds.X.Slice(0, rows, 0, 20))
		all, err := Predict(m, X)
		if err != nil {
			t.Fatal(err)
		}
		for r := range rows {
			one, err := Predict(m, mat.DenseCopyOf(X.Slice(r, r+1, 0, 20)))
			if err != nil {
				t.Fatal(err)
			}
			if !mat.Equal(one, all.Slice(r, r+1, 0, 2)) {
				t.Fatalf("%d rows: row %d predicts %v in the group, %v alone", rows, r, mat.Formatted(all.Slice(r, r+1, 0, 2)), mat.Formatted(one))
			}
		}
	}
}
