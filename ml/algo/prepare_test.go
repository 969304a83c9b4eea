package algo_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// TestPrepareMatchesPredict checks that a prepared model answers exactly
// what Predict answers, for every algorithm and task, twice in a row (the
// layout is reused, not consumed), and refuses empty input and a wrong
// width.
func TestPrepareMatchesPredict(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, f = 120, 4
	X := mat.NewDense(n, f, nil)
	yClass := make([]float64, n)
	yReg := make([]float64, n)
	for i := range n {
		for j := range f {
			X.Set(i, j, rng.NormFloat64())
		}
		if X.At(i, 0)+X.At(i, 1) > 0 {
			yClass[i] = 1
		}
		yReg[i] = 2*X.At(i, 0) - X.At(i, 2) + 0.1*rng.NormFloat64()
	}
	names := []string{"x0", "x1", "x2", "x3"}
	datasets := []struct {
		task datav1.Task
		ds   *algo.Dataset
	}{
		{datav1.Task_TASK_CLASSIFICATION, &algo.Dataset{X: X, Y: yClass, Task: datav1.Task_TASK_CLASSIFICATION,
			NumClasses: 2, FeatureNames: names, ClassNames: []string{"a", "b"}}},
		{datav1.Task_TASK_REGRESSION, &algo.Dataset{X: X, Y: yReg, Task: datav1.Task_TASK_REGRESSION, FeatureNames: names}},
	}
	for _, d := range datasets {
		for _, s := range algo.All() {
			if !s.Supports(d.task) {
				continue
			}
			t.Run(d.task.String()+"/"+s.Name, func(t *testing.T) {
				m, err := algo.Fit(context.Background(), s.Name, d.ds, nil, 1, nil)
				if err != nil {
					t.Fatal(err)
				}
				want, err := algo.Predict(m, X)
				if err != nil {
					t.Fatal(err)
				}
				p, err := algo.Prepare(m, f)
				if err != nil {
					t.Fatal(err)
				}
				for range 2 {
					got, err := p(X)
					if err != nil {
						t.Fatal(err)
					}
					if !mat.Equal(got, want) {
						t.Fatal("prepared predictions differ from Predict's")
					}
				}
				if _, err := p(mat.NewDense(1, f+1, nil)); err == nil {
					t.Error("a row of the wrong width was accepted")
				}
				if _, err := p(nil); err == nil {
					t.Error("no rows were accepted")
				}
				if _, err := algo.Prepare(m, f+1); err == nil {
					t.Error("prepared for a width other than the model's features")
				}
			})
		}
	}
	if _, err := algo.Prepare(&datav1.Model{Algorithm: "nope"}, f); err == nil {
		t.Fatal("an unknown algorithm was prepared")
	}
}

// TestTreeFamiliesPrepare checks that the algorithms whose prediction
// decodes trees lay them out once through Spec.Prepare (without it a
// server would decode a 100-tree forest on every row), and that the hook
// on its own refuses rows of another width.
func TestTreeFamiliesPrepare(t *testing.T) {
	const n, f = 60, 3
	X := mat.NewDense(n, f, nil)
	y := make([]float64, n)
	for i := range n {
		for j := range f {
			X.Set(i, j, float64((i*(j+3))%17))
		}
		y[i] = float64(i % 2)
	}
	ds := &algo.Dataset{X: X, Y: y, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 2, ClassNames: []string{"a", "b"}}
	for _, name := range []string{"decision_tree", "random_forest", "extra_trees", "gradient_boosting"} {
		t.Run(name, func(t *testing.T) {
			s, ok := algo.Lookup(name)
			if !ok {
				t.Fatalf("%s is not registered", name)
			}
			if s.Prepare == nil {
				t.Fatalf("%s has no Spec.Prepare", name)
			}
			m, err := algo.Fit(context.Background(), name, ds, nil, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Prepare(m, f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p(X); err != nil {
				t.Fatal(err)
			}
			for _, bad := range []*mat.Dense{mat.NewDense(2, f-1, nil), mat.NewDense(2, f+1, nil), nil} {
				if _, err := p(bad); err == nil {
					t.Errorf("the hook's predictor accepted %v", bad)
				}
			}
		})
	}
}

// TestPrepareRefusesBrokenModels checks that a tree model with no trees
// fails when prepared, not on its first row.
func TestPrepareRefusesBrokenModels(t *testing.T) {
	tests := []struct {
		name string
		m    *datav1.Model
	}{
		{"tree without parameters", &datav1.Model{Algorithm: "decision_tree", Task: datav1.Task_TASK_REGRESSION}},
		{"forest without trees", &datav1.Model{Algorithm: "random_forest", Task: datav1.Task_TASK_REGRESSION,
			Parameters: &datav1.Model_Forest{Forest: &datav1.ForestModel{}}}},
		{"boosting without parameters", &datav1.Model{Algorithm: "gradient_boosting", Task: datav1.Task_TASK_REGRESSION}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := algo.Prepare(tt.m, 2); err == nil {
				t.Fatal("a broken model was prepared")
			}
		})
	}
}

// BenchmarkForestRow predicts one row with a 100-tree forest, through
// Predict (which lays the trees out on every call) and through a Predictor
// prepared once, as the serve stage does.
func BenchmarkForestRow(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n, f = 2000, 8
	X := mat.NewDense(n, f, nil)
	y := make([]float64, n)
	for i := range n {
		for j := range f {
			X.Set(i, j, rng.NormFloat64())
		}
		if X.At(i, 0)*X.At(i, 1)+X.At(i, 2) > 0 {
			y[i] = 1
		}
	}
	m, err := algo.Fit(context.Background(), "random_forest", &algo.Dataset{X: X, Y: y, Task: datav1.Task_TASK_CLASSIFICATION,
		NumClasses: 2, ClassNames: []string{"a", "b"}}, map[string]float64{"n_estimators": 100}, 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	row := mat.NewDense(1, f, X.RawRowView(0))
	b.Run("Predict", func(b *testing.B) {
		for b.Loop() {
			if _, err := algo.Predict(m, row); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Prepared", func(b *testing.B) {
		p, err := algo.Prepare(m, f)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := p(row); err != nil {
				b.Fatal(err)
			}
		}
	})
}
