package orchestrator

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat"

	"github.com/alur-ml/alur/ml/metrics"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
)

// fold is one cross-validation split of the train and validation rows.
type fold struct {
	train, held             *table.Table
	trainDigest, heldDigest string
}

// makeFolds splits t into k stratified folds (by class for a categorical
// label, at random otherwise), seeded, and returns for each fold the rows
// to train on and the rows held out. It is scikit-learn's StratifiedKFold
// idea: every fold keeps the class proportions of the whole.
func makeFolds(t *table.Table, label string, k int, seed int64) ([]fold, error) {
	col, _ := t.Column(label)
	if col == nil {
		return nil, fmt.Errorf("cross-validation: no label column %q in the prepared rows", label)
	}
	n := t.NumRows()
	if n < k {
		return nil, fmt.Errorf("cross-validation: %d rows cannot make %d folds", n, k)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0xc0ffee))
	assign := make([]int, n)
	groups := map[int32][]int{}
	var order []int32
	for i := range n {
		g := int32(0)
		if col.IsCategorical() {
			g = col.Codes[i]
		}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], i)
	}
	next := 0
	for _, g := range order {
		rows := groups[g]
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		for _, r := range rows {
			assign[r] = next % k
			next++
		}
	}
	folds := make([]fold, k)
	for f := range k {
		var tr, held []int
		for i, a := range assign {
			if a == f {
				held = append(held, i)
			} else {
				tr = append(tr, i)
			}
		}
		folds[f] = fold{train: t.Take(tr), held: t.Take(held)}
		folds[f].trainDigest = tablepb.Digest(folds[f].train)
		folds[f].heldDigest = tablepb.Digest(folds[f].held)
	}
	return folds, nil
}

// crossValidate trains and scores one configuration on every fold and
// fills the trial's fold scores, mean score and averaged metrics.
func (r *runner) crossValidate(trial *orchestratorv1.Trial, tc *trainv1.TrainConfig, metric string, folds []fold) error {
	var all []*datav1.Metrics
	for f, fd := range folds {
		trainStep := fmt.Sprintf("train/%d/fold%d", trial.GetNumber(), f+1)
		outs, err := r.step(trainStep, cacheKey(trainVersion, tc, fd.trainDigest), func(ctx context.Context) ([]string, string, error) {
			model, res, err := r.srv.stages.trainModel(ctx, tc, fd.train, r.progressFunc(trainStep))
			if err != nil {
				return nil, "", err
			}
			md, err := r.put(kindModel, trainStep, mediaProto(&datav1.Model{}), tc.GetAlgorithm(), model)
			if err != nil {
				return nil, "", err
			}
			rd, err := r.putProto(kindTrainResult, trainStep, tc.GetAlgorithm(), res, md)
			if err != nil {
				return nil, "", err
			}
			return []string{md, rd}, fmt.Sprintf("%s in %.3fs", tc.GetAlgorithm(), res.GetFitSeconds()), nil
		})
		if err != nil {
			return err
		}
		res := &trainv1.TrainResult{}
		if err := r.readProto(outs[1], res); err == nil {
			trial.FitSeconds += res.GetFitSeconds()
			trial.Params = res.GetParams()
			trial.TrainServer = res.GetServer()
		}
		model, err := r.srv.store.ReadArtifact(outs[0])
		if err != nil {
			return err
		}
		evalStep := fmt.Sprintf("evaluate/%d/fold%d", trial.GetNumber(), f+1)
		outs, err = r.step(evalStep, cacheKey(evaluateVersion, nil, outs[0], fd.heldDigest), func(ctx context.Context) ([]string, string, error) {
			m, err := r.srv.stages.evaluate(ctx, model, fd.held, tc.GetLabel())
			if err != nil {
				return nil, "", err
			}
			d, err := r.putProto(kindMetrics, evalStep, fmt.Sprintf("fold %d", f+1), m)
			if err != nil {
				return nil, "", err
			}
			return []string{d}, metricsSummary(m), nil
		})
		if err != nil {
			return err
		}
		m := &datav1.Metrics{}
		if err := r.readProto(outs[0], m); err != nil {
			return err
		}
		score, _, err := metrics.Score(m, metric)
		if err != nil {
			return err
		}
		trial.FoldScores = append(trial.FoldScores, score)
		all = append(all, m)
	}
	trial.Score, trial.ScoreStd = stat.MeanStdDev(trial.GetFoldScores(), nil)
	if math.IsNaN(trial.ScoreStd) {
		trial.ScoreStd = 0
	}
	trial.ValidationMetrics = averageMetrics(all)
	return nil
}

// averageMetrics averages scalar metrics over folds and sums confusion
// counts, so a cross-validated trial reads like a holdout one.
func averageMetrics(ms []*datav1.Metrics) *datav1.Metrics {
	if len(ms) == 0 {
		return nil
	}
	out := &datav1.Metrics{}
	n := float64(len(ms))
	if ms[0].GetClassification() != nil {
		c := &datav1.ClassificationMetrics{}
		first := ms[0].GetClassification()
		for _, pc := range first.GetPerClass() {
			c.PerClass = append(c.PerClass, &datav1.ClassScore{Label: pc.GetLabel()})
		}
		if cm := first.GetConfusionMatrix(); cm != nil {
			c.ConfusionMatrix = &datav1.ConfusionMatrix{Labels: cm.GetLabels(), Counts: make([]int64, len(cm.GetCounts()))}
		}
		for _, m := range ms {
			out.NumSamples += m.GetNumSamples()
			x := m.GetClassification()
			c.Accuracy += x.GetAccuracy() / n
			c.PrecisionMacro += x.GetPrecisionMacro() / n
			c.RecallMacro += x.GetRecallMacro() / n
			c.F1Macro += x.GetF1Macro() / n
			c.PrecisionWeighted += x.GetPrecisionWeighted() / n
			c.RecallWeighted += x.GetRecallWeighted() / n
			c.F1Weighted += x.GetF1Weighted() / n
			c.LogLoss += x.GetLogLoss() / n
			c.RocAuc += x.GetRocAuc() / n
			for i, pc := range x.GetPerClass() {
				if i < len(c.PerClass) {
					c.PerClass[i].Precision += pc.GetPrecision() / n
					c.PerClass[i].Recall += pc.GetRecall() / n
					c.PerClass[i].F1 += pc.GetF1() / n
					c.PerClass[i].Support += pc.GetSupport()
				}
			}
			if c.ConfusionMatrix != nil {
				for i, v := range x.GetConfusionMatrix().GetCounts() {
					if i < len(c.ConfusionMatrix.Counts) {
						c.ConfusionMatrix.Counts[i] += v
					}
				}
			}
		}
		out.Kind = &datav1.Metrics_Classification{Classification: c}
		return out
	}
	g := &datav1.RegressionMetrics{}
	for _, m := range ms {
		out.NumSamples += m.GetNumSamples()
		x := m.GetRegression()
		g.Rmse += x.GetRmse() / n
		g.Mae += x.GetMae() / n
		g.R2 += x.GetR2() / n
	}
	out.Kind = &datav1.Metrics_Regression{Regression: g}
	return out
}
