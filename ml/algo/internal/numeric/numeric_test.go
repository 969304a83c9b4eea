package numeric

import (
	"math"
	"math/rand/v2"
	"testing"
)

// softmaxRef is SoftmaxInPlace without the exp(0) shortcut.
func softmaxRef(z []float64) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		if v > m {
			m = v
		}
	}
	var s float64
	for i, v := range z {
		e := math.Exp(v - m)
		z[i] = e
		s += e
	}
	for i := range z {
		z[i] /= s
	}
	return m + math.Log(s)
}

func TestExpOfZeroIsOne(t *testing.T) {
	// SoftmaxInPlace relies on it to skip the maximum's exponential.
	if math.Exp(0) != 1 || math.Exp(math.Copysign(0, -1)) != 1 {
		t.Fatalf("math.Exp(0) = %v, want exactly 1", math.Exp(0))
	}
}

func TestSoftmaxInPlaceMatchesReferenceBitForBit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := [][]float64{
		{0, 0}, {1, 1, 1}, {-3, 2, 2}, {1e300, -1e300}, {math.Inf(1), 0}, {math.Inf(-1), 0},
		{math.Inf(-1), math.Inf(-1)}, {math.NaN(), 1}, {5},
	}
	for range 200 {
		z := make([]float64, 1+rng.IntN(6))
		for i := range z {
			z[i] = rng.NormFloat64() * 10
		}
		cases = append(cases, z)
	}
	for _, c := range cases {
		got, want := append([]float64(nil), c...), append([]float64(nil), c...)
		lg, lw := SoftmaxInPlace(got), softmaxRef(want)
		if math.Float64bits(lg) != math.Float64bits(lw) && !(math.IsNaN(lg) && math.IsNaN(lw)) {
			t.Errorf("%v: log-sum-exp %v, want %v", c, lg, lw)
		}
		for i := range got {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
				t.Errorf("%v: softmax %v, want %v", c, got, want)
				break
			}
		}
	}
}
