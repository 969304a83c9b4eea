package orchestrator_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/alur-ml/alur/ml/display"
	"github.com/alur-ml/alur/ml/selection"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator"
	"github.com/alur-ml/alur/services/orchestrator/search"
)

// TestDefaultRunSelection: a run with no candidates says how it settled
// the task and the validation, cross-validates, searches, ranks its
// leaderboard as it chose, hands over the bagged fold models or a refit as
// selection.BagFolds says for the winner, and gives the same trials and
// the same model again with the same seed. The time budget is an hour so
// that no trial's start depends on the machine's speed. Two bundled sets,
// so that both kinds of handed-over model are likely to be seen (iris
// picked logistic regression, wine boosting, when this was written).
func TestDefaultRunSelection(t *testing.T) {
	stages := startStages(t)
	for _, set := range []struct{ name, label string }{{"iris", "species"}, {"wine", "class"}} {
		t.Run(set.name, func(t *testing.T) { defaultRunSelection(t, stages, set.name, set.label) })
	}
}

func defaultRunSelection(t *testing.T, stages orchestrator.Config, bundled, label string) {
	// Each run has an orchestrator and a store of its own, so that the
	// second run trains everything again instead of reusing the first's
	// cached steps.
	var model *datav1.Model // the model the first run hands over
	runOnce := func() *orchestratorv1.Run {
		cfg := stages
		cfg.DataDir = t.TempDir()
		_, client, stop := newTestOrchestrator(t, cfg)
		defer stop()
		spec := irisSpec()
		spec.Source = &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: bundled}}
		spec.Label = label
		spec.TimeBudget = durationpb.New(time.Hour)
		start, err := client.StartRun(context.Background(), &orchestratorv1.StartRunRequest{Spec: spec})
		if err != nil {
			t.Fatal(err)
		}
		run := await(t, client, start.GetRun().GetId())
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Fatalf("state %v: %s", run.GetState(), run.GetError())
		}
		if model == nil {
			model = readModel(t, client, run.GetModelDigest())
		}
		return run
	}
	run := runOnce()
	if !strings.Contains(run.GetTaskReason(), "classification") || !strings.Contains(run.GetValidationPlan(), "5-fold") {
		t.Errorf("task reason %q, validation plan %q", run.GetTaskReason(), run.GetValidationPlan())
	}
	// An hour is time enough: the search ends on the trial budget or
	// having tried every configuration, and says so.
	if stop := run.GetSearchStop(); stop != orchestratorv1.SearchStop_SEARCH_STOP_TRIAL_BUDGET && stop != orchestratorv1.SearchStop_SEARCH_STOP_EXHAUSTED ||
		run.GetSearchTimeBudget().AsDuration() != time.Hour {
		t.Errorf("search stop %v under a time budget of %v; want the trial budget or every configuration, under 1h", stop, run.GetSearchTimeBudget().AsDuration())
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
	// The handed-over model: the ensemble, or a tree, forest, boosting or
	// k-NN trial, is the average of its trials' fold models (k-fold
	// bagging, of both repetitions of the folds); a linear model or naive
	// Bayes is refitted.
	var bestTrial *orchestratorv1.Trial
	for _, tr := range run.GetTrials() {
		if tr.GetNumber() == run.GetBestTrial() {
			bestTrial = tr
		}
	}
	t.Logf("best trial %d (%s); model %s with %d members", bestTrial.GetNumber(), bestTrial.GetAlgorithm(), model.GetAlgorithm(), len(model.GetEnsemble().GetMembers()))
	switch alg := bestTrial.GetAlgorithm(); {
	case selection.BagFolds(alg):
		trials := 1
		if alg == search.EnsembleAlgorithm {
			trials = len(bestTrial.GetParams())
		}
		// Five fold models per trial, ten for a trial cross-validated a
		// second time (the hour's budget leaves time for every trial).
		e := model.GetEnsemble()
		if model.GetAlgorithm() != search.EnsembleAlgorithm || !strings.Contains(e.GetMethod(), search.BaggedMethod) || len(e.GetMembers()) != 10*trials {
			t.Errorf("best trial %s: model %s, method %q, %d members; want %d bagged fold models", alg, model.GetAlgorithm(), e.GetMethod(), len(e.GetMembers()), 10*trials)
		}
	default:
		if model.GetAlgorithm() != alg {
			t.Errorf("best trial %s: model %s, want it refitted", alg, model.GetAlgorithm())
		}
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

// readModel streams a model artifact from the orchestrator and decodes it.
func readModel(t *testing.T, client orchestratorv1.OrchestratorServiceClient, digest string) *datav1.Model {
	t.Helper()
	stream, err := client.GetArtifact(context.Background(), &orchestratorv1.GetArtifactRequest{Digest: digest})
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("model %s: %v", digest, err)
		}
		b = append(b, m.GetChunk()...)
	}
	m := &datav1.Model{}
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
	return m
}
