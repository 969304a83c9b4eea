package search

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/alur-ml/alur/ml/display"
	"github.com/alur-ml/alur/ml/selection"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// TestRunSearchResumes: a successive-halving search cut short by a crash
// (five trials recorded, the sixth half trained) and run again trains no
// fold twice and ends with the trials of the uninterrupted search; only
// the trials on all rows compete for the choice.
func TestRunSearchResumes(t *testing.T) {
	var configs []selection.Config
	for i := range 9 {
		configs = append(configs, selection.Config{ID: i, Algorithm: fmt.Sprintf("m%d", i%3), Params: map[string]float64{"p": float64(i)}})
	}
	sr := Search{Configs: configs, MaxTrials: 13}
	key := func(tr *orchestratorv1.Trial) string {
		return fmt.Sprintf("%d:%s c%d r%d b%.3f", tr.GetNumber(), tr.GetAlgorithm(), tr.GetConfigId(), tr.GetRung(), tr.GetBudget())
	}
	var last *Loop
	search := func(recorded []*orchestratorv1.Trial, done map[string]bool) *oofSteps {
		l, _ := oofLoop(t)
		f := &oofSteps{fakeSteps: fakeSteps{trials: recorded}, done: done}
		if _, err := l.RunSearch(f, sr); err != nil {
			t.Fatal(err)
		}
		last = l
		return f
	}
	full := search(nil, map[string]bool{})
	var want []string
	for _, tr := range full.Trials() {
		want = append(want, key(tr))
	}
	if len(want) != 13 {
		t.Fatalf("%d trials, want 13: %v", len(want), want)
	}
	done := map[string]bool{}
	for _, s := range full.trained {
		n, _ := strconv.Atoi(strings.Split(s, "/")[1])
		if n <= 5 || s == "train/6/fold1" {
			done[s] = true
		}
	}
	resumed := search(slices.Clone(full.Trials()[:5]), maps.Clone(done))
	for _, s := range resumed.trained {
		if done[s] {
			t.Errorf("step %s trained again after the restart", s)
		}
	}
	var got []string
	for _, tr := range resumed.Trials() {
		got = append(got, key(tr))
	}
	if !slices.Equal(got, want) {
		t.Errorf("resumed search\n got %v\nwant %v", got, want)
	}
	for _, tr := range full.Trials() {
		if display.Scored(tr) != (tr.GetBudget() >= 1) {
			t.Errorf("trial %s: scored %v", key(tr), display.Scored(tr))
		}
		// The resumed search knows the fold models of every trial on all
		// rows, replayed or trained, for k-fold bagging; a trial on a
		// share of the rows has none.
		if got := len(last.FoldModels(tr.GetNumber())); (got == 3) != (tr.GetBudget() >= 1) || (got != 0 && got != 3) {
			t.Errorf("trial %s: %d fold models", key(tr), got)
		}
	}
}
