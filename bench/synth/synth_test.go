package synth

import (
	"bytes"
	"encoding/csv"
	"math"
	"strconv"
	"strings"
	"testing"
)

// parsed is a generated file read back with encoding/csv.
type parsed struct {
	header []string
	rows   [][]string
}

func generate(t testing.TB, cfg Config) (*Summary, *parsed, []byte) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := Generate(&buf, cfg)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", cfg, err)
	}
	if sum.Bytes != int64(buf.Len()) {
		t.Fatalf("Summary.Bytes = %d, wrote %d", sum.Bytes, buf.Len())
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatalf("reading the generated CSV: %v", err)
	}
	return sum, &parsed{header: recs[0], rows: recs[1:]}, buf.Bytes()
}

func TestGenerateShape(t *testing.T) {
	tests := []struct {
		name                    string
		cfg                     Config
		wantInf, wantRed, wantN int
	}{
		{"defaults 20 features", Config{Rows: 3000, Features: 20, Seed: 1}, 8, 4, 8},
		{"two features", Config{Rows: 100, Features: 2, Seed: 2}, 2, 0, 0},
		{"explicit", Config{Rows: 500, Features: 10, Informative: 3, Redundant: 2, Classes: 4, ClustersPerClass: 1, Seed: 3}, 3, 2, 5},
		{"no redundant", Config{Rows: 200, Features: 6, Redundant: -1, Seed: 4}, 3, 0, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sum, p, _ := generate(t, tc.cfg)
			c := sum.Config
			if c.Informative != tc.wantInf || c.Redundant != tc.wantRed || c.Noise() != tc.wantN {
				t.Errorf("informative/redundant/noise = %d/%d/%d, want %d/%d/%d",
					c.Informative, c.Redundant, c.Noise(), tc.wantInf, tc.wantRed, tc.wantN)
			}
			if got, want := len(p.header), tc.cfg.Features+2; got != want {
				t.Fatalf("%d header columns, want %d", got, want)
			}
			for j := range tc.cfg.Features {
				if p.header[j] != FeatureName(j) {
					t.Errorf("header[%d] = %q, want %q", j, p.header[j], FeatureName(j))
				}
			}
			if p.header[c.Features] != LabelColumn || p.header[c.Features+1] != SplitColumn {
				t.Errorf("last header columns = %q, want %q, %q", p.header[c.Features:], LabelColumn, SplitColumn)
			}
			if len(p.rows) != tc.cfg.Rows {
				t.Fatalf("%d rows, want %d", len(p.rows), tc.cfg.Rows)
			}
			classes := map[string]bool{}
			for i, r := range p.rows {
				for j := range c.Features {
					v, err := strconv.ParseFloat(r[j], 64)
					if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
						t.Fatalf("row %d, column %d: %q is not a finite number", i, j, r[j])
					}
				}
				classes[r[c.Features]] = true
				if s := r[c.Features+1]; s != TrainValue && s != TestValue {
					t.Fatalf("row %d: split %q", i, s)
				}
			}
			if len(classes) != c.Classes {
				t.Errorf("%d distinct labels, want %d", len(classes), c.Classes)
			}
		})
	}
}

func TestGenerateDeterministic(t *testing.T) {
	cfg := Config{Rows: 2000, Features: 12, Seed: 42}
	_, _, a := generate(t, cfg)
	_, _, b := generate(t, cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("the same seed gave different files")
	}
	cfg.Seed = 43
	_, _, c := generate(t, cfg)
	if bytes.Equal(a, c) {
		t.Fatal("different seeds gave the same file")
	}
}

func TestGenerateStratifiedSplit(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"balanced 3 classes", Config{Rows: 10000, Features: 5, Seed: 7}},
		{"odd sizes", Config{Rows: 1237, Features: 4, Classes: 5, ClustersPerClass: 1, FlipY: 0.3, Seed: 8}},
		{"30 percent test", Config{Rows: 999, Features: 3, TestFraction: 0.3, Seed: 9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sum, p, _ := generate(t, tc.cfg)
			c := sum.Config
			if want := int(math.Round(float64(c.Rows) * c.TestFraction)); sum.TestRows != want {
				t.Errorf("%d test rows, want round(%d × %g) = %d", sum.TestRows, c.Rows, c.TestFraction, want)
			}
			total, test := map[string]int{}, map[string]int{}
			nTest := 0
			for _, r := range p.rows {
				total[r[c.Features]]++
				if r[c.Features+1] == TestValue {
					test[r[c.Features]]++
					nTest++
				}
			}
			if nTest != sum.TestRows {
				t.Errorf("file has %d test rows, summary says %d", nTest, sum.TestRows)
			}
			for k, cnt := range sum.ClassCounts {
				name := ClassName(k)
				if total[name] != cnt {
					t.Errorf("class %s: %d rows in the file, summary says %d", name, total[name], cnt)
				}
				// Largest remainder: every class is within one row of its
				// exact share.
				if want := float64(cnt) * c.TestFraction; math.Abs(float64(test[name])-want) > 1 {
					t.Errorf("class %s: %d test rows of %d, want %.1f ± 1", name, test[name], cnt, want)
				}
			}
		})
	}
}

// TestGenerateSignal checks that the informative features carry the class:
// the per-class means of some feature differ by far more than their
// standard error, while the class sizes stay balanced.
func TestGenerateSignal(t *testing.T) {
	sum, p, _ := generate(t, Config{Rows: 6000, Features: 10, Seed: 11})
	c := sum.Config
	for k, cnt := range sum.ClassCounts {
		if want := float64(c.Rows) / float64(c.Classes); math.Abs(float64(cnt)-want) > 0.03*want {
			t.Errorf("class %d has %d rows, want about %.0f", k, cnt, want)
		}
	}
	best := 0.0
	for j := range c.Features {
		sums := make(map[string]float64)
		counts := make(map[string]float64)
		var all, all2 float64
		for _, r := range p.rows {
			v, _ := strconv.ParseFloat(r[j], 64)
			sums[r[c.Features]] += v
			counts[r[c.Features]]++
			all += v
			all2 += v * v
		}
		n := float64(len(p.rows))
		sd := math.Sqrt(all2/n - (all/n)*(all/n))
		lo, hi := math.Inf(1), math.Inf(-1)
		for name, s := range sums {
			m := s / counts[name]
			lo, hi = math.Min(lo, m), math.Max(hi, m)
		}
		best = math.Max(best, (hi-lo)/sd)
	}
	// Standard error of a class mean is sd/sqrt(2000) ≈ 0.022 sd; a spread
	// of 0.3 sd is over ten standard errors.
	if best < 0.3 {
		t.Errorf("largest spread of class means is %.3f standard deviations; the classes carry no signal", best)
	}
}

func TestGenerateMissing(t *testing.T) {
	sum, p, _ := generate(t, Config{Rows: 4000, Features: 5, MissingFraction: 0.1, Seed: 5})
	empty := 0
	for _, r := range p.rows {
		for j := range sum.Config.Features {
			if r[j] == "" {
				empty++
			}
		}
		if r[sum.Config.Features] == "" {
			t.Fatal("a label is missing; only features may be")
		}
	}
	cells := float64(4000 * 5)
	if got := float64(empty) / cells; math.Abs(got-0.1) > 0.01 {
		t.Errorf("missing share %.4f, want 0.1 ± 0.01", got)
	}
}

func TestNormalizeErrors(t *testing.T) {
	tests := []struct {
		cfg   Config
		field string
	}{
		{Config{Rows: 100, Features: 0}, "features"},
		{Config{Rows: 5, Features: 3}, "rows"},
		{Config{Rows: 100, Features: 3, Classes: 1}, "classes"},
		{Config{Rows: 100, Features: 3, Informative: 4}, "informative"},
		{Config{Rows: 100, Features: 3, Informative: 1}, "informative"}, // 2 vertices < 6 clusters
		{Config{Rows: 100, Features: 4, Informative: 3, Redundant: 2}, "redundant"},
		{Config{Rows: 100, Features: 3, ClassSep: -1}, "class separation"},
		{Config{Rows: 100, Features: 3, ClassSep: math.NaN()}, "class separation"},
		{Config{Rows: 100, Features: 3, FlipY: 2}, "flip y"},
		{Config{Rows: 100, Features: 3, TestFraction: 1}, "test fraction"},
		{Config{Rows: 100, Features: 3, MissingFraction: 1}, "missing fraction"},
		{Config{Rows: 100, Features: 3, ClustersPerClass: 65}, "clusters per class"},
	}
	for _, tc := range tests {
		_, err := tc.cfg.Normalize()
		if err == nil || !strings.HasPrefix(err.Error(), tc.field+":") {
			t.Errorf("Normalize(%+v) = %v, want an error on %q", tc.cfg, err, tc.field)
		}
	}
}

func TestStratifiedSplitTinyClasses(t *testing.T) {
	// A class of one row stays in train; a class of two gives one to test
	// only if its quota allows.
	labels := []int32{0, 1, 1, 2, 2, 2, 2, 2, 2, 2}
	test := StratifiedSplit(labels, 3, 0.2, 1)
	n := 0
	for i, isTest := range test {
		if isTest {
			n++
			if labels[i] == 0 {
				t.Error("the only row of class 0 went to test")
			}
		}
	}
	if n != 2 {
		t.Errorf("%d test rows, want round(10 × 0.2) = 2", n)
	}
}

// FuzzGenerate checks that any configuration either fails Normalize with
// an error or yields a well-formed file of the right shape.
func FuzzGenerate(f *testing.F) {
	f.Add(30, 4, 0, 0, 0, 0, 0.0, 0.0, 0.0, uint64(1))
	f.Add(12, 2, 2, -1, 2, 1, 0.5, -1.0, 0.5, uint64(2))
	f.Add(60, 70, 64, 3, 3, 2, 3.0, 0.2, 0.1, uint64(3))
	f.Fuzz(func(t *testing.T, rows, features, inf, red, classes, clusters int, sep, flip, testFrac float64, seed uint64) {
		if rows > 300 || features > 80 || classes > 10 || clusters > 8 {
			t.Skip("kept small so the fuzzer stays fast")
		}
		cfg := Config{Rows: rows, Features: features, Informative: inf, Redundant: red, Classes: classes,
			ClustersPerClass: clusters, ClassSep: sep, FlipY: flip, TestFraction: testFrac, Seed: seed}
		c, err := cfg.Normalize()
		if err != nil {
			return
		}
		var buf bytes.Buffer
		sum, err := Generate(&buf, cfg)
		if err != nil {
			t.Fatalf("Normalize accepted %+v but Generate failed: %v", cfg, err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("unreadable CSV: %v", err)
		}
		if len(recs) != c.Rows+1 || len(recs[0]) != c.Features+2 {
			t.Fatalf("%d records of %d fields, want %d of %d", len(recs), len(recs[0]), c.Rows+1, c.Features+2)
		}
		if sum.TestRows == 0 || sum.TestRows >= c.Rows {
			t.Fatalf("%d test rows of %d", sum.TestRows, c.Rows)
		}
	})
}
