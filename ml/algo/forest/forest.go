package forest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/algo/internal/numeric"
	"github.com/alur-ml/alur/ml/algo/tree"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Names of the forest-only hyperparameters.
const (
	forestParamNEstimators = "n_estimators"
	forestParamBootstrap   = "bootstrap"
)

func init() {
	algo.Register(forestSpec(forestKind{
		name: "random_forest",
		description: "random forest (Breiman, 2001): CART trees on bootstrap samples with a random feature subset " +
			"per split; averages the trees' class probabilities (classification) or values (regression); each split's threshold is the " +
			"binary32 number nearest the midpoint between the training values it separates, when one lies between them, so the trees store compactly",
		bootstrap: 1,
	}))
	algo.Register(forestSpec(forestKind{
		name: "extra_trees",
		description: "extremely randomized trees (Geurts, Ernst and Wehenkel, Machine Learning 63(1), 2006), as scikit-learn's ExtraTrees: " +
			"trees on all rows (bootstrap 0) whose splits each try a random feature subset, every feature at one threshold drawn uniformly " +
			"between its smallest and largest value in the node, keeping the best by Gini impurity (classification) or squared error (regression); " +
			"averages the trees like the random forest and stores them in the same compact form",
		bootstrap:    0,
		randomSplits: true,
	}))
}

// forestKind is what sets one registered forest algorithm apart: the
// random forest and extremely randomized trees share the growing,
// storing and prediction code and the model form (Model.forest).
type forestKind struct {
	name, description string
	// bootstrap is the default of the bootstrap parameter.
	bootstrap float64
	// randomSplits draws each candidate feature's threshold at random
	// (tree.Config.RandomSplits) instead of scanning for the best.
	randomSplits bool
}

// forestSpec returns the algorithm of kind k.
func forestSpec(k forestKind) *algo.Spec {
	params := append([]algo.Param{
		{Name: forestParamNEstimators, Default: 100, Min: 1, Max: 10000, Type: algo.Integer,
			Description: "number of trees"},
	}, tree.GrowthParams...)
	params = append(params,
		algo.Param{Name: tree.ParamMaxFeatures, Default: 0, Min: 0, Max: 1e9,
			Description: "features considered per split: 0 means √(features) for classification and all features for regression (as scikit-learn); " +
				"a value in (0, 1] is a fraction of the features (at least one); a whole number above 1 is a count (capped at the number of features)"},
		algo.Param{Name: forestParamBootstrap, Default: k.bootstrap, Min: 0, Max: 1, Type: algo.Flag,
			Description: "1 grows each tree on a bootstrap sample of the rows (drawn with replacement), 0 on all rows"},
		algo.BalancedParam,
	)
	return &algo.Spec{
		Name:        k.name,
		Description: k.description,
		Tasks:       []datav1.Task{datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION},
		Params:      params,
		Fit: func(ctx context.Context, ds *algo.Dataset, params map[string]float64, seed int64, progress algo.Progress) (*datav1.Model, error) {
			return fitForest(ctx, k, ds, params, seed, progress)
		},
		Predict: func(m *datav1.Model, X *mat.Dense) (*mat.Dense, error) {
			return predictForest(k.name, m, X)
		},
		Prepare: func(m *datav1.Model, numFeatures int) (algo.Predictor, error) {
			return prepareForest(k.name, m, numFeatures)
		},
		Columns: true,
	}
}

// fitForest grows the trees of a forest of kind k in parallel on up to
// GOMAXPROCS goroutines. Tree i draws its bootstrap sample, feature orders
// and (for random splits) thresholds from its own random stream, derived
// from seed and i, so the model is the same whatever the number of cores
// or the scheduling. The data is shared; each worker reuses one builder's
// scratch for all its trees, and each tree is kept in the compact form as
// soon as it is grown. Cancelling ctx stops the fit (checked before each
// tree and periodically while growing one) and returns ctx.Err().
func fitForest(ctx context.Context, k forestKind, ds *algo.Dataset, params map[string]float64, seed int64, progress algo.Progress) (*datav1.Model, error) {
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	_, p := ds.Dims()
	all := p
	if ds.Task == datav1.Task_TASK_CLASSIFICATION {
		all = int(math.Sqrt(float64(p)))
	}
	cfg, err := tree.ConfigFromParams(params, p, all)
	if err != nil {
		return nil, err
	}
	cfg.ShortThresholds = true
	cfg.RandomSplits = k.randomSplits
	nTrees := params[forestParamNEstimators]
	if nTrees != math.Trunc(nTrees) || nTrees < 1 || nTrees > 10000 {
		return nil, &algo.ParamError{Param: forestParamNEstimators, Reason: fmt.Sprintf("%g must be a whole number in [1, 10000]", nTrees)}
	}
	bs := params[forestParamBootstrap]
	if bs != 0 && bs != 1 {
		return nil, &algo.ParamError{Param: forestParamBootstrap, Reason: fmt.Sprintf("%g must be 0 or 1", bs)}
	}
	// Class weights come from the whole training set, not each bootstrap
	// sample, as scikit-learn's class_weight='balanced' (its
	// 'balanced_subsample' is the per-sample variant); a row drawn twice
	// then weighs twice its class weight.
	classW, err := algo.ClassWeights(ds, params)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	forest, imps, err := growForest(ctx, tree.NewData(ds, classW), cfg, int(nTrees), bs == 1, seed, progress)
	if err != nil {
		return nil, err
	}
	return &datav1.Model{
		Parameters:         &datav1.Model_Forest{Forest: &datav1.ForestModel{Trees: forest}},
		FeatureImportances: forestImportances(imps, p),
	}, nil
}

// forestScratchShare bounds the memory of the trees grown at once: their
// builders' scratch together may take this share of the training data's
// size (see forestTreeWorkers). A tree's scratch is about 0.42 of a
// table of 20 features, so at 160k-200k rows one tree grows at a time, its
// large nodes split on every core: growing two at once (a share of 1)
// measured a train-service peak of 3.46× the table as float64, above the
// 3× the service keeps to, for the same fit-time ratio to scikit-learn
// (0.27 on two cores, on a loaded two-core machine).
const forestScratchShare = 0.5

// forestSmallScratch is the scratch that trees grown at once may always
// take, whatever the data's size: on small tables memory is no concern and
// every core grows its own tree.
const forestSmallScratch = 16 << 20

// forestTreeWorkers returns how many trees a forest grows at once on n
// rows of p features with procs cores. Each tree grown at once needs its
// own builder, whose scratch (the drawn rows sorted by every feature, 4p
// bytes a drawn row, and per-row weights, marks and partition space,
// 13 bytes a row, 21 for regression) grows with the data, so
// growing one tree per core would multiply the fit's memory by the number
// of cores; the builders share one sorter (20 bytes a drawn row). Trees
// are grown at once only while their scratch fits in forestScratchShare of
// the data (or forestSmallScratch); the cores left over split large nodes
// within the trees instead.
func forestTreeWorkers(procs, trees, n, p int, classification bool) int {
	drawn := float64(n) * (1 - 1/math.E) // distinct rows of a bootstrap sample
	perRow := 13.0
	if !classification {
		perRow = 21
	}
	perTree := drawn*float64(4*p)*(1+1.0/64) + float64(n)*perRow
	budget := max(forestScratchShare*float64(n)*float64(p)*8, forestSmallScratch) - drawn*20
	w := int(budget / perTree)
	return max(1, min(procs, trees, w))
}

// growForest grows n trees on d and returns them, in the compact form,
// with their normalised importances, both in tree order.
func growForest(ctx context.Context, d *tree.Data, cfg tree.Config, n int, bootstrap bool, seed int64, progress algo.Progress) ([]*datav1.TreeModel, [][]float64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	trees := make([]*datav1.TreeModel, n)
	imps := make([][]float64, n)
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		mu      sync.Mutex // serialises progress calls and guards done, firstErr
		done    int
		firstEr error
	)
	// Trees are the unit of parallelism; cores left over when there are
	// fewer trees than cores go to splitting nodes within a tree.
	procs := runtime.GOMAXPROCS(0)
	rows, features := d.Dims()
	workers := forestTreeWorkers(procs, n, rows, features, d.Classification())
	inner := max(1, procs/workers)
	first := tree.NewBuilder(d, cfg, inner)
	for w := range workers {
		wg.Go(func() {
			b := first
			if w > 0 {
				b = first.Sibling(inner)
			}
			// The wide arrays of the tree being grown are reused from tree to
			// tree; only the compact copy is kept.
			wide := &datav1.TreeModel{}
			var stack []int32
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				b.Reset(seed, i, bootstrap)
				wt, imp, err := b.GrowInto(ctx, wide)
				var t *datav1.TreeModel
				if err == nil {
					t, stack = tree.Compact(wt, stack)
				}
				mu.Lock()
				if err != nil {
					if firstEr == nil {
						firstEr = err
					}
					mu.Unlock()
					cancel()
					return
				}
				trees[i], imps[i] = t, imp
				done++
				progress.Report(int64(done), int64(n), math.NaN(), fmt.Sprintf("grew tree %d of %d", done, n))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstEr != nil {
		return nil, nil, firstEr
	}
	// The caller's context may have been cancelled between trees: then some
	// trees were never grown.
	if slices.Contains(trees, nil) {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		return nil, nil, errors.New("forest: trees missing after fit")
	}
	return trees, imps, nil
}

// forestImportances is the mean of the trees' normalised mean-decrease-in-
// impurity importances over the trees that split at least once (as
// scikit-learn), renormalised to sum to 1; all zero if no tree split.
func forestImportances(imps [][]float64, p int) []float64 {
	out := make([]float64, p)
	used := 0
	for _, imp := range imps {
		var s float64
		for _, v := range imp {
			s += v
		}
		if s == 0 {
			continue
		}
		used++
		for f, v := range imp {
			out[f] += v
		}
	}
	if used == 0 {
		return out
	}
	return numeric.Normalise(out)
}

// predictForest averages the trees' outputs of a model of algorithm name.
func predictForest(name string, m *datav1.Model, X *mat.Dense) (*mat.Dense, error) {
	f := m.GetForest()
	if f == nil {
		return nil, fmt.Errorf("%s model has no forest parameters", name)
	}
	return tree.PredictEnsemble(m, f.GetTrees(), X)
}

// prepareForest lays the trees of a model of algorithm name out once for
// rows of numFeatures features (algo.Spec.Prepare): a server then pays per
// row only for the walk, not for decoding the compact trees.
func prepareForest(name string, m *datav1.Model, numFeatures int) (algo.Predictor, error) {
	f := m.GetForest()
	if f == nil {
		return nil, fmt.Errorf("%s model has no forest parameters", name)
	}
	return tree.PreparedPredictor(m, f.GetTrees(), numFeatures)
}
