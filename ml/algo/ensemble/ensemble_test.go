package ensemble

import (
	"context"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// data is a small two-feature set: classes by the sign of x0+x1, values
// x0 - 2 x1 plus a wiggle.
func data(task datav1.Task) *algo.Dataset {
	X := mat.NewDense(40, 2, nil)
	y := make([]float64, 40)
	for i := 0; i < 40; i++ {
		a, b := math.Sin(float64(i)), math.Cos(float64(3*i))
		X.Set(i, 0, a)
		X.Set(i, 1, b)
		if task == datav1.Task_TASK_CLASSIFICATION {
			if a+b > 0 {
				y[i] = 1
			}
		} else {
			y[i] = a - 2*b + 0.1*math.Sin(float64(7*i))
		}
	}
	ds := &algo.Dataset{X: X, Y: y, Task: task, FeatureNames: []string{"x0", "x1"}}
	if task == datav1.Task_TASK_CLASSIFICATION {
		ds.NumClasses, ds.ClassNames = 2, []string{"neg", "pos"}
	}
	return ds
}

func fit(t *testing.T, name string, ds *algo.Dataset) *datav1.Model {
	t.Helper()
	m, err := algo.Fit(context.Background(), name, ds, nil, 1, nil)
	if err != nil {
		t.Fatalf("fit %s: %v", name, err)
	}
	return m
}

func TestPredictIsTheWeightedAverage(t *testing.T) {
	for _, tc := range []struct {
		task    datav1.Task
		members []string
		weights []float64
	}{
		{datav1.Task_TASK_CLASSIFICATION, []string{"logistic_regression", "naive_bayes", "knn"}, []float64{0.5, 0.3, 0.2}},
		{datav1.Task_TASK_REGRESSION, []string{"ridge", "knn", "decision_tree"}, []float64{0.25, 0, 0.75}},
	} {
		t.Run(tc.task.String(), func(t *testing.T) {
			ds := data(tc.task)
			var members []*datav1.Model
			for _, name := range tc.members {
				members = append(members, fit(t, name, ds))
			}
			m, err := New(members, tc.weights, MethodGreedy, 0.9)
			if err != nil {
				t.Fatal(err)
			}
			// through the wire format, as eval and predict receive it
			b, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var back datav1.Model
			if err := proto.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			got, err := algo.Predict(&back, ds.X)
			if err != nil {
				t.Fatal(err)
			}
			r, c := got.Dims()
			for i := 0; i < r; i++ {
				for j := 0; j < c; j++ {
					want := 0.0
					for k, mm := range members {
						p, err := algo.Predict(mm, ds.X)
						if err != nil {
							t.Fatal(err)
						}
						want += tc.weights[k] * p.At(i, j)
					}
					if math.Abs(got.At(i, j)-want) > 1e-12 {
						t.Fatalf("row %d col %d: %v, want %v", i, j, got.At(i, j), want)
					}
				}
			}
			kept := 0
			for _, w := range tc.weights {
				if w > 0 {
					kept++
				}
			}
			if n := len(back.GetEnsemble().GetMembers()); n != kept || back.GetParams()["members"] != float64(kept) {
				t.Errorf("%d members kept, want %d", n, kept)
			}
			if back.GetTask() != tc.task || back.GetAlgorithm() != Name {
				t.Errorf("task %v algorithm %q", back.GetTask(), back.GetAlgorithm())
			}
		})
	}
}

func TestInvalidEnsembles(t *testing.T) {
	cls := data(datav1.Task_TASK_CLASSIFICATION)
	lr := fit(t, "logistic_regression", cls)
	nb := fit(t, "naive_bayes", cls)
	ridge := fit(t, "ridge", data(datav1.Task_TASK_REGRESSION))
	other := proto.Clone(nb).(*datav1.Model)
	other.ClassNames = []string{"pos", "neg"}
	nested, err := New([]*datav1.Model{lr, nb}, []float64{0.5, 0.5}, MethodGreedy, 0)
	if err != nil {
		t.Fatal(err)
	}
	raw := func(members []*datav1.Model, weights []float64) *datav1.Model {
		return &datav1.Model{Algorithm: Name, Task: datav1.Task_TASK_CLASSIFICATION,
			FeatureNames: []string{"x0", "x1"}, ClassNames: []string{"neg", "pos"},
			Parameters: &datav1.Model_Ensemble{Ensemble: &datav1.EnsembleModel{Members: members, Weights: weights}}}
	}
	for _, tc := range []struct {
		name  string
		model *datav1.Model
		want  string
	}{
		{"no members", raw(nil, nil), "no members"},
		{"weights count", raw([]*datav1.Model{lr, nb}, []float64{1}), "2 members but 1 weights"},
		{"negative weight", raw([]*datav1.Model{lr, nb}, []float64{1.5, -0.5}), "weight 1 is -0.5"},
		{"NaN weight", raw([]*datav1.Model{lr, nb}, []float64{math.NaN(), 1}), "weight 0 is NaN"},
		{"sum", raw([]*datav1.Model{lr, nb}, []float64{0.5, 0.4}), "sum to 0.9"},
		{"nested", raw([]*datav1.Model{lr, nested}, []float64{0.5, 0.5}), "itself an ensemble"},
		{"task", raw([]*datav1.Model{lr, ridge}, []float64{0.5, 0.5}), "member 1 solves TASK_REGRESSION"},
		{"classes", raw([]*datav1.Model{lr, other}, []float64{0.5, 0.5}), "has classes [pos neg]"},
		{"no parameters", &datav1.Model{Algorithm: Name}, "no ensemble parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := algo.Predict(tc.model, cls.X)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Predict error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := New([]*datav1.Model{lr}, []float64{0}, MethodGreedy, 0); err == nil {
		t.Error("New with every weight 0: no error")
	}
	if _, err := New([]*datav1.Model{lr}, []float64{0.5, 0.5}, MethodGreedy, 0); err == nil {
		t.Error("New with more weights than members: no error")
	}
}

// TestNotTrainable checks that the registered ensemble is never a
// training candidate.
func TestNotTrainable(t *testing.T) {
	s, ok := algo.Lookup(Name)
	if !ok {
		t.Fatal("ensemble not registered")
	}
	for _, task := range []datav1.Task{datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION} {
		if s.Supports(task) {
			t.Errorf("ensemble supports training for %v", task)
		}
		if _, err := algo.Fit(context.Background(), Name, data(task), nil, 1, nil); err == nil {
			t.Errorf("Fit %v: no error", task)
		}
	}
}
