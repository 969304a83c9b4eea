package knn

import (
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"
)

// Search blocking: a block of knnQueryBlock queries is screened against a
// chunk of training rows at a time, the chunk's packed panels taking about
// knnChunkBytes so that they stay in L2 while every tile of the block
// streams through them.
const (
	knnQueryBlock = 128
	knnChunkBytes = 384 << 10
)

// A query keeps at most knnMaxCands + 2k screening candidates; more means
// the error bound is too wide for its data (features of wildly different
// scales) and the query falls back to the exact scan, which bounds memory.
// knnInitialCands is the initial capacity of a candidate buffer.
const (
	knnMaxCands     = 4096
	knnInitialCands = 64
)

// knnKernel is one screening micro-kernel. It packs training rows in
// panels of nr rows, feature-major within a panel (panel[f*nr+lane]), and
// queries in tiles of mr, feature-major (tile[f*mr+i]).
//
// screen processes up to npanels panels starting at panels/pn: for each it
// computes a = pn − 2·(q·p) for the mr × nr pairs and tests a ≤ thr[i]. At
// the first panel where some pair passes it writes the mr × nr values to out
// (out[i*nr+lane]), one bit mask per query to masks and returns that
// panel's offset; it returns npanels when no pair passed. Padding lanes
// carry pn = NaN, and padding queries thr = NaN, so they never pass.
type knnKernel struct {
	name   string
	mr, nr int
	screen func(qpack, panels, pn []float64, npanels, d int, thr, out []float64, masks []uint32) int
}

// knnGoKernel is the portable kernel, also the reference for the
// assembly ones (it computes the same screening values up to rounding,
// which the error bound absorbs).
var knnGoKernel = &knnKernel{name: "go", mr: 4, nr: 4, screen: knnScreenGo}

// knnScreenGo is the portable 4 × 4 screening kernel, its sixteen
// accumulators spelled out so that they stay in registers.
func knnScreenGo(qpack, panels, pn []float64, npanels, d int, thr, out []float64, masks []uint32) int {
	const mr, nr = 4, 4
	qpack = qpack[:d*mr]
	thr = thr[:mr]
	for p := 0; p < npanels; p++ {
		var a00, a01, a02, a03, a10, a11, a12, a13 float64
		var a20, a21, a22, a23, a30, a31, a32, a33 float64
		panel := panels[p*d*nr : (p+1)*d*nr]
		for f := 0; f < d; f++ {
			pv := panel[f*nr : f*nr+nr : f*nr+nr]
			qv := qpack[f*mr : f*mr+mr : f*mr+mr]
			p0, p1, p2, p3 := pv[0], pv[1], pv[2], pv[3]
			q0, q1, q2, q3 := qv[0], qv[1], qv[2], qv[3]
			a00 += q0 * p0
			a01 += q0 * p1
			a02 += q0 * p2
			a03 += q0 * p3
			a10 += q1 * p0
			a11 += q1 * p1
			a12 += q1 * p2
			a13 += q1 * p3
			a20 += q2 * p0
			a21 += q2 * p1
			a22 += q2 * p2
			a23 += q2 * p3
			a30 += q3 * p0
			a31 += q3 * p1
			a32 += q3 * p2
			a33 += q3 * p3
		}
		acc := [mr * nr]float64{a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33}
		norms := pn[p*nr : p*nr+nr : p*nr+nr]
		hit := uint32(0)
		for i := range mr {
			m := uint32(0)
			for l := range nr {
				a := norms[l] - 2*acc[i*nr+l]
				acc[i*nr+l] = a
				if a <= thr[i] {
					m |= 1 << l
				}
			}
			masks[i] = m
			hit |= m
		}
		if hit != 0 {
			copy(out[:mr*nr], acc[:])
			return p
		}
	}
	return npanels
}

// knnKernels lists the kernels usable on this machine, fastest first; the
// portable one is always last.
var knnKernels = append(knnArchKernels(), knnGoKernel)

// knnExactDist is the reference squared Euclidean distance Σ (q_f − p_f)²,
// summed in feature order with every product rounded (the conversion
// forbids fusing it into an FMA), so its value is the same on every
// platform. Neighbours are ranked by it.
func knnExactDist(q, p []float64) float64 {
	p = p[:len(q)]
	var s float64
	for f, v := range q {
		t := v - p[f]
		s += float64(t * t)
	}
	return s
}

// knnNeighbour is one training row with its reference squared distance.
type knnNeighbour struct {
	dist float64
	idx  int32
}

// knnCand is a screening candidate: training row idx with screening value a.
type knnCand struct {
	a   float64
	idx int32
}

// knnIndex is the training side of the search, prepared once per predict.
type knnIndex struct {
	points []float64 // n × d, row-major
	n, d   int
	kern   *knnKernel
	centre []float64 // c, the training mean: screening uses p − c and q − c
	panels []float64 // ceil(n/nr) panels of d × nr holding fl(p − c)
	pn     []float64 // fl(‖fl(p − c)‖²) per packed lane, NaN for padding
	pmax2  float64   // an upper bound of max ‖fl(p − c)‖²
	pmax   float64   // an upper bound of max ‖fl(p − c)‖
	direct bool      // values too large to screen safely: scan exactly
}

// Rounding constants of the error bound: u is the unit roundoff of float64
// and knnTiny an absolute allowance (far above d · 2⁻¹⁰⁷⁴) for underflow
// in the products and sums.
const (
	knnU    = 0x1p-53
	knnTiny = 0x1p-1000
	// knnHuge bounds the squared norms for which no intermediate of the
	// screening can overflow; beyond it the search scans exactly.
	knnHuge = 0x1p1000
)

// newKNNIndex packs the n × d training points for kern. The screening
// works on the points less their mean c, which leaves distances unchanged
// but keeps the norms in the expansion, and so its rounding error, small
// when the data sit far from the origin.
func newKNNIndex(points []float64, n, d int, kern *knnKernel) *knnIndex {
	ix := &knnIndex{points: points, n: n, d: d, kern: kern}
	ix.centre = make([]float64, d)
	for j := 0; j < n; j++ {
		for f, v := range points[j*d : (j+1)*d] {
			ix.centre[f] += v
		}
	}
	for f := range ix.centre {
		ix.centre[f] /= float64(n)
	}
	nr := kern.nr
	np := (n + nr - 1) / nr
	ix.panels = make([]float64, np*d*nr)
	ix.pn = make([]float64, np*nr)
	maxN := 0.0
	for j := 0; j < n; j++ {
		row := points[j*d : (j+1)*d]
		panel := ix.panels[(j/nr)*d*nr:]
		lane := j % nr
		var s float64
		for f, v := range row {
			v -= ix.centre[f]
			panel[f*nr+lane] = v
			s += v * v
		}
		ix.pn[j] = s
		maxN = max(maxN, s)
	}
	for j := n; j < np*nr; j++ {
		ix.pn[j] = math.NaN()
	}
	// fl(Σ p²) ≥ (1 − γ_d) ‖p‖², so dividing by (1 − (d+2)u) bounds ‖p‖².
	ix.pmax2 = maxN/(1-float64(d+2)*knnU) + knnTiny
	ix.pmax = math.Sqrt(ix.pmax2) * (1 + 4*knnU)
	ix.direct = !(ix.pmax2 < knnHuge)
	return ix
}

// knnBound holds one query's screening bound.
type knnBound struct {
	e   float64 // bound on |a − (D′ − ‖q′‖²)|, see newKNNBound
	q2  float64 // an upper bound of ‖q′‖²
	eta float64 // bound on |√D − √D′|
	g   float64 // relative error bound of the reference distance
}

// newKNNBound derives the bound for a query whose centred copy q′ = fl(q − c)
// has fl(Σ q′²) = qn. With p′ = fl(p − c), D = ‖q − p‖² the exact squared
// distance and D′ = ‖q′ − p′‖²:
//
//   - the screening value a = fl(‖p′‖²) − 2 fl(q′·p′) satisfies
//     |a − (D′ − ‖q′‖²)| ≤ e = γ (‖p′‖² + 2‖q′‖‖p′‖) + 3·tiny with
//     γ = (d+4)u, covering γ_d of both sums, the doubling and the final
//     subtraction, whatever the summation order or FMA use;
//   - centring rounds each coordinate by at most u/(1−u) of its centred
//     value, so ‖(q′ − p′) − (q − p)‖ ≤ η = u/(1−u) (‖q′‖ + ‖p′‖) and
//     |√D − √D′| ≤ η;
//   - the reference r = knnExactDist satisfies |r − D| ≤ g D + tiny with
//     g = (d+3)u (Higham, Lemma 3.1 and §3.1).
func (ix *knnIndex) newKNNBound(qn float64) knnBound {
	d := float64(ix.d)
	q2 := qn/(1-(d+2)*knnU) + knnTiny
	q := math.Sqrt(q2) * (1 + 4*knnU)
	gam := (d + 4) * knnU * 1.01
	e := gam*(ix.pmax2+2*q*ix.pmax) + 3*knnTiny
	eta := knnU * 1.01 * (q + ix.pmax)
	return knnBound{e: e * (1 + 8*knnU), q2: q2, eta: eta, g: (d + 3) * knnU * 1.01}
}

// threshold maps ak, the k-th smallest screening value seen so far, to the
// largest screening value a row can have and still be among the k nearest
// by the reference distance. The k rows screened at or below ak have
// D′ ≤ U′ = ak + ‖q′‖² + e, so D ≤ U = (√U′ + η)² and r ≤ R = U(1+g) + tiny,
// which bounds the k-th reference distance. A row with r ≤ R has
// D ≤ V = (R + tiny)/(1−g), so D′ ≤ (√V + η)² and
// a ≤ (√V + η)² − ‖q′‖² + e. That bound increases with ‖q′‖² (its
// derivative is at least (1+g)/(1−g) − 1 > 0), so the upper bound q2 may
// stand in for it. The result is widened by the rounding of this very
// formula and never falls below ak.
func (b *knnBound) threshold(ak float64) float64 {
	u1 := max(ak+b.q2+b.e, 0)
	r := math.Sqrt(u1) + b.eta
	v := (r*r*(1+b.g) + 2*knnTiny) / (1 - b.g)
	w := math.Sqrt(v) + b.eta
	t := w*w - b.q2 + b.e
	t += 16*knnU*(math.Abs(ak)+b.e+b.q2+w*w) + knnTiny
	return max(t, ak)
}

// knnQueryState is one query's screening state.
type knnQueryState struct {
	cands  []knnCand
	limit  int // prune when cands reaches this length
	bound  knnBound
	direct bool // ‖q‖ too large to screen safely: scan exactly
}

// knnWorker holds one search goroutine's scratch buffers.
type knnWorker struct {
	qpack   []float64
	thr     []float64
	out     []float64
	masks   []uint32
	states  []knnQueryState
	scratch []float64
	result  []knnNeighbour
}

// search finds the k nearest training rows of every row of X and calls
// visit(worker, query, neighbours) with them sorted by (reference distance,
// training index); neighbours is only valid during the call, and calls
// with the same worker never overlap. Query blocks run on GOMAXPROCS
// goroutines.
func (ix *knnIndex) search(X *mat.Dense, k int, workers int, visit func(worker, query int, nb []knnNeighbour)) {
	q, _ := X.Dims()
	k = min(k, ix.n)
	blocks := (q + knnQueryBlock - 1) / knnQueryBlock
	workers = max(1, min(workers, blocks))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := ix.newWorker(k)
			for {
				b := int(next.Add(1)) - 1
				if b >= blocks {
					return
				}
				q0, q1 := b*knnQueryBlock, min((b+1)*knnQueryBlock, q)
				if ix.direct {
					for i := q0; i < q1; i++ {
						visit(w, i, ix.scanExact(X.RawRowView(i), k, wk))
					}
					continue
				}
				ix.screenBlock(X, q0, q1, k, wk)
				for i := q0; i < q1; i++ {
					if st := &wk.states[i-q0]; st.direct {
						visit(w, i, ix.scanExact(X.RawRowView(i), k, wk))
					} else {
						visit(w, i, ix.refine(X.RawRowView(i), st, k, wk))
					}
				}
			}
		}()
	}
	wg.Wait()
}

// newWorker allocates one search goroutine's buffers.
func (ix *knnIndex) newWorker(k int) *knnWorker {
	mr, nr := ix.kern.mr, ix.kern.nr
	wk := &knnWorker{
		qpack:  make([]float64, knnQueryBlock*ix.d),
		thr:    make([]float64, knnQueryBlock),
		out:    make([]float64, mr*nr),
		masks:  make([]uint32, mr),
		states: make([]knnQueryState, knnQueryBlock),
		result: make([]knnNeighbour, 0, k),
	}
	for i := range wk.states {
		wk.states[i].cands = make([]knnCand, 0, knnInitialCands)
	}
	return wk
}

// screenBlock screens queries [q0, q1) against every training row, leaving
// each query's candidates in wk.states.
func (ix *knnIndex) screenBlock(X *mat.Dense, q0, q1, k int, wk *knnWorker) {
	d, mr, nr := ix.d, ix.kern.mr, ix.kern.nr
	nq := q1 - q0
	tiles := (nq + mr - 1) / mr
	for i := 0; i < tiles*mr; i++ {
		st := &wk.states[i]
		st.cands = st.cands[:0]
		st.limit = 2*k + 32
		st.direct = false
		tile := wk.qpack[(i/mr)*d*mr:]
		if i >= nq {
			for f := 0; f < d; f++ {
				tile[f*mr+i%mr] = 0
			}
			wk.thr[i] = math.NaN()
			continue
		}
		row := X.RawRowView(q0 + i)
		var s float64
		for f, v := range row {
			v -= ix.centre[f]
			tile[f*mr+i%mr] = v
			s += v * v
		}
		st.bound = ix.newKNNBound(s)
		st.direct = !(st.bound.q2 < knnHuge)
		wk.thr[i] = math.Inf(1)
		if st.direct {
			wk.thr[i] = math.NaN() // never screened in
		}
	}
	np := len(ix.pn) / nr
	chunk := max(1, knnChunkBytes/(8*d*nr)) // panels per chunk
	for c0 := 0; c0 < np; c0 += chunk {
		c1 := min(c0+chunk, np)
		for t := 0; t < tiles; t++ {
			qpack := wk.qpack[t*d*mr : (t+1)*d*mr]
			thr := wk.thr[t*mr : (t+1)*mr]
			for p := c0; p < c1; {
				hit := ix.kern.screen(qpack, ix.panels[p*d*nr:c1*d*nr], ix.pn[p*nr:c1*nr], c1-p, d, thr, wk.out, wk.masks)
				if hit >= c1-p {
					break
				}
				base := int32((p + hit) * nr)
				for i := 0; i < mr; i++ {
					st := &wk.states[t*mr+i]
					for m := wk.masks[i]; m != 0; m &= m - 1 {
						l := bits.TrailingZeros32(m)
						st.cands = append(st.cands, knnCand{a: wk.out[i*nr+l], idx: base + int32(l)})
					}
					if len(st.cands) >= st.limit {
						thr[i] = st.prune(k, wk)
						if len(st.cands) > knnMaxCands+2*k {
							// The bound is too loose for these data to
							// screen anything: scan this query exactly.
							st.direct, thr[i] = true, math.NaN()
							st.cands = make([]knnCand, 0, knnInitialCands)
						}
					}
				}
				p += hit + 1
			}
		}
	}
}

// prune drops the candidates that can no longer be among the k nearest and
// returns the query's new screening threshold (+Inf while fewer than k rows
// were seen). The candidates are a superset of every row whose screening
// value is at most the threshold in force when it was screened; since the
// threshold only falls and is never below the k-th smallest screening
// value, the k-th smallest among the candidates is that of all rows seen.
func (st *knnQueryState) prune(k int, wk *knnWorker) float64 {
	if len(st.cands) < k {
		return math.Inf(1)
	}
	wk.scratch = wk.scratch[:0]
	for _, c := range st.cands {
		wk.scratch = append(wk.scratch, c.a)
	}
	thr := st.bound.threshold(knnSelect(wk.scratch, k-1))
	kept := st.cands[:0]
	for _, c := range st.cands {
		if c.a <= thr {
			kept = append(kept, c)
		}
	}
	st.cands = kept
	if len(kept) > st.limit/2 {
		st.limit *= 2 // many near-ties: let the buffer grow
	}
	return thr
}

// knnSelect returns the (r+1)-th smallest value of v (Hoare's quickselect,
// "Algorithm 65: Find", CACM 1961), reordering v.
func knnSelect(v []float64, r int) float64 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		pivot := v[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case r <= j:
			hi = j
		case r >= i:
			lo = i
		default:
			return v[r]
		}
	}
	return v[r]
}

// refine ranks a query's surviving candidates by the reference distance
// and returns the k nearest, sorted by (distance, training index).
func (ix *knnIndex) refine(query []float64, st *knnQueryState, k int, wk *knnWorker) []knnNeighbour {
	st.prune(k, wk)
	res := wk.result[:0]
	d := ix.d
	for _, c := range st.cands {
		j := int(c.idx)
		res = append(res, knnNeighbour{dist: knnExactDist(query, ix.points[j*d:(j+1)*d]), idx: c.idx})
	}
	knnSortNeighbours(res)
	wk.result = res
	return res[:k]
}

// scanExact is the search for values too large to screen: the reference
// distance of every training row, kept in a bounded heap.
func (ix *knnIndex) scanExact(query []float64, k int, wk *knnWorker) []knnNeighbour {
	h := knnHeap{dist: make([]float64, 0, k), idx: make([]int32, 0, k)}
	d := ix.d
	for j := 0; j < ix.n; j++ {
		h.offer(knnExactDist(query, ix.points[j*d:(j+1)*d]), int32(j), k)
	}
	res := wk.result[:0]
	for i, idx := range h.idx {
		res = append(res, knnNeighbour{dist: h.dist[i], idx: idx})
	}
	knnSortNeighbours(res)
	wk.result = res
	return res
}

// knnSortNeighbours sorts by (distance, training index).
func knnSortNeighbours(v []knnNeighbour) {
	slices.SortFunc(v, func(a, b knnNeighbour) int {
		switch {
		case a.dist < b.dist:
			return -1
		case a.dist > b.dist:
			return 1
		default:
			return int(a.idx) - int(b.idx)
		}
	})
}

// knnWorkers is the number of search goroutines.
func knnWorkers() int { return runtime.GOMAXPROCS(0) }
