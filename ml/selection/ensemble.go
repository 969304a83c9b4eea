package selection

import (
	"errors"
	"fmt"
	"math"
)

// Scorer scores predictions, higher is better. pred holds every row's
// prediction, row-major with the width of the members (classes for
// probabilities, 1 for values); rows are the rows to score, nil for all.
type Scorer func(pred []float64, rows []int) float64

// Accuracy scores class probabilities (rows × numClasses) by the share of
// rows whose most probable class, the first on ties, is y.
func Accuracy(y []int, numClasses int) Scorer {
	return func(pred []float64, rows []int) float64 {
		right, n := 0, 0
		each(len(y), rows, func(i int) {
			row := pred[i*numClasses : (i+1)*numClasses]
			best := 0
			for c := 1; c < numClasses; c++ {
				if row[c] > row[best] {
					best = c
				}
			}
			if best == y[i] {
				right++
			}
			n++
		})
		return float64(right) / float64(max(n, 1))
	}
}

// NegLogLoss scores class probabilities by minus their clipped log loss
// (see ClippedLogLoss).
func NegLogLoss(y []int, numClasses int) Scorer {
	return func(pred []float64, rows []int) float64 {
		s, n := 0.0, 0
		each(len(y), rows, func(i int) {
			p := min(max(pred[i*numClasses+y[i]], ProbabilityClip), 1-ProbabilityClip)
			s -= math.Log(p)
			n++
		})
		return -s / float64(max(n, 1))
	}
}

// NegRMSE scores values by minus their root mean squared error.
func NegRMSE(y []float64) Scorer {
	return func(pred []float64, rows []int) float64 {
		s, n := 0.0, 0
		each(len(y), rows, func(i int) {
			d := pred[i] - y[i]
			s += d * d
			n++
		})
		return -math.Sqrt(s / float64(max(n, 1)))
	}
}

// R2 scores values by the coefficient of determination.
func R2(y []float64) Scorer {
	return func(pred []float64, rows []int) float64 {
		mean, n := 0.0, 0
		each(len(y), rows, func(i int) { mean += y[i]; n++ })
		mean /= float64(max(n, 1))
		var res, tot float64
		each(len(y), rows, func(i int) {
			res += (y[i] - pred[i]) * (y[i] - pred[i])
			tot += (y[i] - mean) * (y[i] - mean)
		})
		if tot == 0 {
			return 0
		}
		return 1 - res/tot
	}
}

func each(n int, rows []int, f func(i int)) {
	if rows == nil {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	for _, i := range rows {
		f(i)
	}
}

// EnsembleOptions tune SelectEnsemble.
type EnsembleOptions struct {
	// Rounds is the number of greedy steps, each adding one member (with
	// replacement); 0 means DefaultEnsembleRounds.
	Rounds int
	// InitBest starts the ensemble with this many of the best members, once
	// each (Caruana et al.'s sorted initialisation), which keeps the
	// greedy steps from overfitting small data; 0 starts empty.
	InitBest int
	// TieBreak decides between members whose Score is equal, as
	// NegLogLoss does for Accuracy, whose steps are flat; nil keeps the
	// first member.
	TieBreak Scorer
}

// DefaultEnsembleRounds is auto-sklearn's default ensemble size.
const DefaultEnsembleRounds = 50

// Ensemble is the result of SelectEnsemble.
type Ensemble struct {
	// Weights has one weight per member, summing to 1: how many times the
	// member was chosen, divided by the ensemble's size.
	Weights []float64
	// Score is the ensemble's score on the rows it was selected on.
	Score float64
	// Trajectory is the score after each step; the ensemble kept is the
	// earliest step with the best score (and, among equal scores, the best
	// TieBreak).
	Trajectory []float64
}

// SelectEnsemble chooses member weights by ensemble selection (Caruana,
// Niculescu-Mizil, Crew and Ksikes, "Ensemble selection from libraries of
// models", ICML 2004): starting from the InitBest best members, it adds at
// each step the member, with replacement, whose addition gives the best
// score of the averaged predictions, and keeps the best ensemble seen.
// members[m] are member m's out-of-fold predictions, every row's in
// row-major order with the given width (probabilities of each class, or 1
// value). rows restricts selection to those rows (nil: all). The result
// is deterministic.
func SelectEnsemble(members [][]float64, width int, score Scorer, rows []int, opts EnsembleOptions) (*Ensemble, error) {
	if len(members) == 0 {
		return nil, errors.New("no members")
	}
	if width <= 0 || len(members[0])%width != 0 {
		return nil, fmt.Errorf("width %d does not divide the %d predictions", width, len(members[0]))
	}
	for m, p := range members {
		if len(p) != len(members[0]) {
			return nil, fmt.Errorf("member %d has %d predictions, member 0 has %d", m, len(p), len(members[0]))
		}
	}
	rounds := opts.Rounds
	if rounds <= 0 {
		rounds = DefaultEnsembleRounds
	}
	n := len(members[0])
	sum := make([]float64, n)
	cand := make([]float64, n)
	counts := make([]int, len(members))
	size := 0
	add := func(m int) {
		counts[m]++
		size++
		for i, v := range members[m] {
			sum[i] += v
		}
	}
	// avg fills cand with the ensemble's average if member m were added
	// (m < 0: as it is).
	avg := func(m int) []float64 {
		d := float64(size)
		if m >= 0 {
			d++
		}
		for i := range cand {
			v := sum[i]
			if m >= 0 {
				v += members[m][i]
			}
			cand[i] = v / d
		}
		return cand
	}
	if opts.InitBest > 0 {
		order := make([]Candidate, len(members))
		for m := range members {
			order[m] = Candidate{Number: m, Score: score(members[m], rows)}
		}
		for j, m := range Rank(order, true) {
			if j >= opts.InitBest {
				break
			}
			add(m)
		}
	}
	res := &Ensemble{Score: math.Inf(-1)}
	bestTie := math.Inf(-1)
	best := append([]int(nil), counts...)
	if size > 0 {
		res.Score = score(avg(-1), rows)
		if opts.TieBreak != nil {
			bestTie = opts.TieBreak(cand, rows)
		}
	}
	for step := 0; step < rounds; step++ {
		pick, pickScore, pickTie := -1, math.Inf(-1), math.Inf(-1)
		for m := range members {
			p := avg(m)
			s := score(p, rows)
			if math.IsNaN(s) {
				continue
			}
			tie := 0.0
			if opts.TieBreak != nil {
				tie = opts.TieBreak(p, rows)
			}
			if pick < 0 || better(s, tie, pickScore, pickTie) {
				pick, pickScore, pickTie = m, s, tie
			}
		}
		if pick < 0 {
			return nil, errors.New("every member scores NaN")
		}
		add(pick)
		res.Trajectory = append(res.Trajectory, pickScore)
		if better(pickScore, pickTie, res.Score, bestTie) {
			res.Score, bestTie = pickScore, pickTie
			copy(best, counts)
		}
	}
	total := 0
	for _, c := range best {
		total += c
	}
	res.Weights = make([]float64, len(members))
	for m, c := range best {
		res.Weights[m] = float64(c) / float64(total)
	}
	return res, nil
}

// better reports whether score s with tie-break t beats score s0 with t0.
func better(s, t, s0, t0 float64) bool {
	if math.IsInf(s0, -1) {
		return true
	}
	if !equal(s, s0) {
		return s > s0
	}
	return !equal(t, t0) && t > t0
}

// Blend returns the weighted average of the members' predictions.
func Blend(members [][]float64, weights []float64) []float64 {
	out := make([]float64, len(members[0]))
	for m, p := range members {
		if weights[m] == 0 {
			continue
		}
		for i, v := range p {
			out[i] += weights[m] * v
		}
	}
	return out
}

// CrossFit blends the members out of fold: for each fold, the weights are
// selected on the other folds' rows and the blend of the fold's rows is
// kept. The result reads like one more trial's out-of-fold predictions, so
// the ensemble can be scored and ranked (Rank) with the same folds as the
// single trials, log loss included. The score SelectEnsemble reports was
// measured on the rows its weights were chosen on and flatters the
// ensemble. fold[i] is row i's fold, 0..k-1.
func CrossFit(members [][]float64, width int, score Scorer, fold []int, opts EnsembleOptions) ([]float64, error) {
	k := 0
	for _, f := range fold {
		k = max(k, f+1)
	}
	if k < 2 {
		return nil, errors.New("cross-fitting needs at least two folds")
	}
	if len(members) == 0 || len(fold)*width != len(members[0]) {
		return nil, fmt.Errorf("%d fold assignments for predictions of width %d", len(fold), width)
	}
	out := make([]float64, len(members[0]))
	for g := 0; g < k; g++ {
		var in []int
		for i, f := range fold {
			if f != g {
				in = append(in, i)
			}
		}
		e, err := SelectEnsemble(members, width, score, in, opts)
		if err != nil {
			return nil, err
		}
		blend := Blend(members, e.Weights)
		for i, f := range fold {
			if f == g {
				copy(out[i*width:(i+1)*width], blend[i*width:(i+1)*width])
			}
		}
	}
	return out, nil
}

// CrossFitScore is the mean over the folds of score on CrossFit's blend:
// the ensemble's cross-validated score, to compare with the single trials'.
func CrossFitScore(members [][]float64, width int, score Scorer, fold []int, opts EnsembleOptions) (float64, error) {
	oof, err := CrossFit(members, width, score, fold, opts)
	if err != nil {
		return math.NaN(), err
	}
	k := 0
	for _, f := range fold {
		k = max(k, f+1)
	}
	rows := make([][]int, k)
	for i, f := range fold {
		rows[f] = append(rows[f], i)
	}
	total := 0.0
	for _, r := range rows {
		total += score(oof, r)
	}
	return total / float64(k), nil
}
