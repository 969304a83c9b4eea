package display

import (
	"math"
	"slices"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// LowerIsBetter reports whether smaller values of metric are better (the
// error metrics), as the orchestrator's objective treats them.
func LowerIsBetter(metric string) bool {
	switch metric {
	case "log_loss", "rmse", "mae":
		return true
	}
	return false
}

// TieBreak is the secondary validation metric that orders trials whose
// objective scores are equal, exactly as the orchestrator picks its
// winner: the lower validation log loss for classification, the lower
// RMSE for regression. It returns the metric's name and value; a trial
// without validation metrics gives "" and NaN.
func TieBreak(m *datav1.Metrics) (name string, value float64) {
	if c := m.GetClassification(); c != nil {
		return "log_loss", c.GetLogLoss()
	}
	if r := m.GetRegression(); r != nil {
		return "rmse", r.GetRmse()
	}
	return "", math.NaN()
}

// Scored reports whether a trial took part in the choice of the winner: it
// succeeded and has validation metrics and a score.
func Scored(t *orchestratorv1.Trial) bool {
	return t.GetError() == "" && t.GetValidationMetrics() != nil && !math.IsNaN(t.GetScore())
}

// Compare orders two trials the way the orchestrator chooses its winner:
// scored trials first, the better objective score first (metric names it;
// lower is better for the error metrics), equal scores by the lower
// tie-break value (see TieBreak), then the earlier trial. It returns a
// negative number when a ranks before b.
func Compare(a, b *orchestratorv1.Trial, metric string) int {
	as, bs := Scored(a), Scored(b)
	switch {
	case as && !bs:
		return -1
	case !as && bs:
		return 1
	case as && bs:
		if a.GetScore() != b.GetScore() {
			if (a.GetScore() < b.GetScore()) == LowerIsBetter(metric) {
				return -1
			}
			return 1
		}
		_, ta := TieBreak(a.GetValidationMetrics())
		_, tb := TieBreak(b.GetValidationMetrics())
		if ta != tb && !math.IsNaN(ta) && !math.IsNaN(tb) {
			if ta < tb {
				return -1
			}
			return 1
		}
	}
	switch {
	case a.GetNumber() < b.GetNumber():
		return -1
	case a.GetNumber() > b.GetNumber():
		return 1
	}
	return 0
}

// Ranked returns the run's trials best first, in the order the
// orchestrator chose among them (see Compare); the first one is the run's
// best trial when it has one. Failed trials come last, in trial order.
func Ranked(run *orchestratorv1.Run) []*orchestratorv1.Trial {
	metric := Metric(run)
	trials := slices.Clone(run.GetTrials())
	slices.SortStableFunc(trials, func(a, b *orchestratorv1.Trial) int { return Compare(a, b, metric) })
	return trials
}

// Metric is the run's objective metric: the server's (after defaults),
// else the spec's; "" while neither is known.
func Metric(run *orchestratorv1.Run) string {
	if m := run.GetMetric(); m != "" {
		return m
	}
	return run.GetSpec().GetObjective().GetMetric()
}

// TrialParams are the hyperparameters worth showing for a trial: all of
// them, except the class-weighting switch "balanced" on a regression
// trial, where it does nothing.
func TrialParams(t *orchestratorv1.Trial) map[string]float64 {
	p := t.GetParams()
	if _, ok := p["balanced"]; !ok || t.GetValidationMetrics().GetRegression() == nil {
		return p
	}
	out := make(map[string]float64, len(p))
	for k, v := range p {
		if k != "balanced" {
			out[k] = v
		}
	}
	return out
}
