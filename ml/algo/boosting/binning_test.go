package boosting

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestBinEdges(t *testing.T) {
	inf := math.Inf(1)
	seq := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(i)
		}
		return v
	}
	ties := append(make([]float64, 900), seq(101)[1:]...) // 900 zeros, then 1..100
	for _, tc := range []struct {
		name    string
		vals    []float64
		maxBins int
		want    []float64 // nil: check only the properties
		perBin  int       // when > 0, every bin holds this many values ±1
	}{
		{"empty", nil, 255, []float64{}, 0},
		{"constant", []float64{5, 5, 5}, 255, []float64{}, 0},
		{"few distinct", []float64{1, 1, 2, 3, 3}, 4, []float64{1.5, 2.5}, 0},
		{"distinct equals max bins", []float64{1, 2, 3, 4}, 4, []float64{1.5, 2.5, 3.5}, 0},
		{"infinite top", []float64{1, 2, inf, inf}, 255, []float64{1.5, 2}, 0},
		{"huge neighbours", []float64{-math.MaxFloat64, math.MaxFloat64}, 255, []float64{0}, 0},
		{"quantiles", seq(1000), 10, nil, 100},
		{"quantiles 255", seq(25500), 255, nil, 100},
		{"ties merge", ties, 10, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edges := binEdges(tc.vals, tc.maxBins)
			if tc.want != nil && !slices.Equal(edges, tc.want) && !(len(edges) == 0 && len(tc.want) == 0) {
				t.Fatalf("edges %v, want %v", edges, tc.want)
			}
			binCheckEdges(t, tc.vals, edges, tc.maxBins)
			if tc.perBin > 0 {
				m := newBinMapper([][]float64{edges})
				counts := make([]int, m.numBins(0))
				for _, v := range tc.vals {
					counts[m.bin(0, v)]++
				}
				for b, c := range counts[1:] {
					if c < tc.perBin-1 || c > tc.perBin+1 {
						t.Errorf("bin %d holds %d values, want %d±1", b+1, c, tc.perBin)
					}
				}
			}
		})
	}
	// With long runs of ties the run gets one bin and the other values
	// share the rest.
	edges := binEdges(ties, 10)
	if edges[0] != 0 || len(edges) < 2 {
		t.Errorf("ties: edges %v, want 0 first then cuts among 1..100", edges)
	}
}

// binCheckEdges checks the properties every edge list has: strictly
// ascending, at most maxBins−1 edges, none at or above the largest value
// (so the top bin is never empty), and, when every value fits its own bin,
// one distinct value per bin.
func binCheckEdges(t *testing.T, vals, edges []float64, maxBins int) {
	t.Helper()
	if len(edges) > maxBins-1 {
		t.Fatalf("%d edges for %d bins", len(edges), maxBins)
	}
	for i := 1; i < len(edges); i++ {
		if !(edges[i] > edges[i-1]) {
			t.Fatalf("edges not strictly ascending at %d: %v", i, edges)
		}
	}
	for _, e := range edges {
		if math.IsNaN(e) || e >= vals[len(vals)-1] || e < vals[0] {
			t.Fatalf("edge %g outside [%g, %g)", e, vals[0], vals[len(vals)-1])
		}
	}
	distinct := 0
	for i := range vals {
		if i == 0 || vals[i] != vals[i-1] {
			distinct++
		}
	}
	if distinct <= maxBins && len(edges) != max(0, distinct-1) {
		t.Fatalf("%d distinct values got %d edges", distinct, len(edges))
	}
}

// TestBinThresholdsMatchCodes checks the invariant tree growth relies on:
// a value's bin is b exactly when the value is above the threshold of
// "bins < b go left" and at or below that of "bins <= b go left", with NaN
// and −Inf in bin 0, which every threshold sends left.
func TestBinThresholdsMatchCodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	specials := []float64{math.NaN(), math.Inf(-1), math.Inf(1), 0, math.Copysign(0, -1), math.MaxFloat64, -math.MaxFloat64, 5e-324}
	const n, p = 3000, 4
	X := mat.NewDense(n, p, nil)
	for i := range n {
		X.Set(i, 0, rng.NormFloat64())
		X.Set(i, 1, math.Round(rng.NormFloat64()*3))
		X.Set(i, 2, specials[rng.IntN(len(specials))])
		X.Set(i, 3, rng.ExpFloat64()*1e10)
	}
	for _, maxBins := range []int{2, 7, 255} {
		m := fitBinMapper(X, nil, maxBins, gbBinSubsample, 0, 2)
		d := m.transform(X, nil, 2)
		for f := range p {
			nb := m.numBins(f)
			if nb > maxBins+1 {
				t.Fatalf("feature %d: %d bins for max_bins %d", f, nb, maxBins)
			}
			for i := range n {
				x := X.At(i, f)
				b := int(d.codes[f*n+i])
				if b != int(m.bin(f, x)) || b >= nb {
					t.Fatalf("feature %d row %d: code %d, bin %d of %d", f, i, b, m.bin(f, x), nb)
				}
				goesLeft := func(split int) bool { return x <= m.threshold(f, split) || x != x }
				for split := 0; split < nb-1; split++ {
					if goesLeft(split) != (b <= split) {
						t.Fatalf("feature %d value %g in bin %d: split after bin %d (threshold %g) sends it the other way",
							f, x, b, split, m.threshold(f, split))
					}
				}
			}
		}
	}
}

func TestFitBinMapperSubsampleAndRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, p = 5000, 3
	X := mat.NewDense(n, p, nil)
	for i := range n * p {
		X.RawMatrix().Data[i] = rng.NormFloat64()
	}
	a := fitBinMapper(X, nil, 32, 1000, 7, 1)
	b := fitBinMapper(X, nil, 32, 1000, 7, 3)
	c := fitBinMapper(X, nil, 32, 1000, 8, 2)
	for f := range p {
		if !slices.Equal(a.edges[f], b.edges[f]) {
			t.Errorf("feature %d: edges depend on the number of workers", f)
		}
		if slices.Equal(a.edges[f], c.edges[f]) {
			t.Errorf("feature %d: the subsample does not depend on the seed", f)
		}
		if len(a.edges[f]) != 31 {
			t.Errorf("feature %d: %d edges, want 31", f, len(a.edges[f]))
		}
	}
	rows := []int32{4, 0, 4999, 17}
	d := a.transform(X, rows, 2)
	for r, i := range rows {
		for f := range p {
			if got, want := d.codes[f*len(rows)+r], a.bin(f, X.At(int(i), f)); got != want {
				t.Errorf("row %d feature %d: code %d, want %d", i, f, got, want)
			}
		}
	}
	if d.offs[p] != a.numBins(0)+a.numBins(1)+a.numBins(2) {
		t.Errorf("histogram offsets %v", d.offs)
	}
}

// FuzzBinEdges checks the edge properties on arbitrary values.
func FuzzBinEdges(f *testing.F) {
	f.Add([]byte{4, 0, 0, 0, 0, 0, 0, 240, 63}, uint8(3))
	f.Add(make([]byte, 80), uint8(255))
	f.Fuzz(func(t *testing.T, data []byte, bins uint8) {
		maxBins := max(2, int(bins))
		var vals []float64
		for len(data) >= 8 {
			v := math.Float64frombits(binary.LittleEndian.Uint64(data))
			data = data[8:]
			if v == v && !math.IsInf(v, -1) {
				vals = append(vals, v)
			}
		}
		slices.Sort(vals)
		edges := binEdges(vals, maxBins)
		if len(vals) == 0 {
			if len(edges) != 0 {
				t.Fatalf("edges %v without values", edges)
			}
			return
		}
		binCheckEdges(t, vals, edges, maxBins)
		m := newBinMapper([][]float64{edges})
		for _, v := range vals {
			b := int(m.bin(0, v))
			if b < 1 || b >= m.numBins(0) {
				t.Fatalf("value %g in bin %d of %d", v, b, m.numBins(0))
			}
			if b < m.numBins(0)-1 && !(v <= m.threshold(0, b)) || b > 1 && !(v > m.threshold(0, b-1)) {
				t.Fatalf("value %g in bin %d disagrees with thresholds", v, b)
			}
		}
	})
}

func TestBinSortFloats(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 100, 511, 512, 5000} {
		for _, kind := range []string{"normal", "ties", "specials", "constant"} {
			vals := make([]float64, n)
			for i := range vals {
				switch kind {
				case "normal":
					vals[i] = rng.NormFloat64() * 1e3
				case "ties":
					vals[i] = float64(rng.IntN(7) - 3)
				case "specials":
					vals[i] = []float64{math.Inf(1), math.Copysign(0, -1), 0, -math.MaxFloat64, 5e-324, -5e-324, 1}[rng.IntN(7)]
				case "constant":
					vals[i] = 2.5
				}
			}
			want := slices.Clone(vals)
			slices.Sort(want)
			binSortFloats(vals, nil)
			for i := range vals {
				if vals[i] != want[i] {
					t.Fatalf("n %d %s: position %d holds %g, want %g", n, kind, i, vals[i], want[i])
				}
			}
		}
	}
}
