package orchestrator

import (
	"context"

	"github.com/alur-ml/alur/ml/display"
	"github.com/alur-ml/alur/ml/metrics"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// ListMetrics lists the names Objective.metric accepts, per task, so that
// a client can discover them: server reflection carries no comments. The
// names are ml/metrics' own, the list spec validation checks against.
func (s *Server) ListMetrics(context.Context, *orchestratorv1.ListMetricsRequest) (*orchestratorv1.ListMetricsResponse, error) {
	return listMetrics(), nil
}

// listMetrics builds ListMetrics' answer: classification first, then
// regression, by name within a task.
func listMetrics() *orchestratorv1.ListMetricsResponse {
	resp := &orchestratorv1.ListMetricsResponse{}
	for _, task := range []datav1.Task{datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION} {
		for _, name := range metrics.Names(task) {
			resp.Metrics = append(resp.Metrics, &orchestratorv1.MetricInfo{
				Name:           name,
				Task:           task,
				HigherIsBetter: !display.LowerIsBetter(name),
				IsDefault:      name == metrics.DefaultMetric(task),
				Description:    display.MetricHelp(name),
			})
		}
	}
	return resp
}
