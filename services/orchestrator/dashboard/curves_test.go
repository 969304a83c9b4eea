package dashboard

import (
	"math"
	"math/rand/v2"
	"testing"
)

const tol = 1e-12

func near(a, b, eps float64) bool { return math.Abs(a-b) <= eps || (math.IsNaN(a) && math.IsNaN(b)) }

// TestRocPRHandComputed checks curves worked out by hand.
func TestRocPRHandComputed(t *testing.T) {
	tests := []struct {
		name     string
		scores   []float64
		positive []bool
		roc, pr  []curvePoint
		auc, ap  float64
	}{
		{
			name:     "perfect",
			scores:   []float64{0.9, 0.8, 0.3, 0.1},
			positive: []bool{true, true, false, false},
			roc:      []curvePoint{{0, 0}, {0, 0.5}, {0, 1}, {0.5, 1}, {1, 1}},
			pr:       []curvePoint{{0, 1}, {0.5, 1}, {1, 1}, {1, 2.0 / 3}, {1, 0.5}},
			auc:      1, ap: 1,
		},
		{
			// Sorted: 0.8+ 0.6- 0.4+ 0.2-.
			name:     "one swap",
			scores:   []float64{0.4, 0.2, 0.8, 0.6},
			positive: []bool{true, false, true, false},
			roc:      []curvePoint{{0, 0}, {0, 0.5}, {0.5, 0.5}, {0.5, 1}, {1, 1}},
			pr:       []curvePoint{{0, 1}, {0.5, 1}, {0.5, 0.5}, {1, 2.0 / 3}, {1, 0.5}},
			auc:      0.75, ap: 0.5*1 + 0.5*2.0/3,
		},
		{
			// All scores tied: one diagonal step, AUC one half.
			name:     "ties",
			scores:   []float64{0.5, 0.5, 0.5, 0.5},
			positive: []bool{true, false, true, false},
			roc:      []curvePoint{{0, 0}, {1, 1}},
			pr:       []curvePoint{{0, 0.5}, {1, 0.5}},
			auc:      0.5, ap: 0.5,
		},
		{
			name:     "NaN skipped",
			scores:   []float64{0.9, math.NaN(), 0.1},
			positive: []bool{true, true, false},
			roc:      []curvePoint{{0, 0}, {0, 1}, {1, 1}},
			pr:       []curvePoint{{0, 1}, {1, 1}, {1, 0.5}},
			auc:      1, ap: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := rocPR(tc.scores, tc.positive)
			if err != nil {
				t.Fatal(err)
			}
			same := func(what string, got, want []curvePoint) {
				if len(got) != len(want) {
					t.Fatalf("%s: %v, want %v", what, got, want)
				}
				for i := range got {
					if !near(got[i].X, want[i].X, tol) || !near(got[i].Y, want[i].Y, tol) {
						t.Fatalf("%s: %v, want %v", what, got, want)
					}
				}
			}
			same("ROC", c.ROC, tc.roc)
			same("PR", c.PR, tc.pr)
			if !near(c.AUC, tc.auc, tol) || !near(c.AP, tc.ap, tol) {
				t.Errorf("AUC %v AP %v, want %v %v", c.AUC, c.AP, tc.auc, tc.ap)
			}
		})
	}
	if _, err := rocPR([]float64{1, 2}, []bool{true, true}); err == nil {
		t.Error("one class only: no error")
	}
	if _, err := rocPR([]float64{1}, []bool{true, false}); err == nil {
		t.Error("length mismatch: no error")
	}
}

// TestAUCIsMannWhitney checks the trapezoidal AUC against its definition:
// the chance that a random positive outscores a random negative, ties
// counting one half (the Mann–Whitney U statistic over n₊n₋).
func TestAUCIsMannWhitney(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		n := 2 + rng.IntN(60)
		scores := make([]float64, n)
		positive := make([]bool, n)
		for i := range n {
			scores[i] = math.Round(rng.Float64()*10) / 10 // many ties
			positive[i] = rng.IntN(2) == 0
		}
		positive[0], positive[1] = true, false
		c, err := rocPR(scores, positive)
		if err != nil {
			t.Fatal(err)
		}
		var u, pairs float64
		for i := range n {
			for j := range n {
				if !positive[i] || positive[j] {
					continue
				}
				pairs++
				switch {
				case scores[i] > scores[j]:
					u++
				case scores[i] == scores[j]:
					u += 0.5
				}
			}
		}
		if want := u / pairs; !near(c.AUC, want, 1e-9) {
			t.Fatalf("trial %d: AUC %v, Mann–Whitney %v", trial, c.AUC, want)
		}
		if c.AP < 0 || c.AP > 1+1e-12 {
			t.Fatalf("trial %d: AP %v outside [0, 1]", trial, c.AP)
		}
	}
}

func TestThinCurve(t *testing.T) {
	var pts []curvePoint
	for i := range 10001 {
		x := float64(i) / 10000
		pts = append(pts, curvePoint{x, math.Sqrt(x)})
	}
	thin := thinCurve(pts, 300)
	if len(thin) > 2*300 || len(thin) < 50 {
		t.Errorf("%d points kept of %d", len(thin), len(pts))
	}
	if thin[0] != pts[0] || thin[len(thin)-1] != pts[len(pts)-1] {
		t.Error("the ends are not kept")
	}
	if got := thinCurve(pts[:5], 300); len(got) != 5 {
		t.Errorf("a short curve changed: %d points", len(got))
	}
}

func TestPearson(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		x, y []float64
		want float64
	}{
		{"perfect", []float64{1, 2, 3, 4}, []float64{2, 4, 6, 8}, 1},
		{"opposite", []float64{1, 2, 3, 4}, []float64{8, 6, 4, 2}, -1},
		// Hand-computed: mean 3 and 4; Σdxdy = 6, Σdx² = 10, Σdy² = 10.
		{"partial", []float64{1, 2, 3, 4, 5}, []float64{3, 5, 4, 2, 6}, 0.3},
		{"missing skipped", []float64{1, nan, 2, 3, 4}, []float64{2, 100, 4, 6, 8}, 1},
		{"constant", []float64{1, 1, 1}, []float64{1, 2, 3}, nan},
		{"too few", []float64{1, 2}, []float64{1, 2}, nan},
		{"shifted large", []float64{1e9 + 1, 1e9 + 2, 1e9 + 3}, []float64{1, 2, 3}, 1},
	}
	for _, tc := range tests {
		if got := pearson(tc.x, tc.y); !near(got, tc.want, 1e-9) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSampleRows(t *testing.T) {
	if got := sampleRows(5, 10); len(got) != 5 || got[4] != 4 {
		t.Errorf("all rows: %v", got)
	}
	got := sampleRows(1000, 10)
	if len(got) != 10 || got[0] != 0 || got[9] != 900 {
		t.Errorf("sample: %v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("not increasing: %v", got)
		}
	}
	if sampleRows(0, 10) != nil {
		t.Error("no rows: want nil")
	}
}

func TestMinSpan(t *testing.T) {
	tests := []struct{ lo, hi, wantLo, wantHi float64 }{
		{0.5, 0.52, 0.46, 0.56}, // widened around the centre
		{0.95, 0.97, 0.9, 1},    // and kept under the top
		{0.2, 0.9, 0.2, 0.9},    // wide enough already
	}
	for _, tc := range tests {
		lo, hi := minSpan(tc.lo, tc.hi, 0.1, 1)
		if !near(lo, tc.wantLo, 1e-12) || !near(hi, tc.wantHi, 1e-12) {
			t.Errorf("minSpan(%v, %v) = %v, %v; want %v, %v", tc.lo, tc.hi, lo, hi, tc.wantLo, tc.wantHi)
		}
	}
}

func FuzzRocPR(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6}, []byte{1, 0, 1, 0, 1, 0})
	f.Fuzz(func(t *testing.T, s, l []byte) {
		n := min(len(s), len(l))
		scores := make([]float64, n)
		positive := make([]bool, n)
		for i := range n {
			scores[i] = float64(s[i]) / 255
			if s[i] == 255 {
				scores[i] = math.NaN()
			}
			positive[i] = l[i]%2 == 1
		}
		c, err := rocPR(scores, positive)
		if err != nil {
			return
		}
		if c.AUC < -1e-12 || c.AUC > 1+1e-12 || c.AP < -1e-12 || c.AP > 1+1e-12 {
			t.Fatalf("AUC %v AP %v outside [0, 1]", c.AUC, c.AP)
		}
		last := c.ROC[len(c.ROC)-1]
		if !near(last.X, 1, 1e-12) || !near(last.Y, 1, 1e-12) {
			t.Fatalf("ROC ends at %v", last)
		}
		for i := 1; i < len(c.ROC); i++ {
			if c.ROC[i].X < c.ROC[i-1].X || c.ROC[i].Y < c.ROC[i-1].Y {
				t.Fatalf("ROC not monotone: %v", c.ROC)
			}
		}
	})
}
