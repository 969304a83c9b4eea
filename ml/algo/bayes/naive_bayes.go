package bayes

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
		Name: "naive_bayes",
		Description: "Gaussian naive Bayes like scikit-learn's GaussianNB: each feature is " +
			"normal within each class (maximum-likelihood mean and variance), priors are the " +
			"class frequencies, and var_smoothing times the largest feature variance is added " +
			"to every variance for stability.",
		Tasks: []datav1.Task{datav1.Task_TASK_CLASSIFICATION},
		Params: []algo.Param{
			{Name: "var_smoothing", Default: 1e-9, Min: 0, Max: 1,
				Description: "Share of the largest feature variance added to every per-class variance. Default 1e-9."},
		},
		Fit:     fitNaiveBayes,
		Predict: predictNaiveBayes,
	})
}

// nbVarianceFloor is the smallest variance a fitted model keeps. It only
// matters when var_smoothing is 0 (or every feature is constant) and a
// feature is constant within a class, where scikit-learn would divide by
// zero; the floor keeps every density finite instead.
const nbVarianceFloor = 1e-12

func fitNaiveBayes(ctx context.Context, ds *algo.Dataset, params map[string]float64, _ int64, progress algo.Progress) (*datav1.Model, error) {
	if err := algo.CheckFinite(ds); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	smoothing := params["var_smoothing"]
	if !(smoothing >= 0) || math.IsInf(smoothing, 0) {
		return nil, fmt.Errorf("var_smoothing must be a finite number >= 0, got %g", smoothing)
	}
	n, d := ds.X.Dims()
	k := ds.NumClasses
	counts := make([]float64, k)
	means := make([]float64, k*d)
	variances := make([]float64, k*d)
	// Two passes (means, then squared deviations) keep the variance accurate
	// when a feature's mean is large relative to its spread.
	for i := 0; i < n; i++ {
		c := int(ds.Y[i])
		counts[c]++
		mu := means[c*d : (c+1)*d]
		for j, v := range ds.X.RawRowView(i) {
			mu[j] += v
		}
	}
	for c := 0; c < k; c++ {
		if counts[c] == 0 {
			continue
		}
		for j := range means[c*d : (c+1)*d] {
			means[c*d+j] /= counts[c]
		}
	}
	for i := 0; i < n; i++ {
		c := int(ds.Y[i])
		mu, va := means[c*d:(c+1)*d], variances[c*d:(c+1)*d]
		for j, v := range ds.X.RawRowView(i) {
			diff := v - mu[j]
			va[j] += diff * diff
		}
	}
	for c := 0; c < k; c++ {
		if counts[c] == 0 {
			continue
		}
		for j := range variances[c*d : (c+1)*d] {
			variances[c*d+j] /= counts[c]
		}
	}

	// Largest variance of any feature over the whole training set.
	var maxVar float64
	for j := 0; j < d; j++ {
		var mean float64
		for i := 0; i < n; i++ {
			mean += ds.X.At(i, j)
		}
		mean /= float64(n)
		var ss float64
		for i := 0; i < n; i++ {
			diff := ds.X.At(i, j) - mean
			ss += diff * diff
		}
		maxVar = math.Max(maxVar, ss/float64(n))
	}
	eps := smoothing * maxVar
	for i := range variances {
		variances[i] = math.Max(variances[i]+eps, nbVarianceFloor)
	}
	logPrior := make([]float64, k)
	for c, cnt := range counts {
		logPrior[c] = math.Log(cnt / float64(n)) // −Inf for a class with no rows
	}
	progress.Report(1, 1, math.NaN(), "estimated class densities")
	return &datav1.Model{
		Parameters: &datav1.Model_GaussianNb{GaussianNb: &datav1.GaussianNbModel{
			ClassLogPrior: logPrior,
			Means:         means,
			Variances:     variances,
		}},
	}, nil
}

// nbCheckModel validates a Gaussian naive Bayes model and returns it with
// its number of classes and features.
func nbCheckModel(m *datav1.Model) (*datav1.GaussianNbModel, int, int, error) {
	nb := m.GetGaussianNb()
	if nb == nil {
		return nil, 0, 0, errors.New("model has no Gaussian naive Bayes parameters")
	}
	k := len(nb.GetClassLogPrior())
	if k < 1 {
		return nil, 0, 0, errors.New("naive Bayes model: no classes")
	}
	if names := len(m.GetClassNames()); names != 0 && names != k {
		return nil, 0, 0, fmt.Errorf("naive Bayes model: %d class priors for %d class names", k, names)
	}
	if len(nb.GetMeans())%k != 0 || len(nb.GetMeans()) == 0 {
		return nil, 0, 0, fmt.Errorf("naive Bayes model: %d means is not a positive multiple of %d classes", len(nb.GetMeans()), k)
	}
	d := len(nb.GetMeans()) / k
	if len(nb.GetVariances()) != k*d {
		return nil, 0, 0, fmt.Errorf("naive Bayes model: %d variances for %d classes × %d features", len(nb.GetVariances()), k, d)
	}
	if !algo.AllFinite(nb.GetMeans()) {
		return nil, 0, 0, errors.New("naive Bayes model: means must be finite")
	}
	for _, v := range nb.GetVariances() {
		if !(v > 0) || math.IsInf(v, 0) {
			return nil, 0, 0, fmt.Errorf("naive Bayes model: variance %g is not a positive finite number", v)
		}
	}
	anyClass := false
	for _, p := range nb.GetClassLogPrior() {
		if math.IsNaN(p) || math.IsInf(p, 1) {
			return nil, 0, 0, fmt.Errorf("naive Bayes model: class log prior %g is not a log probability", p)
		}
		anyClass = anyClass || !math.IsInf(p, -1)
	}
	if !anyClass {
		return nil, 0, 0, errors.New("naive Bayes model: every class has prior 0")
	}
	return nb, k, d, nil
}

// predictNaiveBayes returns P(class | x) ∝ P(class) Π_j N(x_j; μ_cj, σ²_cj),
// normalised in log space with log-sum-exp. A row so far from every class
// that all joint log-likelihoods underflow to −Inf gets the priors.
func predictNaiveBayes(m *datav1.Model, X *mat.Dense) (*mat.Dense, error) {
	nb, k, d, err := nbCheckModel(m)
	if err != nil {
		return nil, err
	}
	if err := algo.CheckInput(m, X, d); err != nil {
		return nil, err
	}
	means, vars, logPrior := nb.GetMeans(), nb.GetVariances(), nb.GetClassLogPrior()
	// The normalising constant −½ Σ_j log(2π σ²_cj) depends only on the class.
	norm := make([]float64, k)
	for c := 0; c < k; c++ {
		for _, v := range vars[c*d : (c+1)*d] {
			norm[c] -= 0.5 * math.Log(2*math.Pi*v)
		}
	}
	n, _ := X.Dims()
	out := mat.NewDense(n, k, nil)
	for i := 0; i < n; i++ {
		x := X.RawRowView(i)
		row := out.RawRowView(i)
		best := math.Inf(-1)
		for c := 0; c < k; c++ {
			jll := logPrior[c] + norm[c]
			mu, va := means[c*d:(c+1)*d], vars[c*d:(c+1)*d]
			var q float64
			for j, v := range x {
				diff := v - mu[j]
				q += diff * diff / va[j]
			}
			jll -= 0.5 * q
			row[c] = jll
			best = math.Max(best, jll)
		}
		if math.IsInf(best, -1) || math.IsNaN(best) {
			for c := range row {
				row[c] = math.Exp(logPrior[c])
			}
			var s float64
			for _, p := range row {
				s += p
			}
			for c := range row {
				row[c] /= s
			}
			continue
		}
		numeric.SoftmaxInPlace(row)
	}
	return out, nil
}
