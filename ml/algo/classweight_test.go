package algo_test

import (
	"testing"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/algo/internal/algotest"
)

func TestBalancedClassWeights(t *testing.T) {
	tests := []struct {
		name    string
		y       []float64
		classes int
		want    []float64
	}{
		{"equal", []float64{0, 1, 1, 0}, 2, []float64{1, 1}},
		{"3 to 1", []float64{0, 0, 1, 0}, 2, []float64{4.0 / 6, 2}},
		{"three classes", []float64{0, 1, 2, 2, 2, 2}, 3, []float64{2, 2, 0.5}},
		// scikit-learn counts only the classes present in y.
		{"absent class", []float64{0, 2, 2, 2}, 3, []float64{2, 0, 4.0 / 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := algo.BalancedClassWeights(tc.y, tc.classes)
			for k := range tc.want {
				if !algotest.Close(got[k], tc.want[k], 1e-15) {
					t.Fatalf("weights %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func FuzzBalancedClassWeights(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1}, uint8(2))
	f.Add([]byte{3, 1, 4, 1, 5, 9, 2, 6}, uint8(10))
	f.Fuzz(func(t *testing.T, labels []byte, classes uint8) {
		k := int(classes%16) + 1
		if len(labels) == 0 {
			return
		}
		y := make([]float64, len(labels))
		for i, b := range labels {
			y[i] = float64(int(b) % k)
		}
		w := algo.BalancedClassWeights(y, k)
		if len(w) != k {
			t.Fatalf("%d weights for %d classes", len(w), k)
		}
		// Every row weighs > 0, and the rows' weights sum to n.
		var sum float64
		for _, v := range y {
			if !(w[int(v)] > 0) {
				t.Fatalf("class %g has weight %g", v, w[int(v)])
			}
			sum += w[int(v)]
		}
		if !algotest.Close(sum, float64(len(y)), 1e-12) {
			t.Fatalf("row weights sum to %g, want %d", sum, len(y))
		}
	})
}
