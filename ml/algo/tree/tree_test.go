package tree

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/algo/internal/algotest"
	"github.com/alur-ml/alur/ml/algo/internal/numeric"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

func TestDecisionTreeXOR(t *testing.T) {
	// Two binary features with the label their XOR; each quadrant repeats
	// a number of times. With equal counts no root split reduces the
	// impurity, yet the tree must still split (as CART does when the best
	// decrease is zero) and separate the quadrants at depth 2.
	for _, tc := range []struct {
		name  string
		sizes [2][2]int
	}{
		{"balanced", [2][2]int{{25, 25}, {25, 25}}},
		{"unbalanced", [2][2]int{{40, 10}, {5, 30}}},
		{"single rows", [2][2]int{{1, 1}, {1, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rows []float64
			var y []float64
			for a := range 2 {
				for b := range 2 {
					for range tc.sizes[a][b] {
						rows = append(rows, float64(a), float64(b))
						y = append(y, float64(a^b))
					}
				}
			}
			X := mat.NewDense(len(y), 2, rows)
			ds := &algo.Dataset{X: X, Y: y, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 2}
			for _, seed := range []int64{0, 1, 2, 3} {
				m := algotest.FitSeed(t, "decision_tree", ds, map[string]float64{"max_depth": 2}, seed)
				tr := m.GetTree()
				if got := algotest.Depth(tr); got != 2 {
					t.Errorf("seed %d: depth %d, want 2", seed, got)
				}
				if acc := algotest.Accuracy(algotest.Predict(t, m, X), y); acc != 1 {
					t.Errorf("seed %d: training accuracy %g, want 1", seed, acc)
				}
				for i, f := range tr.Feature {
					if f >= 0 && tr.Threshold[i] != 0.5 {
						t.Errorf("seed %d: node %d threshold %g, want 0.5", seed, i, tr.Threshold[i])
					}
				}
			}
		})
	}
}

func TestDecisionTreeRegressionStep(t *testing.T) {
	// y steps from 2 to 7 between x = 0.30 and x = 0.31; a stump must put
	// its threshold at their midpoint and predict the step exactly.
	n := 100
	X := mat.NewDense(n, 1, nil)
	y := make([]float64, n)
	for i := range n {
		// Shuffled order: the tree must not depend on row order.
		j := (i * 37) % n
		x := float64(j) / 100
		X.Set(i, 0, x)
		y[i] = 2
		if j > 30 {
			y[i] = 7
		}
	}
	ds := &algo.Dataset{X: X, Y: y, Task: datav1.Task_TASK_REGRESSION}
	m := algotest.FitSeed(t, "decision_tree", ds, map[string]float64{"max_depth": 1}, 0)
	tr := m.GetTree()
	if len(tr.Feature) != 3 || tr.Feature[0] != 0 {
		t.Fatalf("want a stump on feature 0, got %v", tr.Feature)
	}
	if want := (0.30 + 0.31) / 2; math.Abs(tr.Threshold[0]-want) > 1e-12 {
		t.Errorf("threshold %g, want %g", tr.Threshold[0], want)
	}
	pred := algotest.Predict(t, m, X)
	tests := []struct {
		x, want float64
	}{{-1, 2}, {0, 2}, {0.30, 2}, {0.305, 2}, {0.3051, 7}, {0.31, 7}, {5, 7}, {math.NaN(), 2}, {math.Inf(1), 7}}
	for _, tc := range tests {
		got := algotest.Predict(t, m, mat.NewDense(1, 1, []float64{tc.x})).At(0, 0)
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("predict(%g) = %g, want %g", tc.x, got, tc.want)
		}
	}
	if r2 := algotest.R2(pred, y); math.Abs(r2-1) > 1e-12 {
		t.Errorf("training R² %g, want 1", r2)
	}
	if imp := m.FeatureImportances; len(imp) != 1 || math.Abs(imp[0]-1) > 1e-12 {
		t.Errorf("importances %v, want [1]", imp)
	}
}

func TestDecisionTreeMinSamplesLeaf(t *testing.T) {
	ds := algotest.Generate(600, 5, datav1.Task_TASK_CLASSIFICATION, 2, 3, algotest.NoisyClass)
	reg := algotest.Generate(600, 5, datav1.Task_TASK_REGRESSION, 0, 4, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.Float64()
		}
		return math.Sin(6*x[0]) + 0.3*rng.NormFloat64()
	})
	for _, tc := range []struct {
		name string
		ds   *algo.Dataset
		leaf float64
	}{
		{"class/1", ds, 1}, {"class/7", ds, 7}, {"class/40", ds, 40},
		{"reg/1", reg, 1}, {"reg/13", reg, 13}, {"reg/100", reg, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := algotest.FitSeed(t, "decision_tree", tc.ds, map[string]float64{"min_samples_leaf": tc.leaf}, 5)
			tr := m.GetTree()
			smallest := int64(math.MaxInt64)
			for i, f := range tr.Feature {
				if f < 0 {
					smallest = min(smallest, tr.Samples[i])
				}
			}
			if smallest < int64(tc.leaf) {
				t.Errorf("smallest leaf has %d rows, want >= %g", smallest, tc.leaf)
			}
			if tc.leaf == 1 && smallest != 1 {
				t.Errorf("unconstrained tree on noisy data: smallest leaf %d, want 1", smallest)
			}
			// Each split's children account for all of its rows.
			for i, f := range tr.Feature {
				if f >= 0 && tr.Samples[tr.Left[i]]+tr.Samples[tr.Right[i]] != tr.Samples[i] {
					t.Errorf("node %d: children hold %d + %d rows of %d", i, tr.Samples[tr.Left[i]], tr.Samples[tr.Right[i]], tr.Samples[i])
				}
			}
		})
	}
}

func TestDecisionTreeMaxDepth(t *testing.T) {
	ds := algotest.Generate(800, 6, datav1.Task_TASK_CLASSIFICATION, 2, 8, algotest.NoisyClass)
	for _, depth := range []float64{1, 2, 3, 6, 10} {
		m := algotest.FitSeed(t, "decision_tree", ds, map[string]float64{"max_depth": depth}, 1)
		// Noisy labels keep the tree growing until the limit.
		if got := algotest.Depth(m.GetTree()); got != int(depth) {
			t.Errorf("max_depth %g: depth %d", depth, got)
		}
	}
	m := algotest.FitSeed(t, "decision_tree", ds, nil, 1)
	if got := algotest.Depth(m.GetTree()); got <= 10 {
		t.Errorf("unlimited depth on noisy data: depth %d, want > 10", got)
	}
	if acc := algotest.Accuracy(algotest.Predict(t, m, ds.X), ds.Y); acc != 1 {
		t.Errorf("fully grown tree: training accuracy %g, want 1 (distinct rows)", acc)
	}
}

func TestTreeBestSplitMatchesBruteForce(t *testing.T) {
	// A stump's split must achieve the largest weighted impurity decrease
	// that an exhaustive search over all features and thresholds finds,
	// with and without balanced class weights (odd trials are regression;
	// trials 4k+2 are balanced).
	for trial := range 60 {
		rng := rand.New(rand.NewPCG(uint64(trial), 99))
		n, p := 10+rng.IntN(50), 1+rng.IntN(4)
		task := datav1.Task_TASK_CLASSIFICATION
		if trial%2 == 1 {
			task = datav1.Task_TASK_REGRESSION
		}
		classes := 2 + rng.IntN(3)
		ds := algotest.Generate(n, p, task, classes, uint64(trial), func(rng *rand.Rand, x []float64) float64 {
			for f := range x {
				x[f] = math.Round(rng.Float64()*8) / 2 // many ties
			}
			if task == datav1.Task_TASK_CLASSIFICATION {
				return float64(rng.IntN(classes))
			}
			return 1e6 + rng.NormFloat64() // large offset: tests the centring
		})
		if task == datav1.Task_TASK_REGRESSION {
			ds.NumClasses, ds.ClassNames = 0, nil
		}
		leaf := 1 + rng.IntN(3)
		balanced := trial%4 == 2
		var classW []float64
		params := map[string]float64{"max_depth": 1, "min_samples_leaf": float64(leaf)}
		if balanced {
			params["balanced"] = 1
			classW = algo.BalancedClassWeights(ds.Y, ds.NumClasses)
		}
		m := algotest.FitSeed(t, "decision_tree", ds, params, int64(trial))
		want := treeBruteForceDecrease(ds, leaf, classW)
		tr := m.GetTree()
		var got float64
		if tr.Feature[0] >= 0 {
			imp, w := treeImpurity(ds, func(i int) bool { return true }, classW)
			got = imp * w
			for _, child := range []bool{true, false} {
				side := func(i int) bool {
					x := ds.X.At(i, int(tr.Feature[0]))
					return (x <= tr.Threshold[0]) == child
				}
				cnt := 0
				for i := range n {
					if side(i) {
						cnt++
					}
				}
				if cnt < leaf {
					t.Fatalf("trial %d: child with %d rows, min_samples_leaf %d", trial, cnt, leaf)
				}
				imp, w := treeImpurity(ds, side, classW)
				got -= imp * w
			}
		}
		if tol := 1e-9 * math.Max(1, want); math.Abs(got-want) > tol {
			t.Errorf("trial %d (%v, balanced %v, n=%d p=%d leaf=%d): stump decrease %.12g, brute force %.12g",
				trial, task, balanced, n, p, leaf, got, want)
		}
	}
}

// treeImpurity is the Gini impurity (on class counts weighted by classW,
// when not nil) or the variance of the rows in, and their total weight.
func treeImpurity(ds *algo.Dataset, in func(i int) bool, classW []float64) (impurity, weight float64) {
	var ys []float64
	for i, y := range ds.Y {
		if in(i) {
			ys = append(ys, y)
		}
	}
	if len(ys) == 0 {
		return 0, 0
	}
	if ds.Task == datav1.Task_TASK_CLASSIFICATION {
		cnt := make([]float64, ds.NumClasses)
		var total float64
		for _, y := range ys {
			w := 1.0
			if classW != nil {
				w = classW[int(y)]
			}
			cnt[int(y)] += w
			total += w
		}
		g := 1.0
		for _, c := range cnt {
			g -= (c / total) * (c / total)
		}
		return g, total
	}
	var mean, ss float64
	for _, y := range ys {
		mean += y
	}
	mean /= float64(len(ys))
	for _, y := range ys {
		ss += (y - mean) * (y - mean)
	}
	return ss / float64(len(ys)), float64(len(ys))
}

// treeBruteForceDecrease tries every feature and every threshold between
// distinct values, with at least leaf rows on each side, and returns the
// largest weight-weighted impurity decrease.
func treeBruteForceDecrease(ds *algo.Dataset, leaf int, classW []float64) float64 {
	n, p := ds.X.Dims()
	rootImp, rootW := treeImpurity(ds, func(int) bool { return true }, classW)
	root := rootImp * rootW
	best := 0.0
	for f := range p {
		for i := range n {
			thr := ds.X.At(i, f)
			var nl int
			for j := range n {
				if ds.X.At(j, f) <= thr {
					nl++
				}
			}
			if nl < leaf || n-nl < leaf {
				continue
			}
			l, wl := treeImpurity(ds, func(j int) bool { return ds.X.At(j, f) <= thr }, classW)
			r, wr := treeImpurity(ds, func(j int) bool { return ds.X.At(j, f) > thr }, classW)
			best = math.Max(best, root-l*wl-r*wr)
		}
	}
	return best
}

func TestTreeMissingAndInfiniteValues(t *testing.T) {
	// NaN trains and predicts as if below every value (it goes left);
	// infinities are ordinary extreme values.
	xs := []float64{math.NaN(), math.Inf(-1), 1, 2, 3, 10, 11, math.Inf(1)}
	ys := []float64{0, 0, 0, 0, 0, 1, 1, 1}
	ds := &algo.Dataset{X: mat.NewDense(len(xs), 1, xs), Y: ys, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 2}
	m := algotest.FitSeed(t, "decision_tree", ds, nil, 0)
	tr := m.GetTree()
	if tr.Threshold[0] != 6.5 {
		t.Errorf("threshold %g, want 6.5", tr.Threshold[0])
	}
	if acc := algotest.Accuracy(algotest.Predict(t, m, ds.X), ys); acc != 1 {
		t.Errorf("training accuracy %g, want 1", acc)
	}
	// A threshold next to +Inf falls back to the finite value.
	if got := numeric.Midpoint(3, math.Inf(1)); got != 3 {
		t.Errorf("numeric.Midpoint(3, +Inf) = %g, want 3", got)
	}
	if got := numeric.Midpoint(math.Inf(-1), math.Inf(1)); !math.IsInf(got, -1) {
		t.Errorf("numeric.Midpoint(-Inf, +Inf) = %g, want -Inf", got)
	}
	if got := numeric.Midpoint(math.MaxFloat64, math.Inf(1)); got != math.MaxFloat64 {
		t.Errorf("numeric.Midpoint(max, +Inf) = %g", got)
	}
	if lo, hi := 1.0, math.Nextafter(1, 2); numeric.Midpoint(lo, hi) != lo {
		t.Errorf("numeric.Midpoint of adjacent floats must be the lower one")
	}
	if got := numeric.Midpoint(-math.MaxFloat64, math.MaxFloat64); got != 0 {
		t.Errorf("numeric.Midpoint(-max, max) = %g, want 0", got)
	}
}

func TestTreeMinImpurityDecrease(t *testing.T) {
	ds := algotest.Generate(500, 4, datav1.Task_TASK_CLASSIFICATION, 2, 21, algotest.NoisyClass)
	prev := math.MaxInt
	for _, v := range []float64{0, 0.001, 0.01, 0.05, 1} {
		m := algotest.FitSeed(t, "decision_tree", ds, map[string]float64{"min_impurity_decrease": v}, 2)
		nodes := len(m.GetTree().Feature)
		if nodes > prev {
			t.Errorf("min_impurity_decrease %g: %d nodes, more than %d with a smaller value", v, nodes, prev)
		}
		prev = nodes
		if v == 1 && nodes != 1 {
			t.Errorf("min_impurity_decrease 1 (above any Gini decrease): %d nodes, want 1", nodes)
		}
	}
}

func TestTreeMaxFeaturesResolution(t *testing.T) {
	tests := []struct {
		v       float64
		p, all  int
		want    int
		wantErr bool
	}{
		{0, 20, 20, 20, false},
		{0, 20, 4, 4, false},
		{0, 1, 0, 1, false},
		{1, 20, 20, 20, false},
		{0.5, 20, 20, 10, false},
		{0.01, 20, 20, 1, false},
		{0.33, 10, 10, 3, false},
		{3, 20, 20, 3, false},
		{50, 20, 20, 20, false},
		{2.5, 20, 20, 0, true},
		{-1, 20, 20, 0, true},
		{math.NaN(), 20, 20, 0, true},
	}
	for _, tc := range tests {
		got, err := resolveMaxFeatures(tc.v, tc.p, tc.all)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("resolveMaxFeatures(%g, %d, %d) = %d, %v; want %d, error %v", tc.v, tc.p, tc.all, got, err, tc.want, tc.wantErr)
		}
	}
	ds := algotest.Generate(50, 3, datav1.Task_TASK_CLASSIFICATION, 2, 1, algotest.NoisyClass)
	_, err := algo.Fit(context.Background(), "decision_tree", ds, map[string]float64{"max_features": 1.5}, 0, nil)
	var pe *algo.ParamError
	if !errors.As(err, &pe) || pe.Param != "max_features" {
		t.Errorf("max_features 1.5: error %v, want a ParamError naming max_features", err)
	}
}

func TestTreeDeterminismAndRoundTrip(t *testing.T) {
	ds := algotest.Generate(400, 6, datav1.Task_TASK_CLASSIFICATION, 3, 5, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = math.Round(rng.NormFloat64() * 4) // ties make the seed matter
		}
		return float64(rng.IntN(3))
	})
	params := map[string]float64{"max_features": 2}
	a := algotest.FitSeed(t, "decision_tree", ds, params, 7)
	b := algotest.FitSeed(t, "decision_tree", ds, params, 7)
	if !proto.Equal(a, b) {
		t.Error("same seed gave different trees")
	}
	c := algotest.FitSeed(t, "decision_tree", ds, params, 8)
	if proto.Equal(a.GetTree(), c.GetTree()) {
		t.Error("different seeds gave identical trees with max_features 2 of 6")
	}
	buf, err := proto.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var back datav1.Model
	if err := proto.Unmarshal(buf, &back); err != nil {
		t.Fatal(err)
	}
	if !mat.Equal(algotest.Predict(t, a, ds.X), algotest.Predict(t, &back, ds.X)) {
		t.Error("predictions differ after a Marshal/Unmarshal round trip")
	}
}

func TestDecisionTreeParallelMatchesSerial(t *testing.T) {
	// Nodes above treeParallelMinRows rows are scanned and partitioned in
	// parallel; the tree must not depend on it.
	for _, task := range []datav1.Task{datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION} {
		ds := algotest.Generate(3*treeParallelMinRows, 6, task, 3, 31, func(rng *rand.Rand, x []float64) float64 {
			for f := range x {
				x[f] = math.Round(rng.NormFloat64() * 8)
			}
			if task == datav1.Task_TASK_REGRESSION {
				return x[0] + x[1]*x[2] + rng.NormFloat64()
			}
			return float64(rng.IntN(3))
		})
		if task == datav1.Task_TASK_REGRESSION {
			ds.NumClasses, ds.ClassNames = 0, nil
		}
		fitWith := func(procs int) *datav1.Model {
			prev := runtime.GOMAXPROCS(procs)
			defer runtime.GOMAXPROCS(prev)
			return algotest.FitSeed(t, "decision_tree", ds, map[string]float64{"max_depth": 12}, 4)
		}
		if serial, parallel := fitWith(1), fitWith(2); !proto.Equal(serial, parallel) {
			t.Errorf("%v: tree differs between GOMAXPROCS 1 and 2", task)
		}
	}
}

func TestTreeFitCancelled(t *testing.T) {
	ds := algotest.Generate(100, 3, datav1.Task_TASK_CLASSIFICATION, 2, 1, algotest.NoisyClass)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := algo.Fit(ctx, "decision_tree", ds, nil, 0, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled fit: error %v, want context.Canceled", err)
	}
}

func TestTreePredictRejectsMalformedModels(t *testing.T) {
	good := func() *datav1.TreeModel {
		return &datav1.TreeModel{
			Feature: []int32{0, -1, -1}, Threshold: []float64{0.5, 0, 0},
			Left: []int32{1, -1, -1}, Right: []int32{2, -1, -1},
			NumOutputs: 2, Value: []float64{0.5, 0.5, 1, 0, 0, 1}, Samples: []int64{4, 2, 2},
		}
	}
	X := mat.NewDense(2, 2, []float64{0, 1, 1, 0})
	tests := []struct {
		name   string
		mutate func(t *datav1.TreeModel, m *datav1.Model)
		want   string
	}{
		{"good", func(*datav1.TreeModel, *datav1.Model) {}, ""},
		{"no nodes", func(t *datav1.TreeModel, _ *datav1.Model) { *t = datav1.TreeModel{NumOutputs: 2} }, "no nodes"},
		{"short thresholds", func(t *datav1.TreeModel, _ *datav1.Model) { t.Threshold = t.Threshold[:2] }, "disagree"},
		{"short samples", func(t *datav1.TreeModel, _ *datav1.Model) { t.Samples = t.Samples[:1] }, "sample counts"},
		{"zero outputs", func(t *datav1.TreeModel, _ *datav1.Model) { t.NumOutputs = 0 }, "num_outputs"},
		{"short values", func(t *datav1.TreeModel, _ *datav1.Model) { t.Value = t.Value[:5] }, "values"},
		{"feature out of range", func(t *datav1.TreeModel, _ *datav1.Model) { t.Feature[0] = 2 }, "feature 2"},
		{"negative feature", func(t *datav1.TreeModel, _ *datav1.Model) { t.Feature[0] = -5 }, "feature -5"},
		{"self loop", func(t *datav1.TreeModel, _ *datav1.Model) { t.Left[0] = 0 }, "children"},
		{"child past end", func(t *datav1.TreeModel, _ *datav1.Model) { t.Right[0] = 3 }, "children"},
		{"leaf with child", func(t *datav1.TreeModel, _ *datav1.Model) { t.Left[1] = 2 }, "leaf"},
		{"NaN threshold", func(t *datav1.TreeModel, _ *datav1.Model) { t.Threshold[0] = math.NaN() }, "NaN threshold"},
		{"infinite value", func(t *datav1.TreeModel, _ *datav1.Model) { t.Value[3] = math.Inf(1) }, "non-finite"},
		{"class count", func(_ *datav1.TreeModel, m *datav1.Model) { m.ClassNames = []string{"a", "b", "c"} }, "3 classes"},
		{"regression width", func(_ *datav1.TreeModel, m *datav1.Model) { m.Task = datav1.Task_TASK_REGRESSION }, "1 output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := good()
			m := &datav1.Model{Algorithm: "decision_tree", Task: datav1.Task_TASK_CLASSIFICATION, ClassNames: []string{"a", "b"}}
			tc.mutate(tr, m)
			m.Parameters = &datav1.Model_Tree{Tree: tr}
			out, err := algo.Predict(m, X)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("good model: %v", err)
				}
				want := mat.NewDense(2, 2, []float64{1, 0, 0, 1})
				if !mat.EqualApprox(out, want, 1e-15) {
					t.Errorf("predictions %v, want %v", mat.Formatted(out), mat.Formatted(want))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := algo.Predict(&datav1.Model{Algorithm: "decision_tree"}, X); err == nil {
		t.Error("model without tree parameters: want an error")
	}
}

// FuzzTreePredict decodes random trees, from the fuzz bytes read either as
// a serialised TreeModel or as raw node fields, and checks that prediction
// returns an error or a well-shaped result but never panics.
func FuzzTreePredict(f *testing.F) {
	f.Add([]byte{3, 2, 0, 1, 2, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{1, 1, 0xff, 0xff, 0xff})
	if b, err := proto.Marshal(&datav1.TreeModel{Feature: []int32{1, -1, -1}, Threshold: []float64{0, 0, 0}, Left: []int32{1, -1, -1}, Right: []int32{2, -1, -1}, NumOutputs: 1, Value: []float64{1, 2, 3}}); err == nil {
		f.Add(b)
	}
	X := mat.NewDense(4, 3, []float64{0, 1, -1, math.NaN(), 2, 3, math.Inf(1), math.Inf(-1), 0, -5, 5, 0.5})
	// Many rows as well as few.
	big := mat.NewDense(64, 3, nil)
	for i := range 64 {
		big.SetRow(i, X.RawRowView(i%4))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var trees []*datav1.TreeModel
		var decoded datav1.TreeModel
		if proto.Unmarshal(data, &decoded) == nil {
			trees = append(trees, &decoded)
		}
		trees = append(trees, treeFromBytes(data))
		for _, tr := range trees {
			for _, task := range []datav1.Task{datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION} {
				single := &datav1.Model{Algorithm: "decision_tree", Task: task, Parameters: &datav1.Model_Tree{Tree: tr}}
				forest := &datav1.Model{Algorithm: "random_forest", Task: task, Parameters: &datav1.Model_Forest{Forest: &datav1.ForestModel{Trees: []*datav1.TreeModel{tr, tr}}}}
				for _, m := range []*datav1.Model{single, forest} {
					for _, x := range []*mat.Dense{X, big} {
						predict := algo.Predict
						if m.GetForest() != nil {
							predict = predictForest
						}
						out, err := predict(m, x)
						if err != nil {
							continue
						}
						rows, _ := x.Dims()
						if r, c := out.Dims(); r != rows || c != int(tr.NumOutputs) {
							t.Fatalf("output %d × %d, want %d × %d", r, c, rows, tr.NumOutputs)
						}
					}
				}
			}
		}
	})
}

// treeFromBytes reads a tree's fields from fuzz bytes: a node count and
// output width, then per node a feature, two children and a threshold, then
// values; bytes run out into zeros. Small signed numbers make in-range and
// out-of-range indexes equally likely.
func treeFromBytes(data []byte) *datav1.TreeModel {
	next := func() int8 {
		if len(data) == 0 {
			return 0
		}
		b := int8(data[0])
		data = data[1:]
		return b
	}
	n := int(uint8(next())) % 17
	k := int32(next()) % 4
	t := &datav1.TreeModel{NumOutputs: k}
	for range n {
		t.Feature = append(t.Feature, int32(next()%5))
		t.Left = append(t.Left, int32(next()%20))
		t.Right = append(t.Right, int32(next()%20))
		var buf [8]byte
		for j := range buf[:2] {
			buf[j+6] = byte(next())
		}
		t.Threshold = append(t.Threshold, math.Float64frombits(binary.LittleEndian.Uint64(buf[:])))
	}
	values := int(uint8(next())) % 40
	if next()%4 != 0 {
		values = n * max(int(k), 0)
	}
	for range values {
		t.Value = append(t.Value, float64(next()))
	}
	if next()%2 == 0 {
		t.Samples = make([]int64, n)
	}
	return t
}

func TestTreeArgsort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	special := []float64{0, 1, -1, 0.5, -0.5, math.Inf(1), math.Inf(-1), math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, 1e300, -1e-300}
	for _, n := range []int{0, 1, 2, 7, 100, 5000} {
		for _, kind := range []string{"normal", "ties", "special", "constant"} {
			col := make([]float64, n)
			for i := range col {
				switch kind {
				case "normal":
					col[i] = rng.NormFloat64() * 1e3
				case "ties":
					col[i] = float64(rng.IntN(5) - 2)
				case "special":
					col[i] = special[rng.IntN(len(special))]
				case "constant":
					col[i] = 42
				}
			}
			got := treeArgsort(col)
			if len(got) != n {
				t.Fatalf("%s/%d: %d indexes", kind, n, len(got))
			}
			seen := make([]bool, n)
			for k, i := range got {
				if seen[i] {
					t.Fatalf("%s/%d: index %d twice", kind, n, i)
				}
				seen[i] = true
				if k > 0 {
					a, b := col[got[k-1]], col[i]
					if a > b || (a == b && got[k-1] > i) {
						t.Fatalf("%s/%d: position %d: (%g, %d) before (%g, %d)", kind, n, k, a, got[k-1], b, i)
					}
				}
			}
		}
	}
}

// treeArgsort returns the indexes of col in ascending order of value, ties
// in index order. col must not contain NaN.
func treeArgsort(col []float64) []int32 {
	rows := make([]int32, len(col))
	for i := range rows {
		rows[i] = int32(i)
	}
	out := make([]int32, len(col))
	var s treeSorter
	s.argsort(col, rows, out)
	return out
}

// treeGrowRandom grows tree index of seed on ds with random splits and the
// decision tree's default limits but for params, on a builder with workers
// goroutines per node, and returns the builder (holding the rows' drawn
// multiplicities) with the tree.
func treeGrowRandom(t *testing.T, ds *algo.Dataset, params map[string]float64, short, bootstrap bool, workers int, seed int64, index int) (*Builder, *datav1.TreeModel) {
	t.Helper()
	spec, _ := algo.Lookup("decision_tree")
	all, err := spec.ResolveParams(params)
	if err != nil {
		t.Fatal(err)
	}
	_, p := ds.Dims()
	cfg, err := ConfigFromParams(all, p, p)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RandomSplits, cfg.ShortThresholds = true, short
	b := NewBuilder(NewData(ds, nil), cfg, workers)
	b.Reset(seed, index, bootstrap)
	tr, _, err := b.GrowInto(t.Context(), &datav1.TreeModel{})
	if err != nil {
		t.Fatal(err)
	}
	return b, tr
}

// treeRandomData has rounded features (ties, and binary32 gaps) and a
// missing value in every 37th row of feature 1.
func treeRandomData(n int, task datav1.Task, seed uint64) *algo.Dataset {
	ds := algotest.Generate(n, 5, task, 3, seed, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = math.Round(rng.NormFloat64()*40) / 8
		}
		if task == datav1.Task_TASK_REGRESSION {
			return x[0] - 2*x[1]*x[2] + rng.NormFloat64()
		}
		return float64((int(math.Abs(x[0]+x[1])) + rng.IntN(2)) % 3)
	})
	if task == datav1.Task_TASK_REGRESSION {
		ds.NumClasses, ds.ClassNames = 0, nil
	}
	for i := 0; i < n; i += 37 {
		ds.X.Set(i, 1, math.NaN())
	}
	return ds
}

func TestTreeRandomSplitsDeterministic(t *testing.T) {
	// Nodes of treeParallelMinRows rows and more are scanned on several
	// workers: the thresholds must be drawn the same way whatever their
	// number.
	for _, tc := range []struct {
		name      string
		task      datav1.Task
		params    map[string]float64
		bootstrap bool
	}{
		{"classification", datav1.Task_TASK_CLASSIFICATION, nil, false},
		{"classification bootstrap, 2 features", datav1.Task_TASK_CLASSIFICATION, map[string]float64{"max_features": 2}, true},
		{"regression", datav1.Task_TASK_REGRESSION, map[string]float64{"min_samples_leaf": 3}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := treeRandomData(3*treeParallelMinRows, tc.task, 21)
			_, one := treeGrowRandom(t, ds, tc.params, true, tc.bootstrap, 1, 5, 0)
			_, again := treeGrowRandom(t, ds, tc.params, true, tc.bootstrap, 1, 5, 0)
			_, two := treeGrowRandom(t, ds, tc.params, true, tc.bootstrap, 2, 5, 0)
			if !proto.Equal(one, again) {
				t.Error("same seed gave different trees")
			}
			if !proto.Equal(one, two) {
				t.Error("the tree differs between 1 and 2 workers")
			}
			if _, other := treeGrowRandom(t, ds, tc.params, true, tc.bootstrap, 1, 6, 0); proto.Equal(one, other) {
				t.Error("different seeds gave identical trees")
			}
			if _, next := treeGrowRandom(t, ds, tc.params, true, tc.bootstrap, 1, 5, 1); proto.Equal(one, next) {
				t.Error("trees 0 and 1 of one seed are identical")
			}
		})
	}
}

func TestTreeRandomSplitsRouteTrainingRows(t *testing.T) {
	// Every split must send each training row where the builder put it:
	// walking the drawn rows down the stored tree must give every node
	// its recorded sample count, every leaf at least min_samples_leaf
	// rows, and every threshold must be the one the exhaustive scan
	// stores for the gap between the largest value sent left and the
	// smallest sent right (binary32 when short).
	for _, tc := range []struct {
		name      string
		task      datav1.Task
		params    map[string]float64
		short     bool
		bootstrap bool
	}{
		{"classification", datav1.Task_TASK_CLASSIFICATION, nil, false, false},
		{"classification short bootstrap", datav1.Task_TASK_CLASSIFICATION, map[string]float64{"max_features": 2}, true, true},
		{"classification min_samples_leaf 5", datav1.Task_TASK_CLASSIFICATION, map[string]float64{"min_samples_leaf": 5}, true, false},
		{"regression", datav1.Task_TASK_REGRESSION, nil, true, false},
		{"regression bootstrap min_samples_leaf 3", datav1.Task_TASK_REGRESSION, map[string]float64{"min_samples_leaf": 3}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := treeRandomData(700, tc.task, 3)
			b, tr := treeGrowRandom(t, ds, tc.params, tc.short, tc.bootstrap, 1, 9, 2)
			if err := Validate(tr, 5); err != nil {
				t.Fatal(err)
			}
			n := len(tr.Feature)
			samples := make([]int64, n)
			rows := make([]int, n)
			lo := make([]float64, n) // largest value of the split feature sent left
			hi := make([]float64, n) // smallest sent right
			for i := range n {
				lo[i], hi[i] = math.Inf(-1), math.Inf(1)
			}
			for r := range b.d.n {
				w := int64(1)
				if tc.task == datav1.Task_TASK_CLASSIFICATION {
					w = int64(b.cw[r].weight)
				} else {
					w = int64(b.tw[r].weight)
				}
				if w == 0 {
					continue
				}
				x := ds.X.RawRowView(r)
				for i := int32(0); ; {
					samples[i] += w
					rows[i]++
					f := tr.Feature[i]
					if f < 0 {
						break
					}
					v := b.d.col(int(f))[r] // a missing value is −Inf here
					left := v <= tr.Threshold[i]
					if u := x[f]; left != (u <= tr.Threshold[i] || u != u) {
						t.Fatalf("node %d: row %d's value %v and its stored form %v go different ways", i, r, u, v)
					}
					if left {
						lo[i] = max(lo[i], v)
						i = tr.Left[i]
					} else {
						hi[i] = min(hi[i], v)
						i = tr.Right[i]
					}
				}
			}
			minLeaf := int(tc.params["min_samples_leaf"])
			splits := 0
			for i := range n {
				if samples[i] != tr.Samples[i] {
					t.Fatalf("node %d: %d training draws reach it, the tree records %d", i, samples[i], tr.Samples[i])
				}
				if tr.Feature[i] < 0 {
					if rows[i] < minLeaf {
						t.Errorf("leaf %d holds %d rows, below min_samples_leaf %d", i, rows[i], minLeaf)
					}
					continue
				}
				splits++
				want := numeric.Midpoint(lo[i], hi[i])
				if tc.short {
					want = treeShortThreshold(lo[i], hi[i], want)
				}
				if tr.Threshold[i] != want {
					t.Errorf("node %d: threshold %v, want %v for the gap (%v, %v)", i, tr.Threshold[i], want, lo[i], hi[i])
				}
			}
			if splits < 10 {
				t.Errorf("only %d splits", splits)
			}
		})
	}
}

func TestTreeRandomSplitsDrawUniformly(t *testing.T) {
	// One feature 0..99 whose class flips at 50: the exhaustive scan
	// always splits the root at 49.5, random splits draw the root's gap
	// uniformly, and with min_samples_leaf a draw leaving too few rows on
	// a side makes the root a leaf.
	ds := algotest.Generate(100, 1, datav1.Task_TASK_CLASSIFICATION, 2, 1, func(rng *rand.Rand, x []float64) float64 {
		x[0] = 0
		return 0
	})
	for i := range 100 {
		ds.X.Set(i, 0, float64(i))
		ds.Y[i] = float64(i / 50)
	}
	for _, tc := range []struct {
		minLeaf         float64
		lowest, highest float64 // root thresholds allowed
		minDistinct     int
		leaves          bool // whether some roots must stay leaves
	}{
		{1, 0.5, 98.5, 40, false},
		{40, 39.5, 59.5, 5, true},
	} {
		seen := map[float64]bool{}
		leaves := 0
		for seed := range int64(100) {
			_, tr := treeGrowRandom(t, ds, map[string]float64{"max_depth": 1, "min_samples_leaf": tc.minLeaf}, false, false, 1, seed, 0)
			if tr.Feature[0] < 0 {
				leaves++
				continue
			}
			thr := tr.Threshold[0]
			if thr != math.Floor(thr)+0.5 || thr < tc.lowest || thr > tc.highest {
				t.Errorf("min_samples_leaf %g, seed %d: root threshold %v, want a midpoint in [%v, %v]", tc.minLeaf, seed, thr, tc.lowest, tc.highest)
			}
			seen[thr] = true
		}
		if len(seen) < tc.minDistinct {
			t.Errorf("min_samples_leaf %g: %d distinct root thresholds in 100 seeds, want at least %d", tc.minLeaf, len(seen), tc.minDistinct)
		}
		if (leaves > 0) != tc.leaves {
			t.Errorf("min_samples_leaf %g: %d roots left unsplit, want some: %v", tc.minLeaf, leaves, tc.leaves)
		}
	}
}
