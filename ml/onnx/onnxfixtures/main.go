// Command onnxfixtures writes the files scripts/onnx-check.sh runs in a
// real ONNX runtime: for each bundled dataset and each exportable
// algorithm and ensemble, the exported pipeline (NAME.onnx) and NAME.json
// holding the dataset's rows as graph inputs and alur's own labels and
// probabilities (or predictions, for regression) for them.
//
//	go run ./onnx/onnxfixtures -data ../services/ingest/datasets -o DIR
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin" // registers the algorithms
	"github.com/alur-ml/alur/ml/algo/ensemble"
	"github.com/alur-ml/alur/ml/csvio"
	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/onnx"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

// datasets are the bundled data sets and their labels.
var datasets = []struct{ name, label string }{
	{"iris", "species"}, {"wine", "class"}, {"breast_cancer", "class"},
}

// algorithms are exported and checked, with small settings where the
// defaults would make the files large.
var algorithms = []struct {
	name   string
	params map[string]float64
}{
	{"logistic_regression", nil},
	{"naive_bayes", nil},
	{"decision_tree", nil},
	{"random_forest", map[string]float64{"n_estimators": 20}},
	{"extra_trees", map[string]float64{"n_estimators": 20}},
	{"gradient_boosting", map[string]float64{"max_iter": 20}},
	{"knn", nil},
}

// ensembles are exported and checked for classification, as a default
// run makes them: k-fold bagging averages one algorithm's fold models
// (members empty: every member is algorithm), ensemble selection weighs
// different algorithms.
var ensembles = []ensembleSpec{
	{name: "bagged_random_forest", bagged: "random_forest"},
	{name: "bagged_gradient_boosting", bagged: "gradient_boosting"},
	{name: "bagged_knn", bagged: "knn"},
	{name: "ensemble_mixed", members: []string{"logistic_regression", "random_forest", "naive_bayes", "decision_tree", "knn"},
		weights: []float64{0.4, 0.3, 0.14, 0.1, 0.06}},
}

// regressionEnsembles are exported and checked on a regression task.
var regressionEnsembles = []ensembleSpec{
	{name: "bagged_random_forest", bagged: "random_forest"},
	{name: "ensemble_mixed", members: []string{"ridge", "random_forest", "gradient_boosting", "knn", "decision_tree"},
		weights: []float64{0.3, 0.3, 0.2, 0.12, 0.08}},
}

// ensembleSpec is one ensemble fixture.
type ensembleSpec struct {
	name string
	// bagged is the algorithm fitted on each of bagFolds folds' other rows,
	// the members weighted equally.
	bagged string
	// members are fitted on every row and weighted by weights.
	members []string
	weights []float64
}

// bagFolds is the number of cross-validation folds bagged.
const bagFolds = 5

// params returns an algorithm's settings: small ones where the defaults
// would make the files large.
func params(name string) map[string]float64 {
	for _, a := range algorithms {
		if a.name == name {
			return a.params
		}
	}
	return nil
}

// fixture is what the runtime check reads.
type fixture struct {
	Model         string              `json:"model"`
	Inputs        map[string][]any    `json:"inputs"` // numbers, null for NaN
	Strings       map[string][]string `json:"strings"`
	Rows          int                 `json:"rows"`
	Labels        []string            `json:"labels"`
	Probabilities []float64           `json:"probabilities,omitempty"`
	Classes       int                 `json:"classes,omitempty"`
	// Predictions are alur's predictions of a regression model.
	Predictions []float64 `json:"predictions,omitempty"`
}

func main() {
	data := flag.String("data", "services/ingest/datasets", "directory of the bundled CSV files")
	out := flag.String("o", "", "output directory (required)")
	flag.Parse()
	if *out == "" {
		log.Fatal("-o is required")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	if err := synthetic(*out); err != nil {
		log.Fatalf("synthetic: %v", err)
	}
	for _, ds := range datasets {
		f, err := os.Open(filepath.Join(*data, ds.name+".csv"))
		if err != nil {
			log.Fatal(err)
		}
		t, err := csvio.Read(f, csvio.Options{CategoricalColumns: []string{ds.label}})
		f.Close()
		if err != nil {
			log.Fatalf("%s: %v", ds.name, err)
		}
		tr, err := dataprep.Fit(t, nil, &prepv1.PrepareOptions{Label: ds.label})
		if err != nil {
			log.Fatalf("%s: %v", ds.name, err)
		}
		X, y, err := dataprep.ApplyWithLabel(tr, t)
		if err != nil {
			log.Fatalf("%s: %v", ds.name, err)
		}
		for _, a := range algorithms {
			m, err := algo.Fit(context.Background(), a.name, &algo.Dataset{
				X: X, Y: y, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: len(tr.GetClassNames()),
				FeatureNames: tr.GetFeatureNames(), ClassNames: tr.GetClassNames(),
			}, a.params, 7, nil)
			if err != nil {
				log.Fatalf("%s %s: %v", ds.name, a.name, err)
			}
			if err := write(*out, ds.name+"_"+a.name, tr, m, t, X); err != nil {
				log.Fatalf("%s %s: %v", ds.name, a.name, err)
			}
		}
		d := &algo.Dataset{X: X, Y: y, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: len(tr.GetClassNames()),
			FeatureNames: tr.GetFeatureNames(), ClassNames: tr.GetClassNames()}
		if err := writeEnsembles(*out, ds.name, ensembles, tr, d, t); err != nil {
			log.Fatal(err)
		}
	}
	if err := regression(*out, *data); err != nil {
		log.Fatalf("regression: %v", err)
	}
}

// regression checks ensembles of regressors: iris's petal width predicted
// from the other measurements and the species (a categorical input).
func regression(dir, data string) error {
	f, err := os.Open(filepath.Join(data, "iris.csv"))
	if err != nil {
		return err
	}
	t, err := csvio.Read(f, csvio.Options{CategoricalColumns: []string{"species"}})
	f.Close()
	if err != nil {
		return err
	}
	tr, err := dataprep.Fit(t, nil, &prepv1.PrepareOptions{Label: "petal_width_cm", Task: datav1.Task_TASK_REGRESSION})
	if err != nil {
		return err
	}
	X, y, err := dataprep.ApplyWithLabel(tr, t)
	if err != nil {
		return err
	}
	ds := &algo.Dataset{X: X, Y: y, Task: datav1.Task_TASK_REGRESSION, FeatureNames: tr.GetFeatureNames()}
	return writeEnsembles(dir, "iris_regression", regressionEnsembles, tr, ds, t)
}

// writeEnsembles fits and writes each of specs on ds, the prepared rows of
// t. A bagged ensemble's fold models are fitted as cross-validation does:
// row i is in fold i mod bagFolds and fold f's model sees the other rows.
func writeEnsembles(dir, prefix string, specs []ensembleSpec, tr *datav1.FittedTransform, ds *algo.Dataset, t *table.Table) error {
	for _, e := range specs {
		var members []*datav1.Model
		weights := e.weights
		if e.bagged != "" {
			rows, cols := ds.X.Dims()
			for fold := range bagFolds {
				var xs, ys []float64
				for i := range rows {
					if i%bagFolds != fold {
						xs, ys = append(xs, ds.X.RawRowView(i)...), append(ys, ds.Y[i])
					}
				}
				sub := *ds
				sub.X, sub.Y = mat.NewDense(len(ys), cols, xs), ys
				m, err := algo.Fit(context.Background(), e.bagged, &sub, params(e.bagged), int64(7+fold), nil)
				if err != nil {
					return fmt.Errorf("%s %s fold %d: %w", prefix, e.name, fold, err)
				}
				members, weights = append(members, m), append(weights, 1.0/bagFolds)
			}
		} else {
			for i, a := range e.members {
				m, err := algo.Fit(context.Background(), a, ds, params(a), int64(7+i), nil)
				if err != nil {
					return fmt.Errorf("%s %s %s: %w", prefix, e.name, a, err)
				}
				members = append(members, m)
			}
		}
		m, err := ensemble.New(members, weights, e.name, 0)
		if err != nil {
			return fmt.Errorf("%s %s: %w", prefix, e.name, err)
		}
		if err := write(dir, prefix+"_"+e.name, tr, m, t, ds.X); err != nil {
			return fmt.Errorf("%s %s: %w", prefix, e.name, err)
		}
	}
	return nil
}

// synthetic checks the preparation the bundled data sets do not need:
// missing numbers and categories, an unseen category, rare categories
// grouped, log1p and clipping, a boolean column. The transform is fitted
// on the rows without "purple", then every row is predicted.
func synthetic(dir string) error {
	const n = 300
	x, z, flag := make([]float64, n), make([]float64, n), make([]float64, n)
	color, label := make([]int32, n), make([]int32, n)
	colors := []string{"red", "green", "blue", "teal", "purple"}
	var fitRows []int
	for i := range n {
		x[i] = float64((i*37)%101)/10 - 5
		z[i] = float64((i*53)%97) * 3
		flag[i] = float64(i % 2)
		switch {
		case i%29 == 0:
			color[i] = 4 // purple: unseen when fitting
		case i%31 == 0:
			color[i] = 3 // teal: rare
		case i%13 == 0:
			color[i] = -1
		default:
			color[i] = int32(i % 3)
		}
		if i%17 == 0 {
			x[i] = math.NaN()
		}
		if i%19 == 0 {
			z[i] = math.NaN()
		}
		score := x[i] + math.Log1p(z[i])/2 - 2*flag[i] + float64(i%3)
		if math.IsNaN(score) || score > 1 {
			label[i] = 1
		}
		if color[i] != 4 {
			fitRows = append(fitRows, i)
		}
	}
	t := &table.Table{Columns: []*table.Column{
		table.NewNumeric("x", x), table.NewNumeric("z", z),
		{Name: "flag", Type: datav1.ColumnType_COLUMN_TYPE_BOOLEAN, Nums: flag},
		table.NewCategorical("color", color, colors),
		table.NewCategorical("y", label, []string{"no", "yes"}),
	}}
	tr, err := dataprep.Fit(t, fitRows, &prepv1.PrepareOptions{Label: "y", Cleaning: &datav1.CleaningOptions{
		LogTransform: []string{"z"}, ClipOutliers: []string{"x"}, GroupRare: []string{"color"}, RareMinFrequency: 0.05,
	}})
	if err != nil {
		return err
	}
	X, y, err := dataprep.ApplyWithLabel(tr, t.Take(fitRows))
	if err != nil {
		return err
	}
	for _, a := range algorithms {
		m, err := algo.Fit(context.Background(), a.name, &algo.Dataset{
			X: X, Y: y, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 2, FeatureNames: tr.GetFeatureNames(), ClassNames: tr.GetClassNames(),
		}, a.params, 7, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
		if err := write(dir, "synthetic_"+a.name, tr, m, t, X); err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
	}
	return writeEnsembles(dir, "synthetic", ensembles, tr, &algo.Dataset{X: X, Y: y, Task: datav1.Task_TASK_CLASSIFICATION,
		NumClasses: 2, FeatureNames: tr.GetFeatureNames(), ClassNames: tr.GetClassNames()}, t)
}

func write(dir, name string, tr *datav1.FittedTransform, m *datav1.Model, t *table.Table, X interface{ Dims() (int, int) }) error {
	b, inputs, err := onnx.Export(tr, m, name)
	if err != nil {
		return err
	}
	fx := fixture{Model: name + ".onnx", Inputs: map[string][]any{}, Strings: map[string][]string{}, Rows: t.NumRows(), Classes: len(m.GetClassNames())}
	for _, in := range inputs {
		c, _ := t.Column(in.Name)
		if c == nil {
			return fmt.Errorf("no column %q", in.Name)
		}
		for r := 0; r < c.Len(); r++ {
			if in.Categorical {
				fx.Strings[in.Name] = append(fx.Strings[in.Name], c.Text(r))
			} else if math.IsNaN(c.Nums[r]) {
				fx.Inputs[in.Name] = append(fx.Inputs[in.Name], nil)
			} else {
				fx.Inputs[in.Name] = append(fx.Inputs[in.Name], c.Nums[r])
			}
		}
	}
	Xd, err := dataprep.ApplyFeatures(tr, t)
	if err != nil {
		return err
	}
	p, err := algo.Predict(m, Xd)
	if err != nil {
		return err
	}
	for i := 0; i < t.NumRows(); i++ {
		row := p.RawRowView(i)
		if m.GetTask() == datav1.Task_TASK_REGRESSION {
			fx.Predictions = append(fx.Predictions, row[0])
			continue
		}
		best, bv := 0, math.Inf(-1)
		for j, v := range row {
			if v > bv {
				best, bv = j, v
			}
		}
		fx.Labels = append(fx.Labels, m.GetClassNames()[best])
		fx.Probabilities = append(fx.Probabilities, row...)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".onnx"), b, 0o644); err != nil {
		return err
	}
	j, err := json.Marshal(fx)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".json"), j, 0o644)
}
