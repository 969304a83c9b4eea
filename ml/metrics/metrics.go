// Package metrics scores predictions against true labels with the usual
// classification and regression metrics, defined as in scikit-learn
// (sklearn.metrics), and fills the alur.data.v1 metrics messages. Eval
// scores with it and the orchestrator compares runs through Score, so one
// definition of every metric serves the whole system.
package metrics

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/gonum/mat"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// logLossEps is the clipping bound of log loss: probabilities are clipped to
// [logLossEps, 1 − logLossEps] so one confident mistake costs about 34.5
// instead of infinity.
const logLossEps = 1e-15

// Classification scores predicted probabilities (rows × classes) against
// true class indexes; the predicted class is the argmax (lowest index on
// ties). classNames label the per-class scores and the confusion matrix; when
// empty, classes are labelled by index.
//
// Per-class precision, recall and F1 are 0 when undefined (scikit-learn's
// zero_division=0). The macro averages run over the classes that occur in
// yTrue or among the predictions, like scikit-learn without an explicit
// label list; a class absent from both has nothing to score and would only
// drag the average down. Weighted averages weight each class by its support.
// Log loss clips probabilities to [1e-15, 1−1e-15] and does not renormalise
// rows. ROC AUC is that of class 1's probability for two classes, otherwise
// the unweighted mean of the one-vs-rest AUCs over the classes with both
// positive and negative rows; it is NaN when no class qualifies (every row of
// one class).
func Classification(yTrue []int, proba *mat.Dense, classNames []string) (*datav1.ClassificationMetrics, error) {
	if proba == nil || proba.IsEmpty() {
		return nil, errors.New("no predictions to score")
	}
	n, k := proba.Dims()
	if len(yTrue) != n {
		return nil, fmt.Errorf("%d labels for %d predictions", len(yTrue), n)
	}
	if k < 2 {
		return nil, fmt.Errorf("classification needs probabilities for at least 2 classes, got %d", k)
	}
	if len(classNames) != 0 && len(classNames) != k {
		return nil, fmt.Errorf("%d class names for %d probability columns", len(classNames), k)
	}
	for i, y := range yTrue {
		if y < 0 || y >= k {
			return nil, fmt.Errorf("row %d: class index %d outside [0, %d)", i, y, k)
		}
		for j, p := range proba.RawRowView(i) {
			if math.IsNaN(p) || math.IsInf(p, 0) {
				return nil, fmt.Errorf("row %d, class %d: probability is not a finite number", i, j)
			}
		}
	}
	labels := make([]string, k)
	for c := range labels {
		if len(classNames) != 0 {
			labels[c] = classNames[c]
		} else {
			labels[c] = strconv.Itoa(c)
		}
	}

	counts := make([]int64, k*k)
	var correct int
	var logLoss float64
	for i, y := range yTrue {
		row := proba.RawRowView(i)
		pred := argmax(row)
		counts[y*k+pred]++
		if pred == y {
			correct++
		}
		p := min(max(row[y], logLossEps), 1-logLossEps)
		logLoss -= math.Log(p)
	}

	out := &datav1.ClassificationMetrics{
		Accuracy:        float64(correct) / float64(n),
		LogLoss:         logLoss / float64(n),
		PerClass:        make([]*datav1.ClassScore, k),
		ConfusionMatrix: &datav1.ConfusionMatrix{Labels: labels, Counts: counts},
	}
	var present int
	for c := 0; c < k; c++ {
		var tp, support, predicted int64
		tp = counts[c*k+c]
		for j := 0; j < k; j++ {
			support += counts[c*k+j]
			predicted += counts[j*k+c]
		}
		s := &datav1.ClassScore{Label: labels[c], Support: support}
		if predicted > 0 {
			s.Precision = float64(tp) / float64(predicted)
		}
		if support > 0 {
			s.Recall = float64(tp) / float64(support)
		}
		if s.Precision+s.Recall > 0 {
			s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
		}
		out.PerClass[c] = s
		if support > 0 || predicted > 0 {
			present++
			out.PrecisionMacro += s.Precision
			out.RecallMacro += s.Recall
			out.F1Macro += s.F1
		}
		w := float64(support) / float64(n)
		out.PrecisionWeighted += w * s.Precision
		out.RecallWeighted += w * s.Recall
		out.F1Weighted += w * s.F1
	}
	out.PrecisionMacro /= float64(present)
	out.RecallMacro /= float64(present)
	out.F1Macro /= float64(present)
	out.RocAuc = rocAUC(yTrue, proba)
	return out, nil
}

// argmax is the index of the largest value, the lowest index on ties.
func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// rocAUC is the area under the ROC curve of probabilities (rows × classes)
// for class indexes yTrue. With two classes it is the AUC of class 1's
// probability; with more, the unweighted mean of the one-vs-rest AUCs over
// the classes that have both positive and negative rows. It is NaN when no
// class qualifies. Inputs are assumed valid (see Classification).
func rocAUC(yTrue []int, proba *mat.Dense) float64 {
	n, k := proba.Dims()
	scores := make([]float64, n)
	pos := make([]bool, n)
	one := func(c int) float64 {
		for i := range scores {
			scores[i] = proba.At(i, c)
			pos[i] = yTrue[i] == c
		}
		return binaryAUC(pos, scores)
	}
	if k == 2 {
		return one(1)
	}
	var sum float64
	var used int
	for c := 0; c < k; c++ {
		if a := one(c); !math.IsNaN(a) {
			sum += a
			used++
		}
	}
	if used == 0 {
		return math.NaN()
	}
	return sum / float64(used)
}

// binaryAUC is the area under the ROC curve of scores for the rows marked
// positive, computed with the Mann–Whitney U statistic (Hanley & McNeil,
// Radiology 1982): AUC = (R₊ − n₊(n₊+1)/2) / (n₊ n₋), where R₊ is the sum of
// the positives' ranks and tied scores share their average rank, so a
// positive and a negative with equal scores count one half. It is NaN when
// there are no positive or no negative rows.
func binaryAUC(positive []bool, scores []float64) float64 {
	n := len(scores)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] < scores[order[b]] })
	var rankSum float64
	var nPos int
	for i := 0; i < n; {
		j := i
		for j < n && scores[order[j]] == scores[order[i]] {
			j++
		}
		// Rows i..j-1 (0-based) tie; their ranks i+1..j average to (i+j+1)/2.
		avg := float64(i+j+1) / 2
		for _, r := range order[i:j] {
			if positive[r] {
				rankSum += avg
				nPos++
			}
		}
		i = j
	}
	nNeg := n - nPos
	if nPos == 0 || nNeg == 0 {
		return math.NaN()
	}
	np := float64(nPos)
	return (rankSum - np*(np+1)/2) / (np * float64(nNeg))
}

// Regression scores predictions against true values: RMSE, MAE and R² =
// 1 − SS_res/SS_tot. When the true values are constant (SS_tot = 0), R² is
// 1 for perfect predictions and 0 otherwise, as scikit-learn's r2_score does
// by default (force_finite=True), so R² is always finite.
func Regression(yTrue, yPred []float64) (*datav1.RegressionMetrics, error) {
	n := len(yTrue)
	if n == 0 {
		return nil, errors.New("no predictions to score")
	}
	if len(yPred) != n {
		return nil, fmt.Errorf("%d predictions for %d true values", len(yPred), n)
	}
	var mean float64
	for i, y := range yTrue {
		if math.IsNaN(y) || math.IsInf(y, 0) {
			return nil, fmt.Errorf("row %d: true value is not a finite number", i)
		}
		if p := yPred[i]; math.IsNaN(p) || math.IsInf(p, 0) {
			return nil, fmt.Errorf("row %d: prediction is not a finite number", i)
		}
		mean += y
	}
	mean /= float64(n)
	var ssRes, ssTot, sumAbs float64
	for i, y := range yTrue {
		r := y - yPred[i]
		ssRes += r * r
		sumAbs += math.Abs(r)
		t := y - mean
		ssTot += t * t
	}
	out := &datav1.RegressionMetrics{
		Rmse: math.Sqrt(ssRes / float64(n)),
		Mae:  sumAbs / float64(n),
	}
	switch {
	case ssTot > 0:
		out.R2 = 1 - ssRes/ssTot
	case ssRes == 0:
		out.R2 = 1
	default:
		out.R2 = 0
	}
	return out, nil
}

// metricInfo describes one named metric.
type metricInfo struct {
	task           datav1.Task
	higherIsBetter bool
	classification func(*datav1.ClassificationMetrics) float64
	regression     func(*datav1.RegressionMetrics) float64
}

var known = map[string]metricInfo{
	"accuracy":           {task: datav1.Task_TASK_CLASSIFICATION, higherIsBetter: true, classification: (*datav1.ClassificationMetrics).GetAccuracy},
	"precision_macro":    {task: datav1.Task_TASK_CLASSIFICATION, higherIsBetter: true, classification: (*datav1.ClassificationMetrics).GetPrecisionMacro},
	"recall_macro":       {task: datav1.Task_TASK_CLASSIFICATION, higherIsBetter: true, classification: (*datav1.ClassificationMetrics).GetRecallMacro},
	"f1_macro":           {task: datav1.Task_TASK_CLASSIFICATION, higherIsBetter: true, classification: (*datav1.ClassificationMetrics).GetF1Macro},
	"precision_weighted": {task: datav1.Task_TASK_CLASSIFICATION, higherIsBetter: true, classification: (*datav1.ClassificationMetrics).GetPrecisionWeighted},
	"recall_weighted":    {task: datav1.Task_TASK_CLASSIFICATION, higherIsBetter: true, classification: (*datav1.ClassificationMetrics).GetRecallWeighted},
	"f1_weighted":        {task: datav1.Task_TASK_CLASSIFICATION, higherIsBetter: true, classification: (*datav1.ClassificationMetrics).GetF1Weighted},
	"roc_auc":            {task: datav1.Task_TASK_CLASSIFICATION, higherIsBetter: true, classification: (*datav1.ClassificationMetrics).GetRocAuc},
	"log_loss":           {task: datav1.Task_TASK_CLASSIFICATION, higherIsBetter: false, classification: (*datav1.ClassificationMetrics).GetLogLoss},
	"r2":                 {task: datav1.Task_TASK_REGRESSION, higherIsBetter: true, regression: (*datav1.RegressionMetrics).GetR2},
	"rmse":               {task: datav1.Task_TASK_REGRESSION, higherIsBetter: false, regression: (*datav1.RegressionMetrics).GetRmse},
	"mae":                {task: datav1.Task_TASK_REGRESSION, higherIsBetter: false, regression: (*datav1.RegressionMetrics).GetMae},
}

// Names returns the known metric names of task, sorted.
func Names(task datav1.Task) []string {
	var out []string
	for name, info := range known {
		if info.task == task {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// KnownMetric reports whether name is a metric of task.
func KnownMetric(name string, task datav1.Task) bool {
	info, ok := known[name]
	return ok && info.task == task
}

// DefaultMetric is the metric used to compare models when none is named:
// accuracy for classification, R² for regression, "" for any other task.
func DefaultMetric(task datav1.Task) string {
	switch task {
	case datav1.Task_TASK_CLASSIFICATION:
		return "accuracy"
	case datav1.Task_TASK_REGRESSION:
		return "r2"
	default:
		return ""
	}
}

// Score extracts a named metric from m and says whether a higher value is
// better. It fails for an unknown name, for a metric of the other task, and
// for a value that is undefined (NaN, such as ROC AUC on rows of a single
// class), so callers never compare models on NaN.
func Score(m *datav1.Metrics, name string) (value float64, higherIsBetter bool, err error) {
	info, ok := known[name]
	if !ok {
		return 0, false, fmt.Errorf("unknown metric %q (classification: %v; regression: %v)",
			name, Names(datav1.Task_TASK_CLASSIFICATION), Names(datav1.Task_TASK_REGRESSION))
	}
	switch {
	case m.GetClassification() != nil:
		if info.task != datav1.Task_TASK_CLASSIFICATION {
			return 0, false, fmt.Errorf("metric %q is a regression metric but the metrics are for classification", name)
		}
		value = info.classification(m.GetClassification())
	case m.GetRegression() != nil:
		if info.task != datav1.Task_TASK_REGRESSION {
			return 0, false, fmt.Errorf("metric %q is a classification metric but the metrics are for regression", name)
		}
		value = info.regression(m.GetRegression())
	default:
		return 0, false, errors.New("metrics hold neither classification nor regression scores")
	}
	if math.IsNaN(value) {
		return 0, false, fmt.Errorf("metric %q is undefined for this data", name)
	}
	return value, info.higherIsBetter, nil
}
