package selection

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/metrics"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// ScorerFor returns the Scorer of a run's objective metric, oriented so
// that higher is better, and the tie-break SelectEnsemble should use
// (minus the clipped log loss for classification, nil for regression). y
// holds class indexes (classification) or values. accuracy, log_loss, r2
// and rmse have fast scorers of their own; every other metric of
// ml/metrics is computed by ml/metrics itself (so the ensemble is chosen
// on exactly the number the trials are ranked by), negated when lower is
// better.
func ScorerFor(metric string, task datav1.Task, y []float64, numClasses int) (score, tie Scorer, err error) {
	if !metrics.KnownMetric(metric, task) {
		return nil, nil, fmt.Errorf("metric %q does not apply to %v", metric, task)
	}
	var yi []int
	if task == datav1.Task_TASK_CLASSIFICATION {
		yi = make([]int, len(y))
		for i, v := range y {
			yi[i] = int(v)
		}
		tie = NegLogLoss(yi, numClasses)
	}
	switch metric {
	case "accuracy":
		return Accuracy(yi, numClasses), tie, nil
	case "log_loss":
		return NegLogLoss(yi, numClasses), nil, nil
	case "r2":
		return R2(y), nil, nil
	case "rmse":
		return NegRMSE(y), nil, nil
	}
	return func(pred []float64, rows []int) float64 {
		if rows == nil {
			rows = make([]int, len(y))
			for i := range rows {
				rows[i] = i
			}
		}
		var m *datav1.Metrics
		if task == datav1.Task_TASK_CLASSIFICATION {
			p := mat.NewDense(len(rows), numClasses, nil)
			yt := make([]int, len(rows))
			for j, i := range rows {
				p.SetRow(j, pred[i*numClasses:(i+1)*numClasses])
				yt[j] = yi[i]
			}
			c, err := metrics.Classification(yt, p, nil)
			if err != nil {
				return math.NaN()
			}
			m = &datav1.Metrics{Kind: &datav1.Metrics_Classification{Classification: c}}
		} else {
			yt, pt := make([]float64, len(rows)), make([]float64, len(rows))
			for j, i := range rows {
				yt[j], pt[j] = y[i], pred[i]
			}
			r, err := metrics.Regression(yt, pt)
			if err != nil {
				return math.NaN()
			}
			m = &datav1.Metrics{Kind: &datav1.Metrics_Regression{Regression: r}}
		}
		v, higher, err := metrics.Score(m, metric)
		if err != nil {
			return math.NaN()
		}
		if !higher {
			v = -v
		}
		return v
	}, tie, nil
}
