// Command onnxfixtures writes the files scripts/onnx-check.sh runs in a
// real ONNX runtime: for each bundled dataset and each exportable
// algorithm, the exported pipeline (NAME.onnx) and NAME.json holding the
// dataset's rows as graph inputs and alur's own labels and probabilities
// for them.
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

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin" // registers the algorithms
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
	{"gradient_boosting", map[string]float64{"max_iter": 20}},
	{"knn", nil},
}

// fixture is what the runtime check reads.
type fixture struct {
	Model         string              `json:"model"`
	Inputs        map[string][]any    `json:"inputs"` // numbers, null for NaN
	Strings       map[string][]string `json:"strings"`
	Rows          int                 `json:"rows"`
	Labels        []string            `json:"labels"`
	Probabilities []float64           `json:"probabilities"`
	Classes       int                 `json:"classes"`
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
	}
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
	return nil
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
