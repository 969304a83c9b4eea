package engine

import (
	"context"
	"fmt"
	"math"

	"github.com/alur-ml/alur/ml/display"
	"github.com/alur-ml/alur/ml/metrics"
	"github.com/alur-ml/alur/ml/table"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/services/orchestrator/search"
)

// minCurveRows is the fewest rows a learning-curve point trains on.
const minCurveRows = 10

// curveFractions are the shares of the training rows the learning curve
// trains the winner on.
var curveFractions = []float64{0.1, 0.2, 0.4, 0.6, 0.8, 1.0}

// bigCurveRows is the training size above which the curve uses
// bigCurveFractions: the six default points cost 3.1 trainings of the
// winner, which on millions of rows rivals the search itself; these five
// cost 1.9 and still span a factor of twenty.
const bigCurveRows = 200_000

// bigCurveFractions are the shares of the training rows for large data.
var bigCurveFractions = []float64{0.05, 0.1, 0.25, 0.5, 1.0}

// curveTrainScoreRows caps the rows a point's training score is measured
// on: a sample of this many of the rows it trained on (a prefix of rows
// prep shuffled) estimates it well, and scoring every training row would
// cost a prediction pass over up to the whole training set per point.
const curveTrainScoreRows = 50_000

// fractionsFor returns the learning curve's shares for n training rows.
func fractionsFor(n int) []float64 {
	if n > bigCurveRows {
		return bigCurveFractions
	}
	return curveFractions
}

// prefix returns the first rows of t (all of t when it has fewer).
func prefix(t *table.Table, rows int) *table.Table {
	if rows >= t.NumRows() {
		return t
	}
	idx := make([]int, rows)
	for i := range idx {
		idx[i] = i
	}
	return t.Take(idx)
}

// learningCurve trains cfg on growing prefixes of the training rows (prep
// returns them shuffled, so a prefix is a random sample) and scores each
// model on those rows (at most curveTrainScoreRows of them) and on the
// validation rows.
//
// fullModel, when not empty, is the digest of cfg's model already trained
// on every training row (the winning trial of a holdout search): the last
// point scores it instead of training it again, which on large data saves
// the curve's most expensive training.
func (r *runner) learningCurve(ctx context.Context, cfg *trainv1.TrainConfig, metric string, trainTable, validTable *table.Table, fullModel string) (*orchestratorv1.LearningCurve, error) {
	n := trainTable.NumRows()
	curve := &orchestratorv1.LearningCurve{Metric: metric}
	lastRows := -1
	for _, f := range fractionsFor(n) {
		rows := int(math.Round(f * float64(n)))
		if rows < minCurveRows {
			rows = min(minCurveRows, n)
		}
		if rows == lastRows {
			continue
		}
		lastRows = rows
		sub := prefix(trainTable, rows)
		model, err := r.curveModel(ctx, cfg, sub, rows == n, fullModel)
		if err != nil {
			return nil, fmt.Errorf("learning curve at %d rows: %w", rows, err)
		}
		trainMetrics, err := r.eng.stages.Evaluate(ctx, model, prefix(sub, curveTrainScoreRows), cfg.GetLabel())
		if err != nil {
			return nil, fmt.Errorf("learning curve at %d rows: %w", rows, err)
		}
		validMetrics, err := r.eng.stages.Evaluate(ctx, model, validTable, cfg.GetLabel())
		if err != nil {
			return nil, fmt.Errorf("learning curve at %d rows: %w", rows, err)
		}
		ts, _, _ := metrics.Score(trainMetrics, metric)
		vs, _, _ := metrics.Score(validMetrics, metric)
		curve.Points = append(curve.Points, &orchestratorv1.LearningCurvePoint{
			TrainFraction: float64(rows) / float64(n), TrainRows: int64(rows), TrainScore: ts, ValidationScore: vs,
		})
	}
	curve.Verdict = curveVerdict(curve)
	return curve, nil
}

// curveVerdict reads a learning curve the way a practitioner would: if the
// validation score still improves over the last half of the data, more data
// is likely to help; if it has levelled off, it is not, and a large gap
// between training and validation scores points at overfitting instead.
func curveVerdict(c *orchestratorv1.LearningCurve) string {
	pts := c.GetPoints()
	if len(pts) < 3 {
		return "Too few training rows to draw a learning curve; collect more data before judging."
	}
	sign := 1.0
	if search.LowerIsBetter(c.GetMetric()) {
		sign = -1
	}
	last := pts[len(pts)-1]
	mid := pts[len(pts)/2]
	for _, p := range pts {
		if p.GetTrainFraction() >= 0.5 {
			mid = p
			break
		}
	}
	gain := sign * (last.GetValidationScore() - mid.GetValidationScore())
	scale := math.Max(math.Abs(last.GetValidationScore()), 1e-12)
	if !relativeMetric(c.GetMetric()) {
		scale = 1
	}
	gap := sign * (last.GetTrainScore() - last.GetValidationScore()) / scale
	switch {
	case gain/scale > 0.01:
		return fmt.Sprintf("More data is likely to help: validation %s still improved from %s to %s between %d and %d training rows.",
			c.GetMetric(), fmtScore(mid.GetValidationScore()), fmtScore(last.GetValidationScore()), mid.GetTrainRows(), last.GetTrainRows())
	case gap > 0.05:
		return fmt.Sprintf("More data may help a little, but the curve has flattened (validation %s %s) while the model fits its training rows much better (%s): it overfits; try stronger regularisation or a simpler model.",
			c.GetMetric(), fmtScore(last.GetValidationScore()), fmtScore(last.GetTrainScore()))
	default:
		return fmt.Sprintf("More data is unlikely to help much: validation %s has levelled off at about %s; better features or another algorithm are the next lever.",
			c.GetMetric(), fmtScore(last.GetValidationScore()))
	}
}

// relativeMetric reports whether a metric has no fixed scale, so changes
// are judged relative to its value.
func relativeMetric(m string) bool { return m == "rmse" || m == "mae" || m == "log_loss" }

func fmtScore(v float64) string { return display.Score(v) }

// curveModel returns the model of one learning-curve point: the stored
// fullModel for the point on every row when there is one, else cfg
// trained on sub.
func (r *runner) curveModel(ctx context.Context, cfg *trainv1.TrainConfig, sub *table.Table, all bool, fullModel string) ([]byte, error) {
	if all && fullModel != "" {
		return r.read(fullModel)
	}
	model, _, err := r.eng.stages.Train(ctx, cfg, sub, nil)
	return model, err
}
