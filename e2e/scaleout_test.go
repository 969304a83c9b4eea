package e2e

import (
	"context"
	"testing"
	"time"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// TestScaleOutOverTrainProcesses runs two train processes and an
// orchestrator given both (a comma-separated replica list) with two
// parallel trials: the trials land on both replicas, round robin.
func TestScaleOutOverTrainProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six processes")
	}
	c := startCluster(t, nil)
	second := startProc(t, "train", anyPort, "--server-id", "train-b")
	c.procs["orchestrator"].stop(t)
	c.restartOrchestrator(t, []string{"--train", c.addrs["train"] + "," + second.addr, "--max-parallel-trials", "2"})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start, err := c.client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: &orchestratorv1.PipelineSpec{
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}},
		Label:  "species",
		Candidates: []*orchestratorv1.Candidate{{Algorithm: "random_forest",
			Grid: map[string]*orchestratorv1.ParamValues{"n_estimators": {Values: []float64{20, 30, 40, 50, 60, 70, 80, 90}}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, c.client, start.GetRun().GetId())
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("run %v: %s", run.GetState(), run.GetError())
	}
	perServer := map[string]int{}
	for _, tr := range singleTrials(run) { // the ensemble trial names no server
		perServer[tr.GetTrainServer()]++
	}
	if len(perServer) != 2 || perServer["train-b"] == 0 {
		t.Fatalf("trials per train process %v, want both processes used", perServer)
	}
	t.Logf("trials per train process: %v", perServer)
}
