package linear

import (
	"context"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

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
			"single logit row (the binomial loss). Solved by Newton's method with a line search " +
			"(Nocedal & Wright, Numerical Optimization, §3.3) on the exact gradient, the Hessian " +
			"formed on an evenly spaced subset of at least 8192 rows, when there are up to 256 " +
			"parameters (classes × (features + 1)) and forming the Hessian costs less than a pass " +
			"over the rows; otherwise with L-BFGS (§7.2).",
		Tasks: []datav1.Task{datav1.Task_TASK_CLASSIFICATION},
		Params: []algo.Param{
			{Name: "C", Default: 1, Min: 1e-12, Max: 1e6,
				Description: "Inverse regularisation strength: larger C means a weaker L2 penalty. Default 1."},
			{Name: "max_iter", Default: 1000, Min: 1, Max: 100000, Type: algo.Integer,
				Description: "Maximum number of iterations (of Newton's method, or of L-BFGS for many parameters). Default 1000."},
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
