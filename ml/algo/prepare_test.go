package algo

import (
	"context"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// TestPrepareMatchesPredict checks a prepared model answers exactly what
// Predict answers, for every algorithm, and refuses a wrong width.
func TestPrepareMatchesPredict(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, f = 120, 4
	X := mat.NewDense(n, f, nil)
	y := make([]float64, n)
	for i := range n {
		for j := range f {
			X.Set(i, j, rng.NormFloat64())
		}
		if X.At(i, 0)+X.At(i, 1) > 0 {
			y[i] = 1
		}
	}
	names := []string{"x0", "x1", "x2", "x3"}
	for _, s := range All() {
		if !s.Supports(datav1.Task_TASK_CLASSIFICATION) {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			m, err := Fit(context.Background(), s.Name, &Dataset{X: X, Y: y, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 2,
				FeatureNames: names, ClassNames: []string{"a", "b"}}, nil, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Predict(m, X)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Prepare(m, f)
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
				t.Fatal("a row of the wrong width was accepted")
			}
		})
	}
	if _, err := Prepare(&datav1.Model{Algorithm: "nope"}, f); err == nil {
		t.Fatal("an unknown algorithm was prepared")
	}
}
