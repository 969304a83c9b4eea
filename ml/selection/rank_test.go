package selection

import (
	"math"
	"slices"
	"testing"
)

func TestClippedLogLoss(t *testing.T) {
	for _, tc := range []struct {
		name  string
		proba []float64
		y     []int
		loss  float64
		hard  bool
	}{
		{"hard and right", []float64{1, 0, 0, 1}, []int{0, 1}, -math.Log(1 - ProbabilityClip), true},
		{"hard, one wrong", []float64{1, 0, 1, 0}, []int{0, 1}, (-math.Log(1-ProbabilityClip) - math.Log(ProbabilityClip)) / 2, true},
		{"soft", []float64{0.8, 0.2, 0.4, 0.6}, []int{0, 1}, -(math.Log(0.8) + math.Log(0.6)) / 2, false},
		{"one soft row", []float64{1, 0, 0.5, 0.5}, []int{0, 1}, (-math.Log(1-ProbabilityClip) - math.Log(0.5)) / 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loss, hard := ClippedLogLoss(tc.proba, 2, tc.y)
			if math.Abs(loss-tc.loss) > 1e-12 || hard != tc.hard {
				t.Fatalf("ClippedLogLoss = %v, %v; want %v, %v", loss, hard, tc.loss, tc.hard)
			}
		})
	}
	if loss, _ := ClippedLogLoss([]float64{1, 0}, 2, []int{1}); math.Abs(loss-34.538776394910684) > 1e-9 {
		t.Errorf("a certain wrong answer costs %v, want -log(1e-15)", loss)
	}
}

func TestRank(t *testing.T) {
	pure, _ := ClippedLogLoss([]float64{1, 0, 0, 1}, 2, []int{0, 1})
	for _, tc := range []struct {
		name           string
		cands          []Candidate
		higherIsBetter bool
		want           []int // Numbers, best first
	}{{
		// The bundled wine case: every model scores 1.0 on every fold; the
		// unpruned tree's leaves are pure, so its log loss is ~1e-15.
		name: "pure tree tied with forest and boosting",
		cands: []Candidate{
			{Number: 1, Algorithm: "decision_tree", Score: 1, FoldLoss: []float64{pure, pure, pure, pure, pure}, Hard: true},
			{Number: 2, Algorithm: "random_forest", Score: 1, FoldLoss: []float64{0.09, 0.11, 0.08, 0.1, 0.12}},
			{Number: 3, Algorithm: "gradient_boosting", Score: 1, FoldLoss: []float64{0.02, 0.03, 0.01, 0.02, 0.02}},
		},
		higherIsBetter: true,
		want:           []int{3, 2, 1},
	}, {
		name: "one pure fold does not decide",
		cands: []Candidate{
			{Number: 1, Algorithm: "decision_tree", Params: map[string]float64{"min_samples_leaf": 5}, Score: 0.95, FoldLoss: []float64{pure, 1.5, 0.9}},
			{Number: 2, Algorithm: "random_forest", Score: 0.95, FoldLoss: []float64{0.1, 0.2, 0.15}},
		},
		higherIsBetter: true,
		want:           []int{2, 1},
	}, {
		name: "the score comes first",
		cands: []Candidate{
			{Number: 1, Algorithm: "random_forest", Score: 0.9, FoldLoss: []float64{0.1}},
			{Number: 2, Algorithm: "decision_tree", Score: 0.95, FoldLoss: []float64{3}, Hard: true},
		},
		higherIsBetter: true,
		want:           []int{2, 1},
	}, {
		name: "lower is better for rmse",
		cands: []Candidate{
			{Number: 1, Algorithm: "ridge", Score: 3.2},
			{Number: 2, Algorithm: "gradient_boosting", Score: 2.1},
		},
		want: []int{2, 1},
	}, {
		name: "equal loss: the simpler model, then the earlier trial",
		cands: []Candidate{
			{Number: 1, Algorithm: "knn", Score: 0.9, FoldLoss: []float64{0.3}},
			{Number: 2, Algorithm: "random_forest", Score: 0.9, FoldLoss: []float64{0.3}},
			{Number: 3, Algorithm: "logistic_regression", Score: 0.9, FoldLoss: []float64{0.3}},
			{Number: 4, Algorithm: "logistic_regression", Score: 0.9 + 1e-12, FoldLoss: []float64{0.3}},
		},
		higherIsBetter: true,
		want:           []int{3, 4, 2, 1},
	}, {
		name: "failed and NaN last, unknown loss after known",
		cands: []Candidate{
			{Number: 1, Algorithm: "knn", Score: 0.99, Failed: true},
			{Number: 2, Algorithm: "knn", Score: math.NaN()},
			{Number: 3, Algorithm: "ridge", Score: 0.5},
			{Number: 4, Algorithm: "knn", Score: 0.5, FoldLoss: []float64{1}},
		},
		higherIsBetter: true,
		want:           []int{4, 3, 1, 2},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var got []int
			for _, i := range Rank(tc.cands, tc.higherIsBetter) {
				got = append(got, tc.cands[i].Number)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Rank = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSimplicityRankShallowTree(t *testing.T) {
	shallow := SimplicityRank("decision_tree", map[string]float64{"max_depth": 3})
	deep := SimplicityRank("decision_tree", map[string]float64{"max_depth": 0})
	if !(shallow < SimplicityRank("gradient_boosting", nil) && deep > SimplicityRank("random_forest", nil)) {
		t.Fatalf("shallow tree %d and unpruned tree %d around boosting and forest", shallow, deep)
	}
	if SimplicityRank("extra_trees", nil) != SimplicityRank("random_forest", nil) {
		t.Error("extra trees and the random forest rank differently")
	}
}

func TestBagFolds(t *testing.T) {
	for _, tc := range []struct {
		algorithm string
		want      bool
	}{
		{"random_forest", true},
		{"extra_trees", true},
		{"gradient_boosting", true},
		{"decision_tree", true},
		{"knn", true},
		{"ensemble", true},
		{"logistic_regression", false},
		{"linear_regression", false},
		{"ridge", false},
		{"naive_bayes", false},
		{"unknown", false},
	} {
		if got := BagFolds(tc.algorithm); got != tc.want {
			t.Errorf("BagFolds(%q) = %v, want %v", tc.algorithm, got, tc.want)
		}
	}
}

func TestBagged(t *testing.T) {
	for _, tc := range []struct {
		name  string
		named bool
		folds int
		alg   string
		want  bool
	}{
		{"default run, forest", false, 5, "random_forest", true},
		{"default run, extra trees", false, 5, "extra_trees", true},
		{"default run, ensemble", false, 5, "ensemble", true},
		{"default run, logistic regression", false, 5, "logistic_regression", false},
		{"named candidates", true, 5, "random_forest", false},
		{"holdout validation", false, 0, "random_forest", false},
	} {
		if got := Bagged(tc.named, tc.folds, tc.alg); got != tc.want {
			t.Errorf("%s: Bagged = %v, want %v", tc.name, got, tc.want)
		}
	}
}
