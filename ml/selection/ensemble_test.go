package selection

import (
	"math"
	"testing"
)

// thirds builds three binary classifiers over 30 rows, each wrong (true
// class probability 0.3) on its own block of 10 rows and right (0.9)
// elsewhere: each has accuracy 2/3, and any two of them averaged are right
// everywhere, so the ensemble provably beats every member.
func thirds() (members [][]float64, y []int) {
	y = make([]int, 30)
	for i := range y {
		y[i] = i % 2
	}
	for m := 0; m < 3; m++ {
		p := make([]float64, 2*len(y))
		for i, c := range y {
			pTrue := 0.9
			if i/10 == m {
				pTrue = 0.3
			}
			p[2*i+c], p[2*i+1-c] = pTrue, 1-pTrue
		}
		members = append(members, p)
	}
	return members, y
}

func TestSelectEnsembleBeatsEveryMember(t *testing.T) {
	members, y := thirds()
	acc, ll := Accuracy(y, 2), NegLogLoss(y, 2)
	for _, tc := range []struct {
		name   string
		score  Scorer
		opts   EnsembleOptions
		minUse int // members with a positive weight
		equal  bool
	}{
		{"accuracy, log loss breaking ties", acc, EnsembleOptions{Rounds: 10, TieBreak: ll}, 3, true},
		{"accuracy alone", acc, EnsembleOptions{Rounds: 10}, 2, false},
		{"log loss", ll, EnsembleOptions{Rounds: 12}, 3, true},
		{"sorted initialisation", acc, EnsembleOptions{Rounds: 5, InitBest: 2, TieBreak: ll}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := SelectEnsemble(members, 2, tc.score, nil, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			blend := Blend(members, e.Weights)
			if got := tc.score(blend, nil); math.Abs(got-e.Score) > 1e-12 {
				t.Errorf("reported score %v, blend scores %v", e.Score, got)
			}
			for m := range members {
				if s := tc.score(members[m], nil); !(e.Score > s) {
					t.Errorf("ensemble %v does not beat member %d (%v)", e.Score, m, s)
				}
			}
			if a := acc(blend, nil); a != 1 {
				t.Errorf("ensemble accuracy %v, want 1", a)
			}
			used, sum := 0, 0.0
			for _, w := range e.Weights {
				sum += w
				if w > 0 {
					used++
				}
			}
			if used < tc.minUse || math.Abs(sum-1) > 1e-12 {
				t.Errorf("weights %v: %d members used (want ≥ %d), sum %v", e.Weights, used, tc.minUse, sum)
			}
			if tc.equal {
				for _, w := range e.Weights {
					if math.Abs(w-1.0/3) > 1e-12 {
						t.Errorf("weights %v, want a third each", e.Weights)
						break
					}
				}
			}
		})
	}
}

func TestSelectEnsembleRegression(t *testing.T) {
	y := []float64{1, 4, 2, 8, 5, 7}
	up, down, bad := make([]float64, len(y)), make([]float64, len(y)), make([]float64, len(y))
	for i, v := range y {
		up[i], down[i], bad[i] = v+1, v-1, 0
	}
	e, err := SelectEnsemble([][]float64{bad, up, down}, 1, NegRMSE(y), nil, EnsembleOptions{Rounds: 8})
	if err != nil {
		t.Fatal(err)
	}
	if e.Score != 0 || e.Weights[0] != 0 || e.Weights[1] != 0.5 || e.Weights[2] != 0.5 {
		t.Fatalf("weights %v score %v, want [0 .5 .5] and 0", e.Weights, e.Score)
	}
	if r2 := R2(y)(Blend([][]float64{bad, up, down}, e.Weights), nil); r2 != 1 {
		t.Errorf("R2 %v, want 1", r2)
	}
}

func TestCrossFitScore(t *testing.T) {
	members, y := thirds()
	fold := make([]int, len(y))
	for i := range fold {
		fold[i] = i % 5 // every fold holds rows of every block
	}
	s, err := CrossFitScore(members, 2, Accuracy(y, 2), fold, EnsembleOptions{Rounds: 6, TieBreak: NegLogLoss(y, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if s != 1 {
		t.Fatalf("cross-fitted accuracy %v, want 1", s)
	}
	oof, err := CrossFit(members, 2, Accuracy(y, 2), fold, EnsembleOptions{Rounds: 6, TieBreak: NegLogLoss(y, 2)})
	if err != nil || len(oof) != 2*len(y) || Accuracy(y, 2)(oof, nil) != 1 {
		t.Fatalf("CrossFit: %d predictions, %v", len(oof), err)
	}
	if ll := NegLogLoss(y, 2)(oof, nil); !(ll > NegLogLoss(y, 2)(members[0], nil)) {
		t.Errorf("cross-fitted log loss %v not below a member's", -ll)
	}
	if _, err := CrossFitScore(members, 2, Accuracy(y, 2), make([]int, len(y)), EnsembleOptions{}); err == nil {
		t.Error("one fold: no error")
	}
}

func TestSelectEnsembleErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members [][]float64
		width   int
	}{
		{"no members", nil, 1},
		{"width", [][]float64{{1, 2, 3}}, 2},
		{"lengths", [][]float64{{1, 2}, {1}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := SelectEnsemble(tc.members, tc.width, NegRMSE([]float64{1, 2}), nil, EnsembleOptions{}); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
