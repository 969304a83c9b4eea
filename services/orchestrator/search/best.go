package search

import (
	"github.com/alur-ml/alur/ml/display"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// Best returns the successful trial that ranks first by display.Compare,
// which is selection.Better over the trials: the better score, then the
// steadier model (not hard, lower validation log loss or RMSE), then the
// simpler algorithm, then the earlier trial. The CLI, the dashboard and
// the report rank with the same function, so they list first the trial
// chosen here.
func Best(trials []*orchestratorv1.Trial, metric string) *orchestratorv1.Trial {
	var best *orchestratorv1.Trial
	for _, t := range trials {
		if !display.Scored(t) {
			continue
		}
		if best == nil || display.Compare(t, best, metric) < 0 {
			best = t
		}
	}
	return best
}

// LowerIsBetter reports whether smaller values of the metric are better.
func LowerIsBetter(metric string) bool {
	switch metric {
	case "log_loss", "rmse", "mae":
		return true
	}
	return false
}

// TargetMet reports whether the best trial reaches the objective's target.
func TargetMet(obj *orchestratorv1.Objective, metric string, best *orchestratorv1.Trial) bool {
	if obj == nil || obj.Target == nil || best == nil {
		return false
	}
	if LowerIsBetter(metric) {
		return best.GetScore() <= obj.GetTarget()
	}
	return best.GetScore() >= obj.GetTarget()
}

// FormatParams renders hyperparameters in name order, "{k=3, p=2}", the
// way the CLI, dashboard and report print them (display.Params).
func FormatParams(p map[string]float64) string { return "{" + display.Params(p, nil) + "}" }
