package boosting

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"

	"github.com/alur-ml/alur/ml/algo/internal/numeric"
	"gonum.org/v1/gonum/mat"
)

// binMaxBins is the largest number of value bins: with the missing bin,
// codes 0..255 fill a byte.
const binMaxBins = 255

// binRowBlock is the number of rows one task maps to bin codes.
const binRowBlock = 4096

// binMapper holds the bin edges of every feature.
type binMapper struct {
	// edges[f] are the strictly ascending upper edges of feature f's value
	// bins; the last value bin has no upper edge.
	edges [][]float64
	// keys[f] are edges[f] as order-preserving integers (numeric.SortKey of
	// the edge, −0 read as +0), which bin compares without branches.
	keys [][]uint64
}

// newBinMapper returns the mapper for the given edges.
func newBinMapper(edges [][]float64) *binMapper {
	m := &binMapper{edges: edges, keys: make([][]uint64, len(edges))}
	for f, e := range edges {
		m.keys[f] = make([]uint64, len(e))
		for i, v := range e {
			m.keys[f][i] = numeric.SortKey(v + 0) // v + 0 turns −0 into +0
		}
	}
	return m
}

// numBins returns the number of bins of feature f, the missing bin
// included.
func (m *binMapper) numBins(f int) int { return len(m.edges[f]) + 2 }

// bin returns the bin code of value x of feature f: one more than the
// number of edges below x, found by a branch-free binary search (Khuong and
// Morin, "Array Layouts for Comparison-Based Searching", 2017) on integer
// keys, whose conditional moves avoid the mispredictions of a branching
// search.
func (m *binMapper) bin(f int, x float64) uint8 {
	if x != x || math.IsInf(x, -1) {
		return 0
	}
	e := m.keys[f]
	if len(e) == 0 {
		return 1
	}
	xk := numeric.SortKey(x + 0)
	// Invariant: the number of edges below x is in [base, base+n].
	base := 0
	for n := len(e); n > 1; {
		half := n >> 1
		// The borrow of e − x is 1 exactly when e < x.
		_, below := bits.Sub64(e[base+half-1], xk, 0)
		base += half & -int(below)
		n -= half
	}
	_, below := bits.Sub64(e[base], xk, 0)
	return uint8(base + int(below) + 1)
}

// threshold returns the raw-value threshold equivalent to sending bins
// 0..b of feature f left: the upper edge of bin b, or -Inf for the missing
// bin alone. b must be below numBins(f)-1.
func (m *binMapper) threshold(f, b int) float64 {
	if b == 0 {
		return math.Inf(-1)
	}
	return m.edges[f][b-1]
}

// fitBinMapper computes the bin edges of every column of X from the given
// rows (all rows when rows is nil). When there are more than subsample rows,
// a uniform random subsample of that size, drawn with seed, is used, as
// scikit-learn does, so binning costs the same on any data size. Features
// are processed in parallel on up to workers goroutines; the result does
// not depend on workers.
func fitBinMapper(X *mat.Dense, rows []int32, maxBins, subsample int, seed uint64, workers int) *binMapper {
	n, p := X.Dims()
	if rows == nil {
		rows = make([]int32, n)
		for i := range rows {
			rows[i] = int32(i)
		}
	}
	if len(rows) > subsample {
		rows = slices.Clone(rows)
		rng := rand.New(rand.NewPCG(seed, 0x62696e6e696e6721)) // a stream of its own
		for i := range subsample {
			j := i + rng.IntN(len(rows)-i)
			rows[i], rows[j] = rows[j], rows[i]
		}
		rows = rows[:subsample]
		slices.Sort(rows) // read X in memory order
	}
	raw := X.RawMatrix()
	edges := make([][]float64, p)
	type scratch struct {
		vals []float64
		keys []uint64
	}
	scr := make([]scratch, max(1, min(workers, p)))
	numeric.Parallel(p, len(scr), func(w, f int) {
		sc := &scr[w]
		vals := sc.vals[:0]
		for _, i := range rows {
			v := raw.Data[int(i)*raw.Stride+f]
			if v == v && !math.IsInf(v, -1) {
				vals = append(vals, v)
			}
		}
		sc.keys = binSortFloats(vals, sc.keys)
		edges[f] = binEdges(vals, maxBins)
		sc.vals = vals
	})
	return newBinMapper(edges)
}

// binSortFloats sorts vals (no NaN) ascending, using buf as scratch and
// returning it, possibly grown. Large inputs use a least-significant-digit
// radix sort (Knuth, The Art of Computer Programming vol. 3, §5.2.5) on the
// order-preserving integer images of the values (numeric.SortKey), skipping
// passes whose digit is the same for every key; −0 and +0 may come out in
// either order, which is harmless as they compare equal.
func binSortFloats(vals []float64, buf []uint64) []uint64 {
	n := len(vals)
	if n < 512 {
		slices.Sort(vals)
		return buf
	}
	if cap(buf) < 2*n {
		buf = make([]uint64, 2*n)
	}
	keys, tmp := buf[:n], buf[n:2*n]
	for i, v := range vals {
		keys[i] = numeric.SortKey(v)
	}
	var count [1 << numeric.RadixBits]int
	for pass := range numeric.RadixPasses {
		shift := uint(pass * numeric.RadixBits)
		clear(count[:])
		for _, k := range keys {
			count[k>>shift&numeric.RadixMask]++
		}
		if count[keys[0]>>shift&numeric.RadixMask] == n {
			continue
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, k := range keys {
			d := k >> shift & numeric.RadixMask
			tmp[count[d]] = k
			count[d]++
		}
		keys, tmp = tmp, keys
	}
	for i, k := range keys {
		if k>>63 != 0 {
			vals[i] = math.Float64frombits(k &^ (1 << 63))
		} else {
			vals[i] = math.Float64frombits(^k)
		}
	}
	return buf
}

// binEdges returns the upper edges of at most maxBins bins for the sorted
// values vals (no NaN, no -Inf). With at most maxBins distinct values every
// value gets its own bin, cut at the midpoint between neighbours. Otherwise
// the cuts are the j/maxBins quantiles (j = 1..maxBins-1) with numpy's
// "midpoint" interpolation, as scikit-learn computes them; equal quantiles
// in long runs of ties are merged, and a cut at or above the largest value
// is dropped, so every bin may hold values.
func binEdges(vals []float64, maxBins int) []float64 {
	n := len(vals)
	if n == 0 {
		return nil
	}
	distinct := 1
	for i := 1; i < n && distinct <= maxBins; i++ {
		if vals[i] != vals[i-1] {
			distinct++
		}
	}
	if distinct <= maxBins {
		edges := make([]float64, 0, distinct-1)
		for i := 1; i < n; i++ {
			if vals[i] != vals[i-1] {
				edges = append(edges, numeric.Midpoint(vals[i-1], vals[i]))
			}
		}
		return edges
	}
	top := vals[n-1]
	edges := make([]float64, 0, maxBins-1)
	for j := 1; j < maxBins; j++ {
		pos := float64(j) * float64(n-1) / float64(maxBins)
		lo := int(pos)
		hi := min(lo+1, n-1)
		if float64(lo) == pos {
			hi = lo
		}
		e := vals[lo]
		if vals[hi] != e {
			e = numeric.Midpoint(e, vals[hi])
		}
		if e >= top {
			break
		}
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	return edges
}

// binData is a feature matrix replaced by bin codes, feature-major.
type binData struct {
	n, p int
	// codes[f*n+i] is the bin of feature f in row i.
	codes []uint8
	// offs[f] is where feature f's bins start in a histogram of all
	// features; offs[p] is the histogram's length.
	offs []int
}

// col returns the bin codes of feature f.
func (d *binData) col(f int) []uint8 { return d.codes[f*d.n : (f+1)*d.n] }

// transform maps the given rows of X (all rows when rows is nil) to bin
// codes, row i of the result being rows[i]. Row blocks are mapped in
// parallel.
func (m *binMapper) transform(X *mat.Dense, rows []int32, workers int) *binData {
	n, p := X.Dims()
	if rows != nil {
		n = len(rows)
	}
	d := &binData{n: n, p: p, codes: make([]uint8, n*p), offs: make([]int, p+1)}
	for f := range p {
		d.offs[f+1] = d.offs[f] + m.numBins(f)
	}
	raw := X.RawMatrix()
	blocks := (n + binRowBlock - 1) / binRowBlock
	numeric.Parallel(blocks, workers, func(_, blk int) {
		lo := blk * binRowBlock
		hi := min(n, lo+binRowBlock)
		for r := lo; r < hi; r++ {
			i := r
			if rows != nil {
				i = int(rows[r])
			}
			x := raw.Data[i*raw.Stride : i*raw.Stride+p]
			for f, v := range x {
				d.codes[f*n+r] = m.bin(f, v)
			}
		}
	})
	return d
}
