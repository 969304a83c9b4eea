package search

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRepeat: a second repetition of the folds trains every trial with
// out-of-fold predictions again on other folds, adds their models to the
// trial's fold models (first repetition first), keeps an ensemble that
// blends the same models, starts nothing once the time budget is spent,
// and trains nothing again when a run resumes.
func TestRepeat(t *testing.T) {
	tb, y := oofTable()
	other, err := MakeFolds(tb, "y", 3, 8)
	if err != nil {
		t.Fatal(err)
	}
	run := func(deadline time.Time, done map[string]bool) (*Loop, *oofSteps, int) {
		l, _ := oofLoop(t)
		f := &oofSteps{fakeSteps: fakeSteps{}, done: done}
		if _, err := l.Run(f); err != nil {
			t.Fatal(err)
		}
		l.Deadline = deadline
		n, err := l.Repeat(f, other)
		if err != nil {
			t.Fatal(err)
		}
		return l, f, n
	}
	for _, tc := range []struct {
		name     string
		deadline time.Time
		want     int
	}{
		{"no deadline", time.Time{}, 3},
		{"budget left", time.Now().Add(time.Hour), 3},
		{"budget spent", time.Now().Add(-time.Second), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, f, n := run(tc.deadline, map[string]bool{})
			if n != tc.want {
				t.Fatalf("%d trials repeated, want %d", n, tc.want)
			}
			repeats := 0
			for _, s := range f.trained {
				if strings.Contains(s, "/repeat2/") {
					repeats++
				}
			}
			if repeats != 3*tc.want {
				t.Errorf("%d repetition steps trained, want %d: %v", repeats, 3*tc.want, f.trained)
			}
			for n := int32(1); n <= 3; n++ {
				got := l.FoldModels(n)
				want := []string{fmt.Sprintf("m%d@train/%d/fold1", n-1, n), fmt.Sprintf("m%d@train/%d/fold2", n-1, n), fmt.Sprintf("m%d@train/%d/fold3", n-1, n)}
				if tc.want > 0 {
					for f := 1; f <= 3; f++ {
						want = append(want, fmt.Sprintf("m%d@train/%d/repeat2/fold%d", n-1, n, f))
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("trial %d: fold models %v, want %v", n, got, want)
				}
			}
			// Each model predicts a row the same way on any fold, so the
			// mean of the repetitions is the first: the same ensemble.
			ens, _, err := l.Ensemble(f, 4, y, []string{"0", "1"})
			if err != nil || ens == nil || ens.GetScore() != 1 {
				t.Errorf("ensemble %v, %v; want a score of 1", ens, err)
			}
		})
	}
	// Resume: every step was done before the restart.
	_, f, _ := run(time.Time{}, map[string]bool{})
	done := map[string]bool{}
	for _, s := range f.trained {
		done[s] = true
	}
	_, again, n := run(time.Time{}, maps.Clone(done))
	if n != 3 || len(again.trained) != 0 {
		t.Errorf("resumed: %d trials repeated, trained again %v", n, again.trained)
	}
}
