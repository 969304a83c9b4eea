package profile

import (
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/stat"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Limits of the correlation matrix.
const (
	// MaxCorrelationColumns caps the columns of the matrix; wider tables
	// keep their first numeric columns and count the rest as omitted, so
	// the profile stays small (64² doubles are 32 KiB) and quick.
	MaxCorrelationColumns = 64
	// MaxCorrelationRows caps the rows the correlations are computed on; a
	// larger table uses a seeded sample of this many rows. Pearson's r over
	// 200 000 rows has a standard error below 0.003, so sampling changes
	// no finding.
	MaxCorrelationRows = 200_000
	// minPairRows is the number of complete rows below which a pair's
	// correlation is NaN.
	minPairRows = 3
)

// correlationSampleSeed fixes the row sample, so a profile is
// reproducible.
const correlationSampleSeed = 0x616c7572

// numericColumns returns the NUMERIC and BOOLEAN columns of t, in schema
// order.
func numericColumns(t *table.Table) []*table.Column {
	var out []*table.Column
	for _, c := range t.Columns {
		if !c.IsCategorical() {
			out = append(out, c)
		}
	}
	return out
}

// correlationMatrix computes the Pearson correlation (gonum's
// stat.Correlation) of every pair of numeric and boolean columns,
// pairwise-complete: each pair over the rows where both values are present
// and finite, as pandas.DataFrame.corr does. It returns nil when the table
// has fewer than two such columns.
func correlationMatrix(w *work, t *table.Table) (*datav1.CorrelationMatrix, error) {
	cols := numericColumns(t)
	if len(cols) < 2 {
		return nil, nil
	}
	m := &datav1.CorrelationMatrix{}
	if len(cols) > MaxCorrelationColumns {
		m.OmittedColumns = int64(len(cols) - MaxCorrelationColumns)
		cols = cols[:MaxCorrelationColumns]
	}
	rows := sampleRows(t.NumRows(), MaxCorrelationRows)
	m.Rows = int64(len(rows))
	m.Sampled = len(rows) < t.NumRows()
	// Gather each column's sampled values once; a row with no missing value
	// in any column lets the common case skip the per-pair gathering.
	vals := make([][]float64, len(cols))
	complete := make([]bool, len(cols))
	for j, c := range cols {
		v := make([]float64, len(rows))
		complete[j] = true
		for i, r := range rows {
			x := c.Nums[r]
			if math.IsInf(x, 0) {
				x = math.NaN()
			}
			if math.IsNaN(x) {
				complete[j] = false
			}
			v[i] = x
		}
		vals[j] = v
	}
	n := len(cols)
	m.Values = make([]float64, n*n)
	xs := make([]float64, 0, len(rows))
	ys := make([]float64, 0, len(rows))
	for i := 0; i < n; i++ {
		if err := w.step((n - i) * len(rows)); err != nil {
			return nil, err
		}
		m.Columns = append(m.Columns, cols[i].Name)
		for j := i; j < n; j++ {
			var r float64
			if complete[i] && complete[j] {
				r = pearson(vals[i], vals[j])
			} else {
				xs, ys = xs[:0], ys[:0]
				for k, x := range vals[i] {
					if y := vals[j][k]; !math.IsNaN(x) && !math.IsNaN(y) {
						xs, ys = append(xs, x), append(ys, y)
					}
				}
				r = pearson(xs, ys)
			}
			m.Values[i*n+j], m.Values[j*n+i] = r, r
		}
	}
	return m, nil
}

// pearson is stat.Correlation with the undefined cases made NaN: fewer
// than minPairRows values or a side without spread. The result is clamped
// to [-1, 1] against rounding.
func pearson(x, y []float64) float64 {
	if len(x) < minPairRows || constant(x) || constant(y) {
		return math.NaN()
	}
	r := stat.Correlation(x, y, nil)
	if math.IsNaN(r) {
		return r
	}
	return min(max(r, -1), 1)
}

func constant(x []float64) bool {
	for _, v := range x[1:] {
		if v != x[0] {
			return false
		}
	}
	return true
}

// sampleRows returns every row index when n ≤ limit, and otherwise a seeded
// uniform sample of limit rows (Floyd's algorithm), in increasing order.
func sampleRows(n, limit int) []int {
	if n <= limit {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	rng := rand.New(rand.NewPCG(correlationSampleSeed, uint64(n)))
	chosen := make(map[int]bool, limit)
	for j := n - limit; j < n; j++ {
		k := rng.IntN(j + 1)
		if chosen[k] {
			k = j
		}
		chosen[k] = true
	}
	out := make([]int, 0, limit)
	for k := range chosen {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
