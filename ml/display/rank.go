package display

import (
	"math"
	"slices"

	"github.com/alur-ml/alur/ml/selection"
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
// succeeded, has validation metrics and a score, and trained on all the
// rows (a search trial on a share of them, budget < 1, only decided which
// configurations went on).
func Scored(t *orchestratorv1.Trial) bool {
	return t.GetError() == "" && t.GetValidationMetrics() != nil && !math.IsNaN(t.GetScore()) &&
		(t.GetBudget() == 0 || t.GetBudget() >= 1)
}

// Compare orders two trials the way the orchestrator chooses its winner,
// by selection.Better: scored trials first; the better objective score
// (metric names it; lower is better for the error metrics), scores within
// selection.ScoreTolerance being equal; then a model that is not hard
// (see Candidate) before one that is; then the lower tie-break value (see
// TieBreak); then the simpler algorithm (selection.SimplicityRank); then
// the earlier trial. Unscored trials keep their trial order. It returns a
// negative number when a ranks before b.
func Compare(a, b *orchestratorv1.Trial, metric string) int {
	as, bs := Scored(a), Scored(b)
	switch {
	case as && !bs:
		return -1
	case !as && bs:
		return 1
	case as && bs:
		ca, cb := Candidate(a), Candidate(b)
		higher := !LowerIsBetter(metric)
		if selection.Better(&ca, &cb, higher) {
			return -1
		}
		if selection.Better(&cb, &ca, higher) {
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

// HardLoss is the mean validation log loss at or below which a
// classifier counts as hard (selection.Candidate.Hard): every probability
// it gave the true class was within about 1e-9 of 1, as a fully grown
// tree's pure leaves give. Its equal score then says less than a soft
// model's, which the ranking prefers.
const HardLoss = 1e-9

// Candidate is a trial as selection.Rank sees it: its objective score, its
// mean validation log loss (RMSE for regression) as the one tie-break
// loss, and whether it is a hard classifier (see HardLoss).
func Candidate(t *orchestratorv1.Trial) selection.Candidate {
	c := selection.Candidate{Number: int(t.GetNumber()), Algorithm: t.GetAlgorithm(), Params: t.GetParams(),
		Score: t.GetScore(), Failed: !Scored(t)}
	if _, v := TieBreak(t.GetValidationMetrics()); !math.IsNaN(v) {
		c.FoldLoss = []float64{v}
		c.Hard = t.GetValidationMetrics().GetClassification() != nil && v <= HardLoss
	}
	return c
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
