package orchestrator_test

import (
	"github.com/alur-ml/alur/services/orchestrator"
	"testing"

	"github.com/alur-ml/alur/ml/metrics"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// TestListMetrics: every metric spec validation accepts is listed, with
// its task, direction, default and a description; and only those.
func TestListMetrics(t *testing.T) {
	resp, err := (&orchestrator.Server{}).ListMetrics(t.Context(), &orchestratorv1.ListMetricsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defaults := map[datav1.Task]string{}
	for _, m := range resp.GetMetrics() {
		if !metrics.KnownMetric(m.GetName(), m.GetTask()) {
			t.Errorf("%s listed for %v but not accepted", m.GetName(), m.GetTask())
		}
		if m.GetDescription() == "" {
			t.Errorf("%s has no description", m.GetName())
		}
		_, higher, err := metrics.Score(metricsSample(m.GetTask()), m.GetName())
		if err != nil || higher != m.GetHigherIsBetter() {
			t.Errorf("%s: higher_is_better %v, metrics says %v (%v)", m.GetName(), m.GetHigherIsBetter(), higher, err)
		}
		if m.GetIsDefault() {
			defaults[m.GetTask()] = m.GetName()
		}
	}
	if n := len(metrics.Names(datav1.Task_TASK_CLASSIFICATION)) + len(metrics.Names(datav1.Task_TASK_REGRESSION)); len(resp.GetMetrics()) != n {
		t.Errorf("%d metrics listed, want %d", len(resp.GetMetrics()), n)
	}
	if defaults[datav1.Task_TASK_CLASSIFICATION] != "accuracy" || defaults[datav1.Task_TASK_REGRESSION] != "r2" {
		t.Errorf("defaults %v", defaults)
	}
}

// metricsSample is a metrics message of the task with every value defined.
func metricsSample(task datav1.Task) *datav1.Metrics {
	if task == datav1.Task_TASK_REGRESSION {
		return &datav1.Metrics{Kind: &datav1.Metrics_Regression{Regression: &datav1.RegressionMetrics{R2: 0.5, Rmse: 1, Mae: 1}}}
	}
	return &datav1.Metrics{Kind: &datav1.Metrics_Classification{Classification: &datav1.ClassificationMetrics{
		Accuracy: 0.5, F1Macro: 0.5, F1Weighted: 0.5, RocAuc: 0.5, LogLoss: 1, PrecisionMacro: 0.5, RecallMacro: 0.5, PrecisionWeighted: 0.5, RecallWeighted: 0.5,
	}}}
}
