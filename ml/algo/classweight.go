package algo

import (
	"fmt"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// BalancedParamName names the hyperparameter that weights classes
// inversely to their frequency. The orchestrator sets it to 1 on every
// algorithm declaring it when a pipeline asks for balanced classes, so only
// algorithms that honour it declare it.
const BalancedParamName = "balanced"

// BalancedParam declares the balanced hyperparameter. Algorithms that
// also fit regressions ignore it there: a continuous target has no classes
// to weigh.
var BalancedParam = Param{
	Name: BalancedParamName, Default: 0, Min: 0, Max: 1, Type: Flag,
	Tasks: []datav1.Task{datav1.Task_TASK_CLASSIFICATION},
	Description: "1 weights each class inversely to its frequency, n_samples / (n_classes * n_c), " +
		"like scikit-learn's class_weight='balanced'; classification only (ignored for regression). Default 0.",
}

// ClassWeights returns the per-class weights the balanced
// hyperparameter asks for on ds: nil when it is 0 or the task is
// regression, algo.BalancedClassWeights otherwise.
func ClassWeights(ds *Dataset, params map[string]float64) ([]float64, error) {
	switch v := params[BalancedParamName]; {
	case v == 0 || ds.Task != datav1.Task_TASK_CLASSIFICATION:
		return nil, nil
	case v == 1:
		return BalancedClassWeights(ds.Y, ds.NumClasses), nil
	default:
		return nil, &ParamError{BalancedParamName, fmt.Sprintf("%g must be 0 or 1", v)}
	}
}

// BalancedClassWeights returns scikit-learn's "balanced" class weights
// (compute_class_weight): n / (k · n_c) for a class with n_c of the n rows,
// k counting only the classes that occur in y, as scikit-learn's
// np.unique(y) does. The weights of the rows then sum to n, so losses keep
// their scale. A class without rows gets weight 0; it has nothing to weigh.
func BalancedClassWeights(y []float64, numClasses int) []float64 {
	counts := make([]float64, numClasses)
	for _, v := range y {
		counts[int(v)]++
	}
	present := 0
	for _, c := range counts {
		if c > 0 {
			present++
		}
	}
	w := make([]float64, numClasses)
	for k, c := range counts {
		if c > 0 {
			w[k] = float64(len(y)) / (float64(present) * c)
		}
	}
	return w
}
