package search

import (
	"math"

	"github.com/alur-ml/alur/ml/display"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// Best returns the successful trial with the best score; equal scores go
// to the lower validation log loss (rmse for regression), then to the
// earlier trial.
func Best(trials []*orchestratorv1.Trial, metric string) *orchestratorv1.Trial {
	lower := LowerIsBetter(metric)
	var best *orchestratorv1.Trial
	for _, t := range trials {
		if t.GetError() != "" || t.GetValidationMetrics() == nil || math.IsNaN(t.GetScore()) {
			continue
		}
		switch {
		case best == nil,
			lower && t.GetScore() < best.GetScore(),
			!lower && t.GetScore() > best.GetScore(),
			t.GetScore() == best.GetScore() && tieBreak(t.GetValidationMetrics()) < tieBreak(best.GetValidationMetrics()):
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

// tieBreak is the secondary validation metric that orders trials whose
// objective scores are equal: with small validation sets ties are common,
// and the better-calibrated model is the safer choice.
func tieBreak(m *datav1.Metrics) float64 {
	if c := m.GetClassification(); c != nil {
		return c.GetLogLoss()
	}
	return m.GetRegression().GetRmse()
}

// FormatParams renders hyperparameters in name order, "{k=3, p=2}", the
// way the CLI, dashboard and report print them (display.Params).
func FormatParams(p map[string]float64) string { return "{" + display.Params(p, nil) + "}" }
