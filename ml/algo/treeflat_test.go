package algo

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

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
	cls := treeDataset(600, 5, datav1.Task_TASK_CLASSIFICATION, 3, 11, treeNoisyClass)
	reg := treeDataset(600, 5, datav1.Task_TASK_REGRESSION, 0, 12, func(rng *rand.Rand, x []float64) float64 {
		for f := range x {
			x[f] = rng.NormFloat64()
		}
		return 3*x[0] - x[1]*x[2] + 0.1*rng.NormFloat64()
	})
	reg.ClassNames, reg.NumClasses = nil, 0
	for _, tc := range []struct {
		name       string
		ds         *Dataset
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
			m := treeFit(t, "random_forest", tc.ds, tc.params, 3)
			for i, tr := range m.GetForest().GetTrees() {
				if len(tr.Nodes) == 0 || len(tr.Feature) != 0 {
					t.Fatalf("tree %d is not compact", i)
				}
				if tr.LeafCounts != tc.leafCounts {
					t.Errorf("tree %d: leaf_counts %v, want %v", i, tr.LeafCounts, tc.leafCounts)
				}
			}
			wide := treeWideForest(t, m)
			got := treePredict(t, m, tc.ds.X)
			want := treePredict(t, wide, tc.ds.X)
			if !mat.Equal(got, want) {
				t.Error("compact and wide trees predict differently")
			}
			for i, w := range wide.GetForest().GetTrees() {
				again, _ := treeCompact(w, nil)
				orig := m.GetForest().GetTrees()[i]
				if !bytes.Equal(again.Nodes, orig.Nodes) || again.LeafCounts != orig.LeafCounts {
					t.Errorf("tree %d: re-encoding the expanded tree changed its bytes", i)
				}
				if err := ValidateTree(w, 5); err != nil {
					t.Errorf("tree %d expanded: %v", i, err)
				}
			}
		})
	}
}

func TestTreeCompactIsSmall(t *testing.T) {
	// A fully grown forest's trees must take far less than the wide
	// arrays: the point of the compact form.
	ds := treeDataset(3000, 8, datav1.Task_TASK_CLASSIFICATION, 3, 5, treeNoisyClass)
	m := treeFit(t, "random_forest", ds, map[string]float64{"n_estimators": 5}, 1)
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

func TestTreeShortThreshold(t *testing.T) {
	tests := []struct {
		name       string
		lo, hi     float64
		wantBinary bool // the result is a binary32 number
	}{
		{"wide gap", 1, 2, true},
		{"binary32 midpoint nearby", 0.1, 0.2, true},
		{"gap below binary32 resolution", 1, math.Nextafter(1, 2), true},
		{"tiny gap between non-binary32 values", 1 + 1e-12, 1 + 2e-12, false},
		{"from minus infinity", math.Inf(-1), 0, true},
		{"beyond binary32 range", 1e300, 2e300, false},
	}
	for _, tc := range tests {
		mid := treeMidpoint(tc.lo, tc.hi)
		got := treeShortThreshold(tc.lo, tc.hi, mid)
		if !(got >= tc.lo && got < tc.hi) {
			t.Errorf("%s: threshold %v outside [%v, %v)", tc.name, got, tc.lo, tc.hi)
		}
		if isBinary32 := float64(float32(got)) == got; isBinary32 != tc.wantBinary {
			t.Errorf("%s: threshold %v binary32 = %v, want %v", tc.name, got, isBinary32, tc.wantBinary)
		}
		if tc.wantBinary && math.Abs(got-mid) > math.Abs(mid)*1e-7+1e-300 && !math.IsInf(mid, 0) && tc.hi-tc.lo > 1e-6 {
			t.Errorf("%s: threshold %v far from the midpoint %v", tc.name, got, mid)
		}
		if !tc.wantBinary && got != mid {
			t.Errorf("%s: threshold %v, want the midpoint %v", tc.name, got, mid)
		}
	}
}

func TestForestTreeWorkers(t *testing.T) {
	tests := []struct {
		procs, trees, n, p int
		want               int
	}{
		{2, 100, 1000, 20, 2},   // small data: one tree per core
		{8, 3, 1000, 20, 3},     // never more than the trees
		{2, 100, 160000, 20, 1}, // large data: one tree at a time
		{16, 100, 100000, 4, 4}, // the budget, not the cores, decides
		{1, 100, 10_000_000, 5, 1},
	}
	for _, tc := range tests {
		if got := forestTreeWorkers(tc.procs, tc.trees, tc.n, tc.p); got != tc.want {
			t.Errorf("forestTreeWorkers(%d, %d, %d, %d) = %d, want %d", tc.procs, tc.trees, tc.n, tc.p, got, tc.want)
		}
	}
}

func TestForestColumnsMatchRows(t *testing.T) {
	// Column-major input (the train service's) must give the same forest
	// as row-major input; -0 and NaN columns are cleaned on a copy and the
	// caller's columns are left alone.
	ds := treeDataset(400, 4, datav1.Task_TASK_CLASSIFICATION, 3, 8, treeNoisyClass)
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
	a := treeFit(t, "random_forest", ds, params, 4)
	b := treeFit(t, "random_forest", &byCols, params, 4)
	if !proto.Equal(a, b) {
		t.Error("columns and rows gave different forests")
	}
	if !math.IsNaN(cols[1][3]) || !math.Signbit(cols[2][4]) {
		t.Error("fitting changed the caller's columns")
	}
	// Algorithms that read rows get X built from the columns.
	clean := treeDataset(n, p, datav1.Task_TASK_CLASSIFICATION, 3, 9, treeNoisyClass)
	cleanCols := *clean
	cleanCols.X, cleanCols.Cols = nil, make([][]float64, p)
	for f := range p {
		cleanCols.Cols[f] = mat.Col(nil, f, clean.X)
	}
	if nb, nbCols := treeFit(t, "naive_bayes", clean, nil, 1), treeFit(t, "naive_bayes", &cleanCols, nil, 1); !proto.Equal(nb, nbCols) {
		t.Error("naive Bayes on columns differs from naive Bayes on rows")
	}
}

// treeCompactBytes is a hand-built compact tree on 2 features with 2
// outputs: a split on feature 1 at 0.5 (binary32), a pure leaf of class 0
// with 2 rows, then a leaf with counts 1 and 3.
func treeCompactBytes() []byte {
	var b []byte
	b = binary.AppendUvarint(b, 2*1+2)
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(0.5))
	b = append(b, 0)
	b = binary.AppendUvarint(b, 1+0+2*(2-1))
	b = append(b, 0, 0, 1, 3)
	return b
}

func TestTreeCompactDecode(t *testing.T) {
	tree := &datav1.TreeModel{NumOutputs: 2, Nodes: treeCompactBytes(), LeafCounts: true}
	m := &datav1.Model{Algorithm: "random_forest", Task: datav1.Task_TASK_CLASSIFICATION,
		Parameters: &datav1.Model_Forest{Forest: &datav1.ForestModel{Trees: []*datav1.TreeModel{tree}}}}
	X := mat.NewDense(3, 2, []float64{0, 0.5, 0, 0.75, 0, math.NaN()})
	got := treePredict(t, m, X)
	want := mat.NewDense(3, 2, []float64{1, 0, 0.25, 0.75, 1, 0})
	if !mat.Equal(got, want) {
		t.Errorf("predictions %v, want %v", got.RawMatrix().Data, want.RawMatrix().Data)
	}
	w, err := ExpandTree(tree, 2)
	if err != nil {
		t.Fatal(err)
	}
	if w.Samples[0] != 6 || w.Samples[1] != 2 || w.Samples[2] != 4 || w.Left[0] != 1 || w.Right[0] != 2 {
		t.Errorf("expanded samples %v, children %d %d", w.Samples, w.Left[0], w.Right[0])
	}
	if !linClose(w.Value[0], 2.0/6+4.0/6*0.25, 1e-15) {
		t.Errorf("root value %v, want the samples-weighted mean of the leaves", w.Value[:2])
	}
}

func TestTreeCompactRejectsMalformed(t *testing.T) {
	good := treeCompactBytes()
	cut := func(n int) []byte { return good[:len(good)-n] }
	withTag := func(tag uint64) []byte {
		return append(binary.AppendUvarint(nil, tag), good[1:]...)
	}
	nanThr := slices32(good)
	binary.LittleEndian.PutUint32(nanThr[1:], math.Float32bits(float32(math.NaN())))
	tests := []struct {
		name string
		tree *datav1.TreeModel
		want string
	}{
		{"truncated leaf", &datav1.TreeModel{NumOutputs: 2, Nodes: cut(1), LeafCounts: true}, "truncated"},
		{"missing right subtree", &datav1.TreeModel{NumOutputs: 2, Nodes: good[:7], LeafCounts: true}, "right subtree"},
		{"trailing bytes", &datav1.TreeModel{NumOutputs: 2, Nodes: append(slices32(good), 0), LeafCounts: true}, "after its last node"},
		{"feature out of range", &datav1.TreeModel{NumOutputs: 2, Nodes: withTag(2*5 + 2), LeafCounts: true}, "feature 5"},
		{"NaN threshold", &datav1.TreeModel{NumOutputs: 2, Nodes: nanThr, LeafCounts: true}, "NaN"},
		{"empty leaf", &datav1.TreeModel{NumOutputs: 2, Nodes: []byte{0, 0, 0, 0}, LeafCounts: true}, "no rows"},
		{"overlong varint", &datav1.TreeModel{NumOutputs: 2, Nodes: bytes.Repeat([]byte{0xff}, 11), LeafCounts: true}, "varint"},
		{"non-finite value", &datav1.TreeModel{NumOutputs: 1, Nodes: binary.LittleEndian.AppendUint64([]byte{0, 1}, math.Float64bits(math.Inf(1)))}, "non-finite"},
		{"both forms", &datav1.TreeModel{NumOutputs: 2, Nodes: good, LeafCounts: true, Feature: []int32{-1}}, "both"},
		{"leaf_counts without nodes", &datav1.TreeModel{NumOutputs: 2, LeafCounts: true}, "leaf_counts"},
	}
	X := mat.NewDense(1, 2, []float64{0, 1})
	for _, tc := range tests {
		m := &datav1.Model{Algorithm: "random_forest", Task: datav1.Task_TASK_CLASSIFICATION,
			Parameters: &datav1.Model_Forest{Forest: &datav1.ForestModel{Trees: []*datav1.TreeModel{tc.tree}}}}
		if tc.tree.NumOutputs == 1 {
			m.Task = datav1.Task_TASK_REGRESSION
		}
		_, err := Predict(m, X)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func slices32(b []byte) []byte { return append([]byte(nil), b...) }

func FuzzTreeCompact(f *testing.F) {
	f.Add(treeCompactBytes(), true, uint8(2))
	f.Add(binary.LittleEndian.AppendUint64([]byte{0, 1}, math.Float64bits(2)), false, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, counts bool, k uint8) {
		if k == 0 || k > 8 {
			return
		}
		tree := &datav1.TreeModel{NumOutputs: int32(k), Nodes: data, LeafCounts: counts}
		fl := &treeFlat{k: int(k)}
		if err := fl.addTree(tree, 3); err != nil {
			return
		}
		// A decoded tree must be walkable from every root for any row.
		for _, x := range [][]float64{{0, 0, 0}, {math.NaN(), 1e300, -1e300}, {math.Inf(1), math.Inf(-1), 0.5}} {
			keys := make([]uint64, len(x))
			treeRowKeys(keys, x)
			leaf := fl.leaf(fl.roots[0], keys)
			if int(leaf)+int(k) > len(fl.values) {
				t.Fatalf("leaf offset %d past %d values", leaf, len(fl.values))
			}
		}
		if _, err := ExpandTree(tree, 3); err != nil {
			t.Fatalf("decoded but does not expand: %v", err)
		}
	})
}

// BenchmarkForestPredictLayouts compares prediction on the flat preorder
// nodes (treeFlat) with the earlier layout: each wide tree packed into
// 24-byte nodes with explicit children (treePack), walked per tree.
func BenchmarkForestPredictLayouts(b *testing.B) {
	ds := treeBenchData(50000)
	m, err := Fit(b.Context(), "random_forest", ds, map[string]float64{"n_estimators": 30}, 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	wide := make([]*datav1.TreeModel, 0, 30)
	for _, tr := range m.GetForest().GetTrees() {
		w, err := ExpandTree(tr, 20)
		if err != nil {
			b.Fatal(err)
		}
		wide = append(wide, w)
	}
	X := ds.X
	b.Run("packed", func(b *testing.B) {
		for b.Loop() {
			rows, cols := X.Dims()
			raw := X.RawMatrix()
			out := make([]float64, rows*2)
			packed := make([][]treeNode, len(wide))
			for i, t := range wide {
				packed[i] = treePack(t)
			}
			blockRows := treeBlockRows(rows, 2)
			treeParallel((rows+blockRows-1)/blockRows, 2, func(_, blk int) {
				lo, hi := blk*blockRows, min(rows, (blk+1)*blockRows)
				for ti, t := range wide {
					for r := lo; r < hi; r++ {
						leaf := treeLeafPacked(packed[ti], raw.Data[r*raw.Stride:r*raw.Stride+cols])
						out[r*2] += t.Value[leaf*2]
						out[r*2+1] += t.Value[leaf*2+1]
					}
				}
			})
		}
	})
	b.Run("flat", func(b *testing.B) {
		for b.Loop() {
			if _, err := Predict(m, X); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			fl := &treeFlat{k: 2}
			for _, tr := range m.GetForest().GetTrees() {
				if err := fl.addTree(tr, 20); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
