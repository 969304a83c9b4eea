package selection

import (
	"reflect"
	"testing"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// TestDefaultSpacesMatchAlgorithms checks every searched name, range and
// task against the algorithm's own spec in ml/algo.
func TestDefaultSpacesMatchAlgorithms(t *testing.T) {
	for _, s := range DefaultSpaces {
		t.Run(s.Algorithm, func(t *testing.T) {
			spec, ok := algo.Lookup(s.Algorithm)
			if !ok {
				t.Fatalf("no algorithm %q", s.Algorithm)
			}
			for _, task := range s.Tasks {
				if !spec.Supports(task) {
					t.Errorf("space lists %v, which %s does not support", task, s.Algorithm)
				}
			}
			params := map[string]algo.Param{}
			for _, p := range spec.Params {
				params[p.Name] = p
			}
			for _, d := range s.Dims {
				p, ok := params[d.Name]
				if !ok {
					t.Errorf("%s has no parameter %q", s.Algorithm, d.Name)
					continue
				}
				lo, hi := d.Min, d.Max
				if len(d.Values) > 0 {
					lo, hi = d.Values[0], d.Values[len(d.Values)-1]
				}
				if lo < p.Min || hi > p.Max || lo > hi {
					t.Errorf("%s: [%g, %g] outside [%g, %g]", d.Name, lo, hi, p.Min, p.Max)
				}
			}
			// ResolveParams also refuses a fraction for a whole-number
			// parameter, so the draws check Dim.Integer.
			r := NewRand(1)
			for i := 0; i < 200; i++ {
				if _, err := spec.ResolveParams(s.Sample(r)); err != nil {
					t.Fatalf("draw %d: %v", i, err)
				}
			}
		})
	}
}

func TestSampleConfigs(t *testing.T) {
	for _, tc := range []struct {
		task  datav1.Task
		first []string
	}{
		{datav1.Task_TASK_CLASSIFICATION, []string{"gradient_boosting", "random_forest", "extra_trees", "logistic_regression", "knn", "decision_tree", "naive_bayes"}},
		{datav1.Task_TASK_REGRESSION, []string{"gradient_boosting", "random_forest", "extra_trees", "linear_regression", "ridge", "knn", "decision_tree"}},
	} {
		t.Run(tc.task.String(), func(t *testing.T) {
			a := SampleConfigs(DefaultSpaces, tc.task, 30, 7)
			b := SampleConfigs(DefaultSpaces, tc.task, 30, 7)
			c := SampleConfigs(DefaultSpaces, tc.task, 30, 8)
			if len(a) != 30 || !reflect.DeepEqual(a, b) {
				t.Fatalf("the same seed drew different lists (%d configurations)", len(a))
			}
			if reflect.DeepEqual(a, c) {
				t.Error("seeds 7 and 8 drew the same list")
			}
			for i, name := range tc.first {
				if a[i].Algorithm != name || len(a[i].Params) != 0 || a[i].ID != i {
					t.Errorf("configuration %d = %+v, want %s at its defaults", i, a[i], name)
				}
			}
			if a[len(tc.first)].Algorithm != tc.first[0] || len(a[len(tc.first)].Params) == 0 {
				t.Errorf("first draw %+v", a[len(tc.first)])
			}
		})
	}
	if got := SampleConfigs(DefaultSpaces, datav1.Task_TASK_CLASSIFICATION, 2, 1); len(got) != 2 {
		t.Errorf("n=2 gave %d", len(got))
	}
}

// TestRandSequence pins the generator's first values, so that a change of
// the draws (and of every seeded search) shows up here.
func TestRandSequence(t *testing.T) {
	r := NewRand(42)
	if a, b := r.Float64(), r.Float64(); a != 0.3358350514255748 || b != 0.8779001142378786 {
		t.Fatalf("seed 42 draws %v, %v", a, b)
	}
}
