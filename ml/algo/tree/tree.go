package tree

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/algo/internal/numeric"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Names of the tree hyperparameters, shared with the forest.
const (
	treeParamMaxDepth            = "max_depth"
	treeParamMinSamplesSplit     = "min_samples_split"
	treeParamMinSamplesLeaf      = "min_samples_leaf"
	ParamMaxFeatures             = "max_features"
	treeParamMinImpurityDecrease = "min_impurity_decrease"

	// MaxDepthLimit bounds max_depth; deeper trees would not fit a
	// model message anyway.
	MaxDepthLimit = 1000
	// treeCtxCheckEvery is how many nodes are grown between checks of the
	// context, so that cancelling a long fit takes effect quickly without
	// paying for ctx.Err on every node.
	treeCtxCheckEvery = 1024
	// treeEpsilon guards the min_impurity_decrease comparison against
	// rounding, as scikit-learn does with the double-precision epsilon.
	treeEpsilon = 0x1p-52
)

// GrowthParams are the hyperparameters common to decision trees and
// random forests; max_features is added by each algorithm because its
// default differs.
var GrowthParams = []algo.Param{
	{Name: treeParamMaxDepth, Default: 0, Min: 0, Max: MaxDepthLimit, Type: algo.Integer,
		Description: "maximum depth of a tree, the root being depth 0; 0 grows until the leaves are pure or too small"},
	{Name: treeParamMinSamplesSplit, Default: 2, Min: 2, Max: 1e9, Type: algo.Integer,
		Description: "a node with fewer distinct training rows is not split"},
	{Name: treeParamMinSamplesLeaf, Default: 1, Min: 1, Max: 1e9, Type: algo.Integer,
		Description: "a split must leave at least this many distinct training rows in each child"},
}

func init() {
	params := append(slices.Clone(GrowthParams),
		algo.Param{Name: ParamMaxFeatures, Default: 0, Min: 0, Max: 1e9,
			Description: "features considered per split: 0 means all; a value in (0, 1] is a fraction of the features (at least one); a whole number above 1 is a count (capped at the number of features)"},
		algo.Param{Name: treeParamMinImpurityDecrease, Default: 0, Min: 0, Max: math.MaxFloat64,
			Description: "a node is split only if N_t/N × (impurity − N_left/N_t × left impurity − N_right/N_t × right impurity) reaches this value (N counting class weights when balanced)"},
		algo.BalancedParam,
	)
	algo.Register(&algo.Spec{
		Name: "decision_tree",
		Description: "CART decision tree (Breiman et al., 1984): greedy binary splits minimising Gini impurity " +
			"(classification) or squared error (regression), thresholds at midpoints between consecutive distinct values",
		Tasks:   []datav1.Task{datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION},
		Params:  params,
		Fit:     fitDecisionTree,
		Predict: predictDecisionTree,
		Prepare: prepareDecisionTree,
		Columns: true,
	})
}

// fitDecisionTree grows one tree on all rows. The seed drives the random
// feature order at every node: as in scikit-learn the features are permuted
// even when all of them are considered, so which of several equally good
// splits wins depends on the seed.
func fitDecisionTree(ctx context.Context, ds *algo.Dataset, params map[string]float64, seed int64, progress algo.Progress) (*datav1.Model, error) {
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	_, p := ds.Dims()
	cfg, err := ConfigFromParams(params, p, p)
	if err != nil {
		return nil, err
	}
	cfg.minImpurityDecrease = params[treeParamMinImpurityDecrease]
	if v := cfg.minImpurityDecrease; !(v >= 0) || math.IsInf(v, 0) {
		return nil, &algo.ParamError{Param: treeParamMinImpurityDecrease, Reason: "must be a finite number >= 0"}
	}
	classW, err := algo.ClassWeights(ds, params)
	if err != nil {
		return nil, err
	}
	d := NewData(ds, classW)
	b := NewBuilder(d, cfg, runtime.GOMAXPROCS(0))
	b.Reset(seed, 0, false)
	t, imp, err := b.grow(ctx)
	if err != nil {
		return nil, err
	}
	progress.Report(1, 1, math.NaN(), fmt.Sprintf("tree grown: %d nodes", len(t.Feature)))
	return &datav1.Model{
		Parameters:         &datav1.Model_Tree{Tree: t},
		FeatureImportances: imp,
	}, nil
}

// predictDecisionTree validates the tree against X and predicts.
func predictDecisionTree(m *datav1.Model, X *mat.Dense) (*mat.Dense, error) {
	t := m.GetTree()
	if t == nil {
		return nil, errors.New("decision_tree model has no tree parameters")
	}
	return PredictEnsemble(m, []*datav1.TreeModel{t}, X)
}

// prepareDecisionTree lays the tree out once for rows of numFeatures
// features (algo.Spec.Prepare).
func prepareDecisionTree(m *datav1.Model, numFeatures int) (algo.Predictor, error) {
	t := m.GetTree()
	if t == nil {
		return nil, errors.New("decision_tree model has no tree parameters")
	}
	return PreparedPredictor(m, []*datav1.TreeModel{t}, numFeatures)
}

// PreparedPredictor lays trees out once as an Ensemble and returns its
// Predict as an algo.Predictor: the Spec.Prepare of the decision tree and
// the forest.
func PreparedPredictor(m *datav1.Model, trees []*datav1.TreeModel, numFeatures int) (algo.Predictor, error) {
	e, err := PrepareEnsemble(m, trees, numFeatures)
	if err != nil {
		return nil, err
	}
	return e.Predict, nil
}

// Config holds the resolved growth limits of one tree.
type Config struct {
	// maxDepth is the deepest level that may hold a split's children; 0
	// means unlimited.
	maxDepth int
	// minSamplesSplit and minSamplesLeaf count distinct rows (a bootstrap
	// row drawn twice counts once), as scikit-learn does.
	minSamplesSplit int
	minSamplesLeaf  int
	// maxFeatures is the number of non-constant features examined per
	// node, in [1, number of features].
	maxFeatures int
	// minImpurityDecrease is the weighted impurity decrease a split needs.
	minImpurityDecrease float64
	// ShortThresholds makes each split's threshold a binary32 number
	// inside the same gap between training values when one exists (see
	// treeShortThreshold), so that a compact tree stores it in 4 bytes.
	ShortThresholds bool
	// RandomSplits makes each candidate feature offer one split at a
	// threshold drawn uniformly between its smallest and largest value in
	// the node instead of its best threshold: the Extremely Randomized
	// Trees of Geurts, Ernst and Wehenkel (2006). See scanRandom.
	RandomSplits bool
}

// ConfigFromParams reads the growth parameters. allFeatures is what
// max_features = 0 means for the algorithm at hand.
func ConfigFromParams(params map[string]float64, numFeatures, allFeatures int) (Config, error) {
	var cfg Config
	for _, name := range []string{treeParamMaxDepth, treeParamMinSamplesSplit, treeParamMinSamplesLeaf} {
		v := params[name]
		if v != math.Trunc(v) || v < 0 || v > 1e9 {
			return cfg, &algo.ParamError{Param: name, Reason: fmt.Sprintf("%g must be a whole number in [0, 1e9]", v)}
		}
	}
	cfg.maxDepth = int(params[treeParamMaxDepth])
	cfg.minSamplesSplit = max(2, int(params[treeParamMinSamplesSplit]))
	cfg.minSamplesLeaf = max(1, int(params[treeParamMinSamplesLeaf]))
	mf, err := resolveMaxFeatures(params[ParamMaxFeatures], numFeatures, allFeatures)
	if err != nil {
		return cfg, err
	}
	cfg.maxFeatures = mf
	return cfg, nil
}

// resolveMaxFeatures turns the max_features parameter into a count of
// features: 0 means allFeatures, a value in (0, 1] is a fraction of the
// features rounded down (at least one, as scikit-learn), and a whole number
// above 1 is a count, capped at the number of features so that one setting
// works across data sets of different widths.
func resolveMaxFeatures(v float64, numFeatures, allFeatures int) (int, error) {
	switch {
	case math.IsNaN(v) || v < 0 || math.IsInf(v, 0):
		return 0, &algo.ParamError{Param: ParamMaxFeatures, Reason: fmt.Sprintf("%g must be 0, a fraction in (0, 1] or a whole count", v)}
	case v == 0:
		return min(max(1, allFeatures), numFeatures), nil
	case v <= 1:
		return max(1, int(v*float64(numFeatures))), nil
	case v != math.Trunc(v):
		return 0, &algo.ParamError{Param: ParamMaxFeatures, Reason: fmt.Sprintf("%g above 1 must be a whole number of features", v)}
	default:
		return int(min(v, float64(numFeatures))), nil
	}
}

// Data is a training set laid out for growing trees, shared read-only
// by every tree of a forest.
type Data struct {
	n, p int
	// cols[f][i] is feature f of row i. A NaN is stored as -Inf: it then
	// sorts first and falls left of every threshold, which is where
	// prediction sends a NaN. -0 is stored as +0. A column of the caller's
	// Dataset.Cols that holds neither is shared, not copied.
	cols [][]float64
	// numOutputs is the number of classes, or 1 for regression.
	numOutputs     int
	classification bool
	// class[i] is row i's class (classification).
	class []int32
	// classWeight[k] multiplies every row of class k (classification): the
	// balanced weights, or all 1, which leaves every sum exactly as
	// unweighted.
	classWeight []float64
	// y is the regression target.
	y []float64
}

// NewData lays ds out column by column: it shares the columns of
// ds.Cols that need no cleaning and copies the rest, or copies ds.X into
// one feature-major block. classW holds per-class weights for
// classification (nil for none; ignored for regression). ds must be valid.
// Rows are sorted per tree (Builder.reset), not here: a presorted copy
// of every feature would cost half the data's size again for the whole fit.
func NewData(ds *algo.Dataset, classW []float64) *Data {
	n, p := ds.Dims()
	d := &Data{n: n, p: p, cols: make([][]float64, p)}
	if ds.Cols != nil {
		numeric.Parallel(p, runtime.GOMAXPROCS(0), func(_, f int) {
			d.cols[f] = treeCleanColumn(ds.Cols[f])
		})
	} else {
		x := make([]float64, n*p)
		for f := range p {
			d.cols[f] = x[f*n : (f+1)*n : (f+1)*n]
		}
		raw := ds.X.RawMatrix()
		for i := range n {
			row := raw.Data[i*raw.Stride : i*raw.Stride+p]
			for f, v := range row {
				x[f*n+i] = treeCleanValue(v)
			}
		}
	}
	if ds.Task == datav1.Task_TASK_CLASSIFICATION {
		d.classification = true
		d.numOutputs = ds.NumClasses
		d.class = make([]int32, n)
		for i, y := range ds.Y {
			d.class[i] = int32(y)
		}
		d.classWeight = make([]float64, ds.NumClasses)
		for k := range d.classWeight {
			d.classWeight[k] = 1
		}
		copy(d.classWeight, classW)
	} else {
		d.numOutputs = 1
		d.y = ds.Y
	}
	return d
}

// treeCleanValue maps NaN to -Inf and -0 to +0, the forms Data stores.
func treeCleanValue(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return math.Inf(-1)
	case v == 0:
		return 0 // -0 becomes +0 so the two sort as equal
	}
	return v
}

// treeCleanColumn returns col itself when no value needs cleaning, else a
// cleaned copy; col is never modified.
func treeCleanColumn(col []float64) []float64 {
	for i, v := range col {
		if v != v || (v == 0 && math.Signbit(v)) {
			out := make([]float64, len(col))
			copy(out, col[:i])
			for j := i; j < len(col); j++ {
				out[j] = treeCleanValue(col[j])
			}
			return out
		}
	}
	return col
}

// treeSorter holds the scratch of argsort, reused across calls.
type treeSorter struct {
	keys, keys2 []uint64
	idx2        []int32
	hist        [numeric.RadixPasses][1 << numeric.RadixBits]int32
}

// argsort writes rows to out in ascending order of col[row], ties in the
// order of rows. It is a least-significant-digit radix sort (Knuth, The
// Art of Computer Programming vol. 3, §5.2.5) on numeric.SortKey images: every
// pass is stable, so equal keys keep their initial order, and a pass is
// skipped when all keys share its digit (as the exponent bits of similar
// values often do). col must not contain NaN; out must have len(rows).
func (s *treeSorter) argsort(col []float64, rows, out []int32) {
	n := len(rows)
	if n == 0 {
		return
	}
	if cap(s.keys) < n {
		s.keys, s.keys2, s.idx2 = make([]uint64, n), make([]uint64, n), make([]int32, n)
	}
	keys, keys2 := s.keys[:n], s.keys2[:n]
	idx, idx2 := out[:n], s.idx2[:n]
	hist := &s.hist
	*hist = [numeric.RadixPasses][1 << numeric.RadixBits]int32{}
	for j, i := range rows {
		k := numeric.SortKey(col[i])
		keys[j] = k
		idx[j] = i
		for pass := range numeric.RadixPasses {
			hist[pass][(k>>(pass*numeric.RadixBits))&numeric.RadixMask]++
		}
	}
	for pass := range numeric.RadixPasses {
		shift := pass * numeric.RadixBits
		h := &hist[pass]
		if n == 0 || int(h[(keys[0]>>shift)&numeric.RadixMask]) == n {
			continue
		}
		var sum int32
		for d, c := range h {
			h[d] = sum
			sum += c
		}
		for j, k := range keys {
			d := (k >> shift) & numeric.RadixMask
			pos := h[d]
			h[d]++
			keys2[pos] = k
			idx2[pos] = idx[j]
		}
		keys, keys2 = keys2, keys
		idx, idx2 = idx2, idx
	}
	if &idx[0] != &out[0] {
		copy(out, idx)
	}
}

// col returns feature f's values, indexed by row.
func (d *Data) col(f int) []float64 { return d.cols[f] }

// Classification reports whether the data is a classification problem.
func (d *Data) Classification() bool { return d.classification }

// Dims returns the number of rows and features of the data.
func (d *Data) Dims() (rows, features int) { return d.n, d.p }

// treeParallelMinRows is the node size from which a builder with several
// workers scans candidate features and partitions in parallel; below it the
// goroutine hand-off costs more than it saves.
const treeParallelMinRows = 512

// treeClassWeight packs a row's class and multiplicity so one memory access
// fetches both during a scan.
type treeClassWeight struct {
	class  int32
	weight int32
}

// treeTargetWeight packs a row's regression target and multiplicity.
type treeTargetWeight struct {
	y      float64
	weight float64
}

// treeFrame is a node waiting on the depth-first stack.
type treeFrame struct {
	start, end int // the node's range in the order arrays
	depth      int
	parent     int32 // -1 for the root
	isLeft     bool
	// src is a feature whose order range is known to hold exactly the
	// node's rows (the parent's split feature, whose range is always a
	// clean prefix or suffix even when the other features were left
	// unpartitioned because both children are leaves).
	src int
}

// treeNodeStats summarises a node's rows.
type treeNodeStats struct {
	weight   float64 // total multiplicity, times the class weights
	samples  float64 // total multiplicity: the bootstrap draws in the node
	impurity float64 // Gini or variance
	pure     bool    // one class, or one target value
	mean     float64 // regression: weighted mean target
	// centred is Σ w·(y − mean) for regression: zero but for rounding,
	// and kept so that a scan's right-hand sums are exact complements.
	centred float64
}

// treeSplit is the best split found so far at a node.
type treeSplit struct {
	feature   int
	pos       int     // rows [start, pos) go left
	proxy     float64 // larger is better; comparable within one node only
	threshold float64
}

// Builder grows trees on one Data. It owns scratch buffers sized
// once and reused across the trees one forest worker builds, so growing a
// node allocates nothing beyond the output arrays.
type Builder struct {
	d   *Data
	cfg Config
	rng *rand.Rand

	// order[f] holds this tree's rows (multiplicity > 0) sorted by
	// feature f; each node owns one range, the same in every feature.
	order [][]int32
	// cw and tw are per-row class (or target) and multiplicity.
	cw []treeClassWeight
	tw []treeTargetWeight
	// mark[i] is 1 when row i goes to the left child of the node being
	// split.
	mark []uint8
	// feats is the feature permutation, shuffled lazily per node.
	feats []int
	// cands are the features a node scans; bests their best splits.
	cands []int
	bests []treeSplit
	// draws[c] is the uniform number in [0, 1) that places candidate c's
	// threshold when Config.RandomSplits is set, drawn serially in
	// candidate order so the tree does not depend on the workers.
	draws []float64
	// cnt holds the weighted class counts of the node last summarised by
	// stats.
	cnt []float64
	// scratch has one entry per worker that may scan or partition in
	// parallel within a node (one when trees are grown in parallel).
	scratch []treeScratch
	// sorter sorts the tree's rows by each feature in Reset. Its scratch
	// (20 bytes a drawn row) is needed only then, so builders made by
	// Sibling share one, taking turns under sortMu.
	sorter     *treeSorter
	sortMu     *sync.Mutex
	stack      []treeFrame
	importance []float64
	rootWeight float64

	out *datav1.TreeModel
}

// treeScratch is one worker's scratch for scanning and partitioning.
type treeScratch struct {
	// cntL and cntR are running weighted class counts left and right of a
	// candidate threshold.
	cntL, cntR []float64
	// tmp holds right-going rows during a stable partition.
	tmp []int32
	// vals, cws and tws hold a block of a scan's gathered values and
	// per-row class (or target) and multiplicity.
	vals [treeGatherRows]float64
	cws  [treeGatherRows]treeClassWeight
	tws  [treeGatherRows]treeTargetWeight
}

// treeGatherRows is the block of rows a scan gathers at a time: enough
// loads in flight to hide the cache misses, small enough to stay in L1.
const treeGatherRows = 256

// NewBuilder allocates the scratch for trees on d, for up to workers
// goroutines within one node.
func NewBuilder(d *Data, cfg Config, workers int) *Builder {
	// The order arrays are sized by reset to the rows a tree draws, about
	// 63% of them for a bootstrap sample.
	b := &Builder{
		d:          d,
		cfg:        cfg,
		order:      make([][]int32, d.p),
		mark:       make([]uint8, d.n),
		feats:      make([]int, d.p),
		cands:      make([]int, 0, d.p),
		bests:      make([]treeSplit, d.p),
		draws:      make([]float64, d.p),
		cnt:        make([]float64, d.numOutputs),
		scratch:    make([]treeScratch, max(1, workers)),
		importance: make([]float64, d.p),
		sorter:     &treeSorter{},
		sortMu:     &sync.Mutex{},
	}
	for w := range b.scratch {
		b.scratch[w] = treeScratch{
			cntL: make([]float64, d.numOutputs),
			cntR: make([]float64, d.numOutputs),
			tmp:  make([]int32, d.n),
		}
	}
	if d.classification {
		b.cw = make([]treeClassWeight, d.n)
	} else {
		b.tw = make([]treeTargetWeight, d.n)
	}
	return b
}

// Sibling returns a builder of trees on the same data with the same
// growth limits, for up to workers goroutines within one node, that
// shares b's sorting scratch: builders growing trees at once sort their
// rows in turn (a few per cent of a tree's time) rather than each keeping
// 20 bytes a row of scratch it uses only in Reset.
func (b *Builder) Sibling(workers int) *Builder {
	nb := NewBuilder(b.d, b.cfg, workers)
	nb.sorter, nb.sortMu = b.sorter, b.sortMu
	return nb
}

// parallel reports whether a node of n rows is worth splitting with
// several goroutines.
func (b *Builder) parallel(n int) bool {
	return len(b.scratch) > 1 && n >= treeParallelMinRows
}

// RNG returns the random stream of tree index in a model trained with
// seed. Each tree has its own stream so a forest's result does not depend
// on which goroutine grows which tree; the index is mixed with SplitMix64
// (Steele, Lea and Flood, 2014) so neighbouring trees get unrelated states.
func RNG(seed int64, index int) *rand.Rand {
	z := uint64(index)*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return rand.New(rand.NewPCG(uint64(seed), z))
}

// Reset prepares the builder for tree index of a model trained with seed,
// drawing a bootstrap sample (n rows with replacement, kept as
// multiplicities) when bootstrap is true.
func (b *Builder) Reset(seed int64, index int, bootstrap bool) {
	d := b.d
	b.rng = RNG(seed, index)
	// The multiplicities are drawn straight into the per-row weights.
	w0 := int32(1)
	if bootstrap {
		w0 = 0
	}
	if d.classification {
		for i, c := range d.class {
			b.cw[i] = treeClassWeight{class: c, weight: w0}
		}
		if bootstrap {
			for range d.n {
				b.cw[b.rng.IntN(d.n)].weight++
			}
		}
	} else {
		for i, y := range d.y {
			b.tw[i] = treeTargetWeight{y: y, weight: float64(w0)}
		}
		if bootstrap {
			for range d.n {
				b.tw[b.rng.IntN(d.n)].weight++
			}
		}
	}
	// Sort the drawn rows by every feature, ties by row index: the same
	// order as filtering a presorted copy of all rows, without keeping one.
	// The drawn rows are listed in scratch[0].tmp, which partition alone
	// uses otherwise. The features are sorted one after the other: a
	// sorter's scratch is 20 bytes a row, and one per core would cost more
	// memory than the sorting time it saves (a few per cent of a tree);
	// for the same reason sibling builders share one sorter.
	drawn := b.scratch[0].tmp[:0]
	if d.classification {
		for i, cw := range b.cw {
			if cw.weight > 0 {
				drawn = append(drawn, int32(i))
			}
		}
	} else {
		for i, tw := range b.tw {
			if tw.weight > 0 {
				drawn = append(drawn, int32(i))
			}
		}
	}
	m := len(drawn)
	b.sortMu.Lock()
	defer b.sortMu.Unlock()
	for f := range d.p {
		if cap(b.order[f]) < m {
			// A little slack: the next bootstrap sample may draw a few more.
			b.order[f] = make([]int32, m, min(d.n, m+m/64+16))
		}
		b.order[f] = b.order[f][:m]
		b.sorter.argsort(d.cols[f], drawn, b.order[f])
	}
	for f := range b.feats {
		b.feats[f] = f
	}
	clear(b.importance)
	b.stack = b.stack[:0]
}

// grow builds the tree depth first (right child pushed first, so the left
// subtree is numbered first and every child index exceeds its parent's). It
// returns the tree and its impurity-decrease feature importances,
// normalised to sum to 1, or all zero when the tree never split.
func (b *Builder) grow(ctx context.Context) (*datav1.TreeModel, []float64, error) {
	return b.GrowInto(ctx, &datav1.TreeModel{})
}

// GrowInto is grow writing into t, whose arrays are emptied and reused.
func (b *Builder) GrowInto(ctx context.Context, t *datav1.TreeModel) (*datav1.TreeModel, []float64, error) {
	d := b.d
	rows := len(b.order[0])
	t.NumOutputs = int32(d.numOutputs)
	t.Feature, t.Threshold, t.Left, t.Right = t.Feature[:0], t.Threshold[:0], t.Left[:0], t.Right[:0]
	t.Value, t.Samples = t.Value[:0], t.Samples[:0]
	b.out = t
	b.stack = append(b.stack, treeFrame{start: 0, end: rows, parent: -1})
	for len(b.stack) > 0 {
		fr := b.stack[len(b.stack)-1]
		b.stack = b.stack[:len(b.stack)-1]
		id := int32(len(t.Feature))
		if id%treeCtxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		if fr.parent >= 0 {
			if fr.isLeft {
				t.Left[fr.parent] = id
			} else {
				t.Right[fr.parent] = id
			}
		}
		st := b.stats(b.order[fr.src][fr.start:fr.end])
		if fr.parent < 0 {
			b.rootWeight = st.weight
		}
		b.appendNode(st)
		n := fr.end - fr.start
		if b.isLeaf(n, fr.depth, st.pure) {
			continue
		}
		sp, ok := b.findSplit(fr, st)
		if !ok {
			continue
		}
		f := sp.feature
		left := b.order[f][fr.start:sp.pos]
		right := b.order[f][sp.pos:fr.end]
		stL := b.stats(left)
		stR := b.stats(right)
		// Weighted impurity decrease, as defined by scikit-learn's
		// min_impurity_decrease.
		dec := st.weight*st.impurity - stL.weight*stL.impurity - stR.weight*stR.impurity
		if dec/b.rootWeight+treeEpsilon < b.cfg.minImpurityDecrease {
			continue
		}
		t.Feature[id] = int32(f)
		t.Threshold[id] = sp.threshold
		if b.cfg.ShortThresholds {
			col := d.cols[f]
			t.Threshold[id] = treeShortThreshold(col[b.order[f][sp.pos-1]], col[b.order[f][sp.pos]], sp.threshold)
		}
		b.importance[f] += max(dec, 0)
		leafL := b.isLeaf(len(left), fr.depth+1, stL.pure)
		leafR := b.isLeaf(len(right), fr.depth+1, stR.pure)
		if !leafL || !leafR {
			b.partition(f, fr.start, sp.pos, fr.end)
		}
		b.stack = append(b.stack,
			treeFrame{start: sp.pos, end: fr.end, depth: fr.depth + 1, parent: id, src: f},
			treeFrame{start: fr.start, end: sp.pos, depth: fr.depth + 1, parent: id, isLeft: true, src: f},
		)
	}
	b.out = nil
	return t, numeric.Normalise(slices.Clone(b.importance)), nil
}

// isLeaf reports whether a node of n distinct rows at depth must stay a
// leaf whatever its rows look like.
func (b *Builder) isLeaf(n, depth int, pure bool) bool {
	return pure ||
		(b.cfg.maxDepth > 0 && depth >= b.cfg.maxDepth) ||
		n < b.cfg.minSamplesSplit ||
		n < 2*b.cfg.minSamplesLeaf
}

// appendNode adds a leaf holding the node's value (for classification the
// weighted class distribution); a split fills in the feature, threshold and
// children later. Samples counts the node's rows with their bootstrap
// multiplicity, the number of draws that reached it, without class weights.
func (b *Builder) appendNode(st treeNodeStats) {
	t := b.out
	t.Feature = append(t.Feature, -1)
	t.Threshold = append(t.Threshold, 0)
	t.Left = append(t.Left, -1)
	t.Right = append(t.Right, -1)
	t.Samples = append(t.Samples, int64(st.samples))
	if b.d.classification {
		for _, c := range b.cnt {
			t.Value = append(t.Value, c/st.weight)
		}
	} else {
		t.Value = append(t.Value, st.mean)
	}
}

// stats computes a node's weight, impurity and purity from its rows. For
// classification it leaves the weighted class counts in b.cnt: each
// class's multiplicity total times its class weight (exact when the
// weights are 1). The regression
// variance uses two passes (mean first) to avoid the cancellation of the
// textbook E[y²]−E[y]² formula.
func (b *Builder) stats(rows []int32) treeNodeStats {
	var st treeNodeStats
	if b.d.classification {
		clear(b.cnt)
		for _, i := range rows {
			cw := b.cw[i]
			b.cnt[cw.class] += float64(cw.weight)
		}
		var sq float64
		nonzero := 0
		for k, c := range b.cnt {
			st.samples += c
			c *= b.d.classWeight[k]
			b.cnt[k] = c
			st.weight += c
			sq += c * c
			if c > 0 {
				nonzero++
			}
		}
		st.pure = nonzero <= 1
		st.impurity = 1 - sq/(st.weight*st.weight)
		return st
	}
	var sum float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, i := range rows {
		tw := b.tw[i]
		st.weight += tw.weight
		sum += tw.weight * tw.y
		lo = min(lo, tw.y)
		hi = max(hi, tw.y)
	}
	st.mean = sum / st.weight
	st.samples = st.weight
	var ss float64
	for _, i := range rows {
		tw := b.tw[i]
		dy := tw.y - st.mean
		st.centred += tw.weight * dy
		ss += tw.weight * dy * dy
	}
	st.impurity = ss / st.weight
	st.pure = lo == hi
	return st
}

// findSplit draws features in a fresh random order (a lazy Fisher–Yates
// shuffle) until maxFeatures features that are not constant in the node
// have been drawn, scans them, and returns the best split: the largest
// proxy, the earliest candidate and then the earliest threshold winning
// ties. Like scikit-learn, features constant in the node are skipped
// without counting, so they never use up the budget. Large nodes
// scan their candidates in parallel; each candidate's best is kept apart
// and reduced in candidate order, so the result is the same serially.
func (b *Builder) findSplit(fr treeFrame, st treeNodeStats) (treeSplit, bool) {
	p := b.d.p
	cands := b.cands[:0]
	for j := 0; j < p && len(cands) < b.cfg.maxFeatures; j++ {
		k := j + b.rng.IntN(p-j)
		b.feats[j], b.feats[k] = b.feats[k], b.feats[j]
		f := b.feats[j]
		rows := b.order[f][fr.start:fr.end]
		col := b.d.col(f)
		if col[rows[0]] != col[rows[len(rows)-1]] {
			cands = append(cands, f)
		}
	}
	b.cands = cands
	bests := b.bests[:len(cands)]
	draws := b.draws[:len(cands)]
	if b.cfg.RandomSplits {
		for c := range draws {
			draws[c] = b.rng.Float64()
		}
	}
	if b.parallel(fr.end-fr.start) && len(cands) > 1 {
		numeric.Parallel(len(cands), len(b.scratch), func(w, c int) {
			bests[c] = b.scan(&b.scratch[w], cands[c], fr, st, draws[c])
		})
	} else {
		for c, f := range cands {
			bests[c] = b.scan(&b.scratch[0], f, fr, st, draws[c])
		}
	}
	best := treeSplit{feature: -1, proxy: math.Inf(-1)}
	for _, sp := range bests {
		if sp.feature >= 0 && sp.proxy > best.proxy {
			best = sp
		}
	}
	return best, best.feature >= 0
}

// scan returns the best split of the node on feature f, or one with
// feature −1 when min_samples_leaf rules out every threshold. With random
// splits it returns the split at the threshold u ∈ [0, 1) places (see
// scanRandom); u is unused otherwise.
func (b *Builder) scan(sc *treeScratch, f int, fr treeFrame, st treeNodeStats, u float64) treeSplit {
	best := treeSplit{feature: -1, proxy: math.Inf(-1)}
	rows := b.order[f][fr.start:fr.end]
	if b.cfg.RandomSplits {
		b.scanRandom(sc, f, fr.start, rows, st, u, &best)
		return best
	}
	if b.d.classification {
		b.scanClass(sc, f, fr.start, rows, &best)
	} else {
		b.scanRegression(sc, f, fr.start, rows, st, &best)
	}
	return best
}

// scanClass evaluates every threshold of feature f for a classification
// node. The criterion is the Gini proxy Σ_k L_k²/|L| + Σ_k R_k²/|R|, which
// differs from −(|L|·Gini(L) + |R|·Gini(R)) by the constant |node|; moving a
// row of class c and weight w (multiplicity times class weight) to the left
// changes Σ L_k² by w(2L_c + w) and Σ R_k² by w(w − 2R_c). |L| and |R| are
// weights here, but min_samples_leaf counts rows.
func (b *Builder) scanClass(sc *treeScratch, f, start int, rows []int32, best *treeSplit) {
	col := b.d.col(f)
	classW := b.d.classWeight
	cntL, cntR := sc.cntL, sc.cntR
	clear(cntL)
	copy(cntR, b.cnt)
	var wL, sqL float64
	var wR, sqR float64
	for _, c := range cntR {
		wR += c
		sqR += c * c
	}
	n := len(rows)
	minLeaf := b.cfg.minSamplesLeaf
	v := col[rows[0]]
	// The rows' values and classes are gathered a block at a time into
	// contiguous scratch before the scan reads them: the gathers are
	// independent loads the processor overlaps, where the scan's own
	// reads, scattered over the whole column, would each wait on a cache
	// miss. The arithmetic is the same, in the same order.
	for base := 0; base < n-minLeaf; base += treeGatherRows {
		m := min(treeGatherRows, n-minLeaf-base)
		vals, cws := sc.vals[:m], sc.cws[:m]
		next := rows[base+1 : base+1+m]
		for q, i := range rows[base : base+m] {
			cws[q] = b.cw[i]
			vals[q] = col[next[q]]
		}
		for q, vn := range vals {
			p := base + q
			cw := cws[q]
			w := float64(cw.weight) * classW[cw.class]
			cl := cntL[cw.class]
			sqL += w * (2*cl + w)
			cntL[cw.class] = cl + w
			cr := cntR[cw.class]
			sqR += w * (w - 2*cr)
			cntR[cw.class] = cr - w
			wL += w
			wR -= w
			if vn != v && p+1 >= minLeaf {
				if proxy := sqL/wL + sqR/wR; proxy > best.proxy {
					*best = treeSplit{feature: f, pos: start + p + 1, proxy: proxy, threshold: numeric.Midpoint(v, vn)}
				}
			}
			v = vn
		}
	}
}

// scanRegression evaluates every threshold of feature f for a regression
// node. The criterion is the squared-error proxy S_L²/|L| + S_R²/|R| with
// S the weighted sums of the targets centred on the node mean, which
// differs from −(|L|·Var(L) + |R|·Var(R)) by a constant; centring keeps it
// accurate when the targets have a large common offset.
func (b *Builder) scanRegression(sc *treeScratch, f, start int, rows []int32, st treeNodeStats, best *treeSplit) {
	col := b.d.col(f)
	wT, sT, mean := st.weight, st.centred, st.mean
	var wL, sL float64
	n := len(rows)
	minLeaf := b.cfg.minSamplesLeaf
	v := col[rows[0]]
	// Gathered a block at a time, as in scanClass.
	for base := 0; base < n-minLeaf; base += treeGatherRows {
		m := min(treeGatherRows, n-minLeaf-base)
		vals, tws := sc.vals[:m], sc.tws[:m]
		next := rows[base+1 : base+1+m]
		for q, i := range rows[base : base+m] {
			tws[q] = b.tw[i]
			vals[q] = col[next[q]]
		}
		for q, vn := range vals {
			p := base + q
			tw := tws[q]
			wL += tw.weight
			sL += tw.weight * (tw.y - mean)
			if vn != v && p+1 >= minLeaf {
				sR := sT - sL
				if proxy := sL*sL/wL + sR*sR/(wT-wL); proxy > best.proxy {
					*best = treeSplit{feature: f, pos: start + p + 1, proxy: proxy, threshold: numeric.Midpoint(v, vn)}
				}
			}
			v = vn
		}
	}
}

// scanRandom scores one split of feature f, at a threshold t drawn
// uniformly in [lo, hi) from u, lo and hi being the smallest and largest
// value of the node's rows (scikit-learn's random splitter draws the same
// way, moving a draw that rounds to hi down to lo): the rows up to t go
// left. Missing values (stored as −Inf) always go left and lo is the
// smallest other value; when that is hi, the one split offered separates
// the missing values from the rest. Every t between two consecutive
// distinct values v < vn routes the training rows alike, so the split is
// stored as the exhaustive scan would store that gap, at
// numeric.Midpoint(v, vn), and GrowInto shortens it the same way. The
// split is scored with the scan's criterion (the Gini or squared-error
// proxy), summing the smaller side and taking the other as the node's
// totals less it. If a side has fewer than min_samples_leaf rows the
// feature offers no split, as in scikit-learn. rows must hold at least two
// distinct values.
func (b *Builder) scanRandom(sc *treeScratch, f, start int, rows []int32, st treeNodeStats, u float64, best *treeSplit) {
	col := b.d.col(f)
	n := len(rows)
	above := func(t float64) int {
		return sort.Search(n, func(i int) bool { return col[rows[i]] > t })
	}
	lo, hi := col[rows[0]], col[rows[n-1]]
	pos := 0
	if math.IsInf(lo, -1) {
		pos = above(lo)
		lo = col[rows[pos]]
	}
	if lo < hi {
		t := lo*(1-u) + hi*u
		if !(t < hi) || t < lo {
			t = lo
		}
		pos = above(t)
	}
	minLeaf := b.cfg.minSamplesLeaf
	if pos < minLeaf || n-pos < minLeaf {
		return
	}
	small := rows[:pos]
	if pos > n-pos {
		small = rows[pos:]
	}
	var proxy float64
	if b.d.classification {
		classW := b.d.classWeight
		cntS := sc.cntL
		clear(cntS)
		var wS float64
		for _, i := range small {
			cw := b.cw[i]
			w := float64(cw.weight) * classW[cw.class]
			cntS[cw.class] += w
			wS += w
		}
		var wO, sqS, sqO float64
		for k, c := range b.cnt {
			o := c - cntS[k]
			wO += o
			sqS += cntS[k] * cntS[k]
			sqO += o * o
		}
		proxy = sqS/wS + sqO/wO
	} else {
		var wS, sS float64
		for _, i := range small {
			tw := b.tw[i]
			wS += tw.weight
			sS += tw.weight * (tw.y - st.mean)
		}
		sO := st.centred - sS
		proxy = sS*sS/wS + sO*sO/(st.weight-wS)
	}
	*best = treeSplit{feature: f, pos: start + pos, proxy: proxy,
		threshold: numeric.Midpoint(col[rows[pos-1]], col[rows[pos]])}
}

// treeShortThreshold returns a threshold for the split between
// consecutive distinct training values lo < hi whose midpoint is mid: the
// binary32 number nearest mid when it, or one of its binary32 neighbours,
// lies in [lo, hi), else mid itself. Every training row goes to the same
// side as with mid, so the fitted tree is the same; only a new value
// strictly between lo and hi and within a binary32 rounding step of mid
// (a relative distance of about 6e-8) can be routed differently.
func treeShortThreshold(lo, hi, mid float64) float64 {
	t := float32(mid)
	for _, c := range [3]float32{t, math.Nextafter32(t, float32(math.Inf(-1))), math.Nextafter32(t, float32(math.Inf(1)))} {
		if v := float64(c); v >= lo && v < hi {
			return v
		}
	}
	return mid
}

// partition splits the node range [start, end) of every feature except f
// (already ordered: its left rows are the prefix [start, pos)) into left
// and right rows, stably, so each child's range stays sorted. Features are
// partitioned in parallel for large nodes.
func (b *Builder) partition(f, start, pos, end int) {
	for _, i := range b.order[f][start:pos] {
		b.mark[i] = 1
	}
	for _, i := range b.order[f][pos:end] {
		b.mark[i] = 0
	}
	if b.parallel(end - start) {
		numeric.Parallel(b.d.p, len(b.scratch), func(w, g int) {
			if g != f {
				b.partitionFeature(b.scratch[w].tmp, b.order[g][start:end])
			}
		})
		return
	}
	for g := range b.d.p {
		if g != f {
			b.partitionFeature(b.scratch[0].tmp, b.order[g][start:end])
		}
	}
}

// partitionFeature moves the marked rows to the front of rows and the
// others behind them, both in their original order, using tmp.
func (b *Builder) partitionFeature(tmp, rows []int32) {
	// Branch-free: each row is written to both destinations and only the
	// matching cursor advances. Writing rows[l] is safe because l never
	// passes the read position.
	l, r := 0, 0
	for _, i := range rows {
		m := int(b.mark[i])
		rows[l] = i
		tmp[r] = i
		l += m
		r += 1 - m
	}
	copy(rows[l:], tmp[:r])
}

// Validate checks that t is a well-formed tree over numFeatures
// features, so that prediction can walk it without bounds failures or
// endless loops: parallel arrays of equal length, num_outputs values per
// node, leaves marked by feature −1 with both children −1, split features
// in range, finite thresholds and values, and every child index greater
// than its parent's (which rules out cycles) and inside the tree.
func Validate(t *datav1.TreeModel, numFeatures int) error {
	if t == nil {
		return errors.New("tree is missing")
	}
	if len(t.Nodes) != 0 {
		return errors.New("tree is in the compact form (nodes), which only random forests use")
	}
	n := len(t.Feature)
	if n == 0 {
		return errors.New("tree has no nodes")
	}
	if len(t.Threshold) != n || len(t.Left) != n || len(t.Right) != n {
		return fmt.Errorf("tree arrays disagree: %d features, %d thresholds, %d left, %d right",
			n, len(t.Threshold), len(t.Left), len(t.Right))
	}
	if len(t.Samples) != 0 && len(t.Samples) != n {
		return fmt.Errorf("tree has %d sample counts for %d nodes", len(t.Samples), n)
	}
	if t.NumOutputs < 1 {
		return fmt.Errorf("tree num_outputs %d must be at least 1", t.NumOutputs)
	}
	if int64(len(t.Value)) != int64(n)*int64(t.NumOutputs) {
		return fmt.Errorf("tree has %d values, want %d nodes × %d outputs", len(t.Value), n, t.NumOutputs)
	}
	for i := range n {
		f, l, r := t.Feature[i], t.Left[i], t.Right[i]
		switch {
		case f == -1:
			if l != -1 || r != -1 {
				return fmt.Errorf("tree node %d is a leaf (feature -1) but has children %d, %d", i, l, r)
			}
		case f < 0 || int(f) >= numFeatures:
			return fmt.Errorf("tree node %d splits on feature %d, but there are %d features", i, f, numFeatures)
		case int(l) <= i || int(l) >= n || int(r) <= i || int(r) >= n:
			return fmt.Errorf("tree node %d has children %d, %d: each must be after the node and below %d", i, l, r, n)
		case math.IsNaN(t.Threshold[i]):
			return fmt.Errorf("tree node %d has a NaN threshold", i)
		}
	}
	for i, v := range t.Value {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("tree node %d has a non-finite value", i/int(t.NumOutputs))
		}
	}
	return nil
}

// PredictBlock is the fewest rows one prediction task handles: big
// enough to amortise scheduling, small enough to spread work over cores.
const PredictBlock = 256

// treeBlockRows is the number of rows one ensemble prediction task handles.
// Each task walks every tree over its rows, so the larger the block the
// fewer times a forest that does not fit in cache is streamed from memory
// (measured: 2-3x faster prediction of 60 deep trees on 60000 rows with
// blocks of thousands of rows rather than 256); a few blocks per core keep
// the cores evenly busy.
func treeBlockRows(rows, procs int) int {
	return min(max((rows+4*procs-1)/(4*procs), PredictBlock), 16384)
}

// PredictEnsemble validates the trees against the model and X and
// returns the average of their outputs: rows × classes probabilities for
// classification (each tree contributing its leaf's class distribution,
// as scikit-learn averages probabilities) or rows × 1 values for
// regression. The trees, wide or compact, are first laid out in one
// treeFlat. Row blocks are predicted in parallel on every core; each row
// sums its trees in index order, so the result does not depend on
// scheduling, and no row allocates.
func PredictEnsemble(m *datav1.Model, trees []*datav1.TreeModel, X *mat.Dense) (*mat.Dense, error) {
	if X == nil || X.IsEmpty() {
		return nil, errors.New("no rows to predict")
	}
	_, cols := X.Dims()
	e, err := PrepareEnsemble(m, trees, cols)
	if err != nil {
		return nil, err
	}
	return e.Predict(X)
}

// Ensemble is a tree ensemble checked and laid out for prediction once, so
// that a server predicting a row at a time does not decode the trees on
// every call: PredictEnsemble lays one out per call, algo.Prepare keeps
// one per model.
type Ensemble struct {
	flats  []*treePacked
	k      int
	cols   int
	ntrees int
	// narrow and wide say whether some tree has treeNarrowNodes (walked
	// with 4-byte row keys) or other nodes (8-byte keys), so that a call
	// computes only the keys its trees read.
	narrow, wide bool
}

// PrepareEnsemble checks trees against the model and lays them out for
// rows of cols features.
func PrepareEnsemble(m *datav1.Model, trees []*datav1.TreeModel, cols int) (*Ensemble, error) {
	if len(trees) == 0 {
		return nil, errors.New("model has no trees")
	}
	if trees[0] == nil {
		return nil, errors.New("tree 0: tree is missing")
	}
	if trees[0].GetNumOutputs() < 1 {
		return nil, fmt.Errorf("tree 0: num_outputs %d must be at least 1", trees[0].GetNumOutputs())
	}
	k := int(trees[0].GetNumOutputs())
	procs := runtime.GOMAXPROCS(0)
	// Each tree is laid out on its own, in parallel: decoding a compact
	// forest of millions of nodes is otherwise a serial tenth of the time.
	flats := make([]*treePacked, len(trees))
	errs := make([]error, len(trees))
	numeric.Parallel(len(trees), procs, func(_, i int) {
		fl := &treeFlat{k: k}
		if errs[i] = fl.addTree(trees[i], cols); errs[i] == nil {
			flats[i] = fl.pack()
		}
	})
	for i, err := range errs {
		if err != nil {
			if len(trees) > 1 {
				return nil, fmt.Errorf("tree %d: %w", i, err)
			}
			return nil, err
		}
	}
	switch m.GetTask() {
	case datav1.Task_TASK_REGRESSION:
		if k != 1 {
			return nil, fmt.Errorf("regression trees must have 1 output, got %d", k)
		}
	case datav1.Task_TASK_CLASSIFICATION:
		if nc := len(m.GetClassNames()); nc != 0 && nc != k {
			return nil, fmt.Errorf("trees have %d outputs for %d classes", k, nc)
		}
	}
	e := &Ensemble{flats: flats, k: k, cols: cols, ntrees: len(trees)}
	for _, fl := range flats {
		if fl.narrow != nil {
			e.narrow = true
		} else {
			e.wide = true
		}
	}
	return e, nil
}

// Predict walks every row of X through the trees and averages their
// values, as PredictEnsemble does. X must have the columns the ensemble
// was prepared for.
func (e *Ensemble) Predict(X *mat.Dense) (*mat.Dense, error) {
	if X == nil || X.IsEmpty() {
		return nil, errors.New("no rows to predict")
	}
	rows, cols := X.Dims()
	if cols != e.cols {
		return nil, fmt.Errorf("prepared for %d features, got %d", e.cols, cols)
	}
	k, flats, procs := e.k, e.flats, runtime.GOMAXPROCS(0)
	raw := X.RawMatrix()
	out := make([]float64, rows*k)
	blockRows := treeBlockRows(rows, procs)
	blocks := (rows + blockRows - 1) / blockRows
	scale := 1 / float64(e.ntrees)
	numeric.Parallel(blocks, procs, func(_, blk int) {
		lo := blk * blockRows
		hi := min(rows, lo+blockRows)
		// The block's rows as order keys, computed once for all trees.
		var keys []uint64
		var keys32 [][treeWalkRows]uint32
		if e.wide {
			keys = make([]uint64, (hi-lo)*cols)
			for r := lo; r < hi; r++ {
				treeRowKeys(keys[(r-lo)*cols:(r-lo+1)*cols], raw.Data[r*raw.Stride:r*raw.Stride+cols])
			}
		}
		if e.narrow {
			// Group by group of treeWalkRows rows, feature by feature, so
			// that a walk finds lane g's key of feature f at [f][g].
			groups := (hi - lo + treeWalkRows - 1) / treeWalkRows
			keys32 = make([][treeWalkRows]uint32, groups*cols)
			for r := lo; r < lo+groups*treeWalkRows; r++ {
				// A short last group repeats its last row.
				row := raw.Data[min(r, hi-1)*raw.Stride:][:cols]
				grp := keys32[(r-lo)/treeWalkRows*cols:][:cols]
				for f, v := range row {
					grp[f][(r-lo)%treeWalkRows] = treeRowKey32(v)
				}
			}
		}
		var base [treeWalkRows]int
		var leaves [treeWalkRows]int32
		for _, fl := range flats {
			for r := lo; r < hi; r += treeWalkRows {
				n := min(treeWalkRows, hi-r)
				for g := range base {
					// A short last group repeats its last row.
					base[g] = (r - lo + min(g, n-1)) * cols
				}
				if fl.narrow != nil {
					fl.leavesNarrow(keys32[(r-lo)/treeWalkRows*cols:][:cols], &leaves)
				} else {
					fl.leaves(keys, &base, &leaves)
				}
				for g := range n {
					leaf := int(leaves[g])
					dst := out[(r+g)*k : (r+g+1)*k]
					src := fl.values[leaf : leaf+k]
					for j := range dst {
						dst[j] += src[j]
					}
				}
			}
		}
		if e.ntrees > 1 {
			for j := lo * k; j < hi*k; j++ {
				out[j] *= scale
			}
		}
	})
	return mat.NewDense(rows, k, out), nil
}

// Node is one node of a wide tree packed for gradient boosting's
// prediction, so that passing a node touches one cache line instead of
// four parallel arrays.
type Node struct {
	threshold   float64
	feature     int32 // -1 for a leaf
	left, right int32
}

// Pack packs a validated tree.
func Pack(t *datav1.TreeModel) []Node {
	nodes := make([]Node, len(t.Feature))
	for i := range nodes {
		nodes[i] = Node{threshold: t.Threshold[i], feature: t.Feature[i], left: t.Left[i], right: t.Right[i]}
	}
	return nodes
}

// LeafPacked returns the leaf a row reaches. A NaN fails every
// comparison; it goes left.
func LeafPacked(nodes []Node, x []float64) int {
	i := int32(0)
	for {
		nd := &nodes[i]
		if nd.feature < 0 {
			return int(i)
		}
		if v := x[nd.feature]; v <= nd.threshold || v != v {
			i = nd.left
		} else {
			i = nd.right
		}
	}
}
