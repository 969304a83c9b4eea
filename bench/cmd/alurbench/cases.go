package main

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/alur-ml/alur/ml/algo"
)

// Peers alur is measured against.
const (
	peerSklearn = "sklearn"
	peerXGBoost = "xgboost"
)

// paramChoice sets one hyperparameter: the first of names that the
// algorithm declares gets value.
type paramChoice struct {
	names []string
	value float64
}

// benchCase is one comparison: an alur algorithm with its parameters
// against one peer model of sklearn_side.py, with the case's targets.
// Every case is run at every --threads setting, both sides with the same
// number of threads.
type benchCase struct {
	// Key names the case (--algorithms selects cases by key or by
	// algorithm; --mem-algorithms and --scale-cases by key).
	Key string
	// Label is the case as the report shows it.
	Label     string
	Algorithm string
	Params    []paramChoice
	// Peer is peerSklearn or peerXGBoost; PeerModel is the script's model
	// key.
	Peer, PeerModel string
	// FitMax and PredictMax are the largest alur ÷ peer time ratios that
	// pass, 0 where the time has no target.
	FitMax, PredictMax float64
	// AccMin is the smallest accuracy difference, alur − peer in points,
	// that passes.
	AccMin float64
	// ScalePeers are the peer models the scale curve fits for this case.
	ScalePeers []string
}

// xgbSettings are XGBoost's defaults (1.7: hist, depth-wise to depth 6,
// learning rate 0.3, 100 rounds, 256 bins, L2 1) in alur's terms: a tree of
// depth 6 has at most 64 leaves, and XGBoost has no minimum row count per
// leaf nor early stopping by default. XGBoost's 256 bins include the one
// for missing values, as alur's 255 + 1.
var xgbSettings = []paramChoice{
	{[]string{"learning_rate"}, 0.3},
	{[]string{"max_iter"}, 100},
	{[]string{"max_depth"}, 6},
	{[]string{"max_leaf_nodes"}, 64},
	{[]string{"l2_regularization"}, 1},
	{[]string{"min_samples_leaf"}, 1},
	{[]string{"max_bins"}, 255},
	{[]string{"early_stopping"}, 0},
}

// sklearnHGBDefaults are scikit-learn's HistGradientBoosting defaults
// (1.2) in alur's terms, with 100 rounds; alur's own defaults follow
// XGBoost's capacity instead.
var sklearnHGBDefaults = []paramChoice{
	{[]string{"learning_rate"}, 0.1},
	{[]string{"max_iter", "n_estimators"}, 100},
	{[]string{"max_leaf_nodes"}, 31},
	{[]string{"max_depth"}, 0},
	{[]string{"min_samples_leaf"}, 20},
	{[]string{"l2_regularization"}, 0},
	{[]string{"max_bins"}, 255},
	{[]string{"early_stopping"}, 2},
}

// benchCases are the comparisons, in report order. Everything alur is
// not given takes its defaults (which follow scikit-learn's); the peer
// side is in sklearn_side.py.
var benchCases = []benchCase{
	{Key: "logistic_regression", Algorithm: "logistic_regression",
		Params: []paramChoice{{[]string{"max_iter"}, 1000}},
		Peer:   peerSklearn, PeerModel: "logistic_regression", FitMax: 0.7, AccMin: -0.3,
		ScalePeers: []string{"logistic_regression"}},
	{Key: "random_forest", Algorithm: "random_forest",
		Params: []paramChoice{{[]string{"n_estimators"}, 100}},
		Peer:   peerSklearn, PeerModel: "random_forest", FitMax: 0.7, PredictMax: 1, AccMin: -0.3,
		ScalePeers: []string{"random_forest"}},
	{Key: "gradient_boosting", Algorithm: "gradient_boosting",
		Params: sklearnHGBDefaults,
		Peer:   peerSklearn, PeerModel: "gradient_boosting", FitMax: 1, AccMin: -0.5,
		ScalePeers: []string{"gradient_boosting"}},
	{Key: "gradient_boosting_xgb", Label: "gradient_boosting, XGBoost's settings", Algorithm: "gradient_boosting",
		Params: xgbSettings,
		Peer:   peerXGBoost, PeerModel: "xgboost", FitMax: 0.8, AccMin: -0.1,
		ScalePeers: []string{"xgboost", "gradient_boosting_xgb"}},
	{Key: "gradient_boosting_defaults", Label: "gradient_boosting, each side's defaults", Algorithm: "gradient_boosting",
		Peer: peerXGBoost, PeerModel: "xgboost", AccMin: 0,
		ScalePeers: []string{"xgboost"}},
	{Key: "decision_tree", Algorithm: "decision_tree",
		Peer: peerSklearn, PeerModel: "decision_tree", PredictMax: 1, AccMin: -0.5},
	{Key: "naive_bayes", Algorithm: "naive_bayes",
		Peer: peerSklearn, PeerModel: "naive_bayes", PredictMax: 1, AccMin: -0.5},
	{Key: "knn", Algorithm: "knn",
		Params: []paramChoice{{[]string{"k", "n_neighbors"}, 5}},
		Peer:   peerSklearn, PeerModel: "knn", PredictMax: 1, AccMin: -0.5},
}

// label is the case as the report names it.
func (c *benchCase) label() string {
	if c.Label != "" {
		return c.Label
	}
	return c.Key
}

// caseByKey returns the case named key.
func caseByKey(key string) (*benchCase, bool) {
	i := slices.IndexFunc(benchCases, func(c benchCase) bool { return c.Key == key })
	if i < 0 {
		return nil, false
	}
	return &benchCases[i], true
}

// selectCases returns the cases whose key or algorithm is in names, in
// report order, or an error naming the first name that matches none.
func selectCases(names []string) ([]*benchCase, error) {
	var out []*benchCase
	for _, n := range names {
		found := false
		for i := range benchCases {
			if benchCases[i].Key == n || benchCases[i].Algorithm == n {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("--algorithms: %q is neither a case nor an algorithm of the benchmark", n)
		}
	}
	for i := range benchCases {
		c := &benchCases[i]
		if slices.Contains(names, c.Key) || slices.Contains(names, c.Algorithm) {
			out = append(out, c)
		}
	}
	return out, nil
}

// paramsFor returns the case's hyperparameters that spec declares, and
// notes for those it does not.
func paramsFor(c *benchCase, spec *algo.Spec) (map[string]float64, []string) {
	params := map[string]float64{}
	var notes []string
	for _, pc := range c.Params {
		found := false
		for _, name := range pc.names {
			if slices.ContainsFunc(spec.Params, func(p algo.Param) bool { return p.Name == name }) {
				params[name] = pc.value
				found = true
				break
			}
		}
		if !found {
			notes = append(notes, fmt.Sprintf("%s declares none of %v; case %s ran with its default instead of %g", spec.Name, pc.names, c.Key, pc.value))
		}
	}
	return params, notes
}

// parseThreads reads --threads: a comma-separated list of thread counts,
// "all" meaning every CPU. Duplicates are dropped; the order is kept.
func parseThreads(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n := runtime.NumCPU()
		if f != "all" {
			v, err := strconv.Atoi(f)
			if err != nil || v < 1 || v > 1024 {
				return nil, fmt.Errorf("--threads: %q is neither a count in [1, 1024] nor \"all\"", f)
			}
			n = v
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--threads: name at least one thread count")
	}
	return out, nil
}

// threadsLabel names a thread count in the tables: "1 vs 1", "2 vs 2 (all)".
func threadsLabel(n, cpus int) string {
	s := fmt.Sprintf("%d vs %d", n, n)
	if n == cpus {
		s += " (all)"
	}
	return s
}

// smallSeconds is the time under which a figure counts as small: its
// runs are repeated up to --repeat-small times, the best kept, since a
// noisy machine distorts short timings most.
const smallSeconds = 2.0

// runsFor returns how many runs a timing gets in all, given its first
// run took first seconds.
func (o *options) runsFor(first float64) int {
	if first < smallSeconds {
		return max(o.repeat, o.repeatSmall)
	}
	return o.repeat
}

// withThreads runs f with GOMAXPROCS set to n, restoring it afterwards:
// alur's algorithms, and csvio, use up to GOMAXPROCS goroutines.
func withThreads(n int, f func()) {
	old := runtime.GOMAXPROCS(n)
	defer runtime.GOMAXPROCS(old)
	f()
}

// joinKeys lists the cases' keys.
func joinKeys(cs []*benchCase) string {
	var k []string
	for _, c := range cs {
		k = append(k, c.Key)
	}
	return strings.Join(k, ",")
}
