// Package drift measures how a table changed between two versions of a
// dataset: which columns appeared, vanished or changed type, and how far
// each shared column's distribution moved. It is what tells a user that the
// rows appended to a dataset no longer look like the rows a model was
// trained on.
//
// Distribution shift is measured with two standard tools:
//
//   - The population stability index (PSI), Σ (aᵢ − eᵢ)·ln(aᵢ/eᵢ) over bins
//     with reference shares eᵢ and compared shares aᵢ. Numeric columns are
//     binned at the reference's deciles; categorical and boolean columns use
//     their categories, rare ones pooled as "other". The usual reading, from
//     credit scoring (N. Siddiqi, "Credit Risk Scorecards", Wiley 2006; see
//     also B. Yurdakul, "Statistical Properties of Population Stability
//     Index", Western Michigan University 2018): below 0.1 stable, 0.1 to
//     0.25 a moderate shift, above 0.25 a major one.
//   - The two-sample Kolmogorov–Smirnov statistic D, the largest gap between
//     the two empirical distribution functions (gonum's stat package), with
//     its asymptotic p-value from the Kolmogorov distribution (W. H. Press et
//     al., "Numerical Recipes", 3rd ed., §14.3.3).
//
// PSI is a chi-square-like statistic, so on small samples it is large by
// chance alone: with no shift, PSI divided by (1/n + 1/m) is approximately
// χ² with bins−1 degrees of freedom (Yurdakul 2018), about 0.24 for 75 rows
// against 75 in ten bins. A column is therefore graded by the rule of thumb
// only when its PSI also exceeds that noise floor at the 5% level;
// otherwise it is stable.
//
// Missing values take no part in either; each side's missing rate is
// reported on its own.
package drift

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/alur-ml/alur/ml/display"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Level grades a PSI.
type Level int

// The PSI grades, in increasing severity. Unmeasured means one side had no
// values to compare.
const (
	Unmeasured Level = iota
	Stable
	Moderate
	Major
)

// Thresholds of the PSI rule of thumb (Siddiqi 2006).
const (
	ModerateThreshold = 0.1
	MajorThreshold    = 0.25
)

// String names the level in one word.
func (l Level) String() string {
	switch l {
	case Stable:
		return "stable"
	case Moderate:
		return "moderate"
	case Major:
		return "major"
	}
	return "unmeasured"
}

// Grade reads a PSI: below 0.1 Stable, 0.1 up to 0.25 Moderate, above 0.25
// Major. NaN is Unmeasured.
func Grade(psi float64) Level {
	switch {
	case math.IsNaN(psi):
		return Unmeasured
	case psi < ModerateThreshold:
		return Stable
	case psi <= MajorThreshold:
		return Moderate
	}
	return Major
}

// DefaultBins is the number of reference quantile bins for numeric PSI.
const DefaultBins = 10

// DefaultMaxCategories is how many of the reference's most frequent
// categories get their own PSI bin; the rest share the "other" bin.
const DefaultMaxCategories = 20

// minShare floors a bin's share before the logarithm, so an empty bin on
// one side gives a large but finite PSI term instead of infinity. 1e-4 is
// the customary floor (0.01%).
const minShare = 1e-4

// PSI is the population stability index between two share vectors over
// the same bins: Σ (actual − expected)·ln(actual/expected), each share
// floored at 1e-4. The shares need not be normalised; each side is divided
// by its own total. It returns NaN when the lengths differ or a side sums
// to zero.
func PSI(expected, actual []float64) float64 {
	if len(expected) != len(actual) || len(expected) == 0 {
		return math.NaN()
	}
	var te, ta float64
	for i := range expected {
		te += expected[i]
		ta += actual[i]
	}
	if te <= 0 || ta <= 0 {
		return math.NaN()
	}
	var psi float64
	for i := range expected {
		e := math.Max(expected[i]/te, minShare)
		a := math.Max(actual[i]/ta, minShare)
		psi += (a - e) * math.Log(a/e)
	}
	return psi
}

// QuantileEdges returns the inner bin edges that split sorted reference
// values into bins equally filled (deciles for 10 bins), with repeated
// edges removed so heavy ties make fewer, wider bins. Values equal to an
// edge fall in the bin below it.
func QuantileEdges(sortedRef []float64, bins int) []float64 {
	if len(sortedRef) == 0 || bins < 2 {
		return nil
	}
	var edges []float64
	for k := 1; k < bins; k++ {
		q := stat.Quantile(float64(k)/float64(bins), stat.Empirical, sortedRef, nil)
		if len(edges) == 0 || q > edges[len(edges)-1] {
			edges = append(edges, q)
		}
	}
	// An edge at the maximum would leave the top bin empty in the
	// reference; drop it.
	if n := len(edges); n > 0 && edges[n-1] >= sortedRef[len(sortedRef)-1] {
		edges = edges[:n-1]
	}
	return edges
}

// binCounts counts values per bin: bin i holds edges[i-1] < v <= edges[i].
func binCounts(vals, edges []float64) []float64 {
	counts := make([]float64, len(edges)+1)
	for _, v := range vals {
		counts[sort.SearchFloat64s(edges, v)]++
	}
	return counts
}

// NumericPSI is the PSI of cur against ref over bins of ref's quantiles.
// NaN values are ignored. It returns NaN when either side has no values.
func NumericPSI(ref, cur []float64, bins int) float64 {
	e, a := numericBins(ref, cur, bins)
	return PSI(e, a)
}

// numericBins counts both samples' present values in bins of ref's
// quantiles; both are nil when either side has no values.
func numericBins(ref, cur []float64, bins int) (e, a []float64) {
	r, c := present(ref), present(cur)
	if len(r) == 0 || len(c) == 0 {
		return nil, nil
	}
	slices.Sort(r)
	edges := QuantileEdges(r, bins)
	return binCounts(r, edges), binCounts(c, edges)
}

// NoiseAlpha is the significance level of the PSI noise floor.
const NoiseAlpha = 0.05

// NoiseFloor is the PSI that sampling noise alone exceeds with probability
// alpha when n reference and m compared values fall in bins bins of one
// distribution: χ²_{bins−1}(1−alpha)·(1/n + 1/m), from the χ²
// approximation of PSI·(1/n+1/m)⁻¹ (Yurdakul 2018). It is 0 for fewer than
// two bins or an empty side.
func NoiseFloor(bins int, n, m float64, alpha float64) float64 {
	if bins < 2 || n <= 0 || m <= 0 {
		return 0
	}
	return distuv.ChiSquared{K: float64(bins - 1)}.Quantile(1-alpha) * (1/n + 1/m)
}

// GradeSample grades a PSI measured on n and m values in bins bins: Stable
// when it does not exceed the noise floor at NoiseAlpha, else as Grade.
func GradeSample(psi float64, bins int, n, m float64) Level {
	l := Grade(psi)
	if l > Stable && psi <= NoiseFloor(bins, n, m, NoiseAlpha) {
		return Stable
	}
	return l
}

// KS returns the two-sample Kolmogorov–Smirnov statistic D of a and b
// (NaN values ignored) and its asymptotic p-value,
// Q_KS((√nₑ + 0.12 + 0.11/√nₑ)·D) with nₑ = n·m/(n+m) (Numerical Recipes
// §14.3.3). Both are NaN when either sample is empty.
func KS(a, b []float64) (d, p float64) {
	x, y := present(a), present(b)
	if len(x) == 0 || len(y) == 0 {
		return math.NaN(), math.NaN()
	}
	slices.Sort(x)
	slices.Sort(y)
	d = stat.KolmogorovSmirnov(x, nil, y, nil)
	n, m := float64(len(x)), float64(len(y))
	ne := math.Sqrt(n * m / (n + m))
	return d, KolmogorovQ((ne + 0.12 + 0.11/ne) * d)
}

// KolmogorovQ is the complementary distribution function of the Kolmogorov
// distribution, Q(λ) = 2 Σ_{j≥1} (−1)^{j−1} exp(−2 j² λ²), with Q(0) = 1.
// The series converges fast for λ above about 0.2; below that Q is 1 to
// double precision.
func KolmogorovQ(lambda float64) float64 {
	if lambda < 0.2 {
		return 1
	}
	var sum, sign = 0.0, 1.0
	for j := 1; j <= 100; j++ {
		term := sign * math.Exp(-2*float64(j*j)*lambda*lambda)
		sum += term
		if math.Abs(term) < 1e-16*math.Abs(sum) {
			break
		}
		sign = -sign
	}
	return math.Min(1, math.Max(0, 2*sum))
}

// CategoryShift is the categorical comparison of two samples.
type CategoryShift struct {
	// PSI is over the reference's most frequent categories plus "other".
	PSI float64
	// New are categories only the compared sample has, sorted.
	New []string
	// Vanished are categories only the reference has, sorted.
	Vanished []string
	// Bins is the number of PSI bins used.
	Bins int
}

// CategoricalPSI compares two samples of categories (missing values left
// out by the caller): the PSI over the reference's maxCategories most
// frequent categories, every other category (including new ones) pooled in
// an "other" bin, and the categories that appeared or vanished.
func CategoricalPSI(ref, cur map[string]float64, maxCategories int) CategoryShift {
	var out CategoryShift
	for k, n := range cur {
		if n > 0 && ref[k] == 0 {
			out.New = append(out.New, k)
		}
	}
	for k, n := range ref {
		if n > 0 && cur[k] == 0 {
			out.Vanished = append(out.Vanished, k)
		}
	}
	slices.Sort(out.New)
	slices.Sort(out.Vanished)
	keys := make([]string, 0, len(ref))
	for k, n := range ref {
		if n > 0 {
			keys = append(keys, k)
		}
	}
	// Most frequent first; equal counts by name, so bins are deterministic.
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(ref[b], ref[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	if maxCategories > 0 && len(keys) > maxCategories {
		keys = keys[:maxCategories]
	}
	kept := make(map[string]bool, len(keys))
	e := make([]float64, len(keys)+1)
	a := make([]float64, len(keys)+1)
	for i, k := range keys {
		kept[k] = true
		e[i], a[i] = ref[k], cur[k]
	}
	other := len(keys)
	for k, n := range ref {
		if !kept[k] {
			e[other] += n
		}
	}
	for k, n := range cur {
		if !kept[k] {
			a[other] += n
		}
	}
	if e[other] == 0 && a[other] == 0 {
		e, a = e[:other], a[:other]
	}
	out.PSI = PSI(e, a)
	out.Bins = len(e)
	return out
}

// Retyped is a column whose type differs between two tables.
type Retyped struct {
	Name     string
	From, To datav1.ColumnType
}

// SchemaDiff lists the columns that differ between two tables.
type SchemaDiff struct {
	// Added are in the compared table only, in its order.
	Added []string
	// Removed are in the reference only, in its order.
	Removed []string
	// Retyped are in both with different types, in the compared order.
	Retyped []Retyped
}

// Empty reports whether the schemas agree.
func (d SchemaDiff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Retyped) == 0
}

// DiffSchema compares the columns of two schemas by name.
func DiffSchema(from, to *datav1.Schema) SchemaDiff {
	var d SchemaDiff
	old := make(map[string]datav1.ColumnType, len(from.GetFields()))
	for _, f := range from.GetFields() {
		old[f.GetName()] = f.GetType()
	}
	seen := make(map[string]bool, len(to.GetFields()))
	for _, f := range to.GetFields() {
		seen[f.GetName()] = true
		t, ok := old[f.GetName()]
		switch {
		case !ok:
			d.Added = append(d.Added, f.GetName())
		case t != f.GetType():
			d.Retyped = append(d.Retyped, Retyped{Name: f.GetName(), From: t, To: f.GetType()})
		}
	}
	for _, f := range from.GetFields() {
		if !seen[f.GetName()] {
			d.Removed = append(d.Removed, f.GetName())
		}
	}
	return d
}

// Column is the shift of one column both tables share with one type.
type Column struct {
	Name string
	Type datav1.ColumnType
	// PSI is NaN when either side has no present value.
	PSI float64
	// NoiseFloor is the PSI sampling noise alone exceeds 5% of the time
	// with these row counts and bins (see NoiseFloor).
	NoiseFloor float64
	// Level grades PSI, stable when it is within the noise floor.
	Level Level
	// KS and KSPValue are set for numeric columns (NaN otherwise).
	KS, KSPValue float64
	// MissingFrom and MissingTo are the shares of missing values.
	MissingFrom, MissingTo float64
	// MeanFrom and MeanTo are the means of present values (numeric
	// columns; NaN otherwise).
	MeanFrom, MeanTo float64
	// New and Vanished are categories that appeared or disappeared
	// (categorical and boolean columns).
	New, Vanished []string
}

// Report is the comparison of two tables.
type Report struct {
	Schema  SchemaDiff
	Columns []Column
	// Level is the worst column level.
	Level Level
	// FromRows and ToRows count the rows compared.
	FromRows, ToRows int
}

// Compare measures how table to differs from the reference table from:
// the schema diff, then the shift of every column they share with the same
// type, in to's column order.
func Compare(from, to *table.Table) Report {
	rep := Report{Schema: DiffSchema(from.Schema(), to.Schema()), FromRows: from.NumRows(), ToRows: to.NumRows()}
	for _, c := range to.Columns {
		ref, _ := from.Column(c.Name)
		if ref == nil || ref.Type != c.Type {
			continue
		}
		col := CompareColumns(ref, c)
		rep.Columns = append(rep.Columns, col)
		rep.Level = max(rep.Level, col.Level)
	}
	return rep
}

// CompareColumns measures the shift from ref to cur, two columns of the
// same type.
func CompareColumns(ref, cur *table.Column) Column {
	out := Column{
		Name: cur.Name, Type: cur.Type,
		KS: math.NaN(), KSPValue: math.NaN(), MeanFrom: math.NaN(), MeanTo: math.NaN(),
		MissingFrom: missingRate(ref), MissingTo: missingRate(cur),
	}
	var bins int
	var n, m float64
	switch cur.Type {
	case datav1.ColumnType_COLUMN_TYPE_NUMERIC:
		e, a := numericBins(ref.Nums, cur.Nums, DefaultBins)
		out.PSI, bins, n, m = PSI(e, a), len(e), floats.Sum(e), floats.Sum(a)
		out.KS, out.KSPValue = KS(ref.Nums, cur.Nums)
		out.MeanFrom, out.MeanTo = mean(ref.Nums), mean(cur.Nums)
	default:
		rc, cc := counts(ref), counts(cur)
		shift := CategoricalPSI(rc, cc, DefaultMaxCategories)
		out.PSI, out.New, out.Vanished, bins = shift.PSI, shift.New, shift.Vanished, shift.Bins
		for _, v := range rc {
			n += v
		}
		for _, v := range cc {
			m += v
		}
	}
	out.NoiseFloor = NoiseFloor(bins, n, m, NoiseAlpha)
	out.Level = GradeSample(out.PSI, bins, n, m)
	return out
}

// Summary says in one line what changed, for people.
func (r Report) Summary() string {
	var parts []string
	if n := len(r.Schema.Added); n > 0 {
		parts = append(parts, fmt.Sprintf("%s: %s", display.Plural(int64(n), "new column"), strings.Join(r.Schema.Added, ", ")))
	}
	if n := len(r.Schema.Removed); n > 0 {
		parts = append(parts, fmt.Sprintf("%s: %s", display.Plural(int64(n), "missing column"), strings.Join(r.Schema.Removed, ", ")))
	}
	if n := len(r.Schema.Retyped); n > 0 {
		names := make([]string, n)
		for i, c := range r.Schema.Retyped {
			names[i] = c.Name
		}
		parts = append(parts, fmt.Sprintf("%s: %s", display.Plural(int64(n), "retyped column"), strings.Join(names, ", ")))
	}
	var major, moderate []string
	for _, c := range r.Columns {
		switch c.Level {
		case Major:
			major = append(major, fmt.Sprintf("%s (PSI %.2f)", c.Name, c.PSI))
		case Moderate:
			moderate = append(moderate, fmt.Sprintf("%s (PSI %.2f)", c.Name, c.PSI))
		}
	}
	if len(major) > 0 {
		parts = append(parts, "major shift in "+strings.Join(major, ", "))
	}
	if len(moderate) > 0 {
		parts = append(parts, "moderate shift in "+strings.Join(moderate, ", "))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("no schema change; all %d shared columns stable", len(r.Columns))
	}
	return strings.Join(parts, "; ")
}

func present(v []float64) []float64 {
	out := make([]float64, 0, len(v))
	for _, x := range v {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}

func mean(v []float64) float64 {
	p := present(v)
	if len(p) == 0 {
		return math.NaN()
	}
	return stat.Mean(p, nil)
}

func missingRate(c *table.Column) float64 {
	n := c.Len()
	if n == 0 {
		return 0
	}
	miss := 0
	for i := range n {
		if c.IsMissing(i) {
			miss++
		}
	}
	return float64(miss) / float64(n)
}

// counts tallies a categorical or boolean column's present values by text.
func counts(c *table.Column) map[string]float64 {
	out := map[string]float64{}
	for i := range c.Len() {
		if !c.IsMissing(i) {
			out[c.Text(i)]++
		}
	}
	return out
}
