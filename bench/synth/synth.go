// Package synth generates the synthetic classification data of alur's
// benchmark: a seeded CSV file that alur and scikit-learn both read, with a
// "split" column so both train and test on exactly the same rows.
//
// The data follow the design of Guyon's NIPS 2003 feature-selection
// benchmark, the one scikit-learn's make_classification implements: every
// class is a few Gaussian clusters centred on vertices of a hypercube in the
// informative subspace, each cluster with its own random covariance; then
// redundant features (random linear combinations of the informative ones)
// and pure-noise features are added, a small fraction of labels is flipped,
// and rows and feature columns are shuffled. The code is written from that
// description, not taken from scikit-learn, and draws every random number
// from its own PCG-based helpers so that a seed gives the same file on every
// platform and Go release.
package synth

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"sort"
	"strconv"
)

// Column names of the generated file besides the features f0, f1, ...
const (
	// LabelColumn holds the class, "class_0", "class_1", ...
	LabelColumn = "label"
	// SplitColumn holds "train" or "test".
	SplitColumn = "split"
)

// Split values written to SplitColumn.
const (
	TrainValue = "train"
	TestValue  = "test"
)

// Limits that keep a mistyped flag from filling the disk.
const (
	// MaxRows bounds Config.Rows.
	MaxRows = 100_000_000
	// MaxFeatures bounds Config.Features.
	MaxFeatures = 10_000
	// MaxClasses bounds Config.Classes.
	MaxClasses = 1_000
	// maxInformativeBits is the number of informative features above which
	// hypercube vertices are drawn as independent random signs rather than
	// as distinct integers; with so many dimensions a collision is
	// practically impossible, and it is still checked.
	maxInformativeBits = 62
)

// Config describes the data set. Zero values of the optional fields take
// the defaults documented on each; Normalize fills them in.
type Config struct {
	// Rows is the number of data rows (required, at least 2 per class).
	Rows int
	// Features is the number of feature columns (required).
	Features int
	// Informative is the number of features that carry the class signal;
	// 0 means 40% of Features, at least 2 and at least enough for a
	// distinct hypercube vertex per cluster, at most Features.
	Informative int
	// Redundant is the number of random linear combinations of the
	// informative features; -1 means none, 0 means 20% of Features (within
	// what is left after the informative ones). The rest are noise.
	Redundant int
	// Classes is the number of classes; 0 means 3.
	Classes int
	// ClustersPerClass is the number of Gaussian clusters of each class;
	// 0 means 2, or 1 when there are too few features for 2.
	ClustersPerClass int
	// ClassSep is half the side of the hypercube whose vertices hold the
	// cluster centres; larger is easier. 0 means 1.
	ClassSep float64
	// FlipY is the fraction of rows whose label is replaced by a uniformly
	// drawn class (it may draw the same one), which caps the reachable
	// accuracy; 0 means 0.01, -1 means none.
	FlipY float64
	// TestFraction is the share of every class marked "test"; 0 means 0.2.
	TestFraction float64
	// MissingFraction is the probability that a feature cell is left
	// empty (missing), to exercise imputation; 0 means none.
	MissingFraction float64
	// Seed makes the file reproducible.
	Seed uint64
}

// Normalize returns cfg with defaults filled in, or an error naming the
// first invalid field.
func (cfg Config) Normalize() (Config, error) {
	c := cfg
	if c.Features < 1 || c.Features > MaxFeatures {
		return c, fmt.Errorf("features: %d is outside [1, %d]", c.Features, MaxFeatures)
	}
	if c.Classes == 0 {
		c.Classes = 3
	}
	if c.Classes < 2 || c.Classes > MaxClasses {
		return c, fmt.Errorf("classes: %d is outside [2, %d]", c.Classes, MaxClasses)
	}
	if c.Rows < 2*c.Classes || c.Rows > MaxRows {
		return c, fmt.Errorf("rows: %d is outside [%d, %d] (at least 2 rows per class)", c.Rows, 2*c.Classes, MaxRows)
	}
	if c.ClustersPerClass == 0 {
		c.ClustersPerClass = 2
		if vertexBits(2*c.Classes) > c.Features {
			c.ClustersPerClass = 1 // too few features to host two clusters per class
		}
	}
	if c.ClustersPerClass < 1 || c.ClustersPerClass > 64 {
		return c, fmt.Errorf("clusters per class: %d is outside [1, 64]", c.ClustersPerClass)
	}
	if c.Informative == 0 {
		c.Informative = min(max(2, vertexBits(c.Classes*c.ClustersPerClass), int(math.Round(0.4*float64(c.Features)))), c.Features)
	}
	if c.Informative < 1 || c.Informative > c.Features {
		return c, fmt.Errorf("informative: %d is outside [1, features=%d]", c.Informative, c.Features)
	}
	// The clusters need distinct vertices of the informative hypercube.
	if c.Informative < maxInformativeBits && c.Classes*c.ClustersPerClass > 1<<c.Informative {
		return c, fmt.Errorf("informative: %d features give %d hypercube vertices, fewer than classes × clusters per class = %d",
			c.Informative, 1<<c.Informative, c.Classes*c.ClustersPerClass)
	}
	switch {
	case c.Redundant == -1:
		c.Redundant = 0
	case c.Redundant == 0:
		c.Redundant = min(int(math.Round(0.2*float64(c.Features))), c.Features-c.Informative)
	case c.Redundant < 0 || c.Informative+c.Redundant > c.Features:
		return c, fmt.Errorf("redundant: %d is outside [0, features − informative = %d]", c.Redundant, c.Features-c.Informative)
	}
	if c.ClassSep == 0 {
		c.ClassSep = 1
	}
	if !(c.ClassSep > 0) || math.IsInf(c.ClassSep, 0) {
		return c, fmt.Errorf("class separation: %g must be a positive finite number", c.ClassSep)
	}
	switch {
	case c.FlipY == -1:
		c.FlipY = 0
	case c.FlipY == 0:
		c.FlipY = 0.01
	case !(c.FlipY >= 0 && c.FlipY <= 1):
		return c, fmt.Errorf("flip y: %g is outside [0, 1]", c.FlipY)
	}
	if c.TestFraction == 0 {
		c.TestFraction = 0.2
	}
	if !(c.TestFraction > 0 && c.TestFraction < 1) {
		return c, fmt.Errorf("test fraction: %g is outside (0, 1)", c.TestFraction)
	}
	if !(c.MissingFraction >= 0 && c.MissingFraction < 1) {
		return c, fmt.Errorf("missing fraction: %g is outside [0, 1)", c.MissingFraction)
	}
	return c, nil
}

// vertexBits is the hypercube dimension needed for k distinct vertices:
// ceil(log2 k).
func vertexBits(k int) int { return bits.Len(uint(k - 1)) }

// Noise returns the number of pure-noise features of a normalized config.
func (cfg Config) Noise() int { return cfg.Features - cfg.Informative - cfg.Redundant }

// ClassName is the label text of class k.
func ClassName(k int) string { return "class_" + strconv.Itoa(k) }

// FeatureName is the header of feature column j.
func FeatureName(j int) string { return "f" + strconv.Itoa(j) }

// Summary describes a generated file.
type Summary struct {
	// Config is the normalized configuration used.
	Config Config
	// Bytes is the size of the CSV text written.
	Bytes int64
	// ClassCounts is the number of rows of each class (after label flips).
	ClassCounts []int
	// TestRows is the number of rows marked "test".
	TestRows int
}

// Generate writes the CSV file cfg describes to w: a header
// "f0,...,f{F-1},label,split", then one line per row. Feature values are
// written with 7 significant digits, about single precision, which keeps
// the file a realistic size. Generate holds only per-row bookkeeping in
// memory (a few bytes a row), never the feature matrix.
func Generate(w io.Writer, cfg Config) (*Summary, error) {
	c, err := cfg.Normalize()
	if err != nil {
		return nil, err
	}
	rng := newRNG(c.Seed)
	m := newModel(c, rng)

	// Which cluster every row comes from: as even as possible over the
	// clusters, in a shuffled order (shuffling the rows up front lets every
	// row be drawn and written in file order).
	k := c.Classes * c.ClustersPerClass
	cluster := make([]int32, c.Rows)
	for i := range cluster {
		cluster[i] = int32(i % k)
	}
	rng.shuffle(len(cluster), func(i, j int) { cluster[i], cluster[j] = cluster[j], cluster[i] })
	labels := make([]int32, c.Rows)
	for i, cl := range cluster {
		labels[i] = cl % int32(c.Classes)
		if c.FlipY > 0 && rng.float64() < c.FlipY {
			labels[i] = int32(rng.intN(c.Classes))
		}
	}
	test := StratifiedSplit(labels, c.Classes, c.TestFraction, c.Seed)

	sum := &Summary{Config: c, ClassCounts: make([]int, c.Classes)}
	for i, l := range labels {
		sum.ClassCounts[l]++
		if test[i] {
			sum.TestRows++
		}
	}

	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 1<<20)
	line := make([]byte, 0, 64*c.Features)
	for j := 0; j < c.Features; j++ {
		line = append(line, FeatureName(j)...)
		line = append(line, ',')
	}
	line = append(line, LabelColumn+","+SplitColumn+"\n"...)
	if _, err := bw.Write(line); err != nil {
		return nil, err
	}
	row := make([]float64, c.Features)
	for i := range c.Rows {
		m.draw(rng, int(cluster[i]), row)
		line = line[:0]
		for _, v := range row {
			if c.MissingFraction == 0 || rng.float64() >= c.MissingFraction {
				line = strconv.AppendFloat(line, v, 'g', 7, 64)
			}
			line = append(line, ',')
		}
		line = append(line, ClassName(int(labels[i]))...)
		if test[i] {
			line = append(line, ","+TestValue+"\n"...)
		} else {
			line = append(line, ","+TrainValue+"\n"...)
		}
		if _, err := bw.Write(line); err != nil {
			return nil, err
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	sum.Bytes = cw.n
	return sum, nil
}

// model is the drawn structure of the data: cluster centres and
// covariance factors, redundant-feature weights and the column order.
type model struct {
	inf, red, noise int
	// centres[c] is cluster c's centre in the informative subspace.
	centres [][]float64
	// factors[c] is an inf×inf matrix A (row-major): a cluster point is
	// z·A + centre with z standard normal, so its covariance is AᵀA.
	factors [][]float64
	// mix is inf×red (row-major): redundant = informative · mix.
	mix []float64
	// perm maps a generated feature index to its column in the file.
	perm []int
	// scratch holds one row before the column shuffle.
	z, scratch []float64
}

func newModel(c Config, rng *rng) *model {
	m := &model{inf: c.Informative, red: c.Redundant, noise: c.Noise()}
	k := c.Classes * c.ClustersPerClass
	for _, v := range rng.vertices(k, m.inf) {
		centre := make([]float64, m.inf)
		for d := range centre {
			if v[d] {
				centre[d] = c.ClassSep
			} else {
				centre[d] = -c.ClassSep
			}
		}
		m.centres = append(m.centres, centre)
	}
	for range k {
		a := make([]float64, m.inf*m.inf)
		for i := range a {
			a[i] = 2*rng.float64() - 1
		}
		m.factors = append(m.factors, a)
	}
	m.mix = make([]float64, m.inf*m.red)
	for i := range m.mix {
		m.mix[i] = 2*rng.float64() - 1
	}
	m.perm = make([]int, c.Features)
	for i := range m.perm {
		m.perm[i] = i
	}
	rng.shuffle(len(m.perm), func(i, j int) { m.perm[i], m.perm[j] = m.perm[j], m.perm[i] })
	m.z = make([]float64, m.inf)
	m.scratch = make([]float64, c.Features)
	return m
}

// draw fills row with one point of cluster cl, in file column order.
func (m *model) draw(rng *rng, cl int, row []float64) {
	for d := range m.z {
		m.z[d] = rng.normal()
	}
	x := m.scratch
	a, centre := m.factors[cl], m.centres[cl]
	for j := 0; j < m.inf; j++ {
		s := centre[j]
		for d, zd := range m.z {
			s += zd * a[d*m.inf+j]
		}
		x[j] = s
	}
	for r := 0; r < m.red; r++ {
		s := 0.0
		for j := 0; j < m.inf; j++ {
			s += x[j] * m.mix[j*m.red+r]
		}
		x[m.inf+r] = s
	}
	for n := 0; n < m.noise; n++ {
		x[m.inf+m.red+n] = rng.normal()
	}
	for i, v := range x {
		row[m.perm[i]] = v
	}
}

// StratifiedSplit marks round(n × testFraction) of the rows as test,
// spread over the classes in proportion to their sizes by the
// largest-remainder (Hamilton) method, so every class keeps its share in
// both sets (within one row). At least one row goes to test, and no class
// gives up its last row, so every class can be learnt. labels holds class
// indexes in [0, classes); the rows drawn within a class come from a seeded
// shuffle. It returns one flag per row, true for test.
func StratifiedSplit(labels []int32, classes int, testFraction float64, seed uint64) []bool {
	groups := make([][]int, classes)
	for i, l := range labels {
		groups[l] = append(groups[l], i)
	}
	n := len(labels)
	quota := make([]float64, classes)
	take := make([]int, classes)
	room := make([]int, classes)
	given := 0
	for k, g := range groups {
		quota[k] = float64(len(g)) * testFraction
		room[k] = max(len(g)-1, 0)
		take[k] = min(int(math.Floor(quota[k])), room[k])
		given += take[k]
	}
	total := min(max(int(math.Round(float64(n)*testFraction)), 1), sumInts(room))
	order := make([]int, classes)
	for k := range order {
		order[k] = k
	}
	sort.SliceStable(order, func(a, b int) bool {
		ra, rb := quota[order[a]]-float64(take[order[a]]), quota[order[b]]-float64(take[order[b]])
		return ra > rb
	})
	for given < total {
		progressed := false
		for _, k := range order {
			if given == total {
				break
			}
			if take[k] < room[k] {
				take[k]++
				given++
				progressed = true
			}
		}
		if !progressed {
			break
		}
	}
	test := make([]bool, n)
	rng := newRNG(seed ^ 0x73706c6974) // "split": independent of the data draw
	for k, g := range groups {
		rows := append([]int(nil), g...)
		rng.shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		for _, r := range rows[:take[k]] {
			test[r] = true
		}
	}
	return test
}

// sumInts returns the sum of xs.
func sumInts(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

// rng is a PCG generator (O'Neill, 2014) with the few draws the generator
// needs written out here, so the sequence for a seed never depends on the
// standard library's choice of algorithms.
type rng struct{ src *rand.PCG }

func newRNG(seed uint64) *rng { return &rng{src: rand.NewPCG(seed, 0x616c75722d626e63)} } // "alur-bnc"

// float64 returns a uniform number in [0, 1) from the top 53 bits.
func (r *rng) float64() float64 { return float64(r.src.Uint64()>>11) / (1 << 53) }

// intN returns a uniform integer in [0, n) by Lemire's multiply-and-reject
// method ("Fast random integer generation in an interval", 2019).
func (r *rng) intN(n int) int {
	bound := uint64(n)
	hi, lo := bits.Mul64(r.src.Uint64(), bound)
	if lo < bound {
		thresh := -bound % bound
		for lo < thresh {
			hi, lo = bits.Mul64(r.src.Uint64(), bound)
		}
	}
	return int(hi)
}

// normal returns a standard normal number by the Box–Muller transform
// (Box & Muller, 1958), using one of the pair.
func (r *rng) normal() float64 {
	u1 := 1 - r.float64() // (0, 1]: log(u1) is finite
	u2 := r.float64()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// shuffle is the Fisher–Yates shuffle (Knuth, TAOCP vol. 2, Algorithm P).
func (r *rng) shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		swap(i, r.intN(i+1))
	}
}

// vertices draws k distinct vertices of the dim-dimensional hypercube, as
// one bool per coordinate (true for +).
func (r *rng) vertices(k, dim int) [][]bool {
	out := make([][]bool, 0, k)
	seen := make(map[string]bool, k)
	key := make([]byte, dim)
	for len(out) < k {
		v := make([]bool, dim)
		for d := range v {
			v[d] = r.src.Uint64()>>63 == 1
			key[d] = '0'
			if v[d] {
				key[d] = '1'
			}
		}
		if seen[string(key)] {
			continue // Normalize guarantees enough vertices exist
		}
		seen[string(key)] = true
		out = append(out, v)
	}
	return out
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err == nil && n < len(p) {
		err = errors.New("short write")
	}
	return n, err
}
