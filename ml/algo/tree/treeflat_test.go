package tree

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/algo/internal/algotest"
	"github.com/alur-ml/alur/ml/algo/internal/numeric"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

func TestTreeShortThreshold(t *testing.T) {
	tests := []struct {
		name       string
		lo, hi     float64
		wantBinary bool // the result is a binary32 number
		// want, when not 0, is the exact threshold expected.
		want float64
	}{
		{"wide gap", 1, 2, true, 1.5},
		{"binary32 midpoint nearby", 0.1, 0.2, true, 0},
		{"gap below binary32 resolution", 1, math.Nextafter(1, 2), true, 1},
		{"tiny gap between non-binary32 values", 1 + 1e-12, 1 + 2e-12, false, 0},
		// A missing value is stored as -Inf; the midpoint is then lo.
		{"from minus infinity", math.Inf(-1), 0, true, math.Inf(-1)},
		{"to plus infinity", 5, math.Inf(1), true, 5},
		{"beyond binary32 range", 1e300, 2e300, false, 0},
		{"beyond binary32 range to plus infinity", 1e300, math.Inf(1), false, 1e300},
		// The midpoint rounds to +Inf in binary32; the largest finite
		// binary32 number is still in the gap.
		{"midpoint above the largest binary32", 3e38, 4e38, true, math.MaxFloat32},
		{"negative", -2, -1, true, -1.5},
		// The midpoint is halfway between two binary32 numbers: the tie
		// rounds to even, which is lo.
		{"tie between binary32 neighbours", 1, 1 + 0x1p-23, true, 1},
		{"gap of one binary32 step", float64(float32(0.1)), float64(math.Nextafter32(0.1, 1)), true, float64(float32(0.1))},
		{"below the smallest binary32", 0, 1e-46, true, 0},
		{"non-binary32 bounds one binary32 apart", 0.1, float64(math.Nextafter32(float32(0.1), 1)), true, 0},
	}
	for _, tc := range tests {
		mid := numeric.Midpoint(tc.lo, tc.hi)
		got := treeShortThreshold(tc.lo, tc.hi, mid)
		if !(got >= tc.lo && got < tc.hi) {
			t.Errorf("%s: threshold %v outside [%v, %v)", tc.name, got, tc.lo, tc.hi)
		}
		if tc.want != 0 && got != tc.want {
			t.Errorf("%s: threshold %v, want %v", tc.name, got, tc.want)
		}
		if isBinary32 := float64(float32(got)) == got; isBinary32 != tc.wantBinary {
			t.Errorf("%s: threshold %v binary32 = %v, want %v", tc.name, got, isBinary32, tc.wantBinary)
		}
		if tc.wantBinary && tc.want == 0 && math.Abs(got-mid) > math.Abs(mid)*1e-7+1e-300 && !math.IsInf(mid, 0) && tc.hi-tc.lo > 1e-6 {
			t.Errorf("%s: threshold %v far from the midpoint %v", tc.name, got, mid)
		}
		if !tc.wantBinary && got != mid {
			t.Errorf("%s: threshold %v, want the midpoint %v", tc.name, got, mid)
		}
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
	got, err := predictForest(m, X)
	if err != nil {
		t.Fatal(err)
	}
	want := mat.NewDense(3, 2, []float64{1, 0, 0.25, 0.75, 1, 0})
	if !mat.Equal(got, want) {
		t.Errorf("predictions %v, want %v", got.RawMatrix().Data, want.RawMatrix().Data)
	}
	w, err := Expand(tree, 2)
	if err != nil {
		t.Fatal(err)
	}
	if w.Samples[0] != 6 || w.Samples[1] != 2 || w.Samples[2] != 4 || w.Left[0] != 1 || w.Right[0] != 2 {
		t.Errorf("expanded samples %v, children %d %d", w.Samples, w.Left[0], w.Right[0])
	}
	if !algotest.Close(w.Value[0], 2.0/6+4.0/6*0.25, 1e-15) {
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
		_, err := predictForest(m, X)
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
		if _, err := Expand(tree, 3); err != nil {
			t.Fatalf("decoded but does not expand: %v", err)
		}
		// The packed walk (10-byte nodes when every threshold is binary32)
		// reaches the leaf values the preorder walk does.
		X := mat.NewDense(3, 3, []float64{0, 0, 0, math.NaN(), 1e300, -1e300, math.Inf(1), math.Inf(-1), 0.5})
		got, err := PredictEnsemble(&datav1.Model{}, []*datav1.TreeModel{tree}, X)
		if err != nil {
			t.Fatalf("decoded but does not predict: %v", err)
		}
		for r := range 3 {
			keys := make([]uint64, 3)
			treeRowKeys(keys, X.RawRowView(r))
			leaf := int(fl.leaf(fl.roots[0], keys))
			for j := range int(k) {
				if v, want := got.At(r, j), fl.values[leaf+j]; math.Float64bits(v) != math.Float64bits(want) {
					t.Fatalf("row %d output %d: packed walk %v, preorder walk %v", r, j, v, want)
				}
			}
		}
	})
}

// BenchmarkForestPredictLayouts compares prediction on the flat preorder
// nodes (treeFlat) with the earlier layout: each wide tree packed into
// 24-byte nodes with explicit children (Pack), walked per tree.
func BenchmarkForestPredictLayouts(b *testing.B) {
	ds := algotest.BenchData(50000)
	m := benchForest(b, ds, 30)
	wide := make([]*datav1.TreeModel, 0, 30)
	for _, tr := range m.GetForest().GetTrees() {
		w, err := Expand(tr, 20)
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
			packed := make([][]Node, len(wide))
			for i, t := range wide {
				packed[i] = Pack(t)
			}
			blockRows := treeBlockRows(rows, 2)
			numeric.Parallel((rows+blockRows-1)/blockRows, 2, func(_, blk int) {
				lo, hi := blk*blockRows, min(rows, (blk+1)*blockRows)
				for ti, t := range wide {
					for r := lo; r < hi; r++ {
						leaf := LeafPacked(packed[ti], raw.Data[r*raw.Stride:r*raw.Stride+cols])
						out[r*2] += t.Value[leaf*2]
						out[r*2+1] += t.Value[leaf*2+1]
					}
				}
			})
		}
	})
	b.Run("flat", func(b *testing.B) {
		for b.Loop() {
			if _, err := predictForest(m, X); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("prepared", func(b *testing.B) {
		e, err := PrepareEnsemble(m, m.GetForest().GetTrees(), 20)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := e.Predict(X); err != nil {
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

// leaf returns the values offset of the leaf that a row, given as the
// treeOrderKey of each of its values (treeRowKeys), reaches from root.
func (fl *treeFlat) leaf(root int32, x []uint64) int32 {
	nodes := fl.nodes
	i := root
	for nodes[i].next != i {
		i = treeStep(&nodes[i], i, x)
	}
	return fl.leafOff[i]
}

// treeStep moves a row (its order keys x) one level down from node i, or
// keeps it at a leaf. It does not branch: which way a row goes is a coin
// toss the branch predictor cannot learn, and each miss would cost more
// than the node. The borrow of key − x is 1 exactly when x > key; its
// negation masks in the right child.
func treeStep(nd *treeFlatNode, i int32, x []uint64) int32 {
	return treeStepKey(nd, i, x[nd.feature])
}

// predictForest predicts with a random_forest model as the forest package
// does, without importing it (it imports this package).
func predictForest(m *datav1.Model, X *mat.Dense) (*mat.Dense, error) {
	return PredictEnsemble(m, m.GetForest().GetTrees(), X)
}

// benchForest grows n trees on bootstrap samples of ds with the forest's
// defaults (√features per split, short thresholds), kept compact, and
// returns them as a random_forest model.
func benchForest(b *testing.B, ds *algo.Dataset, n int) *datav1.Model {
	spec, _ := algo.Lookup("decision_tree")
	params, err := spec.ResolveParams(nil)
	if err != nil {
		b.Fatal(err)
	}
	_, p := ds.Dims()
	cfg, err := ConfigFromParams(params, p, int(math.Sqrt(float64(p))))
	if err != nil {
		b.Fatal(err)
	}
	cfg.ShortThresholds = true
	bld := NewBuilder(NewData(ds, nil), cfg, 1)
	trees := make([]*datav1.TreeModel, n)
	for i := range trees {
		bld.Reset(1, i, true)
		wide, _, err := bld.GrowInto(b.Context(), &datav1.TreeModel{})
		if err != nil {
			b.Fatal(err)
		}
		trees[i], _ = Compact(wide, nil)
	}
	return &datav1.Model{Algorithm: "random_forest", Task: ds.Task, FeatureNames: ds.FeatureNames, ClassNames: ds.ClassNames,
		Parameters: &datav1.Model_Forest{Forest: &datav1.ForestModel{Trees: trees}}}
}

// TestEnsembleMatchesWideWalk checks that the packed prediction layout
// answers bit for bit what walking each tree's wide form node by node
// (LeafPacked) and averaging in tree order answers, for classification
// and regression forests, compact and wide trees, and rows with missing
// values and zeros of both signs.
func TestEnsembleMatchesWideWalk(t *testing.T) {
	tests := []struct {
		name    string
		task    datav1.Task
		classes int
		compact bool
		// fine draws unrounded values; short then chooses binary32
		// thresholds (the forest's), else most thresholds are not binary32
		// and their trees keep 16-byte nodes.
		fine, short bool
		// mixed grows every other tree without short thresholds, so the
		// ensemble walks both node forms.
		mixed bool
	}{
		{"classification compact", datav1.Task_TASK_CLASSIFICATION, 3, true, false, false, false},
		{"classification wide", datav1.Task_TASK_CLASSIFICATION, 2, false, false, false, false},
		{"regression compact", datav1.Task_TASK_REGRESSION, 0, true, false, false, false},
		{"classification binary32 thresholds", datav1.Task_TASK_CLASSIFICATION, 3, true, true, true, false},
		{"regression binary32 thresholds", datav1.Task_TASK_REGRESSION, 0, false, true, true, false},
		{"classification binary64 thresholds", datav1.Task_TASK_CLASSIFICATION, 2, true, true, false, false},
		{"classification mixed thresholds", datav1.Task_TASK_CLASSIFICATION, 3, true, true, true, true},
	}
	for _, tc := range tests {
		gen := func(rng *rand.Rand, x []float64) float64 {
			for j := range x {
				x[j] = math.Round(rng.NormFloat64()*20) / 8
				if tc.fine {
					x[j] = rng.NormFloat64() * 3
				}
			}
			if tc.task == datav1.Task_TASK_REGRESSION {
				return x[0]*3 - x[1] + rng.NormFloat64()
			}
			return float64(rng.IntN(tc.classes))
		}
		ds := algotest.Generate(600, 6, tc.task, tc.classes, 7, gen)
		spec, _ := algo.Lookup("decision_tree")
		params, err := spec.ResolveParams(nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := ConfigFromParams(params, 6, 2)
		if err != nil {
			t.Fatal(err)
		}
		cfg.ShortThresholds = tc.short
		data := NewData(ds, nil)
		bld := NewBuilder(data, cfg, 1)
		cfg.ShortThresholds = false
		bldLong := NewBuilder(data, cfg, 1)
		trees := make([]*datav1.TreeModel, 9)
		for i := range trees {
			b := bld
			if tc.mixed && i%2 == 1 {
				b = bldLong
			}
			b.Reset(1, i, true)
			wide, _, err := b.GrowInto(t.Context(), &datav1.TreeModel{})
			if err != nil {
				t.Fatal(err)
			}
			trees[i] = wide
			if tc.compact {
				trees[i], _ = Compact(wide, nil)
			}
		}
		m := &datav1.Model{Task: tc.task, ClassNames: ds.ClassNames}
		// Rows on, just below and just above the first tree's thresholds
		// (and between a binary32 threshold and the next binary32 number)
		// test the narrow walk's rounding where it matters.
		first, err := Expand(trees[0], 6)
		if err != nil {
			t.Fatal(err)
		}
		var near [][2]float64 // feature, value
		for i, f := range first.Feature {
			if f < 0 {
				continue
			}
			thr := first.Threshold[i]
			up := float64(math.Nextafter32(float32(thr), float32(math.Inf(1))))
			for _, v := range []float64{thr, math.Nextafter(thr, math.Inf(-1)), math.Nextafter(thr, math.Inf(1)), (thr + up) / 2} {
				near = append(near, [2]float64{float64(f), v})
			}
		}
		rows := 203 + len(near)
		X := mat.NewDense(rows, 6, nil)
		for r := range rows {
			for c := range 6 {
				v := ds.X.At(r%203, c)
				switch (r + c) % 11 {
				case 0:
					v = math.NaN()
				case 1:
					v = math.Copysign(0, -1)
				case 2:
					v = 0
				}
				X.Set(r, c, v)
			}
			if r >= 203 {
				X.Set(r, int(near[r-203][0]), near[r-203][1])
			}
		}
		got, err := PredictEnsemble(m, trees, X)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		e, err := PrepareEnsemble(m, trees, 6)
		if err != nil {
			t.Fatal(err)
		}
		wantNarrow, wantWide := !tc.fine || tc.short, tc.fine && (!tc.short || tc.mixed)
		if e.narrow != wantNarrow || e.wide != wantWide {
			t.Errorf("%s: narrow trees %v, other trees %v; want %v, %v", tc.name, e.narrow, e.wide, wantNarrow, wantWide)
		}
		// The same trees in 16-byte nodes, which trees with a binary64
		// threshold take.
		treeNarrow = false
		gotSmall, err := PredictEnsemble(m, trees, X)
		treeNarrow = true
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// The same trees in the wide packed form, which trees of more than
		// treeSmallMax nodes take.
		small := treeSmallMax
		treeSmallMax = 0
		gotWide, err := PredictEnsemble(m, trees, X)
		treeSmallMax = small
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		k := int(trees[0].NumOutputs)
		want := make([]float64, rows*k)
		for _, tr := range trees {
			w, err := Expand(tr, 6)
			if err != nil {
				t.Fatal(err)
			}
			nodes := Pack(w)
			for r := range rows {
				leaf := LeafPacked(nodes, X.RawRowView(r))
				for j := range k {
					want[r*k+j] += w.Value[leaf*k+j]
				}
			}
		}
		for j := range want {
			want[j] *= 1 / float64(len(trees))
		}
		for j, v := range got.RawMatrix().Data {
			if math.Float64bits(v) != math.Float64bits(want[j]) {
				t.Fatalf("%s: value %d is %v, the wide walk gives %v", tc.name, j, v, want[j])
			}
			if w := gotSmall.RawMatrix().Data[j]; math.Float64bits(w) != math.Float64bits(want[j]) {
				t.Fatalf("%s: value %d is %v in 16-byte nodes, the wide walk gives %v", tc.name, j, w, want[j])
			}
			if w := gotWide.RawMatrix().Data[j]; math.Float64bits(w) != math.Float64bits(want[j]) {
				t.Fatalf("%s: value %d is %v in the wide packed form, the wide walk gives %v", tc.name, j, w, want[j])
			}
		}
	}
}

// BenchmarkEnsembleBatch predicts 1,000-row batches with a prepared
// 100-tree forest grown on 20,000 rows, as a server answers a batch call,
// in the 10-byte and 16-byte node forms.
func BenchmarkEnsembleBatch(b *testing.B) {
	ds := algotest.BenchData(20000)
	m := benchForest(b, ds, 100)
	X := mat.DenseCopyOf(ds.X.Slice(0, 1000, 0, 20))
	for _, narrow := range []bool{true, false} {
		name := "narrow"
		if !narrow {
			name = "small"
		}
		b.Run(name, func(b *testing.B) {
			defer func(v bool) { treeNarrow = v }(treeNarrow)
			treeNarrow = narrow
			e, err := PrepareEnsemble(m, m.GetForest().GetTrees(), 20)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu0 := benchCPUTime()
			for b.Loop() {
				if _, err := e.Predict(X); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "rows/s")
			// The process's CPU time per row, steadier than wall time on a
			// shared machine.
			b.ReportMetric(float64(benchCPUTime()-cpu0)/float64(b.N*1000), "cpu-ns/row")
		})
	}
}

// TestTreeRowKey32 checks that a value's 4-byte key (rounded up to
// binary32) is above a binary32 threshold's key exactly when the value is
// above the threshold, so that the narrow walk sends every row where the
// 8-byte keys do: values on, next to and between binary32 numbers, zeros
// of both signs, subnormals, values beyond the binary32 range, infinities
// and NaN (which goes left of everything, as -Inf).
func TestTreeRowKey32(t *testing.T) {
	inf32 := float32(math.Inf(1))
	thresholds := []float32{0, float32(math.Copysign(0, -1)), 1, 0.1, -0.1, 3.75, math.MaxFloat32, -math.MaxFloat32,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, inf32, -inf32, math.Nextafter32(1, 2)}
	for _, t32 := range thresholds {
		thr := float64(t32)
		up := float64(math.Nextafter32(t32, inf32))
		values := []float64{thr, math.Nextafter(thr, math.Inf(1)), math.Nextafter(thr, math.Inf(-1)), (thr + up) / 2,
			0, math.Copysign(0, -1), 1e-50, -1e-50, 1e39, -1e39, math.MaxFloat64, -math.MaxFloat64,
			math.Inf(1), math.Inf(-1), math.NaN(), 0.1, -0.1}
		for _, x := range values {
			right := treeRowKey32(x) > treeOrderKey32(t32)
			if want := x > thr; right != want {
				t.Errorf("value %v against threshold %v: goes right %v, want %v", x, thr, right, want)
			}
			if right64 := treeOrderKey(x) > treeOrderKey(thr); right64 != right {
				t.Errorf("value %v against threshold %v: 4-byte keys go right %v, 8-byte keys %v", x, thr, right, right64)
			}
		}
		if treeOrderKey32(t32) == 0 {
			t.Errorf("threshold %v has key 0, a leaf's", thr)
		}
	}
}

// TestEnsembleBytesPerSplit bounds the memory of a prepared forest whose
// thresholds are binary32 numbers from its structure: 10 bytes a split
// and, for its leaves, at most one node and one value vector per distinct
// leaf value (the leaves of fully grown classification trees are mostly
// pure, so they fold into a few).
func TestEnsembleBytesPerSplit(t *testing.T) {
	tests := []struct {
		name    string
		task    datav1.Task
		classes int
		maxB    float64 // bytes per split, all arrays counted
	}{
		{"classification", datav1.Task_TASK_CLASSIFICATION, 3, 11},
		// Every regression leaf has its own value: a node and 8 bytes.
		{"regression", datav1.Task_TASK_REGRESSION, 0, 10 + 18 + 1},
	}
	for _, tc := range tests {
		ds := algotest.Generate(2000, 8, tc.task, tc.classes, 3, func(rng *rand.Rand, x []float64) float64 {
			for j := range x {
				x[j] = rng.NormFloat64()
			}
			if tc.task == datav1.Task_TASK_REGRESSION {
				return x[0] - 2*x[1] + rng.NormFloat64()
			}
			return float64(rng.IntN(tc.classes))
		})
		spec, _ := algo.Lookup("decision_tree")
		params, err := spec.ResolveParams(nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := ConfigFromParams(params, 8, 2)
		if err != nil {
			t.Fatal(err)
		}
		cfg.ShortThresholds = true
		bld := NewBuilder(NewData(ds, nil), cfg, 1)
		trees := make([]*datav1.TreeModel, 5)
		for i := range trees {
			bld.Reset(2, i, true)
			wide, _, err := bld.GrowInto(t.Context(), &datav1.TreeModel{})
			if err != nil {
				t.Fatal(err)
			}
			trees[i], _ = Compact(wide, nil)
		}
		e, err := PrepareEnsemble(&datav1.Model{Task: tc.task, ClassNames: ds.ClassNames}, trees, 8)
		if err != nil {
			t.Fatal(err)
		}
		bytes, splits := 0, 0
		for _, fl := range e.flats {
			if fl.narrow == nil {
				t.Fatalf("%s: a tree is not in 10-byte nodes", tc.name)
			}
			bytes += fl.size()
			splits += int(fl.nsplit)
		}
		if per := float64(bytes) / float64(splits); per > tc.maxB {
			t.Errorf("%s: %.2f bytes a split (%d bytes, %d splits), want at most %v", tc.name, per, bytes, splits, tc.maxB)
		} else {
			t.Logf("%s: %.2f bytes a split", tc.name, per)
		}
	}
}

// benchCPUTime is the user and system CPU time the process has used, in
// nanoseconds.
func benchCPUTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// TestEnsembleSingleLeafTrees checks trees that are one leaf, which take
// the 10-byte form (they have no threshold) and whose walk must stop at
// once, alone and beside a tree that splits.
func TestEnsembleSingleLeafTrees(t *testing.T) {
	leaf := &datav1.TreeModel{NumOutputs: 2, Feature: []int32{-1}, Threshold: []float64{0}, Left: []int32{-1}, Right: []int32{-1}, Value: []float64{0.25, 0.75}}
	split := &datav1.TreeModel{NumOutputs: 2, Feature: []int32{1, -1, -1}, Threshold: []float64{0.5, 0, 0}, Left: []int32{1, -1, -1}, Right: []int32{2, -1, -1},
		Value: []float64{0.5, 0.5, 1, 0, 0, 1}}
	X := mat.NewDense(11, 2, nil)
	for r := range 11 {
		X.Set(r, 1, float64(r)/10)
	}
	tests := []struct {
		name  string
		trees []*datav1.TreeModel
		want  func(x float64) float64 // the first output for feature 1 = x
	}{
		{"one leaf", []*datav1.TreeModel{leaf}, func(float64) float64 { return 0.25 }},
		{"a leaf and a split", []*datav1.TreeModel{leaf, split}, func(x float64) float64 {
			if x <= 0.5 {
				return (0.25 + 1) / 2
			}
			return 0.25 / 2
		}},
	}
	for _, tc := range tests {
		got, err := PredictEnsemble(&datav1.Model{Task: datav1.Task_TASK_CLASSIFICATION}, tc.trees, X)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for r := range 11 {
			if v, want := got.At(r, 0), tc.want(X.At(r, 1)); v != want {
				t.Errorf("%s: row %d gives %v, want %v", tc.name, r, v, want)
			}
		}
	}
}
