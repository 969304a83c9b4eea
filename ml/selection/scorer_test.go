package selection

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/metrics"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// TestScorerForAgreesWithMetrics checks every metric's scorer against
// ml/metrics on the same predictions, on all rows and on a subset.
func TestScorerForAgreesWithMetrics(t *testing.T) {
	yc := []float64{0, 1, 2, 1, 0, 2, 2, 1}
	proba := []float64{
		0.7, 0.2, 0.1, 0.2, 0.5, 0.3, 0.1, 0.1, 0.8, 0.6, 0.3, 0.1,
		0.5, 0.4, 0.1, 0.2, 0.2, 0.6, 0.3, 0.3, 0.4, 0.1, 0.8, 0.1,
	}
	yr := []float64{1, 2, 3, 4, 5, 6}
	pr := []float64{1.1, 1.8, 3.3, 3.9, 5.5, 5.7}
	subset := []int{0, 2, 3, 5}
	for _, task := range []datav1.Task{datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION} {
		for _, name := range metrics.Names(task) {
			t.Run(name, func(t *testing.T) {
				y, pred, k := yr, pr, 0
				if task == datav1.Task_TASK_CLASSIFICATION {
					y, pred, k = yc, proba, 3
				}
				score, tie, err := ScorerFor(name, task, y, k)
				if err != nil {
					t.Fatal(err)
				}
				if (tie != nil) != (task == datav1.Task_TASK_CLASSIFICATION && name != "log_loss") {
					t.Errorf("tie-break set: %v", tie != nil)
				}
				for _, rows := range [][]int{nil, subset} {
					want := reference(t, name, task, y, pred, k, rows)
					if got := score(pred, rows); math.Abs(got-want) > 1e-9 {
						t.Errorf("rows %v: %v, ml/metrics says %v", rows, got, want)
					}
				}
			})
		}
	}
	if _, _, err := ScorerFor("r2", datav1.Task_TASK_CLASSIFICATION, yc, 3); err == nil {
		t.Error("r2 for classification: no error")
	}
}

// reference is ml/metrics' value, negated when lower is better.
func reference(t *testing.T, name string, task datav1.Task, y, pred []float64, k int, rows []int) float64 {
	t.Helper()
	if rows == nil {
		rows = make([]int, len(y))
		for i := range rows {
			rows[i] = i
		}
	}
	var m *datav1.Metrics
	if task == datav1.Task_TASK_CLASSIFICATION {
		p := mat.NewDense(len(rows), k, nil)
		yt := make([]int, len(rows))
		for j, i := range rows {
			p.SetRow(j, pred[i*k:(i+1)*k])
			yt[j] = int(y[i])
		}
		c, err := metrics.Classification(yt, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		m = &datav1.Metrics{Kind: &datav1.Metrics_Classification{Classification: c}}
	} else {
		yt, pt := make([]float64, len(rows)), make([]float64, len(rows))
		for j, i := range rows {
			yt[j], pt[j] = y[i], pred[i]
		}
		r, err := metrics.Regression(yt, pt)
		if err != nil {
			t.Fatal(err)
		}
		m = &datav1.Metrics{Kind: &datav1.Metrics_Regression{Regression: r}}
	}
	v, higher, err := metrics.Score(m, name)
	if err != nil {
		t.Fatal(err)
	}
	if !higher {
		v = -v
	}
	return v
}
