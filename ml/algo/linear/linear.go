package linear

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/algo/internal/numeric"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

func init() {
	algo.Register(&algo.Spec{
		Name: "logistic_regression",
		Description: "Multinomial logistic regression with an L2 penalty, minimising " +
			"C·Σ s_i·log-loss_i + ½‖W‖² (intercepts unpenalised, s_i the row's class weight, 1 " +
			"unless balanced) as scikit-learn's LogisticRegression does; a binary problem fits a " +
			"single logit row (the binomial loss). Solved with L-BFGS (Nocedal & Wright, " +
			"Numerical Optimization, §7.2) on the analytic gradient.",
		Tasks: []datav1.Task{datav1.Task_TASK_CLASSIFICATION},
		Params: []algo.Param{
			{Name: "C", Default: 1, Min: 1e-12, Max: 1e6,
				Description: "Inverse regularisation strength: larger C means a weaker L2 penalty. Default 1."},
			{Name: "max_iter", Default: 1000, Min: 1, Max: 100000, Type: algo.Integer,
				Description: "Maximum number of L-BFGS iterations. Default 1000."},
			{Name: "tol", Default: 1e-6, Min: 0, Max: 1,
				Description: "Stop when the largest absolute gradient component of the objective, " +
					"divided by C·rows (scikit-learn's scaling), falls below tol. Default 1e-6; 0 runs " +
					"until max_iter or until the objective stops improving."},
			algo.BalancedParam,
		},
		Fit:     fitLogisticRegression,
		Predict: predictLinearClassifier,
	})
	algo.Register(&algo.Spec{
		Name: "linear_regression",
		Description: "Ordinary least squares with an intercept, solved by Householder QR on " +
			"centred data; rank-deficient or ill-conditioned problems (and more features than " +
			"rows) fall back to the SVD minimum-norm solution, as LAPACK's gelsd does for " +
			"scikit-learn's LinearRegression.",
		Tasks:   []datav1.Task{datav1.Task_TASK_REGRESSION},
		Params:  []algo.Param{},
		Fit:     fitLinearRegression,
		Predict: predictLinearRegressor,
	})
	algo.Register(&algo.Spec{
		Name: "ridge",
		Description: "Ridge regression: minimises ‖y − Xw − b‖² + alpha‖w‖² with an unpenalised " +
			"intercept (data centred), solved by Cholesky factorisation of XᵀX + alpha·I; a " +
			"singular system (alpha 0 with collinear features) falls back to the SVD " +
			"minimum-norm solution.",
		Tasks: []datav1.Task{datav1.Task_TASK_REGRESSION},
		Params: []algo.Param{
			{Name: "alpha", Default: 1, Min: 0, Max: 1e9,
				Description: "L2 penalty strength on the coefficients (not the intercept). Default 1; 0 is ordinary least squares."},
		},
		Fit:     fitRidge,
		Predict: predictLinearRegressor,
	})
}

// linImportances turns per-feature magnitudes into importances summing to 1;
// when every magnitude is zero no feature matters more than another and the
// importances are uniform.
func linImportances(mag []float64) []float64 {
	out := make([]float64, len(mag))
	var sum float64
	for _, v := range mag {
		sum += v
	}
	for j, v := range mag {
		if sum > 0 && !math.IsInf(sum, 0) {
			out[j] = v / sum
		} else {
			out[j] = 1 / float64(len(mag))
		}
	}
	return out
}

// linWeightImportances is the normalised mean |w| per feature of a
// num_outputs × num_features weight matrix.
func linWeightImportances(w []float64, outputs, features int) []float64 {
	mag := make([]float64, features)
	for k := 0; k < outputs; k++ {
		for j, v := range w[k*features : (k+1)*features] {
			mag[j] += math.Abs(v)
		}
	}
	return linImportances(mag)
}

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

	z    []float64 // n × outputs logits, reused as the residual P − Y
	loss []float64 // per-row loss terms, summed in row order
	grad []float64 // outputs × d gradient of the data term
	rows [][]float64

	// cache of the last evaluation, since optimize asks for the value and
	// the gradient at the same point in two calls.
	lastX    []float64
	lastF    float64
	lastGrad []float64
	valid    bool
}

// linChunkRows is the number of rows a worker takes at a time in the
// objective's row pass.
const linChunkRows = 4096

// linBlock is gonum's matrix-multiply block size (blas/gonum blockSize):
// the row pass splits every dot product where gonum's Dgemm does, so that
// the sums are bit for bit those of mat.Dense.Mul.
const linBlock = 64

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
	return &logisticObjective{
		x: ds.X, y: y, classW: classW, classes: k, outputs: outputs, features: d,
		invCN:    1 / (c * float64(n)),
		z:        make([]float64, n*outputs),
		loss:     make([]float64, n),
		grad:     make([]float64, outputs*d),
		lastX:    make([]float64, dim),
		lastGrad: make([]float64, dim),
	}
}

// dim is the length of the parameter vector.
func (o *logisticObjective) dim() int { return o.outputs*o.features + o.outputs }

// linDot is Σ x_j·w_j as gonum's Dgemm computes one element of X·Wᵀ: one
// dot product, or, when blocked, the sum in order of the dot products of
// linBlock-long pieces.
func linDot(x, w []float64, blocked bool) float64 {
	if !blocked {
		return 0 + blas64.Dot(blas64.Vector{N: len(x), Inc: 1, Data: x}, blas64.Vector{N: len(w), Inc: 1, Data: w})
	}
	var s float64
	for l := 0; l < len(x); l += linBlock {
		e := min(l+linBlock, len(x))
		s += blas64.Dot(blas64.Vector{N: e - l, Inc: 1, Data: x[l:e]}, blas64.Vector{N: e - l, Inc: 1, Data: w[l:e]})
	}
	return s
}

// eval returns f(theta) and, when grad is not nil, stores ∇f(theta) in it.
//
// It makes two passes over X, both spread over GOMAXPROCS goroutines and
// allocating no buffer: the rows, in chunks, for the logits (X·Wᵀ), the
// softmax, each row's loss and the residual P − Y; then the gradient
// Rᵀ·X, its columns split between the workers, each summing its columns
// over the rows in order. Every sum is formed in the order gonum's
// mat.Dense.Mul forms it (the same dot and axpy kernels, the same
// blocking), and the row losses are added in row order, so the objective
// and hence the model are the same bit for bit whatever the number of
// cores.
func (o *logisticObjective) eval(theta, grad []float64) float64 {
	n, d := o.x.Dims()
	K := o.outputs
	nw := K * d
	W := theta[:nw]
	b := theta[nw:]
	raw := o.x.RawMatrix()
	procs := runtime.GOMAXPROCS(0)
	if len(o.rows) < procs {
		o.rows = make([][]float64, procs)
		for w := range o.rows {
			o.rows[w] = make([]float64, o.classes)
		}
	}
	// gonum's Dgemm splits the products in blocks (and so the dot
	// products) once there are at least four blocks of output.
	blocked := ((n+linBlock-1)/linBlock)*((K+linBlock-1)/linBlock) >= 4
	chunks := (n + linChunkRows - 1) / linChunkRows
	numeric.Parallel(chunks, procs, func(w, c int) {
		row := o.rows[w]
		for i := c * linChunkRows; i < min(n, (c+1)*linChunkRows); i++ {
			xi := raw.Data[i*raw.Stride : i*raw.Stride+d]
			zi := o.z[i*K : (i+1)*K]
			for k := range zi {
				zi[k] = linDot(xi, W[k*d:(k+1)*d], blocked)
			}
			o.loss[i] = o.rowLoss(zi, b, o.y[i], row)
		}
	})
	var loss float64
	for _, l := range o.loss {
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
	clear(o.grad)
	parts := min(procs, max(1, d/8))
	numeric.Parallel(parts, parts, func(_, part int) {
		j0, j1 := part*d/parts, (part+1)*d/parts
		for i := range n {
			xi := blas64.Vector{N: j1 - j0, Inc: 1, Data: raw.Data[i*raw.Stride+j0 : i*raw.Stride+j1]}
			for k, r := range o.z[i*K : (i+1)*K] {
				if r != 0 {
					blas64.Axpy(r, xi, blas64.Vector{N: j1 - j0, Inc: 1, Data: o.grad[k*d+j0 : k*d+j1]})
				}
			}
		}
	})
	for k := range K {
		for j, v := range o.grad[k*d : (k+1)*d] {
			grad[k*d+j] = v*invN + o.invCN*theta[k*d+j]
		}
	}
	for k := range K {
		var s float64
		for i := range n {
			s += o.z[i*K+k]
		}
		grad[nw+k] = s * invN
	}
	return f
}

// rowLoss turns one row's logits zi (without intercepts b) into its loss
// term, and leaves the row's residual P − Y, times its class weight, in
// zi. row is scratch of K entries.
func (o *logisticObjective) rowLoss(zi, b []float64, yi int, row []float64) float64 {
	if o.outputs == 1 {
		row[0] = 0
		row[1] = zi[0] + b[0]
	} else {
		for k := range zi {
			row[k] = zi[k] + b[k]
		}
	}
	lse := numeric.SoftmaxInPlace(row)
	// row now holds probabilities; the loss term is lse − z_y, and
	// lse − z_y = −log p_y computed without underflow. The residual
	// P − Y left in zi is scaled by the row's class weight, which
	// weights both gradients.
	var loss float64
	switch {
	case o.classW != nil && o.outputs == 1:
		s := o.classW[yi]
		loss = s * (lse - (zi[0]+b[0])*float64(yi))
		zi[0] = s * (row[1] - float64(yi))
	case o.classW != nil:
		s := o.classW[yi]
		loss = s * (lse - (zi[yi] + b[yi]))
		for k := range zi {
			zi[k] = s * row[k]
		}
		zi[yi] -= s
	case o.outputs == 1:
		loss = lse - (zi[0]+b[0])*float64(yi)
		zi[0] = row[1] - float64(yi)
	default:
		loss = lse - (zi[yi] + b[yi])
		for k := range zi {
			zi[k] = row[k]
		}
		zi[yi]--
	}
	return loss
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

// linProgressRecorder forwards L-BFGS major iterations to a Progress, at
// most about a hundred times per fit so a streaming caller is not flooded.
type linProgressRecorder struct {
	progress algo.Progress
	maxIter  int
	every    int
}

func (r *linProgressRecorder) Init() error { return nil }

func (r *linProgressRecorder) Record(loc *optimize.Location, op optimize.Operation, stats *optimize.Stats) error {
	if op != optimize.MajorIteration {
		return nil
	}
	if it := stats.MajorIterations; it%r.every == 0 || it == r.maxIter {
		r.progress.Report(int64(it), int64(r.maxIter), loc.F, "lbfgs")
	}
	return nil
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
	problem := optimize.Problem{
		Func: func(x []float64) float64 {
			obj.cached(x)
			return obj.lastF
		},
		Grad: func(grad, x []float64) {
			obj.cached(x)
			copy(grad, obj.lastGrad)
		},
		Status: func() (optimize.Status, error) {
			if err := ctx.Err(); err != nil {
				return optimize.Failure, err
			}
			return optimize.NotTerminated, nil
		},
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
		settings.Recorder = &linProgressRecorder{progress: progress, maxIter: maxIter, every: max(1, maxIter/100)}
	}
	theta0 := make([]float64, obj.dim())
	res, err := optimize.Minimize(problem, theta0, settings, &optimize.LBFGS{})
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

// linCentre returns X and y minus their column means, and the means. Fitting
// on centred data leaves the intercept out of the linear system: it is
// recovered afterwards as ȳ − x̄·w and is never penalised.
func linCentre(X *mat.Dense, y []float64) (xc *mat.Dense, yc []float64, xMean []float64, yMean float64) {
	n, d := X.Dims()
	xMean = make([]float64, d)
	for i := 0; i < n; i++ {
		for j, v := range X.RawRowView(i) {
			xMean[j] += v
		}
		yMean += y[i]
	}
	for j := range xMean {
		xMean[j] /= float64(n)
	}
	yMean /= float64(n)
	xc = mat.NewDense(n, d, nil)
	yc = make([]float64, n)
	for i := 0; i < n; i++ {
		src, dst := X.RawRowView(i), xc.RawRowView(i)
		for j, v := range src {
			dst[j] = v - xMean[j]
		}
		yc[i] = y[i] - yMean
	}
	return xc, yc, xMean, yMean
}

// linQRConditionLimit is the condition number above which the QR solution
// of least squares is no longer trusted and the SVD minimum-norm solution is
// used instead: beyond it about a third or more of float64's digits are lost.
const linQRConditionLimit = 1e10

// linSVDSolve returns the minimiser of ‖y − Xw‖² + alpha‖w‖² with the least
// norm, from the thin SVD X = U S Vᵀ: w = V diag(s/(s²+alpha)) Uᵀ y. Singular
// values at or below eps·max(n,d)·s_max (NumPy's lstsq default cut-off) are
// treated as zero, so collinear features share weight instead of exploding.
func linSVDSolve(X *mat.Dense, y []float64, alpha float64) ([]float64, error) {
	n, d := X.Dims()
	w := make([]float64, d)
	var svd mat.SVD
	if !svd.Factorize(X, mat.SVDThin) {
		return nil, errors.New("singular value decomposition did not converge")
	}
	s := svd.Values(nil)
	if len(s) == 0 || s[0] == 0 {
		return w, nil // every centred feature is zero: only the intercept fits
	}
	cut := 2.220446049250313e-16 * float64(max(n, d)) * s[0]
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	uty := mat.NewVecDense(len(s), nil)
	uty.MulVec(u.T(), mat.NewVecDense(n, y))
	for i, si := range s {
		if si <= cut {
			uty.SetVec(i, 0)
			continue
		}
		uty.SetVec(i, uty.AtVec(i)*si/(si*si+alpha))
	}
	wv := mat.NewVecDense(d, w)
	wv.MulVec(&v, uty)
	return w, nil
}

// linRegressionModel packs regression coefficients into a model message.
func linRegressionModel(w []float64, intercept float64) *datav1.Model {
	mag := make([]float64, len(w))
	for j, v := range w {
		mag[j] = math.Abs(v)
	}
	return &datav1.Model{
		FeatureImportances: linImportances(mag),
		Parameters: &datav1.Model_Linear{Linear: &datav1.LinearModel{
			NumOutputs:  1,
			NumFeatures: int32(len(w)),
			Weights:     w,
			Intercepts:  []float64{intercept},
			Converged:   true,
		}},
	}
}

// linIntercept is ȳ − x̄·w.
func linIntercept(w, xMean []float64, yMean float64) float64 {
	b := yMean
	for j, v := range w {
		b -= v * xMean[j]
	}
	return b
}

func fitLinearRegression(ctx context.Context, ds *algo.Dataset, _ map[string]float64, _ int64, progress algo.Progress) (*datav1.Model, error) {
	if err := algo.CheckFinite(ds); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	xc, yc, xMean, yMean := linCentre(ds.X, ds.Y)
	n, d := xc.Dims()
	var w []float64
	if n >= d {
		var qr mat.QR
		qr.Factorize(xc)
		if qr.Cond() <= linQRConditionLimit {
			var sol mat.Dense
			if err := qr.SolveTo(&sol, false, mat.NewDense(n, 1, yc)); err == nil {
				w = mat.Col(nil, 0, &sol)
			}
		}
	}
	if w == nil || !algo.AllFinite(w) {
		var err error
		if w, err = linSVDSolve(xc, yc, 0); err != nil {
			return nil, fmt.Errorf("linear regression: %w", err)
		}
	}
	progress.Report(1, 1, math.NaN(), "solved")
	return linRegressionModel(w, linIntercept(w, xMean, yMean)), nil
}

func fitRidge(ctx context.Context, ds *algo.Dataset, params map[string]float64, _ int64, progress algo.Progress) (*datav1.Model, error) {
	if err := algo.CheckFinite(ds); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	alpha := params["alpha"]
	if !(alpha >= 0) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("alpha must be a finite number >= 0, got %g", alpha)
	}
	xc, yc, xMean, yMean := linCentre(ds.X, ds.Y)
	_, d := xc.Dims()
	gram := mat.NewSymDense(d, nil)
	gram.SymOuterK(1, xc.T())
	for j := 0; j < d; j++ {
		gram.SetSym(j, j, gram.At(j, j)+alpha)
	}
	rhs := mat.NewVecDense(d, nil)
	rhs.MulVec(xc.T(), mat.NewVecDense(len(yc), yc))

	var w []float64
	var chol mat.Cholesky
	if chol.Factorize(gram) {
		sol := mat.NewVecDense(d, nil)
		if err := chol.SolveVecTo(sol, rhs); err == nil {
			w = sol.RawVector().Data
		}
	}
	if w == nil || !algo.AllFinite(w) {
		var err error
		if w, err = linSVDSolve(xc, yc, alpha); err != nil {
			return nil, fmt.Errorf("ridge: %w", err)
		}
	}
	progress.Report(1, 1, math.NaN(), "solved")
	return linRegressionModel(w, linIntercept(w, xMean, yMean)), nil
}

// linModelOf validates the LinearModel of m and returns it.
func linModelOf(m *datav1.Model) (*datav1.LinearModel, error) {
	lm := m.GetLinear()
	if lm == nil {
		return nil, errors.New("model has no linear parameters")
	}
	k, d := int64(lm.GetNumOutputs()), int64(lm.GetNumFeatures())
	switch {
	case k < 1:
		return nil, fmt.Errorf("linear model: num_outputs %d < 1", k)
	case d < 1:
		return nil, fmt.Errorf("linear model: num_features %d < 1", d)
	case int64(len(lm.GetWeights())) != k*d:
		return nil, fmt.Errorf("linear model: %d weights for %d outputs × %d features", len(lm.GetWeights()), k, d)
	case int64(len(lm.GetIntercepts())) != k:
		return nil, fmt.Errorf("linear model: %d intercepts for %d outputs", len(lm.GetIntercepts()), k)
	case !algo.AllFinite(lm.GetWeights()) || !algo.AllFinite(lm.GetIntercepts()):
		return nil, errors.New("linear model: weights and intercepts must be finite")
	}
	return lm, nil
}

// linScores returns X Wᵀ + b, rows × num_outputs.
func linScores(lm *datav1.LinearModel, X *mat.Dense) *mat.Dense {
	n, _ := X.Dims()
	k, d := int(lm.GetNumOutputs()), int(lm.GetNumFeatures())
	out := mat.NewDense(n, k, nil)
	out.Mul(X, mat.NewDense(k, d, lm.GetWeights()).T())
	b := lm.GetIntercepts()
	for i := 0; i < n; i++ {
		row := out.RawRowView(i)
		for j := range row {
			row[j] += b[j]
		}
	}
	return out
}

// predictLinearRegressor returns X w + b, rows × 1.
func predictLinearRegressor(m *datav1.Model, X *mat.Dense) (*mat.Dense, error) {
	lm, err := linModelOf(m)
	if err != nil {
		return nil, err
	}
	if lm.GetNumOutputs() != 1 {
		return nil, fmt.Errorf("linear regression model has %d outputs, want 1", lm.GetNumOutputs())
	}
	if err := algo.CheckInput(m, X, int(lm.GetNumFeatures())); err != nil {
		return nil, err
	}
	return linScores(lm, X), nil
}

// predictLinearClassifier returns class probabilities: softmax of the
// scores, or for a single output the logistic function of the class-1 logit.
func predictLinearClassifier(m *datav1.Model, X *mat.Dense) (*mat.Dense, error) {
	lm, err := linModelOf(m)
	if err != nil {
		return nil, err
	}
	if err := algo.CheckInput(m, X, int(lm.GetNumFeatures())); err != nil {
		return nil, err
	}
	k := int(lm.GetNumOutputs())
	classes := algo.NumClasses(m, max(k, 2))
	switch {
	case k == 1 && classes != 2:
		return nil, fmt.Errorf("linear classifier with a single output needs 2 classes, model names %d", classes)
	case k > 1 && k != classes:
		return nil, fmt.Errorf("linear classifier has %d outputs for %d classes", k, classes)
	}
	scores := linScores(lm, X)
	n, _ := X.Dims()
	out := mat.NewDense(n, classes, nil)
	row := make([]float64, classes)
	for i := 0; i < n; i++ {
		s := scores.RawRowView(i)
		if k == 1 {
			row[0], row[1] = 0, s[0]
		} else {
			copy(row, s)
		}
		numeric.SoftmaxInPlace(row)
		copy(out.RawRowView(i), row)
	}
	return out, nil
}
