package dashboard

import (
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Bounds of the permutation importance.
const (
	// permRows caps the test rows the importance is measured on.
	permRows = 1_000
	// permMaxFeatures caps the features it is measured for.
	permMaxFeatures = 100
	// permRepeats is how many shuffles are averaged per feature.
	permRepeats = 3
	// permBudget bounds the time spent measuring it.
	permBudget = 5 * time.Second
)

// hasImportances reports whether the model measured its own feature
// importances (trees and linear models do, k-NN and naive Bayes do not).
func hasImportances(m *datav1.Model) bool {
	for _, v := range m.GetFeatureImportances() {
		if v != 0 && !math.IsNaN(v) {
			return true
		}
	}
	return false
}

// scoreFunc scores predictions (rows × outputs) against targets; higher
// is better.
type scoreFunc func(out *mat.Dense, y []float64) float64

// accuracyScore is the share of rows whose most probable class is the
// true one.
func accuracyScore(out *mat.Dense, y []float64) float64 {
	rows, cols := out.Dims()
	if rows == 0 {
		return math.NaN()
	}
	right := 0
	for i := range rows {
		best := 0
		for k := 1; k < cols; k++ {
			if out.At(i, k) > out.At(i, best) {
				best = k
			}
		}
		if float64(best) == y[i] {
			right++
		}
	}
	return float64(right) / float64(rows)
}

// r2Score is the coefficient of determination 1 − SS_res / SS_tot of the
// first output; NaN when the targets are constant.
func r2Score(out *mat.Dense, y []float64) float64 {
	if len(y) == 0 {
		return math.NaN()
	}
	var mean float64
	for i, v := range y {
		mean += (v - mean) / float64(i+1)
	}
	var res, tot float64
	for i, v := range y {
		d := v - out.At(i, 0)
		res += d * d
		tot += (v - mean) * (v - mean)
	}
	if tot == 0 {
		return math.NaN()
	}
	return 1 - res/tot
}

// errPermBudget says the permutation importance took too long.
var errPermBudget = errors.New("measuring it took too long")

// permutationImportance measures how much the model relies on each
// feature: the mean drop of the score when that feature's values are
// shuffled across rows, breaking its link to the target while keeping its
// distribution. This is Breiman's permutation importance ("Random
// Forests", Machine Learning 45, 2001) in its model-agnostic form (Fisher,
// Rudin and Dominici, JMLR 20, 2019), measured here on held-out rows.
// predict runs the model on a table; it is called once for the rows as
// they are and once per feature with the feature's shuffled copies
// stacked (repeats × the rows), so that each call carries enough rows to
// be worth a round trip to eval. features are the columns of t to
// shuffle. The shuffles are seeded, so the result is reproducible. It
// gives up with errPermBudget after budget.
func permutationImportance(t *table.Table, features []int, y []float64, predict predictFunc, score scoreFunc, repeats int, seed uint64, budget time.Duration) ([]float64, error) {
	rows := t.NumRows()
	if rows < 2 || len(features) == 0 {
		return nil, errors.New("too few rows to shuffle")
	}
	began := time.Now()
	base, err := predict(t)
	if err != nil {
		return nil, err
	}
	// Each feature costs one call of repeats times these rows: give up at
	// once rather than half way when they cannot fit the budget.
	if time.Since(began)*time.Duration(len(features)*repeats) > budget {
		return nil, errPermBudget
	}
	baseline := score(base, y)
	if math.IsNaN(baseline) {
		return nil, errors.New("the score is undefined on these rows")
	}
	// Every column but the shuffled one is the rows repeated.
	same := make([]int, 0, rows*repeats)
	for range repeats {
		for i := range rows {
			same = append(same, i)
		}
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	deadline := time.Now().Add(budget)
	out := make([]float64, len(features))
	for f, j := range features {
		if time.Now().After(deadline) {
			return nil, errPermBudget
		}
		shuffled := make([]int, 0, rows*repeats)
		for range repeats {
			shuffled = append(shuffled, rng.Perm(rows)...)
		}
		stacked := &table.Table{Columns: make([]*table.Column, len(t.Columns))}
		for c, col := range t.Columns {
			if c == j {
				stacked.Columns[c] = col.Take(shuffled)
			} else {
				stacked.Columns[c] = col.Take(same)
			}
		}
		pred, err := predict(stacked)
		if err != nil {
			return nil, err
		}
		_, width := pred.Dims()
		var drop float64
		for r := range repeats {
			part := pred.Slice(r*rows, (r+1)*rows, 0, width).(*mat.Dense)
			drop += baseline - score(part, y)
		}
		out[f] = drop / float64(repeats)
	}
	return out, nil
}
