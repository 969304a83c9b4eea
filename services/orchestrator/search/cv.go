package search

import (
	"fmt"
	"math/rand/v2"

	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// tableData names rows that are not stored as an artifact by their table
// digest.
func tableData(t *table.Table) Data { return Data{Table: t, Digest: tablepb.Digest(t)} }

// Fold is one cross-validation split of the train and validation rows.
type Fold struct {
	Train, Held Data
	// HeldRows are the held-out rows' indexes in the table the folds were
	// made from, in Held's order: where a trial's out-of-fold predictions
	// go.
	HeldRows []int
}

// MakeFolds splits t into k stratified folds (by class for a categorical
// label, at random otherwise), seeded, and returns for each fold the rows
// to train on and the rows held out. It is scikit-learn's StratifiedKFold
// idea: every fold keeps the class proportions of the whole.
func MakeFolds(t *table.Table, label string, k int, seed int64) ([]Fold, error) {
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
	folds := make([]Fold, k)
	for f := range k {
		var tr, held []int
		for i, a := range assign {
			if a == f {
				held = append(held, i)
			} else {
				tr = append(tr, i)
			}
		}
		folds[f] = Fold{Train: tableData(t.Take(tr)), Held: tableData(t.Take(held)), HeldRows: held}
	}
	return folds, nil
}

// averageMetrics averages scalar metrics over folds and sums confusion
// counts, so a cross-validated trial reads like a holdout one.
func averageMetrics(ms []*datav1.Metrics) *datav1.Metrics {
	if len(ms) == 0 {
		return nil
	}
	out := &datav1.Metrics{}
	for _, m := range ms {
		out.NumSamples += m.GetNumSamples()
	}
	if ms[0].GetClassification() != nil {
		out.Kind = &datav1.Metrics_Classification{Classification: averageClassification(ms)}
		return out
	}
	g := &datav1.RegressionMetrics{}
	n := float64(len(ms))
	for _, m := range ms {
		x := m.GetRegression()
		g.Rmse += x.GetRmse() / n
		g.Mae += x.GetMae() / n
		g.R2 += x.GetR2() / n
	}
	out.Kind = &datav1.Metrics_Regression{Regression: g}
	return out
}

// averageClassification averages the scalar classification metrics and
// the per-class scores, and sums the supports and confusion counts.
func averageClassification(ms []*datav1.Metrics) *datav1.ClassificationMetrics {
	n := float64(len(ms))
	c := &datav1.ClassificationMetrics{}
	first := ms[0].GetClassification()
	for _, pc := range first.GetPerClass() {
		c.PerClass = append(c.PerClass, &datav1.ClassScore{Label: pc.GetLabel()})
	}
	if cm := first.GetConfusionMatrix(); cm != nil {
		c.ConfusionMatrix = &datav1.ConfusionMatrix{Labels: cm.GetLabels(), Counts: make([]int64, len(cm.GetCounts()))}
	}
	for _, m := range ms {
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
	return c
}
