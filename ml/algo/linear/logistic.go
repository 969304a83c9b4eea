package linear

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/algo/internal/numeric"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// logisticObjective is scikit-learn's logistic regression objective divided
// by C·n for conditioning (the minimiser is unchanged):
//
//	f(W, b) = (1/n) Σ_i s_i [logsumexp(z_i) − z_{i,y_i}] + ‖W‖² / (2·C·n),  z_i = W x_i + b,
//
// where s_i is the weight of row i's class (1 without class weights; the
// balanced weights sum to n over the rows, so the scale is kept). With
// outputs == 1 (binary problems) the logits are (0, w·x + b): the
// reference class 0 has a fixed zero row, which is exactly the binomial
// (sigmoid) loss. The parameter vector is W row-major followed by b.
type logisticObjective struct {
	x        *mat.Dense // n × d
	y        []int      // class per row
	classW   []float64  // weight per class; nil means all 1
	classes  int        // K
	outputs  int        // rows of W: K, or 1 when K == 2
	features int        // d
	invCN    float64    // 1 / (C·n)

	// Per chunk of linChunkRows rows: the sum of its loss terms and of its
	// gradient terms (dim each), added up in chunk order afterwards so
	// that the result does not depend on which worker took which chunk.
	chunkLoss []float64
	chunkGrad []float64
	rows      [][]float64 // per worker: one row's logits, K entries

	// hessRows is the most rows the Hessian is formed on, and hess those
	// rows (see hessian), made on first use. hessAt is the point of the
	// optimiser's last Hessian request and hessGmax the largest gradient
	// component there; formed is the last Hessian formed, at formedAt.
	hessRows int
	hess     *logisticHessian
	hessAt   []float64
	hessGmax float64
	formed   *mat.SymDense
	formedAt []float64

	// cache of the last evaluation, since optimize asks for the value and
	// the gradient at the same point in two calls.
	lastX    []float64
	lastF    float64
	lastGrad []float64
	valid    bool
}

// linChunkRows is the number of rows a worker takes at a time in the
// objective's row pass; the chunks, and so the order of every sum, are the
// same whatever the number of cores.
const linChunkRows = 4096

// newLogisticObjective prepares the objective on ds with inverse penalty c
// and per-class weights classW (nil for none).
func newLogisticObjective(ds *algo.Dataset, c float64, classW []float64) *logisticObjective {
	n, d := ds.X.Dims()
	k := ds.NumClasses
	outputs := k
	if k == 2 {
		outputs = 1
	}
	y := make([]int, n)
	for i, v := range ds.Y {
		y[i] = int(v)
	}
	dim := outputs*d + outputs
	chunks := (n + linChunkRows - 1) / linChunkRows
	return &logisticObjective{
		x: ds.X, y: y, classW: classW, classes: k, outputs: outputs, features: d,
		invCN:     1 / (c * float64(n)),
		hessRows:  max(linHessianRows, linHessianRowsPerParam*dim),
		hessGmax:  math.Inf(1),
		chunkLoss: make([]float64, chunks),
		chunkGrad: make([]float64, chunks*dim),
		lastX:     make([]float64, dim),
		lastGrad:  make([]float64, dim),
	}
}

// dim is the length of the parameter vector.
func (o *logisticObjective) dim() int { return o.outputs*o.features + o.outputs }

// workerRows returns per-worker scratch rows of K entries for procs workers.
func (o *logisticObjective) workerRows(procs int) [][]float64 {
	if len(o.rows) < procs {
		o.rows = make([][]float64, procs)
		for w := range o.rows {
			o.rows[w] = make([]float64, o.classes)
		}
	}
	return o.rows
}

// eval returns f(theta) and, when grad is not nil, stores ∇f(theta) in it.
//
// It makes one pass over X, spread over GOMAXPROCS goroutines and
// allocating no buffer: each chunk of rows forms its rows' logits, loss
// terms and residuals P − Y and adds the residuals times the row into the
// chunk's own gradient; the chunks' sums are then added in chunk order, so
// the objective, and hence the model, are the same bit for bit whatever
// the number of cores.
func (o *logisticObjective) eval(theta, grad []float64) float64 {
	n, d := o.x.Dims()
	K := o.outputs
	nw := K * d
	dim := nw + K
	procs := runtime.GOMAXPROCS(0)
	rows := o.workerRows(procs)
	chunks := len(o.chunkLoss)
	numeric.Parallel(chunks, procs, func(w, c int) {
		var g []float64
		if grad != nil {
			g = o.chunkGrad[c*dim : (c+1)*dim]
			clear(g)
		}
		o.chunkLoss[c] = o.chunk(c*linChunkRows, min(n, (c+1)*linChunkRows), theta, g, rows[w])
	})
	var loss float64
	for _, l := range o.chunkLoss {
		loss += l
	}
	invN := 1 / float64(n)
	var sq float64
	for _, v := range theta[:nw] {
		sq += v * v
	}
	f := loss*invN + 0.5*o.invCN*sq
	if grad == nil {
		return f
	}
	// ∇_W = S(P − Y)ᵀ X / n + W / (C n); ∇_b = Σ_i s_i (P − Y)_i / n.
	copy(grad, o.chunkGrad[:dim])
	for c := 1; c < chunks; c++ {
		for j, v := range o.chunkGrad[c*dim : (c+1)*dim] {
			grad[j] += v
		}
	}
	for j := range grad[:nw] {
		grad[j] = grad[j]*invN + o.invCN*theta[j]
	}
	for j := nw; j < dim; j++ {
		grad[j] *= invN
	}
	return f
}

// linRenormalise is the size past which a running product of softmax
// denominators is folded into its binary exponent.
const linRenormalise = 0x1p500

// chunk returns the summed loss terms of rows [lo, hi) at theta and, when g
// is not nil, adds their gradient terms (residual times (x, 1)) to g. z is
// scratch of K entries.
//
// Row i's loss is s_i·(lse_i − z_{i,y}) with lse_i = m_i + log S_i, m_i the
// largest logit and S_i = Σ_k e^{z_ik − m_i} ∈ [1, K]. Without class
// weights the chunk adds the m_i − z_{i,y} and multiplies the S_i, taking
// one logarithm of the product (kept in range with its binary exponent)
// instead of one per row: exponentials and logarithms are most of a row's
// work. With class weights each row takes its own logarithm.
func (o *logisticObjective) chunk(lo, hi int, theta, g, z []float64) float64 {
	raw := o.x.RawMatrix()
	d, K := o.features, o.outputs
	nw := K * d
	W, b := theta[:nw], theta[nw:]
	z = z[:K]
	var loss float64
	prod, exp2 := 1.0, 0
	for i := lo; i < hi; i++ {
		xi := raw.Data[i*raw.Stride : i*raw.Stride+d]
		linLogits(z, xi, W, b)
		yi := o.y[i]
		s := 1.0
		if o.classW != nil {
			s = o.classW[yi]
		}
		var m, S, zy float64
		if K == 1 {
			// Logits (0, t): S = 1 + e^{−|t|}, m = max(t, 0), and the
			// residual is σ(t) − y.
			t := z[0]
			e := math.Exp(-math.Abs(t))
			S = 1 + e
			p := 1 / S // σ(|t|)
			if t < 0 {
				p = e * p
			} else {
				m = t
			}
			if yi == 1 {
				zy = t
			}
			z[0] = s * (p - float64(yi))
		} else {
			zy = z[yi]
			m = z[0]
			for _, v := range z[1:] {
				m = max(m, v)
			}
			for k, v := range z {
				// e^0 is exactly 1: the largest logit costs no exponential.
				e := 1.0
				if v != m {
					e = math.Exp(v - m)
				}
				z[k] = e
				S += e
			}
			inv := s / S
			for k := range z {
				z[k] *= inv
			}
			z[yi] -= s
		}
		if o.classW != nil {
			loss += s * (m + math.Log(S) - zy)
		} else {
			loss += m - zy
			if prod *= S; prod > linRenormalise {
				frac, e := math.Frexp(prod)
				prod, exp2 = frac, exp2+e
			}
		}
		if g != nil {
			linAddRow(g[:nw], z, xi)
			for k, r := range z {
				g[nw+k] += r
			}
		}
	}
	return loss + math.Log(prod) + float64(exp2)*math.Ln2
}

// linLogits sets z[k] = b[k] + W_k·x for the len(z) rows of W (row-major,
// len(x) columns). Up to four rows share one sweep over x, so x is read
// once per four classes and the sums run as independent chains.
func linLogits(z, x, W, b []float64) {
	d := len(x)
	k := 0
	for ; k+4 <= len(z); k += 4 {
		w0, w1, w2, w3 := W[k*d:(k+1)*d], W[(k+1)*d:(k+2)*d], W[(k+2)*d:(k+3)*d], W[(k+3)*d:(k+4)*d]
		var s0, s1, s2, s3 float64
		for j, v := range x {
			s0 += v * w0[j]
			s1 += v * w1[j]
			s2 += v * w2[j]
			s3 += v * w3[j]
		}
		z[k], z[k+1], z[k+2], z[k+3] = s0+b[k], s1+b[k+1], s2+b[k+2], s3+b[k+3]
	}
	switch len(z) - k {
	case 3:
		w0, w1, w2 := W[k*d:(k+1)*d], W[(k+1)*d:(k+2)*d], W[(k+2)*d:(k+3)*d]
		var s0, s1, s2 float64
		for j, v := range x {
			s0 += v * w0[j]
			s1 += v * w1[j]
			s2 += v * w2[j]
		}
		z[k], z[k+1], z[k+2] = s0+b[k], s1+b[k+1], s2+b[k+2]
	case 2:
		w0, w1 := W[k*d:(k+1)*d], W[(k+1)*d:(k+2)*d]
		var s0, s1 float64
		for j, v := range x {
			s0 += v * w0[j]
			s1 += v * w1[j]
		}
		z[k], z[k+1] = s0+b[k], s1+b[k+1]
	case 1:
		// One class: two chains over the even and odd columns.
		w0 := W[k*d : (k+1)*d]
		var s0, s1 float64
		j := 0
		for ; j+2 <= d; j += 2 {
			s0 += x[j] * w0[j]
			s1 += x[j+1] * w0[j+1]
		}
		if j < d {
			s0 += x[j] * w0[j]
		}
		z[k] = (s0 + s1) + b[k]
	}
}

// linAddRow adds r[k]·x to row k of G (row-major, len(x) columns) for
// every k, up to four rows per sweep over x.
func linAddRow(G, r, x []float64) {
	d := len(x)
	k := 0
	for ; k+4 <= len(r); k += 4 {
		g0, g1, g2, g3 := G[k*d:(k+1)*d], G[(k+1)*d:(k+2)*d], G[(k+2)*d:(k+3)*d], G[(k+3)*d:(k+4)*d]
		r0, r1, r2, r3 := r[k], r[k+1], r[k+2], r[k+3]
		for j, v := range x {
			g0[j] += r0 * v
			g1[j] += r1 * v
			g2[j] += r2 * v
			g3[j] += r3 * v
		}
	}
	switch len(r) - k {
	case 3:
		g0, g1, g2 := G[k*d:(k+1)*d], G[(k+1)*d:(k+2)*d], G[(k+2)*d:(k+3)*d]
		r0, r1, r2 := r[k], r[k+1], r[k+2]
		for j, v := range x {
			g0[j] += r0 * v
			g1[j] += r1 * v
			g2[j] += r2 * v
		}
	case 2:
		g0, g1 := G[k*d:(k+1)*d], G[(k+1)*d:(k+2)*d]
		r0, r1 := r[k], r[k+1]
		for j, v := range x {
			g0[j] += r0 * v
			g1[j] += r1 * v
		}
	case 1:
		g0, r0 := G[k*d:(k+1)*d], r[k]
		for j, v := range x {
			g0[j] += r0 * v
		}
	}
}

// cached evaluates at theta, reusing the previous evaluation when theta is
// unchanged.
func (o *logisticObjective) cached(theta []float64) {
	if o.valid {
		same := true
		for i, v := range theta {
			if v != o.lastX[i] {
				same = false
				break
			}
		}
		if same {
			return
		}
	}
	o.lastF = o.eval(theta, o.lastGrad)
	copy(o.lastX, theta)
	o.valid = true
}

// linNewtonMaxDim is the largest number of parameters (outputs·(d+1)) for
// which the fit may use Newton's method: the Hessian has dim² entries and
// its Cholesky factorisation costs dim³/3.
const linNewtonMaxDim = 256

// useNewton reports whether Newton's method is expected to be faster than
// L-BFGS. It takes about 7 iterations where L-BFGS takes 15 to 50, each
// costing a pass over the data (its value and gradient) and, for about
// two in three of them (see linReuse), a Hessian; so it pays while a
// Hessian costs at most what a pass does. The costs are estimated in
// nanoseconds on one core, measured on 160000 rows × 20 features × 3
// classes: a pass takes about 1.1 ns per multiply-add of the logits and
// the gradient, 15 ns per exponential and 10 ns per row; a Hessian 0.5 ns
// per multiply-add of its dot products over the rows (gonum's assembly
// kernels) and of forming each block's weighted column. Many rows favour
// Newton, as its Hessian's rows are bounded; many features favour L-BFGS.
func (o *logisticObjective) useNewton() bool {
	n, d := o.x.Dims()
	return linUseNewton(n, d, o.outputs, o.hessRows)
}

// linUseNewton is useNewton for n rows, d features, K outputs and a
// Hessian formed on at most hessRows rows.
func linUseNewton(n, d, K, hessRows int) bool {
	if K*(d+1) > linNewtonMaxDim {
		return false
	}
	exps := max(1, K-1)
	pass := float64(n) * (1.1*float64(2*K*d) + 15*float64(exps) + 10)
	m := float64(min(n, hessRows))
	pairs := float64(K * (K + 1) / 2)
	hessian := 0.5 * m * pairs * (float64((d+1)*(d+2)/2) + 3*float64(d+1))
	return hessian <= pass
}

// linHessianRows and linHessianRowsPerParam set how many rows the Hessian
// is formed on at first: the larger of 8192 and 64 per parameter, every row
// of a smaller data set. The gradient, and so the optimum and the stopping
// test, always use every row; the Hessian only shapes the steps. An
// estimate of it from an evenly spaced subset of the rows (Byrd, Chin,
// Neveitt & Nocedal, "On the use of stochastic Hessian information in
// optimization methods for machine learning", SIAM J. Optim. 21(3), 2011)
// costs a fraction of a pass over the data, and its error only makes the
// last iterations converge linearly rather than quadratically: on 160000
// rows × 20 features × 3 classes Newton takes 7 iterations either way.
// Should an iteration leave more than linSlowRatio of the largest gradient
// component, the estimate is too rough and the rows are doubled, up to all
// of them.
const (
	linHessianRows         = 8192
	linHessianRowsPerParam = 64
	linSlowRatio           = 0.5
)

// linReuse is how far, relative to the parameters' size, the point may
// move before the Hessian is formed again: near the optimum Newton's steps
// are tiny, the Hessian barely changes over them (its error from the row
// subset is larger), and reusing it saves a third of the Hessians (the
// "lazy Hessian" of Doikov, Chayti & Jaggi, ICML 2023).
const linReuse = 1e-2

// linNear reports whether theta is within linReuse of at, in the largest
// component relative to at's largest (or to 1).
func linNear(theta, at []float64) bool {
	var dmax, amax float64
	for i, v := range theta {
		dmax = math.Max(dmax, math.Abs(v-at[i]))
		amax = math.Max(amax, math.Abs(at[i]))
	}
	return dmax <= linReuse*math.Max(1, amax)
}

// logisticHessian holds the rows the Hessian is formed on, stored by
// column (each feature's values over those rows, then a column of ones for
// the intercepts) so that every entry is one contiguous dot product.
type logisticHessian struct {
	rows   []int       // the rows, in order
	cols   []float64   // (d+1) × m: column j of the rows at j·m
	weight []float64   // m: each row's class weight
	prob   []float64   // K × m: each output's probabilities at the current point
	vecs   [][]float64 // per worker: one weighted column, m entries
}

// newLogisticHessian takes every (n/m)-th row, every row when n ≤ m.
func (o *logisticObjective) newLogisticHessian() *logisticHessian {
	n, d := o.x.Dims()
	m := min(n, o.hessRows)
	h := &logisticHessian{
		rows:   make([]int, m),
		cols:   make([]float64, (d+1)*m),
		weight: make([]float64, m),
		prob:   make([]float64, o.outputs*m),
	}
	for r := range m {
		i := int(int64(r) * int64(n) / int64(m))
		h.rows[r] = i
		for j, v := range o.x.RawRowView(i) {
			h.cols[j*m+r] = v
		}
		h.cols[d*m+r] = 1
		h.weight[r] = 1
		if o.classW != nil {
			h.weight[r] = o.classW[o.y[i]]
		}
	}
	return h
}

// hessian stores in dst (dim × dim) the Hessian of f at theta, its data
// term estimated on the m rows of o.hess (doubled first when the last step
// converged slowly, see linSlowRatio), or the last one formed when theta is
// near where it was formed (see linNear):
//
//	∇²f ≈ (1/m) Σ_r s_r (diag(p_r) − p_r p_rᵀ) ⊗ x̃_r x̃_rᵀ + diag(1/(C n) on W, 0 on b),
//
// x̃ = (x, 1), p_r the row's probabilities over the outputs (σ(1 − σ) for
// the single binary output). With more than two classes every intercept
// can move by the same amount without changing f, so the Hessian is
// singular along u = (0 on W, 1 on b); every gradient is orthogonal to u,
// and adding u uᵀ makes the matrix positive definite without changing the
// Newton step (H p = −g with uᵀp = 0 solves (H + u uᵀ) p = −g). This keeps
// the intercepts summing to zero, where L-BFGS from zero keeps them too.
//
// Every entry is a dot product over the rows in row order, whichever
// worker forms it, so the Hessian does not depend on the number of cores.
func (o *logisticObjective) hessian(dst *mat.SymDense, theta []float64) {
	// The optimiser has just evaluated the gradient at theta.
	o.cached(theta)
	gmax := 0.0
	for _, g := range o.lastGrad {
		gmax = math.Max(gmax, math.Abs(g))
	}
	slow := o.hessAt != nil && gmax > linSlowRatio*o.hessGmax && !floats.Equal(theta, o.hessAt)
	o.hessAt = append(o.hessAt[:0], theta...)
	o.hessGmax = gmax
	n, _ := o.x.Dims()
	switch {
	case slow && o.hess != nil && len(o.hess.rows) < n:
		o.hessRows = min(n, 2*len(o.hess.rows))
		o.hess = nil
	case !slow && o.formed != nil && linNear(theta, o.formedAt):
		dst.CopySym(o.formed)
		return
	}
	if o.hess == nil {
		o.hess = o.newLogisticHessian()
	}
	defer func() {
		if o.formed == nil {
			o.formed = mat.NewSymDense(len(theta), nil)
		}
		o.formed.CopySym(dst)
		o.formedAt = append(o.formedAt[:0], theta...)
	}()
	h := o.hess
	d, K := o.features, o.outputs
	nw := K * d
	m := len(h.rows)
	procs := runtime.GOMAXPROCS(0)
	rows := o.workerRows(procs)
	// Logits and probabilities by column, from the rows' columns: an axpy
	// per weight over contiguous memory, where the rows themselves lie
	// n/m rows apart in X and would each be a cache miss.
	chunks := (m + linChunkRows - 1) / linChunkRows
	numeric.Parallel(chunks, procs, func(w, c int) {
		r0, r1 := c*linChunkRows, min(m, (c+1)*linChunkRows)
		for k := range K {
			zk := h.prob[k*m+r0 : k*m+r1]
			for r := range zk {
				zk[r] = theta[nw+k]
			}
			for j := range d {
				blas64.Axpy(theta[k*d+j], blas64.Vector{N: r1 - r0, Inc: 1, Data: h.cols[j*m+r0 : j*m+r1]}, blas64.Vector{N: r1 - r0, Inc: 1, Data: zk})
			}
		}
		if K == 1 {
			for r, z := range h.prob[r0:r1] {
				h.prob[r0+r] = 1 / (1 + math.Exp(-z))
			}
			return
		}
		row := rows[w][:K]
		for r := r0; r < r1; r++ {
			for k := range row {
				row[k] = h.prob[k*m+r]
			}
			numeric.SoftmaxInPlace(row)
			for k, p := range row {
				h.prob[k*m+r] = p
			}
		}
	})
	if len(h.vecs) < procs {
		h.vecs = make([][]float64, procs)
		for w := range h.vecs {
			h.vecs[w] = make([]float64, m)
		}
	}
	sym := dst.RawSymmetric()
	data, stride := sym.Data, sym.Stride
	index := func(k, j int) int {
		if j == d {
			return nw + k
		}
		return k*d + j
	}
	set := func(a, b int, v float64) { data[min(a, b)*stride+max(a, b)] = v }
	invM := 1 / float64(m)
	// One task per block (k, l ≥ k) and column j: the entries
	// (k, j)–(l, j') and (k, j')–(l, j) for j' ≥ j, which cover each
	// entry of the upper triangle once.
	pairs := K * (K + 1) / 2
	numeric.Parallel(pairs*(d+1), procs, func(w, t int) {
		q, j := t/(d+1), t%(d+1)
		k := 0
		for q >= K-k {
			q -= K - k
			k++
		}
		l := k + q
		v := h.vecs[w]
		cj := h.cols[j*m : (j+1)*m]
		for r := range v {
			pk, pl := h.prob[k*m+r], h.prob[l*m+r]
			c := -pk * pl
			if k == l {
				c += pk
			}
			v[r] = h.weight[r] * c * cj[r]
		}
		vv := blas64.Vector{N: m, Inc: 1, Data: v}
		for jj := j; jj <= d; jj++ {
			e := invM * blas64.Dot(vv, blas64.Vector{N: m, Inc: 1, Data: h.cols[jj*m : (jj+1)*m]})
			set(index(k, j), index(l, jj), e)
			set(index(k, jj), index(l, j), e)
		}
	})
	for j := range nw {
		data[j*stride+j] += o.invCN
	}
	if K > 1 {
		for a := nw; a < nw+K; a++ {
			for b := a; b < nw+K; b++ {
				data[a*stride+b]++
			}
		}
	}
}

// linProgressRecorder forwards the optimiser's major iterations to a
// Progress: the first ten, then about a hundred per fit at most, so a
// streaming caller sees Newton's few iterations and is not flooded by
// L-BFGS's many.
type linProgressRecorder struct {
	progress algo.Progress
	maxIter  int
	every    int
	method   string
}

func (r *linProgressRecorder) Init() error { return nil }

func (r *linProgressRecorder) Record(loc *optimize.Location, op optimize.Operation, stats *optimize.Stats) error {
	if op != optimize.MajorIteration {
		return nil
	}
	if it := stats.MajorIterations; it <= 10 || it%r.every == 0 || it == r.maxIter {
		r.progress.Report(int64(it), int64(r.maxIter), loc.F, r.method)
	}
	return nil
}

// linLinesearch is Armijo backtracking (optimize.Backtracking) that also
// accepts a step whose value is within a relative linFlat of the start's
// while the slope along the direction has fallen to at most linCurvature
// of its start in magnitude: Hager & Zhang's approximate Wolfe conditions
// (SIAM J. Optim. 16(1), 2005). Near the optimum a Newton step lowers the
// objective by less than rounding can show, and plain Armijo would reject
// the step the slope says is right; these steps let Newton's method reach
// gradient tolerances that the objective's value no longer resolves.
type linLinesearch struct {
	optimize.Backtracking
	f0, g0, step float64
}

const (
	linFlat      = 1e-12
	linCurvature = 0.9
)

func (l *linLinesearch) Init(f, g, step float64) optimize.Operation {
	l.Backtracking.Init(f, g, step)
	l.f0, l.g0, l.step = f, g, step
	return optimize.FuncEvaluation | optimize.GradEvaluation
}

func (l *linLinesearch) Iterate(f, g float64) (optimize.Operation, float64, error) {
	op, step, err := l.Backtracking.Iterate(f, g)
	if op != optimize.MajorIteration && f <= l.f0+linFlat*math.Abs(l.f0) && math.Abs(g) <= -linCurvature*l.g0 {
		return optimize.MajorIteration, l.step, nil
	}
	l.step = step
	if op == optimize.FuncEvaluation {
		op |= optimize.GradEvaluation
	}
	return op, step, err
}

// minimise runs Newton's method (newton true) or L-BFGS on the objective
// from theta0 until the largest gradient component is below tol, maxIter
// iterations, or ctx is done.
func (o *logisticObjective) minimise(ctx context.Context, theta0 []float64, newton bool, tol float64, maxIter int, progress algo.Progress) (*optimize.Result, error) {
	problem := optimize.Problem{
		Func: func(x []float64) float64 {
			o.cached(x)
			return o.lastF
		},
		Grad: func(grad, x []float64) {
			o.cached(x)
			copy(grad, o.lastGrad)
		},
		Status: func() (optimize.Status, error) {
			if err := ctx.Err(); err != nil {
				return optimize.Failure, err
			}
			return optimize.NotTerminated, nil
		},
	}
	var method optimize.Method = &optimize.LBFGS{}
	name := "lbfgs"
	if newton {
		// optimize.Newton factorises the Hessian by Cholesky, adding a
		// multiple of the identity should it not be positive definite
		// (the penalty makes it so unless C is huge), and takes a
		// line-searched step along the Newton direction.
		problem.Hess = o.hessian
		method = &optimize.Newton{Linesearcher: &linLinesearch{}}
		name = "newton"
	}
	settings := &optimize.Settings{
		GradientThreshold: tol,
		MajorIterations:   maxIter,
		// A safety net for tolerances below what floating point can reach:
		// stop once 50 iterations in a row improve the objective by less
		// than a relative 1e-15. Such a stop is reported as not converged.
		Converger: &optimize.FunctionConverge{Relative: 1e-15, Iterations: 50},
	}
	if progress != nil {
		settings.Recorder = &linProgressRecorder{progress: progress, maxIter: maxIter, every: max(1, maxIter/100), method: name}
	}
	return optimize.Minimize(problem, theta0, settings, method)
}

func fitLogisticRegression(ctx context.Context, ds *algo.Dataset, params map[string]float64, _ int64, progress algo.Progress) (*datav1.Model, error) {
	if err := algo.CheckFinite(ds); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, maxIter, tol := params["C"], int(params["max_iter"]), params["tol"]
	if !(c > 0) {
		return nil, fmt.Errorf("C must be positive, got %g", c)
	}
	if maxIter < 1 {
		return nil, fmt.Errorf("max_iter must be at least 1, got %d", maxIter)
	}
	classW, err := algo.ClassWeights(ds, params)
	if err != nil {
		return nil, err
	}
	obj := newLogisticObjective(ds, c, classW)
	res, err := obj.minimise(ctx, make([]float64, obj.dim()), obj.useNewton(), tol, maxIter, progress)
	if cerr := ctx.Err(); cerr != nil {
		return nil, cerr
	}
	// A line-search failure near the optimum (the objective no longer
	// decreases in floating point) still leaves the best point found; keep
	// it and report it as not converged. Anything else is a real failure.
	if res == nil || !algo.AllFinite(res.Location.X) || math.IsNaN(res.Location.F) {
		if err == nil {
			err = errors.New("optimiser diverged")
		}
		return nil, fmt.Errorf("logistic regression: %w", err)
	}
	theta := res.Location.X
	obj.cached(theta)
	gmax := 0.0
	for _, g := range obj.lastGrad {
		gmax = math.Max(gmax, math.Abs(g))
	}
	converged := res.Status == optimize.GradientThreshold || res.Status == optimize.MethodConverge ||
		(tol > 0 && gmax < tol)
	progress.Report(int64(res.Stats.MajorIterations), int64(maxIter), obj.lastF, "done")

	nw := obj.outputs * obj.features
	weights := append([]float64(nil), theta[:nw]...)
	intercepts := append([]float64(nil), theta[nw:]...)
	return &datav1.Model{
		FeatureImportances: linWeightImportances(weights, obj.outputs, obj.features),
		Parameters: &datav1.Model_Linear{Linear: &datav1.LinearModel{
			NumOutputs:  int32(obj.outputs),
			NumFeatures: int32(obj.features),
			Weights:     weights,
			Intercepts:  intercepts,
			Iterations:  int32(res.Stats.MajorIterations),
			Converged:   converged,
		}},
	}, nil
}
