package orchestrator_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/alur-ml/alur/ml/display"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/search"
)

// TestDefaultRunSelection: a run with no candidates says how it settled
// the task and the validation, cross-validates, searches, ranks its
// leaderboard as it chose, and gives the same trials and the same model
// again with the same seed. The time budget is an hour so that no
// trial's start depends on the machine's speed.
func TestDefaultRunSelection(t *testing.T) {
	stages := startStages(t)
	// Each run has an orchestrator and a store of its own, so that the
	// second run trains everything again instead of reusing the first's
	// cached steps.
	runOnce := func() *orchestratorv1.Run {
		cfg := stages
		cfg.DataDir = t.TempDir()
		_, client, stop := newTestOrchestrator(t, cfg)
		defer stop()
		spec := irisSpec()
		spec.TimeBudget = durationpb.New(time.Hour)
		start, err := client.StartRun(context.Background(), &orchestratorv1.StartRunRequest{Spec: spec})
		if err != nil {
			t.Fatal(err)
		}
		run := await(t, client, start.GetRun().GetId())
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Fatalf("state %v: %s", run.GetState(), run.GetError())
		}
		return run
	}
	run := runOnce()
	if !strings.Contains(run.GetTaskReason(), "classification") || !strings.Contains(run.GetValidationPlan(), "5-fold") {
		t.Errorf("task reason %q, validation plan %q", run.GetTaskReason(), run.GetValidationPlan())
	}
	searched := 0
	for _, tr := range run.GetTrials() {
		if tr.GetBudget() > 0 {
			searched++
		}
		if tr.GetBudget() == 0 && tr.GetAlgorithm() != "ensemble" && len(tr.GetFoldScores()) != 5 {
			t.Errorf("trial %d: %d fold scores, want 5", tr.GetNumber(), len(tr.GetFoldScores()))
		}
	}
	if searched == 0 {
		t.Error("no search trial")
	}
	best := search.Best(run.GetTrials(), run.GetMetric())
	if best.GetNumber() != run.GetBestTrial() || display.Ranked(run)[0].GetNumber() != run.GetBestTrial() {
		t.Errorf("best trial %d, search.Best %d, leaderboard first %d", run.GetBestTrial(), best.GetNumber(), display.Ranked(run)[0].GetNumber())
	}
	again := runOnce()
	summary := func(r *orchestratorv1.Run) string {
		var b strings.Builder
		for _, tr := range r.GetTrials() {
			fmt.Fprintf(&b, "%d %s %s %.12g; ", tr.GetNumber(), tr.GetAlgorithm(), search.FormatParams(tr.GetParams()), tr.GetScore())
		}
		return fmt.Sprintf("%s best %d test %.12g", b.String(), r.GetBestTrial(), r.GetTestMetrics().GetClassification().GetAccuracy())
	}
	if a, b := summary(run), summary(again); a != b {
		t.Errorf("the same seed gave\n%s\nthen\n%s", a, b)
	}
}
