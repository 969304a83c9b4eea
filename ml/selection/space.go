package selection

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Dim is one searched hyperparameter. Its name is the algorithm's
// parameter name in ml/algo.
type Dim struct {
	Name string
	// Min and Max bound a range; Log draws uniformly in log space, for
	// scale parameters such as a learning rate or C.
	Min, Max float64
	Log      bool
	// Integer rounds the draw to a whole number.
	Integer bool
	// Values, when set, is a choice among these values instead of a range.
	Values []float64
}

// Space is an algorithm's search space: its tasks, parameters held fixed,
// and the searched dimensions.
type Space struct {
	Algorithm string
	Tasks     []datav1.Task
	Fixed     map[string]float64
	Dims      []Dim
}

var (
	cls  = []datav1.Task{datav1.Task_TASK_CLASSIFICATION}
	reg  = []datav1.Task{datav1.Task_TASK_REGRESSION}
	both = []datav1.Task{datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION}
)

// DefaultSpaces are the ranges searched when a spec names no candidates.
// They follow the parameters that matter most in published tuning studies
// (Probst, Boulesteix and Bischl, "Tunability", JMLR 2019) and the ranges
// AutoGluon and auto-sklearn search: for boosting the learning rate, the
// leaves per tree, the rows per leaf and the L2 penalty; for forests (the
// random forest and extremely randomized trees) the share of features per
// split and the rows per leaf; C for logistic
// regression (alpha for ridge); k and the neighbour weighting for k-NN.
// Every algorithm's defaults are tried as well (SampleConfigs), so a search
// never does worse than the defaults on the rows it is judged on.
var DefaultSpaces = []Space{
	{Algorithm: "gradient_boosting", Tasks: both, Dims: []Dim{
		{Name: "learning_rate", Min: 0.01, Max: 0.3, Log: true},
		{Name: "max_leaf_nodes", Min: 8, Max: 128, Log: true, Integer: true},
		{Name: "min_samples_leaf", Min: 2, Max: 64, Log: true, Integer: true},
		{Name: "l2_regularization", Values: []float64{0, 0.01, 0.1, 1, 10}},
	}},
	{Algorithm: "random_forest", Tasks: both, Dims: []Dim{
		{Name: "max_features", Min: 0.1, Max: 1},
		{Name: "min_samples_leaf", Min: 1, Max: 16, Log: true, Integer: true},
	}},
	{Algorithm: "extra_trees", Tasks: both, Dims: []Dim{
		{Name: "max_features", Min: 0.1, Max: 1},
		{Name: "min_samples_leaf", Min: 1, Max: 16, Log: true, Integer: true},
	}},
	{Algorithm: "logistic_regression", Tasks: cls, Dims: []Dim{
		{Name: "C", Min: 1e-3, Max: 1e3, Log: true},
	}},
	{Algorithm: "linear_regression", Tasks: reg},
	{Algorithm: "ridge", Tasks: reg, Dims: []Dim{
		{Name: "alpha", Min: 1e-3, Max: 1e3, Log: true},
	}},
	{Algorithm: "knn", Tasks: both, Dims: []Dim{
		{Name: "k", Min: 1, Max: 50, Log: true, Integer: true},
		{Name: "distance_weighted", Values: []float64{0, 1}},
	}},
	{Algorithm: "decision_tree", Tasks: both, Dims: []Dim{
		{Name: "max_depth", Min: 2, Max: 16, Integer: true},
		{Name: "min_samples_leaf", Min: 1, Max: 32, Log: true, Integer: true},
	}},
	{Algorithm: "naive_bayes", Tasks: cls, Dims: []Dim{
		{Name: "var_smoothing", Min: 1e-12, Max: 1e-3, Log: true},
	}},
}

// Supports reports whether the space applies to task.
func (s *Space) Supports(task datav1.Task) bool { return slices.Contains(s.Tasks, task) }

// Sample draws one configuration: the fixed parameters and one value per
// dimension.
func (s *Space) Sample(r *Rand) map[string]float64 {
	p := make(map[string]float64, len(s.Fixed)+len(s.Dims))
	for k, v := range s.Fixed {
		p[k] = v
	}
	for _, d := range s.Dims {
		p[d.Name] = d.draw(r)
	}
	return p
}

func (d *Dim) draw(r *Rand) float64 {
	if len(d.Values) > 0 {
		return d.Values[r.IntN(len(d.Values))]
	}
	u := r.Float64()
	var v float64
	if d.Log {
		v = math.Exp(math.Log(d.Min) + u*(math.Log(d.Max)-math.Log(d.Min)))
	} else {
		v = d.Min + u*(d.Max-d.Min)
	}
	if d.Integer {
		v = math.Round(v)
	}
	return min(max(v, d.Min), d.Max)
}

// Rand is the search's random source: a PCG generator whose output is
// turned into numbers here, not by math/rand/v2's methods, so that a seed
// draws the same configurations on every platform and Go release.
type Rand struct{ pcg *rand.PCG }

// NewRand returns the generator for seed.
func NewRand(seed int64) *Rand {
	return &Rand{pcg: rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)}
}

// Float64 is uniform in [0, 1).
func (r *Rand) Float64() float64 { return float64(r.pcg.Uint64()>>11) / (1 << 53) }

// IntN is uniform in [0, n).
func (r *Rand) IntN(n int) int { return int(r.Float64() * float64(n)) }

// Config is one configuration to train.
type Config struct {
	// ID numbers the configurations from 0 in the order drawn; it names
	// the configuration in a search's journal (see Halving).
	ID        int
	Algorithm string
	// Params are the hyperparameters set; the rest keep their defaults.
	// Empty for an algorithm's defaults.
	Params map[string]float64
}

// SampleConfigs lists n configurations for task from spaces: first every
// supporting algorithm at its defaults (in the spaces' order), then random
// draws, the algorithms with dimensions taken in turn. The list is the
// same for the same seed.
func SampleConfigs(spaces []Space, task datav1.Task, n int, seed int64) []Config {
	var use []*Space
	for i := range spaces {
		if spaces[i].Supports(task) {
			use = append(use, &spaces[i])
		}
	}
	if len(use) == 0 || n <= 0 {
		return nil
	}
	r := NewRand(seed)
	out := make([]Config, 0, n)
	var searched []*Space
	for _, s := range use {
		if len(out) == n {
			return out
		}
		out = append(out, Config{ID: len(out), Algorithm: s.Algorithm, Params: copyParams(s.Fixed)})
		if len(s.Dims) > 0 {
			searched = append(searched, s)
		}
	}
	for i := 0; len(out) < n && len(searched) > 0; i++ {
		s := searched[i%len(searched)]
		out = append(out, Config{ID: len(out), Algorithm: s.Algorithm, Params: s.Sample(r)})
	}
	return out
}

func copyParams(p map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(p))
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out[k] = p[k]
	}
	return out
}
