package boosting

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/algo/internal/numeric"
	"github.com/alur-ml/alur/ml/algo/tree"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Names of the gradient boosting hyperparameters.
const (
	gbParamLearningRate       = "learning_rate"
	gbParamMaxIter            = "max_iter"
	gbParamMaxLeafNodes       = "max_leaf_nodes"
	gbParamMaxDepth           = "max_depth"
	gbParamMinSamplesLeaf     = "min_samples_leaf"
	gbParamL2                 = "l2_regularization"
	gbParamMaxBins            = "max_bins"
	gbParamEarlyStopping      = "early_stopping"
	gbParamValidationFraction = "validation_fraction"
	gbParamNIterNoChange      = "n_iter_no_change"
	gbParamTol                = "tol"
)

const (
	// gbAutoEarlyStoppingRows is the data size above which
	// early_stopping = 2 (auto) turns early stopping on, as in
	// scikit-learn.
	gbAutoEarlyStoppingRows = 10000
	// gbBinSubsample is the number of rows bin edges are computed from.
	gbBinSubsample = 200000
	// gbMinHessian is the smallest hessian sum a child may have, which
	// keeps −G/(H+λ) bounded for nearly pure classification leaves
	// (scikit-learn's min_hessian_to_split).
	gbMinHessian = 1e-3
	// gbGainRelTol rejects splits whose gain is rounding noise relative
	// to the children's scores, such as splits of rows with equal
	// gradients.
	gbGainRelTol = 1e-12
	// gbChunk is the number of rows per parallel task for per-row work
	// (gradients, gathering, partitioning). It is fixed, not derived from
	// GOMAXPROCS, so sums merged in chunk order are reproducible.
	gbChunk = 1 << 14
	// gbParallelMinWork is the number of row × feature visits from which a
	// histogram is built on several goroutines. Waking an idle worker
	// costs tens of microseconds, so smaller nodes are built serially;
	// for the same reason per-row passes over one node (gathering
	// gradients, adding leaf values) stay serial.
	gbParallelMinWork = 1 << 17
	// gbParallelPartitionChunks is the number of gbChunk pieces from which
	// a node's rows are partitioned in parallel.
	gbParallelPartitionChunks = 8
	// gbProbEps clips class priors away from 0 and 1 before taking logs.
	gbProbEps = 0x1p-52
	// gbScaleAbove is the target spread beyond which regression gradients
	// are scaled down by a power of two so they fit float32.
	gbScaleAbove = 0x1p64
)

func init() {
	algo.Register(&algo.Spec{
		Name: "gradient_boosting",
		Description: "histogram-based gradient boosting of regression trees (Friedman, 2001; LightGBM, Ke et al., 2017; " +
			"as scikit-learn's HistGradientBoosting): quantile-binned features, best-first trees with Newton leaf values, " +
			"squared-error, logistic or softmax loss, optional early stopping on a held-out validation set",
		Tasks: []datav1.Task{datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION},
		Params: []algo.Param{
			{Name: gbParamLearningRate, Default: 0.3, Min: 0, Max: 10,
				Description: "shrinkage multiplying every leaf value; must be above 0 (default 0.3, as XGBoost; scikit-learn's is 0.1)"},
			{Name: gbParamMaxIter, Default: 100, Min: 1, Max: 100000, Type: algo.Integer,
				Description: "maximum number of boosting rounds (one tree per class and round for more than two classes)"},
			{Name: gbParamMaxLeafNodes, Default: 64, Min: 2, Max: 1 << 16, Type: algo.Integer,
				Description: "maximum number of leaves of a tree, grown best-first (default 64, what max_depth 6 allows; scikit-learn's is 31)"},
			{Name: gbParamMaxDepth, Default: 6, Min: 0, Max: tree.MaxDepthLimit, Type: algo.Integer,
				Description: "maximum depth of a tree, the root being depth 0; 0 means unlimited (default 6, as XGBoost; scikit-learn's is unlimited)"},
			{Name: gbParamMinSamplesLeaf, Default: 20, Min: 1, Max: 1e9, Type: algo.Integer,
				Description: "minimum number of training rows in a leaf"},
			{Name: gbParamL2, Default: 1, Min: 0, Max: math.MaxFloat64,
				Description: "L2 penalty λ on leaf values: a leaf outputs −G/(H+λ) (default 1, as XGBoost; scikit-learn's is 0)"},
			{Name: gbParamMaxBins, Default: 255, Min: 2, Max: binMaxBins, Type: algo.Integer,
				Description: "maximum number of quantile bins per feature for non-missing values (missing values get one more)"},
			{Name: gbParamEarlyStopping, Default: 2, Min: 0, Max: 2, Type: algo.Integer,
				Description: "0 off, 1 on, 2 auto (on when there are more than 10000 rows): hold out validation_fraction of the rows " +
					"and stop when the validation loss has not improved by tol for n_iter_no_change rounds, keeping the best round"},
			{Name: gbParamValidationFraction, Default: 0.1, Min: 0, Max: 1,
				Description: "share of the rows held out (stratified by class for classification) when early stopping; in (0, 1)"},
			{Name: gbParamNIterNoChange, Default: 10, Min: 1, Max: 100000, Type: algo.Integer,
				Description: "rounds without improvement of the validation loss after which early stopping stops"},
			{Name: gbParamTol, Default: 1e-7, Min: 0, Max: math.MaxFloat64,
				Description: "improvement of the validation loss that counts as progress for early stopping"},
		},
		Fit:     fitGradientBoosting,
		Predict: predictGradientBoosting,
		Prepare: prepareGradientBoosting,
	})
}

// gbConfig holds the resolved hyperparameters.
type gbConfig struct {
	learningRate       float64
	maxIter            int
	maxLeaves          int
	maxDepth           int
	minSamplesLeaf     int
	l2                 float64
	maxBins            int
	earlyStopping      int
	validationFraction float64
	nIterNoChange      int
	tol                float64
}

// gbConfigFromParams reads and checks the hyperparameters beyond what the
// Spec's ranges express.
func gbConfigFromParams(params map[string]float64) (*gbConfig, error) {
	whole := func(name string, lo, hi float64) (int, error) {
		v := params[name]
		if v != math.Trunc(v) || v < lo || v > hi {
			return 0, &algo.ParamError{Param: name, Reason: fmt.Sprintf("%g must be a whole number in [%g, %g]", v, lo, hi)}
		}
		return int(v), nil
	}
	cfg := &gbConfig{
		learningRate:       params[gbParamLearningRate],
		l2:                 params[gbParamL2],
		validationFraction: params[gbParamValidationFraction],
		tol:                params[gbParamTol],
	}
	var err error
	for _, w := range []struct {
		dst    *int
		name   string
		lo, hi float64
	}{
		{&cfg.maxIter, gbParamMaxIter, 1, 100000},
		{&cfg.maxLeaves, gbParamMaxLeafNodes, 2, 1 << 16},
		{&cfg.maxDepth, gbParamMaxDepth, 0, tree.MaxDepthLimit},
		{&cfg.minSamplesLeaf, gbParamMinSamplesLeaf, 1, 1e9},
		{&cfg.maxBins, gbParamMaxBins, 2, binMaxBins},
		{&cfg.earlyStopping, gbParamEarlyStopping, 0, 2},
		{&cfg.nIterNoChange, gbParamNIterNoChange, 1, 100000},
	} {
		if *w.dst, err = whole(w.name, w.lo, w.hi); err != nil {
			return nil, err
		}
	}
	switch {
	case !(cfg.learningRate > 0) || math.IsInf(cfg.learningRate, 0):
		return nil, &algo.ParamError{Param: gbParamLearningRate, Reason: fmt.Sprintf("%g must be a finite number above 0", cfg.learningRate)}
	case !(cfg.l2 >= 0) || math.IsInf(cfg.l2, 0):
		return nil, &algo.ParamError{Param: gbParamL2, Reason: fmt.Sprintf("%g must be a finite number >= 0", cfg.l2)}
	case !(cfg.tol >= 0) || math.IsInf(cfg.tol, 0):
		return nil, &algo.ParamError{Param: gbParamTol, Reason: fmt.Sprintf("%g must be a finite number >= 0", cfg.tol)}
	}
	return cfg, nil
}

// gbLossKind selects the loss.
type gbLossKind int

const (
	gbSquaredError gbLossKind = iota // regression, one output
	gbLogistic                       // two classes, one output
	gbSoftmax                        // K > 2 classes, K outputs
)

// gbGH is one row's gradient and hessian for one output. float32 halves the
// memory traffic of histogram building, as in scikit-learn; sums are kept
// in float64.
type gbGH struct {
	g, h float32
}

// gbObjective is a loss with its number of outputs.
type gbObjective struct {
	kind gbLossKind
	k    int // outputs
	// invScale multiplies regression gradients (a power of two, 1 unless
	// the targets spread beyond gbScaleAbove) and scale undoes it in leaf
	// values; both are exact, so the model is that of the unscaled loss.
	scale, invScale float64
}

// newGbObjective picks the loss for the task.
func newGbObjective(ds *algo.Dataset) *gbObjective {
	o := &gbObjective{kind: gbSquaredError, k: 1, scale: 1, invScale: 1}
	if ds.Task == datav1.Task_TASK_CLASSIFICATION {
		if ds.NumClasses == 2 {
			o.kind = gbLogistic
		} else {
			o.kind = gbSoftmax
			o.k = ds.NumClasses
		}
	}
	return o
}

// baseScore returns the initial raw scores: the mean target, the log-odds
// of class 1, or the log class priors (clipped away from 0). For regression
// it also sets the gradient scale.
func (o *gbObjective) baseScore(y []float64) []float64 {
	n := float64(len(y))
	switch o.kind {
	case gbSquaredError:
		var sum float64
		for _, v := range y {
			sum += v
		}
		mean := sum / n
		if math.IsInf(sum, 0) {
			// Sum the scaled targets instead; each term is small.
			mean = 0
			for _, v := range y {
				mean += v / n
			}
		}
		var spread float64
		for _, v := range y {
			spread = max(spread, math.Abs(v/2-mean/2))
		}
		if spread > gbScaleAbove/2 {
			_, e := math.Frexp(spread)
			o.invScale = math.Ldexp(1, -e-1)
			o.scale = math.Ldexp(1, e+1)
		}
		return []float64{mean}
	case gbLogistic:
		var pos float64
		for _, v := range y {
			pos += v
		}
		p := min(max(pos/n, gbProbEps), 1-gbProbEps)
		return []float64{math.Log(p / (1 - p))}
	default:
		counts := make([]float64, o.k)
		for _, v := range y {
			counts[int(v)]++
		}
		base := make([]float64, o.k)
		for c, cnt := range counts {
			base[c] = math.Log(min(max(cnt/n, gbProbEps), 1-gbProbEps))
		}
		return base
	}
}

// gbSigmoid is the logistic function, computed without overflow.
func gbSigmoid(f float64) float64 {
	if f >= 0 {
		return 1 / (1 + math.Exp(-f))
	}
	e := math.Exp(f)
	return e / (1 + e)
}

// Constants of gbExpNeg: 64/ln 2, and ln 2 / 64 split into a head with
// trailing zero bits (so that k·head is exact) and a tail (fdlibm's
// ln2_hi and ln2_lo divided by 64).
const (
	gbExpInvStep = 64 / math.Ln2
	gbExpStepHi  = 6.93147180369123816490e-01 / 64
	gbExpStepLo  = 1.90821492927058770002e-10 / 64
	// gbExpRound is 1.5·2^52: adding and subtracting it rounds a float of
	// magnitude below 2^51 to an integer.
	gbExpRound = 0x1.8p52
	// gbExpMin is where the result would become subnormal; below it
	// gbExpNeg defers to math.Exp.
	gbExpMin = -708
)

// gbExpTable holds 2^(j/64) for j = 0..63.
var gbExpTable = func() (t [64]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 64)
	}
	return t
}()

// gbExpNeg returns e^x for x <= 0, the only arguments the gradient
// computations need, faster than math.Exp and as accurate for their
// float32 results (relative error a few units in the last place of a
// float64). It uses Tang's table-driven reduction (P. T. P. Tang,
// "Table-Driven Implementation of the Exponential Function in IEEE
// Floating-Point Arithmetic", ACM TOMS 15(2), 1989): x = (64m + j)·ln2/64
// + r with |r| <= ln2/128, so e^x = 2^m · 2^(j/64) · e^r, and e^r − 1 is a
// degree-5 Taylor polynomial (truncation error below 4e-17).
func gbExpNeg(x float64) float64 {
	if !(x >= gbExpMin) {
		return math.Exp(x) // subnormal or zero results, and NaN
	}
	kf := x*gbExpInvStep + gbExpRound
	kf -= gbExpRound
	k := int(kf)
	r := (x - kf*gbExpStepHi) - kf*gbExpStepLo
	p := r + r*r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120))))
	t := gbExpTable[k&63]
	scale := math.Float64frombits(uint64((k>>6)+1023) << 52)
	return (t + t*p) * scale
}

// gbSoftplus is log(1 + e^f), computed without overflow.
func gbSoftplus(f float64) float64 {
	return max(f, 0) + math.Log1p(math.Exp(-math.Abs(f)))
}

// gradients fills gh[j][i] for rows [lo, hi) from the raw scores
// (output-major: raw[j*n+i] is output j of row i, n = len(y)). When
// withLoss is set it also returns the sum of the rows' losses at those
// scores: ½(y−f)², log(1+e^f) − y·f, or log Σ_j e^{f_j} − f_y; leaving it
// out saves a logarithm per row.
func (o *gbObjective) gradients(raw, y []float64, gh [][]gbGH, lo, hi int, withLoss bool) float64 {
	var loss float64
	switch o.kind {
	case gbSquaredError:
		g0 := gh[0]
		for i := lo; i < hi; i++ {
			g0[i] = gbGH{float32(raw[i]*o.invScale - y[i]*o.invScale), 1}
		}
	case gbLogistic:
		g0 := gh[0]
		for i := lo; i < hi; i++ {
			// σ(f) from e = e^{−|f|} <= 1: 1/(1+e) for f >= 0,
			// e/(1+e) otherwise.
			f := raw[i]
			e := gbExpNeg(-math.Abs(f))
			p := 1 / (1 + e)
			if f < 0 {
				p = e * p
			}
			g0[i] = gbGH{float32(p - y[i]), float32(p * (1 - p))}
		}
	default:
		// Softmax: p_j = e^{f_j − m} / Σ e^{f_j − m} with m the largest
		// score, g_j = p_j − [j = y], h_j = p_j(1 − p_j).
		n, k := len(y), o.k
		e := make([]float64, k)
		for i := lo; i < hi; i++ {
			m := raw[i]
			for j := 1; j < k; j++ {
				m = max(m, raw[j*n+i])
			}
			var s float64
			for j := range e {
				e[j] = gbExpNeg(raw[j*n+i] - m)
				s += e[j]
			}
			inv := 1 / s
			c := int(y[i])
			for j, ej := range e {
				p := ej * inv
				g := p
				if j == c {
					g -= 1
				}
				gh[j][i] = gbGH{float32(g), float32(p * (1 - p))}
			}
			if withLoss {
				loss += math.Log(s) + m - raw[c*n+i]
			}
		}
		return loss
	}
	if withLoss {
		loss = o.loss(raw, y, lo, hi)
	}
	return loss
}

// loss returns the sum of the losses of rows [lo, hi) (see gradients).
func (o *gbObjective) loss(raw, y []float64, lo, hi int) float64 {
	var loss float64
	switch o.kind {
	case gbSquaredError:
		for i := lo; i < hi; i++ {
			r := raw[i] - y[i]
			loss += 0.5 * r * r
		}
	case gbLogistic:
		for i := lo; i < hi; i++ {
			loss += gbSoftplus(raw[i]) - y[i]*raw[i]
		}
	default:
		n, k := len(y), o.k
		for i := lo; i < hi; i++ {
			m := raw[i]
			for j := 1; j < k; j++ {
				m = max(m, raw[j*n+i])
			}
			var s float64
			for j := range k {
				s += math.Exp(raw[j*n+i] - m)
			}
			loss += math.Log(s) + m - raw[int(y[i])*n+i]
		}
	}
	return loss
}

// gradientPass computes the gradients of all rows in parallel chunks (see
// gradients) and returns the total loss (when withLoss) and, for each
// output j, the sums of its gradients and hessians at sums[2j] and
// sums[2j+1], the root sums of the next trees. Chunk results are added in
// chunk order.
func (o *gbObjective) gradientPass(raw, y []float64, gh [][]gbGH, withLoss bool, workers int) (loss float64, sums []float64) {
	n := len(y)
	chunks := (n + gbChunk - 1) / gbChunk
	width := 1 + 2*o.k
	parts := make([]float64, chunks*width)
	numeric.Parallel(chunks, workers, func(_, c int) {
		lo := c * gbChunk
		hi := min(n, lo+gbChunk)
		part := parts[c*width : (c+1)*width]
		part[0] = o.gradients(raw, y, gh, lo, hi, withLoss)
		for j := range o.k {
			var g, h float64
			for _, v := range gh[j][lo:hi] {
				g += float64(v.g)
				h += float64(v.h)
			}
			part[1+2*j], part[2+2*j] = g, h
		}
	})
	sums = make([]float64, 2*o.k)
	for c := range chunks {
		part := parts[c*width : (c+1)*width]
		loss += part[0]
		for j := range sums {
			sums[j] += part[1+j]
		}
	}
	return loss, sums
}

// gbChunked runs fn over [0, n) in chunks of gbChunk rows on up to workers
// goroutines and returns the sum of fn's results, added in chunk order.
func gbChunked(n, workers int, fn func(lo, hi int) float64) float64 {
	chunks := (n + gbChunk - 1) / gbChunk
	parts := make([]float64, chunks)
	numeric.Parallel(chunks, workers, func(_, c int) {
		lo := c * gbChunk
		parts[c] = fn(lo, min(n, lo+gbChunk))
	})
	var sum float64
	for _, v := range parts {
		sum += v
	}
	return sum
}

// fitGradientBoosting trains the ensemble. The seed drives the validation
// split and the binning subsample; tree growth itself is deterministic.
func fitGradientBoosting(ctx context.Context, ds *algo.Dataset, params map[string]float64, seed int64, progress algo.Progress) (*datav1.Model, error) {
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	cfg, err := gbConfigFromParams(params)
	if err != nil {
		return nil, err
	}
	res, err := gbTrain(ctx, ds, cfg, seed, progress)
	if err != nil {
		return nil, err
	}
	return res.model, nil
}

// gbResult is a trained model with what tests inspect of its training.
type gbResult struct {
	model *datav1.Model
	// raw are the raw scores of the training rows (those not held out)
	// after every round run, output-major; trainRows maps them to dataset
	// rows (nil: all rows).
	raw       []float64
	trainRows []int32
	// rounds is the number of rounds run, kept the number kept.
	rounds, kept int
}

// gbTrain holds rows out for early stopping when it is on, bins the
// features, and runs the boosting rounds, checking ctx before each round
// (and each tree of a multiclass round) and reporting progress once per
// round.
func gbTrain(ctx context.Context, ds *algo.Dataset, cfg *gbConfig, seed int64, progress algo.Progress) (*gbResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n, p := ds.X.Dims()
	if n >= math.MaxInt32 {
		return nil, fmt.Errorf("gradient boosting handles fewer than %d rows, got %d", math.MaxInt32, n)
	}
	workers := runtime.GOMAXPROCS(0)
	obj := newGbObjective(ds)
	k := obj.k

	early := cfg.earlyStopping == 1 || (cfg.earlyStopping == 2 && n > gbAutoEarlyStoppingRows)
	var trainRows, valRows []int32
	if early {
		if f := cfg.validationFraction; !(f > 0 && f < 1) {
			return nil, &algo.ParamError{Param: gbParamValidationFraction, Reason: fmt.Sprintf("%g must be in (0, 1) when early stopping", f)}
		}
		var err error
		trainRows, valRows, err = gbHoldOut(ds, cfg.validationFraction, seed)
		if err != nil {
			return nil, err
		}
	}
	mapper := fitBinMapper(ds.X, trainRows, cfg.maxBins, gbBinSubsample, uint64(seed), workers)
	train := mapper.transform(ds.X, trainRows, workers)
	var val *binData
	if early {
		val = mapper.transform(ds.X, valRows, workers)
	}
	if ds.Owned {
		// Every later step reads the bins: the caller's matrix can go
		// before the gradients and scores are allocated.
		ds.X = nil
	}
	y := gbGather(ds.Y, trainRows)
	nt := train.n

	base := obj.baseScore(y)
	raw := gbFillScores(nt, base)
	gh := make([][]gbGH, k)
	for j := range gh {
		gh[j] = make([]gbGH, nt)
	}

	var yVal, rawVal []float64
	bestLoss := math.Inf(1)
	bestRounds, sinceBest := 0, 0
	refLoss := math.Inf(1)
	if early {
		yVal = gbGather(ds.Y, valRows)
		rawVal = gbFillScores(val.n, base)
		bestLoss = gbChunked(val.n, workers, func(lo, hi int) float64 { return obj.loss(rawVal, yVal, lo, hi) }) / float64(val.n)
		refLoss = bestLoss
	}

	// The trees of a multiclass round are independent given the
	// gradients, so up to workers of them grow at once, each grower also
	// splitting its large nodes' histograms across features. Every tree
	// is grown by one grower alone, so the model does not depend on
	// which grower takes which tree.
	growers := make([]*gbGrower, min(workers, k))
	for w := range growers {
		growers[w] = newGbGrower(cfg, train, mapper, obj, workers)
	}
	roundTrees := make([]*datav1.TreeModel, k)
	treeImp := make([][]float64, k)
	for j := range treeImp {
		treeImp[j] = make([]float64, p)
	}
	var trees []*datav1.TreeModel
	var roundImp [][]float64
	rounds := 0
	for r := range cfg.maxIter {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Without early stopping the training loss is the progress
		// measure; it comes with the gradients, for the previous round.
		trainLoss, sums := obj.gradientPass(raw, y, gh, !early, workers)
		trainLoss /= float64(nt)
		if !early && r > 0 {
			progress.Report(int64(r), int64(cfg.maxIter), trainLoss,
				fmt.Sprintf("round %d/%d: training loss %.6g", r, cfg.maxIter, trainLoss))
		}
		numeric.Parallel(k, len(growers), func(w, j int) {
			if ctx.Err() != nil {
				return // many classes make a round long; stop between its trees
			}
			gr := growers[w]
			roundTrees[j] = gr.grow(gh[j], sums[2*j], sums[2*j+1])
			gr.addTo(raw[j*nt : (j+1)*nt])
			if early {
				gr.predictBinned(val, rawVal[j*val.n:(j+1)*val.n])
			}
			copy(treeImp[j], gr.imp)
		})
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		imp := make([]float64, p)
		for j, t := range roundTrees {
			trees = append(trees, t)
			for f, v := range treeImp[j] {
				imp[f] += v
			}
		}
		roundImp = append(roundImp, imp)
		rounds = r + 1
		if !early {
			continue
		}
		vl := gbChunked(val.n, workers, func(lo, hi int) float64 { return obj.loss(rawVal, yVal, lo, hi) }) / float64(val.n)
		if vl < bestLoss {
			bestLoss, bestRounds = vl, rounds
		}
		// Progress means beating the reference by tol; the kept rounds
		// are those up to the lowest loss seen.
		stop := false
		if vl < refLoss-cfg.tol {
			refLoss, sinceBest = vl, 0
		} else if sinceBest++; sinceBest >= cfg.nIterNoChange {
			stop = true
		}
		msg := fmt.Sprintf("round %d/%d: validation loss %.6g", rounds, cfg.maxIter, vl)
		if stop || rounds == cfg.maxIter {
			msg += fmt.Sprintf("; done, keeping %d rounds (validation loss %.6g)", bestRounds, bestLoss)
		}
		progress.Report(int64(rounds), int64(cfg.maxIter), vl, msg)
		if stop {
			break
		}
	}
	kept := rounds
	if early {
		kept = bestRounds
		trees = trees[:kept*k]
	} else {
		loss := gbChunked(nt, workers, func(lo, hi int) float64 { return obj.loss(raw, y, lo, hi) }) / float64(nt)
		progress.Report(int64(rounds), int64(cfg.maxIter), loss,
			fmt.Sprintf("round %d/%d: training loss %.6g", rounds, cfg.maxIter, loss))
	}
	importance := make([]float64, p)
	for _, imp := range roundImp[:kept] {
		for f, v := range imp {
			importance[f] += v
		}
	}
	for i, t := range trees {
		if err := tree.Validate(t, p); err != nil {
			return nil, fmt.Errorf("gradient boosting produced an invalid tree %d (targets too large?): %w", i, err)
		}
	}
	return &gbResult{
		model: &datav1.Model{
			Parameters: &datav1.Model_Boosting{Boosting: &datav1.BoostingModel{
				NumOutputs:   int32(k),
				BaseScore:    base,
				Trees:        trees,
				LearningRate: cfg.learningRate,
			}},
			FeatureImportances: numeric.Normalise(importance),
		},
		raw:       raw,
		trainRows: trainRows,
		rounds:    rounds,
		kept:      kept,
	}, nil
}

// gbFillScores returns output-major raw scores for n rows, all at base.
func gbFillScores(n int, base []float64) []float64 {
	raw := make([]float64, n*len(base))
	for j, b := range base {
		s := raw[j*n : (j+1)*n]
		for i := range s {
			s[i] = b
		}
	}
	return raw
}

// gbGather returns v[rows], or v itself when rows is nil.
func gbGather(v []float64, rows []int32) []float64 {
	if rows == nil {
		return v
	}
	out := make([]float64, len(rows))
	for j, i := range rows {
		out[j] = v[i]
	}
	return out
}

// gbHoldOut splits the rows into training and validation rows for early
// stopping: round(fraction × n) validation rows (at least one, leaving at
// least one for training), drawn at random with seed. For classification
// the draw is stratified: each class contributes in proportion to its size,
// by the largest-remainder method. Both lists are ascending.
func gbHoldOut(ds *algo.Dataset, fraction float64, seed int64) (train, val []int32, err error) {
	n := len(ds.Y)
	if n < 2 {
		return nil, nil, fmt.Errorf("early stopping needs at least 2 rows to hold some out, got %d", n)
	}
	nVal := min(max(1, int(math.Round(fraction*float64(n)))), n-1)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x686f6c646f757421)) // a stream of its own
	groups := [][]int32{make([]int32, 0, n)}
	if ds.Task == datav1.Task_TASK_CLASSIFICATION {
		groups = make([][]int32, ds.NumClasses)
	}
	for i, yv := range ds.Y {
		g := 0
		if len(groups) > 1 {
			g = int(yv)
		}
		groups[g] = append(groups[g], int32(i))
	}
	quota := make([]int, len(groups))
	type rem struct {
		frac float64
		g    int
	}
	rems := make([]rem, len(groups))
	taken := 0
	for g, rows := range groups {
		exact := float64(nVal) * float64(len(rows)) / float64(n)
		quota[g] = int(exact)
		taken += quota[g]
		rems[g] = rem{exact - float64(quota[g]), g}
	}
	slices.SortStableFunc(rems, func(a, b rem) int {
		switch {
		case a.frac > b.frac:
			return -1
		case a.frac < b.frac:
			return 1
		}
		return 0
	})
	for i := 0; taken < nVal; i++ {
		g := rems[i%len(rems)].g
		if quota[g] < len(groups[g]) {
			quota[g]++
			taken++
		}
	}
	isVal := make([]bool, n)
	for g, rows := range groups {
		for i := range quota[g] {
			j := i + rng.IntN(len(rows)-i)
			rows[i], rows[j] = rows[j], rows[i]
			isVal[rows[i]] = true
		}
	}
	train = make([]int32, 0, n-nVal)
	val = make([]int32, 0, nVal)
	for i, v := range isVal {
		if v {
			val = append(val, int32(i))
		} else {
			train = append(train, int32(i))
		}
	}
	return train, val, nil
}

// gbBin is one histogram bin: the sums of the gradients and hessians of the
// node's rows whose feature falls in the bin, and their number.
type gbBin struct {
	g, h float64
	n    int64
}

// gbSplit is a candidate split: bins 0..bin of feature go left.
type gbSplit struct {
	gain    float64
	feature int
	bin     int
	// Sums of the left child.
	g, h float64
	n    int
}

// gbLeaf is a leaf of the tree being grown.
type gbLeaf struct {
	id         int32 // node index in the tree
	start, end int   // the leaf's range of the row-index array
	depth      int
	g, h       float64 // gradient and hessian sums
	// hist is the leaf's histogram while it may still be split.
	hist  []gbBin
	split gbSplit
}

// n is the number of rows in the leaf.
func (l *gbLeaf) n() int { return l.end - l.start }

// gbGrower grows the trees of one fit. Its buffers are sized once: growing
// a tree allocates only the output arrays (and histograms the first time
// that many leaves are open).
type gbGrower struct {
	cfg       *gbConfig
	d         *binData
	mapper    *binMapper
	workers   int
	constHess bool
	scale     float64 // leaf values are multiplied by learning rate × scale

	// rows is the row-index array the nodes partition; tmp its scratch.
	rows, tmp []int32
	// og holds the gradients of the node being histogrammed, in row order.
	og []gbGH
	// pool holds free histograms.
	pool [][]gbBin
	// open are the leaves that may be split; final those that will not.
	open, final []gbLeaf
	// bestA and bestB are per-feature best splits of the two children
	// being evaluated.
	bestA, bestB []gbSplit
	// lefts counts each partition chunk's left rows.
	lefts []int
	// rootCounts are the root's bin counts, the same for every tree.
	rootCounts []int64

	// Outputs of the last tree: the tree, each node's bin threshold, and
	// the split gain per feature.
	tree   *datav1.TreeModel
	binThr []uint8
	imp    []float64
}

// newGbGrower allocates the grower's buffers for d.
func newGbGrower(cfg *gbConfig, d *binData, mapper *binMapper, obj *gbObjective, workers int) *gbGrower {
	return &gbGrower{
		cfg:       cfg,
		d:         d,
		mapper:    mapper,
		workers:   max(1, workers),
		constHess: obj.kind == gbSquaredError,
		scale:     cfg.learningRate * obj.scale,
		rows:      make([]int32, d.n),
		tmp:       make([]int32, d.n),
		og:        make([]gbGH, d.n),
		bestA:     make([]gbSplit, d.p),
		bestB:     make([]gbSplit, d.p),
		imp:       make([]float64, d.p),
	}
}

// acquire returns a histogram from the pool or a new one. Its contents
// are stale; builders clear each feature's bins before filling them.
func (gr *gbGrower) acquire() []gbBin {
	if k := len(gr.pool); k > 0 {
		h := gr.pool[k-1]
		gr.pool = gr.pool[:k-1]
		return h
	}
	return make([]gbBin, gr.d.offs[gr.d.p])
}

// release returns a histogram to the pool.
func (gr *gbGrower) release(h []gbBin) {
	if h != nil {
		gr.pool = append(gr.pool, h)
	}
}

// leafValue is the Newton step −G/(H+λ), shrunk by the learning rate and
// unscaled; 0 when the denominator vanishes.
func (gr *gbGrower) leafValue(g, h float64) float64 {
	den := h + gr.cfg.l2
	if !(den > 0) {
		return 0
	}
	return -g / den * gr.scale
}

// addNode appends a leaf node and returns its index. An internal node keeps
// the value it would have as a leaf.
func (gr *gbGrower) addNode(g, h float64, n int) int32 {
	t := gr.tree
	id := int32(len(t.Feature))
	t.Feature = append(t.Feature, -1)
	t.Threshold = append(t.Threshold, 0)
	t.Left = append(t.Left, -1)
	t.Right = append(t.Right, -1)
	t.Value = append(t.Value, gr.leafValue(g, h))
	t.Samples = append(t.Samples, int64(n))
	gr.binThr = append(gr.binThr, 0)
	return id
}

// splittable reports whether a leaf may be split at all.
func (gr *gbGrower) splittable(l *gbLeaf) bool {
	return l.n() >= 2*gr.cfg.minSamplesLeaf &&
		(gr.cfg.maxDepth == 0 || l.depth < gr.cfg.maxDepth) &&
		l.h >= 2*gbMinHessian
}

// grow builds one tree on the gradients gh, whose sums over all rows are
// g and h, and returns it; until the next call gr.tree is that tree,
// gr.binThr its nodes' bin thresholds, gr.imp its split gains per feature,
// and gr.final its leaves.
func (gr *gbGrower) grow(gh []gbGH, g, h float64) *datav1.TreeModel {
	d := gr.d
	gr.tree = &datav1.TreeModel{NumOutputs: 1}
	gr.binThr = gr.binThr[:0]
	clear(gr.imp)
	gr.open = gr.open[:0]
	gr.final = gr.final[:0]
	for i := range gr.rows {
		gr.rows[i] = int32(i)
	}

	root := gbLeaf{start: 0, end: d.n, g: g, h: h}
	if gr.splittable(&root) {
		root.hist = gr.acquire()
		gr.buildRoot(gh, &root)
	}
	root.id = gr.addNode(root.g, root.h, d.n)
	gr.settle(root)

	leaves := 1
	for leaves < gr.cfg.maxLeaves && len(gr.open) > 0 {
		bi := 0
		for i := 1; i < len(gr.open); i++ {
			a, b := &gr.open[i].split, &gr.open[bi].split
			if a.gain > b.gain || (a.gain == b.gain && gr.open[i].id < gr.open[bi].id) {
				bi = i
			}
		}
		lf := gr.open[bi]
		gr.open[bi] = gr.open[len(gr.open)-1]
		gr.open = gr.open[:len(gr.open)-1]
		leaves++
		gr.split(gh, &lf, leaves < gr.cfg.maxLeaves)
	}
	for _, lf := range gr.open {
		gr.release(lf.hist)
		lf.hist = nil
		gr.final = append(gr.final, lf)
	}
	gr.open = gr.open[:0]
	return gr.tree
}

// settle files a leaf whose split (if any) is known: open when it has a
// histogram and a split with positive gain, final otherwise.
func (gr *gbGrower) settle(l gbLeaf) {
	if l.hist != nil && l.split.feature >= 0 {
		gr.open = append(gr.open, l)
		return
	}
	gr.release(l.hist)
	l.hist = nil
	gr.final = append(gr.final, l)
}

// buildRoot fills the root's histogram straight from the bin columns (the
// root holds every row in order, so no gathering is needed) and finds the
// root's best split.
func (gr *gbGrower) buildRoot(gh []gbGH, root *gbLeaf) {
	d := gr.d
	hist := root.hist
	if gr.rootCounts == nil {
		// Every tree's root holds all rows, so its bin counts never
		// change: count them once and add only gradients afterwards.
		gr.rootCounts = make([]int64, d.offs[d.p])
		gr.forFeatures(d.n, func(_, f int) {
			cnt := gr.rootCounts[d.offs[f]:d.offs[f+1]]
			for _, b := range d.col(f) {
				cnt[b]++
			}
		})
	}
	gr.forFeatures(d.n, func(_, f int) {
		h := hist[d.offs[f]:d.offs[f+1]]
		for b, c := range gr.rootCounts[d.offs[f]:d.offs[f+1]] {
			h[b] = gbBin{n: c}
		}
		if gr.constHess {
			gbHistAllG(h, d.col(f), gh)
			gbFillCountHessian(h)
		} else {
			gbHistAllGH(h, d.col(f), gh)
		}
		gr.bestA[f] = gr.scan(h, f, root)
	})
	root.split = gbBest(gr.bestA)
}

// forFeatures runs fn for every feature, in parallel when a node of rows
// rows makes it worthwhile.
func (gr *gbGrower) forFeatures(rows int, fn func(worker, f int)) {
	workers := gr.workers
	if rows*gr.d.p < gbParallelMinWork {
		workers = 1
	}
	numeric.Parallel(gr.d.p, workers, fn)
}

// split applies a leaf's best split: partitions its rows, appends the two
// children, and, when more splits may follow, builds their histograms
// (the smaller one directly, the larger one by subtraction) and finds
// their best splits.
func (gr *gbGrower) split(gh []gbGH, lf *gbLeaf, more bool) {
	sp := lf.split
	t := gr.tree
	mid := gr.partition(lf.start, lf.end, sp.feature, uint8(sp.bin))
	t.Feature[lf.id] = int32(sp.feature)
	t.Threshold[lf.id] = gr.mapper.threshold(sp.feature, sp.bin)
	gr.binThr[lf.id] = uint8(sp.bin)
	gr.imp[sp.feature] += sp.gain

	left := gbLeaf{start: lf.start, end: mid, depth: lf.depth + 1, g: sp.g, h: sp.h}
	right := gbLeaf{start: mid, end: lf.end, depth: lf.depth + 1, g: lf.g - sp.g, h: lf.h - sp.h}
	left.id = gr.addNode(left.g, left.h, left.n())
	right.id = gr.addNode(right.g, right.h, right.n())
	t.Left[lf.id] = left.id
	t.Right[lf.id] = right.id

	small, large := &left, &right
	if right.n() < left.n() {
		small, large = large, small
	}
	canSmall := more && gr.splittable(small)
	canLarge := more && gr.splittable(large)
	if canSmall || canLarge {
		small.hist = gr.acquire()
		gr.buildChildren(gh, small, large, lf.hist, canSmall, canLarge)
		if !canSmall {
			gr.release(small.hist)
			small.hist = nil
		}
		if canLarge {
			large.hist = lf.hist
		} else {
			gr.release(lf.hist)
		}
	} else {
		gr.release(lf.hist)
	}
	lf.hist = nil
	gr.settle(left)
	gr.settle(right)
}

// buildChildren builds the smaller child's histogram from its rows and,
// when the larger child may be split, turns the parent's histogram into
// the larger child's by subtraction; it then finds the best split of each
// child that may be split.
func (gr *gbGrower) buildChildren(gh []gbGH, small, large *gbLeaf, parent []gbBin, canSmall, canLarge bool) {
	d := gr.d
	rows := gr.rows[small.start:small.end]
	og := gr.og[:len(rows)]
	for j, i := range rows {
		og[j] = gh[i]
	}
	for f := range d.p {
		gr.bestA[f].feature = -1
		gr.bestB[f].feature = -1
	}
	gr.forFeatures(len(rows), func(_, f int) {
		lo, hi := d.offs[f], d.offs[f+1]
		hs := small.hist[lo:hi]
		clear(hs)
		if gr.constHess {
			gbHistRowsGN(hs, d.col(f), rows, og)
			gbFillCountHessian(hs)
		} else {
			gbHistRows(hs, d.col(f), rows, og)
		}
		if canSmall {
			gr.bestA[f] = gr.scan(hs, f, small)
		}
		if canLarge {
			hp := parent[lo:hi]
			for b := range hp {
				hp[b].g -= hs[b].g
				hp[b].h -= hs[b].h
				hp[b].n -= hs[b].n
			}
			gr.bestB[f] = gr.scan(hp, f, large)
		}
	})
	if canSmall {
		small.split = gbBest(gr.bestA)
	}
	if canLarge {
		large.split = gbBest(gr.bestB)
	}
}

// gbParallelRange runs fn over [0, n) in gbChunk-row pieces, in parallel
// when there are several.
func gbParallelRange(n, workers int, fn func(lo, hi int)) {
	chunks := (n + gbChunk - 1) / gbChunk
	numeric.Parallel(chunks, workers, func(_, c int) {
		lo := c * gbChunk
		fn(lo, min(n, lo+gbChunk))
	})
}

// gbHistAllGH adds every row's gradient and hessian to the bin of its
// code, leaving the counts alone.
func gbHistAllGH(h []gbBin, col []uint8, gh []gbGH) {
	gh = gh[:len(col)]
	for i, b := range col {
		e := &h[b]
		v := gh[i]
		e.g += float64(v.g)
		e.h += float64(v.h)
	}
}

// gbHistAllG adds every row's gradient to the bin of its code, for losses
// whose hessian is constant.
func gbHistAllG(h []gbBin, col []uint8, gh []gbGH) {
	gh = gh[:len(col)]
	for i, b := range col {
		h[b].g += float64(gh[i].g)
	}
}

// gbHistRows adds the gradient pairs og (in the order of rows) to the bins
// of the rows' codes.
func gbHistRows(h []gbBin, col []uint8, rows []int32, og []gbGH) {
	og = og[:len(rows)]
	for j, i := range rows {
		e := &h[col[i]]
		v := og[j]
		e.g += float64(v.g)
		e.h += float64(v.h)
		e.n++
	}
}

// gbHistRowsGN is gbHistRows without the hessians, for losses whose
// hessian is constant.
func gbHistRowsGN(h []gbBin, col []uint8, rows []int32, og []gbGH) {
	og = og[:len(rows)]
	for j, i := range rows {
		e := &h[col[i]]
		e.g += float64(og[j].g)
		e.n++
	}
}

// gbFillCountHessian sets each bin's hessian sum to its row count, exact
// for the squared error whose hessians are all 1 (the float32 sums would
// be exact too, but counts also keep subtraction exact).
func gbFillCountHessian(h []gbBin) {
	for b := range h {
		h[b].h = float64(h[b].n)
	}
}

// scan returns the best split of leaf l on feature f from its histogram h,
// or one with feature −1 when no split leaves min_samples_leaf rows and
// gbMinHessian on both sides with a positive gain. Missing values (bin 0)
// are always on the left.
func (gr *gbGrower) scan(h []gbBin, f int, l *gbLeaf) gbSplit {
	best := gbSplit{feature: -1}
	lam := gr.cfg.l2
	minLeaf := gr.cfg.minSamplesLeaf
	G, H, n := l.g, l.h, l.n()
	parent := G * G / (H + lam)
	var gL, hL float64
	nL := 0
	for b := 0; b < len(h)-1; b++ {
		if h[b].n == 0 {
			continue // same split as the bin before
		}
		gL += h[b].g
		hL += h[b].h
		nL += int(h[b].n)
		if nL < minLeaf || hL < gbMinHessian {
			continue
		}
		if n-nL < minLeaf {
			break
		}
		hR := H - hL
		if hR < gbMinHessian {
			continue
		}
		gR := G - gL
		gain := gL*gL/(hL+lam) + gR*gR/(hR+lam) - parent
		if gain > best.gain {
			best = gbSplit{gain: gain, feature: f, bin: b, g: gL, h: hL, n: nL}
		}
	}
	if best.feature >= 0 && best.gain <= gbGainRelTol*(parent+best.gain) {
		best.feature = -1
	}
	return best
}

// gbBest returns the best of per-feature splits: the largest gain, the
// lowest feature on ties.
func gbBest(splits []gbSplit) gbSplit {
	best := gbSplit{feature: -1}
	for _, s := range splits {
		if s.feature >= 0 && (best.feature < 0 || s.gain > best.gain) {
			best = s
		}
	}
	return best
}

// partition reorders rows [start, end) so that those whose feature f bin
// is <= bin come first, both groups keeping their order, and returns the
// end of the left group. Large ranges are partitioned in gbChunk pieces in
// parallel and then concatenated, with the same result.
func (gr *gbGrower) partition(start, end, f int, bin uint8) int {
	col := gr.d.col(f)
	rows := gr.rows[start:end]
	tmp := gr.tmp[start:end]
	chunks := (len(rows) + gbChunk - 1) / gbChunk
	if chunks < gbParallelPartitionChunks || gr.workers == 1 {
		return start + gbPartitionStable(rows, tmp, col, bin)
	}
	if cap(gr.lefts) < chunks {
		gr.lefts = make([]int, chunks)
	}
	lefts := gr.lefts[:chunks]
	numeric.Parallel(chunks, gr.workers, func(_, c int) {
		lo := c * gbChunk
		hi := min(len(rows), lo+gbChunk)
		lefts[c] = gbPartitionStable(rows[lo:hi], tmp[lo:hi], col, bin)
	})
	nLeft := 0
	for _, l := range lefts {
		nLeft += l
	}
	// Chunk c's left rows go after the left rows of chunks before it,
	// its right rows after nLeft and the right rows before it.
	numeric.Parallel(chunks, gr.workers, func(_, c int) {
		lo := c * gbChunk
		hi := min(len(rows), lo+gbChunk)
		dl, dr := 0, nLeft
		for cc := range c {
			dl += lefts[cc]
			dr += min(len(rows), (cc+1)*gbChunk) - cc*gbChunk - lefts[cc]
		}
		copy(tmp[dl:], rows[lo:lo+lefts[c]])
		copy(tmp[dr:], rows[lo+lefts[c]:hi])
	})
	copy(rows, tmp)
	return start + nLeft
}

// gbPartitionStable moves the rows whose code is <= bin to the front of
// rows, keeping order on both sides, using tmp (as long as rows), and
// returns their number. It is branch-free: each row is written to both
// destinations and only the matching cursor advances.
func gbPartitionStable(rows, tmp []int32, col []uint8, bin uint8) int {
	tmp = tmp[:len(rows)]
	l, r := 0, 0
	for _, i := range rows {
		right := int(uint64(int64(bin)-int64(col[i])) >> 63)
		rows[l] = i
		tmp[r] = i
		l += 1 - right
		r += right
	}
	copy(rows[l:], tmp[:r])
	return l
}

// addTo adds the last tree's leaf values to the training rows' raw scores
// of the tree's output, through the leaves' row ranges. These are the very
// values a prediction adds, in the same order, so training scores equal
// predicted ones exactly.
func (gr *gbGrower) addTo(raw []float64) {
	t := gr.tree
	raw = raw[:gr.d.n]
	for _, l := range gr.final {
		v := t.Value[l.id]
		for _, i := range gr.rows[l.start:l.end] {
			raw[i] += v
		}
	}
}

// predictBinned adds the last tree's output to raw, the scores of the
// tree's output for the binned rows d, walking the tree on bin codes.
func (gr *gbGrower) predictBinned(d *binData, raw []float64) {
	t := gr.tree
	gbParallelRange(d.n, gr.workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			node := int32(0)
			for t.Feature[node] >= 0 {
				f := t.Feature[node]
				if d.codes[int(f)*d.n+i] <= gr.binThr[node] {
					node = t.Left[node]
				} else {
					node = t.Right[node]
				}
			}
			raw[i] += t.Value[node]
		}
	})
}

// gbCheckModel validates a boosting model against X's width so that
// prediction cannot fail on bounds: outputs, base scores, the tree count
// (a whole number of rounds), every tree (tree.Validate, one output each),
// and the outputs against the task and class names.
func gbCheckModel(m *datav1.Model, numFeatures int) (*datav1.BoostingModel, error) {
	bm := m.GetBoosting()
	if bm == nil {
		return nil, errors.New("gradient_boosting model has no boosting parameters")
	}
	k := int(bm.NumOutputs)
	if k < 1 {
		return nil, fmt.Errorf("boosting num_outputs %d must be at least 1", bm.NumOutputs)
	}
	if len(bm.BaseScore) != k {
		return nil, fmt.Errorf("boosting has %d base scores for %d outputs", len(bm.BaseScore), k)
	}
	for i, v := range bm.BaseScore {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("boosting base score %d is not a finite number", i)
		}
	}
	if len(bm.Trees)%k != 0 {
		return nil, fmt.Errorf("boosting has %d trees, not a whole number of rounds of %d", len(bm.Trees), k)
	}
	switch m.GetTask() {
	case datav1.Task_TASK_REGRESSION:
		if k != 1 {
			return nil, fmt.Errorf("regression boosting must have 1 output, got %d", k)
		}
	case datav1.Task_TASK_CLASSIFICATION:
		classes := len(m.GetClassNames())
		if k == 1 && classes != 0 && classes != 2 {
			return nil, fmt.Errorf("boosting with 1 output is binary, but the model has %d classes", classes)
		}
		if k > 1 && classes != 0 && classes != k {
			return nil, fmt.Errorf("boosting has %d outputs for %d classes", k, classes)
		}
	default:
		return nil, fmt.Errorf("boosting model has unsupported task %v", m.GetTask())
	}
	for i, t := range bm.Trees {
		if err := tree.Validate(t, numFeatures); err != nil {
			return nil, fmt.Errorf("boosting tree %d: %w", i, err)
		}
		if t.NumOutputs != 1 {
			return nil, fmt.Errorf("boosting tree %d has %d outputs, want 1", i, t.NumOutputs)
		}
	}
	return bm, nil
}

// predictGradientBoosting sums the base scores and the trees' leaf values
// into raw scores, then returns them (regression), or class probabilities:
// [1−σ(f), σ(f)] for one output, softmax over several. Row blocks are
// predicted in parallel; each row adds its trees in index order, the order
// training added them in.
func predictGradientBoosting(m *datav1.Model, X *mat.Dense) (*mat.Dense, error) {
	if X == nil || X.IsEmpty() {
		return nil, errors.New("no rows to predict")
	}
	_, cols := X.Dims()
	p, err := gbPrepare(m, cols)
	if err != nil {
		return nil, err
	}
	return p.predict(X)
}

// gbPredictor is a boosting model checked and packed for prediction once:
// predictGradientBoosting builds one per call, algo.Prepare keeps one per
// model.
// It keeps only what prediction reads (the packed nodes, each tree's
// values, the base score and the task), not the model, so that a server
// does not hold the decoded trees beside their packed form.
type gbPredictor struct {
	packed    [][]tree.Node
	values    [][]float64
	baseScore []float64
	k         int
	task      datav1.Task
}

// gbPrepare checks a boosting model for rows of cols features and packs
// its trees.
func gbPrepare(m *datav1.Model, cols int) (*gbPredictor, error) {
	bm, err := gbCheckModel(m, cols)
	if err != nil {
		return nil, err
	}
	packed := make([][]tree.Node, len(bm.Trees))
	values := make([][]float64, len(bm.Trees))
	numeric.Parallel(len(bm.Trees), runtime.GOMAXPROCS(0), func(_, i int) {
		packed[i] = tree.Pack(bm.Trees[i])
		values[i] = bm.Trees[i].Value
	})
	return &gbPredictor{packed: packed, values: values, baseScore: bm.BaseScore, k: int(bm.NumOutputs), task: m.GetTask()}, nil
}

// prepareGradientBoosting checks and packs the trees once for rows of
// numFeatures features (algo.Spec.Prepare); the predictor refuses rows of
// another width, as tree.Ensemble does.
func prepareGradientBoosting(m *datav1.Model, numFeatures int) (algo.Predictor, error) {
	p, err := gbPrepare(m, numFeatures)
	if err != nil {
		return nil, err
	}
	return func(X *mat.Dense) (*mat.Dense, error) {
		if X == nil || X.IsEmpty() {
			return nil, errors.New("no rows to predict")
		}
		if _, c := X.Dims(); c != numFeatures {
			return nil, fmt.Errorf("prepared for %d features, got %d", numFeatures, c)
		}
		return p.predict(X)
	}, nil
}

// predict returns the probabilities (or values) of the rows of X.
func (p *gbPredictor) predict(X *mat.Dense) (*mat.Dense, error) {
	rows, cols := X.Dims()
	packed, procs := p.packed, runtime.GOMAXPROCS(0)
	k := p.k
	raw := X.RawMatrix()
	scores := make([]float64, rows*k)
	blocks := (rows + tree.PredictBlock - 1) / tree.PredictBlock
	numeric.Parallel(blocks, procs, func(_, blk int) {
		lo := blk * tree.PredictBlock
		hi := min(rows, lo+tree.PredictBlock)
		for r := lo; r < hi; r++ {
			copy(scores[r*k:], p.baseScore)
		}
		for ti, nodes := range packed {
			vals := p.values[ti]
			j := ti % k
			for r := lo; r < hi; r++ {
				x := raw.Data[r*raw.Stride : r*raw.Stride+cols]
				scores[r*k+j] += vals[tree.LeafPacked(nodes, x)]
			}
		}
	})
	for _, v := range scores {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("boosting model produced a non-finite raw score: its leaf values are too large")
		}
	}
	if p.task == datav1.Task_TASK_REGRESSION {
		return mat.NewDense(rows, 1, scores), nil
	}
	if k == 1 {
		out := make([]float64, 2*rows)
		for r, f := range scores {
			out[2*r] = gbSigmoid(-f)
			out[2*r+1] = gbSigmoid(f)
		}
		return mat.NewDense(rows, 2, out), nil
	}
	for r := range rows {
		gbSoftmaxInPlace(scores[r*k : r*k+k])
	}
	return mat.NewDense(rows, k, scores), nil
}

// gbSoftmaxInPlace replaces z with softmax(z), subtracting the maximum
// first so that no exponential overflows.
func gbSoftmaxInPlace(z []float64) {
	m := z[0]
	for _, v := range z[1:] {
		m = max(m, v)
	}
	var s float64
	for i, v := range z {
		z[i] = math.Exp(v - m)
		s += z[i]
	}
	for i := range z {
		z[i] /= s
	}
}
