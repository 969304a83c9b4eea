// Package algo is the core of alur's learning algorithms: the registry, the
// Dataset layout, the hyperparameter schema, class weights and the input
// checks the algorithms share. Each algorithm registers a Spec: its name,
// the tasks it supports, its hyperparameters (type, default, bounds, the
// tasks they apply to), a Fit that turns a Dataset into an
// alur.data.v1.Model message, and a Predict that reads that message back.
// The model message is the only representation of a trained model, so
// train, eval and any other language agree on it.
//
// The algorithms live in one package per family, each registering itself
// from init: linear (logistic_regression, linear_regression, ridge), tree
// (decision_tree), forest (random_forest, extra_trees), boosting
// (gradient_boosting), knn and bayes (naive_bayes). Package builtin imports them all; a binary that
// fits or predicts imports builtin. This package imports none of them.
//
// A Catalog is the registry's description without the code: what train
// serves from ListAlgorithms and what a client validates against.
package algo

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"gonum.org/v1/gonum/mat"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Dataset is a prepared training set: a dense feature matrix and targets.
// The features come either row-major in X or column-major in Cols, never
// both; algorithms whose Spec sets Columns read Cols as is, the others
// receive an X built from it.
type Dataset struct {
	// X is rows × features.
	X *mat.Dense
	// Cols holds the features column-major: Cols[f][i] is feature f of row
	// i. A caller that receives a table column by column (the train
	// service) passes it instead of X, so that tree learners, which work
	// on columns, need no second copy of the data. Fit never modifies the
	// values.
	Cols [][]float64
	// Owned says that the caller hands the features over for this one
	// fit: an algorithm that has copied them into a form of its own
	// (gradient boosting's bins) may then set X or Cols to nil, so that
	// their memory is freed during the rest of the fit. The train service
	// sets it; callers that reuse the Dataset leave it false.
	Owned bool
	// Y holds one target per row: the class index (0..NumClasses-1) for
	// classification, the value for regression.
	Y []float64
	// Task is the learning task.
	Task datav1.Task
	// NumClasses is the number of classes (classification only).
	NumClasses int
	// FeatureNames name the columns of X.
	FeatureNames []string
	// ClassNames name the classes in index order (classification only).
	ClassNames []string
}

// Progress receives training progress: units done of total (0 when
// unknown), the current loss (NaN when none) and a note. It may be nil.
type Progress func(done, total int64, loss float64, msg string)

// Report calls p when it is not nil.
func (p Progress) Report(done, total int64, loss float64, msg string) {
	if p != nil {
		p(done, total, loss, msg)
	}
}

// ParamType says which values a hyperparameter takes within [Min, Max].
type ParamType int

const (
	// Real takes any finite number.
	Real ParamType = iota
	// Integer takes whole numbers.
	Integer
	// Flag takes 0 (off) or 1 (on).
	Flag
)

// String names the type as the documentation does.
func (t ParamType) String() string {
	switch t {
	case Real:
		return "real"
	case Integer:
		return "integer"
	case Flag:
		return "flag"
	}
	return fmt.Sprintf("ParamType(%d)", int(t))
}

// Param describes one hyperparameter: the schema that train serves from
// ListAlgorithms and that clients validate a configuration against.
type Param struct {
	// Name is the key in a configuration's params.
	Name string
	// Type says whether the value is any number, a whole number or a flag.
	Type ParamType
	// Default is used when the key is left out.
	Default float64
	// Min and Max bound the value, both included.
	Min, Max float64
	// Description says what the parameter does.
	Description string
	// Tasks lists the tasks on which the parameter has an effect; empty
	// means every task the algorithm supports. On other tasks it is
	// accepted and ignored (balanced on a regression, for example).
	Tasks []datav1.Task
}

// Whole reports whether the value must be a whole number.
func (p Param) Whole() bool { return p.Type != Real }

// AppliesTo reports whether the parameter has an effect on task.
func (p Param) AppliesTo(task datav1.Task) bool {
	return len(p.Tasks) == 0 || slices.Contains(p.Tasks, task)
}

// Spec describes one algorithm.
type Spec struct {
	// Name is the registry key, such as "random_forest".
	Name string
	// Description says what the algorithm does, naming its reference.
	Description string
	// Tasks are the supported tasks.
	Tasks []datav1.Task
	// Params are the hyperparameters, with defaults.
	Params []Param
	// Fit trains a model. params is complete (defaults filled, validated).
	// The returned model needs only its Parameters and, where defined,
	// FeatureImportances set; the caller fills the common fields.
	Fit func(ctx context.Context, ds *Dataset, params map[string]float64, seed int64, progress Progress) (*datav1.Model, error)
	// Predict returns rows × classes probabilities for classification or
	// rows × 1 values for regression.
	Predict func(m *datav1.Model, X *mat.Dense) (*mat.Dense, error)
	// Prepare, when set, does once for a model the work Predict repeats
	// on every call (decoding trees and laying them out for the walk) and
	// returns a Predictor for rows of numFeatures features, which must
	// answer exactly what Predict answers. It may be nil: Prepare (the
	// function) then predicts through Predict. A server answering a row at
	// a time is the caller that needs it.
	Prepare func(m *datav1.Model, numFeatures int) (Predictor, error)
	// Columns says that Fit reads the features column-major (Dataset.Cols)
	// when they come that way; Fit builds X from Cols for the others.
	Columns bool
}

// Supports reports whether the algorithm handles task.
func (s *Spec) Supports(task datav1.Task) bool {
	for _, t := range s.Tasks {
		if t == task {
			return true
		}
	}
	return false
}

// FindParam returns the named hyperparameter, so that a caller can ask
// whether an algorithm declares one (balanced, say) and what it applies to.
func (s *Spec) FindParam(name string) (Param, bool) {
	for _, p := range s.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

var (
	registryMu sync.RWMutex
	registry   = map[string]*Spec{}
)

// Register adds an algorithm; it panics on a duplicate name, which is a
// programming error caught at init.
func Register(s *Spec) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[s.Name]; dup {
		panic("algo: duplicate algorithm " + s.Name)
	}
	registry[s.Name] = s
}

// Lookup returns the named algorithm.
func Lookup(name string) (*Spec, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	s, ok := registry[name]
	return s, ok
}

// All returns every algorithm, sorted by name.
func All() []*Spec {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]*Spec, 0, len(registry))
	for _, s := range registry {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ParamError says which hyperparameter is wrong and why.
type ParamError struct {
	Param  string
	Reason string
}

func (e *ParamError) Error() string { return fmt.Sprintf("param %q: %s", e.Param, e.Reason) }

// ResolveParams checks given against the spec and fills in defaults.
func (s *Spec) ResolveParams(given map[string]float64) (map[string]float64, error) {
	out := make(map[string]float64, len(s.Params))
	known := make(map[string]Param, len(s.Params))
	for _, p := range s.Params {
		known[p.Name] = p
		out[p.Name] = p.Default
	}
	names := make([]string, 0, len(given))
	for k := range given {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := given[k]
		p, ok := known[k]
		if !ok {
			valid := make([]string, 0, len(s.Params))
			for _, p := range s.Params {
				valid = append(valid, p.Name)
			}
			return nil, &ParamError{k, fmt.Sprintf("unknown for %s (known: %v)", s.Name, valid)}
		}
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			return nil, &ParamError{k, "must be a finite number"}
		case v < p.Min || v > p.Max:
			return nil, &ParamError{k, fmt.Sprintf("%g is outside [%g, %g]", v, p.Min, p.Max)}
		case p.Whole() && v != math.Trunc(v):
			return nil, &ParamError{k, fmt.Sprintf("%g must be a whole number", v)}
		}
		out[k] = v
	}
	return out, nil
}

// Fit validates the dataset and params, trains the named algorithm and
// fills the model's common fields.
func Fit(ctx context.Context, name string, ds *Dataset, params map[string]float64, seed int64, progress Progress) (*datav1.Model, error) {
	s, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown algorithm %q", name)
	}
	if !s.Supports(ds.Task) {
		return nil, fmt.Errorf("algorithm %q does not support %v", name, ds.Task)
	}
	full, err := s.ResolveParams(params)
	if err != nil {
		return nil, err
	}
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	if ds.X == nil && !s.Columns {
		ds = ds.withDense()
	}
	m, err := s.Fit(ctx, ds, full, seed, progress)
	if err != nil {
		return nil, err
	}
	m.Algorithm = name
	m.Task = ds.Task
	m.FeatureNames = ds.FeatureNames
	m.ClassNames = ds.ClassNames
	m.Params = full
	m.Seed = seed
	return m, nil
}

// Dims returns the number of rows and features, from X or Cols.
func (ds *Dataset) Dims() (rows, features int) {
	if ds.X != nil {
		return ds.X.Dims()
	}
	if len(ds.Cols) == 0 {
		return 0, 0
	}
	return len(ds.Cols[0]), len(ds.Cols)
}

// withDense returns a shallow copy of ds whose X holds the features of
// Cols row-major, for algorithms that work on rows.
func (ds *Dataset) withDense() *Dataset {
	n, p := ds.Dims()
	out := *ds
	out.X = mat.NewDense(n, p, nil)
	raw := out.X.RawMatrix()
	for f, col := range ds.Cols {
		for i, v := range col {
			raw.Data[i*raw.Stride+f] = v
		}
	}
	out.Cols = nil
	return &out
}

// Validate checks shapes and targets.
func (ds *Dataset) Validate() error {
	if ds.X != nil && ds.Cols != nil {
		return fmt.Errorf("the features come both as rows (X) and as columns (Cols); set one")
	}
	if ds.X == nil && ds.Cols == nil {
		return fmt.Errorf("no rows to train on")
	}
	r, c := ds.Dims()
	if r == 0 || c == 0 {
		return fmt.Errorf("empty training matrix (%d rows, %d features)", r, c)
	}
	for f, col := range ds.Cols {
		if len(col) != r {
			return fmt.Errorf("feature column %d has %d rows, column 0 has %d", f, len(col), r)
		}
	}
	if len(ds.Y) != r {
		return fmt.Errorf("%d targets for %d rows", len(ds.Y), r)
	}
	if len(ds.FeatureNames) != 0 && len(ds.FeatureNames) != c {
		return fmt.Errorf("%d feature names for %d features", len(ds.FeatureNames), c)
	}
	if ds.Task == datav1.Task_TASK_CLASSIFICATION {
		if ds.NumClasses < 2 {
			return fmt.Errorf("classification needs at least 2 classes, got %d", ds.NumClasses)
		}
		for i, y := range ds.Y {
			if y != math.Trunc(y) || y < 0 || int(y) >= ds.NumClasses {
				return fmt.Errorf("row %d: class index %g outside [0, %d)", i, y, ds.NumClasses)
			}
		}
	} else {
		for i, y := range ds.Y {
			if math.IsNaN(y) || math.IsInf(y, 0) {
				return fmt.Errorf("row %d: target is not a finite number", i)
			}
		}
	}
	return nil
}

// Predict runs a model on X: rows × classes probabilities for
// classification, rows × 1 values for regression.
func Predict(m *datav1.Model, X *mat.Dense) (*mat.Dense, error) {
	s, ok := Lookup(m.GetAlgorithm())
	if !ok {
		return nil, fmt.Errorf("model has unknown algorithm %q", m.GetAlgorithm())
	}
	if _, c := X.Dims(); len(m.GetFeatureNames()) != 0 && c != len(m.GetFeatureNames()) {
		return nil, fmt.Errorf("model expects %d features, got %d", len(m.GetFeatureNames()), c)
	}
	return s.Predict(m, X)
}
