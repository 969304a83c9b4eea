package selection

import (
	"math"
	"sort"
)

// ProbabilityClip bounds probabilities before a log is taken, as
// scikit-learn's log_loss did: a wrong answer given with certainty costs
// -log(1e-15) ≈ 34.5, not infinity.
const ProbabilityClip = 1e-15

// hardTolerance is how close to 0 or 1 every probability of a model must be
// for the model to count as hard (see Candidate.Hard).
const hardTolerance = 1e-9

// ScoreTolerance is the difference below which two mean scores are equal:
// the last digits of a mean over folds depend on the order of the sum.
const ScoreTolerance = 1e-9

// ClippedLogLoss is the mean negative log of the probability given to the
// true class, each probability clipped to [ProbabilityClip,
// 1-ProbabilityClip]. proba is rows × numClasses, row-major; y holds class
// indexes. hard reports that every row's largest probability is 1 (within
// 1e-9): the model answered with certainty everywhere, as a fully grown
// decision tree or a 1-nearest-neighbour does, so its loss only counts its
// errors.
func ClippedLogLoss(proba []float64, numClasses int, y []int) (loss float64, hard bool) {
	if len(y) == 0 || numClasses <= 0 {
		return math.NaN(), false
	}
	hard = true
	for i, c := range y {
		row := proba[i*numClasses : (i+1)*numClasses]
		p := min(max(row[c], ProbabilityClip), 1-ProbabilityClip)
		loss -= math.Log(p)
		top := 0.0
		for _, q := range row {
			top = max(top, q)
		}
		if top < 1-hardTolerance {
			hard = false
		}
	}
	return loss / float64(len(y)), hard
}

// Candidate is one trial as the ranking sees it.
type Candidate struct {
	// Number is the trial's number: the last tie-break, earlier first.
	Number int
	// Algorithm and Params name the configuration (see SimplicityRank).
	Algorithm string
	Params    map[string]float64
	// Score is the objective: the mean over the cross-validation folds (or
	// the holdout score). NaN counts as failed.
	Score float64
	// FoldLoss is the steadiness measure on each fold, lower is better: the
	// clipped log loss for classification (ClippedLogLoss), the RMSE for
	// regression. Empty when unknown, which ranks after any known loss.
	FoldLoss []float64
	// Hard says the model's out-of-fold probabilities were all 0 or 1 (the
	// hard result of ClippedLogLoss on every fold).
	Hard bool
	// Failed marks a trial that produced no model; it ranks last.
	Failed bool
}

// MeanLoss is the mean of FoldLoss, NaN when there is none.
func (c *Candidate) MeanLoss() float64 {
	if len(c.FoldLoss) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, v := range c.FoldLoss {
		s += v
	}
	return s / float64(len(c.FoldLoss))
}

// Better reports whether a ranks before b. The keys, in order:
//
//  1. a trial that produced a model before one that failed;
//  2. the higher mean score (lower for metrics where lower is better);
//     scores within ScoreTolerance are equal;
//  3. among equal scores, a model with soft probabilities before a hard one
//     (Candidate.Hard): a model that answers with certainty has a log loss
//     of about 1e-15 on every fold it gets right, which says nothing more
//     than its equal score does, and on new rows each of its errors costs
//     34.5. This is the rule that keeps an unpruned tree whose leaves
//     happened to be pure from beating a forest or gradient boosting with
//     the same accuracy;
//  4. the lower mean fold loss (clipped log loss, or RMSE for regression),
//     averaged over the folds so that one pure fold does not decide;
//  5. the simpler model (SimplicityRank);
//  6. the earlier trial.
func Better(a, b *Candidate, higherIsBetter bool) bool {
	af, bf := a.Failed || math.IsNaN(a.Score), b.Failed || math.IsNaN(b.Score)
	if af != bf {
		return !af
	}
	if !af && !equal(a.Score, b.Score) {
		return (a.Score > b.Score) == higherIsBetter
	}
	if a.Hard != b.Hard {
		return !a.Hard
	}
	la, lb := a.MeanLoss(), b.MeanLoss()
	switch {
	case math.IsNaN(la) != math.IsNaN(lb):
		return !math.IsNaN(la)
	case !math.IsNaN(la) && !equal(la, lb):
		return la < lb
	}
	ra, rb := SimplicityRank(a.Algorithm, a.Params), SimplicityRank(b.Algorithm, b.Params)
	if ra != rb {
		return ra < rb
	}
	return a.Number < b.Number
}

func equal(a, b float64) bool {
	return math.Abs(a-b) <= ScoreTolerance*max(1, math.Abs(a), math.Abs(b))
}

// Rank returns the indexes of cands from best to worst by Better. The
// leaderboard of the CLI, the dashboard and the report show this order, and
// its first element is the chosen trial, so what is listed first is what
// was chosen.
func Rank(cands []Candidate, higherIsBetter bool) []int {
	idx := make([]int, len(cands))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool {
		return Better(&cands[idx[i]], &cands[idx[j]], higherIsBetter)
	})
	return idx
}

// ShallowTreeDepth is the deepest a decision tree may be and still rank as
// simple: a tree of depth 4 has at most 16 leaves, which a reader follows.
const ShallowTreeDepth = 4

// SimplicityRank orders model kinds from simplest to most complex, for
// the fifth key of Better: linear models, naive Bayes, a shallow decision
// tree, gradient boosting (shallow trees), a random forest or extremely
// randomized trees (many deep trees), k-nearest neighbours (the model is
// the training rows), an unpruned decision tree (as many leaves as it
// takes to make every leaf pure, so its size grows with the rows, and its
// equal score is the likeliest to be luck), an ensemble of models, and
// last anything unknown.
func SimplicityRank(algorithm string, params map[string]float64) int {
	switch algorithm {
	case "linear_regression", "ridge", "logistic_regression":
		return 0
	case "naive_bayes":
		return 1
	case "decision_tree":
		if d := params["max_depth"]; d >= 1 && d <= ShallowTreeDepth {
			return 2
		}
		return 6
	case "gradient_boosting":
		return 3
	case "random_forest", "extra_trees":
		return 4
	case "knn":
		return 5
	case "ensemble":
		return 7
	}
	return 8
}

// BagFolds reports whether a trial of algorithm, when chosen, should be
// handed over as the average of the models it trained on the
// cross-validation folds (k-fold bagging) rather than refitted once on
// every row. Averaging k fits lowers the variance of a learner whose fit
// moves with the rows it sees (trees, forests, boosting, k-NN), which
// outweighs each fit seeing (k-1)/k of the rows; a linear model or naive
// Bayes fits almost the same coefficients on every fold, so it is refitted
// and stays one readable model.
func BagFolds(algorithm string) bool {
	switch algorithm {
	case "decision_tree", "gradient_boosting", "random_forest", "extra_trees", "knn", "ensemble":
		return true
	}
	return false
}

// Bagged reports whether a run hands over the average of its best trial's
// fold models (k-fold bagging) instead of a model refitted on the train
// and validation rows: a run that named no candidates (one that named
// them gets the named algorithm refitted, as it asked), ranked by
// cross-validation on folds folds, whose best trial's algorithm BagFolds
// names. The orchestrator decides with it, and the CLI and the dashboard
// describe the handed-over model with it.
func Bagged(namedCandidates bool, folds int, bestAlgorithm string) bool {
	return !namedCandidates && folds >= 2 && BagFolds(bestAlgorithm)
}
