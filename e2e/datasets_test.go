package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// Datasets across a restart of the real orchestrator process: versions
// persist, a run keeps the version it pinned, and retraining moves it to
// the latest.
func TestDatasetsAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts five processes")
	}
	c := startCluster(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	appendTiny := func() *orchestratorv1.DatasetVersion {
		t.Helper()
		resp, err := c.client.AppendDataset(ctx, &orchestratorv1.AppendDatasetRequest{
			Name: "tiny", Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Path{Path: "tiny.csv"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetVersion()
	}
	v1 := appendTiny()
	start, err := c.client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: &orchestratorv1.PipelineSpec{
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Dataset{Dataset: &orchestratorv1.DatasetRef{Name: "tiny"}}},
		Label:  "label", Seed: 1, Candidates: []*orchestratorv1.Candidate{{Algorithm: "knn"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	first := waitRun(t, c.client, start.GetRun().GetId())
	if first.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED || first.GetDatasetRows() != 20 {
		t.Fatalf("run on version 1: %v %s, %d rows", first.GetState(), first.GetError(), first.GetDatasetRows())
	}
	v2 := appendTiny()
	if v2.GetVersion() != 2 || v2.GetRows() != 40 || v2.GetDrift().GetLevel() != orchestratorv1.DriftLevel_DRIFT_LEVEL_STABLE {
		t.Fatalf("version 2 of the same rows again: %v", v2)
	}

	c.procs["orchestrator"].stop(t)
	c.restartOrchestrator(t, nil)
	got, err := c.client.GetDataset(ctx, &orchestratorv1.GetDatasetRequest{Name: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	if vs := got.GetDataset().GetVersions(); len(vs) != 2 || !proto.Equal(vs[0], v2) || !proto.Equal(vs[1], v1) {
		t.Fatalf("versions after restart: %v", vs)
	}
	rt, err := c.client.RetrainRun(ctx, &orchestratorv1.RetrainRunRequest{RunId: first.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	second := waitRun(t, c.client, rt.GetRun().GetId())
	if second.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED || second.GetDatasetRows() != 40 ||
		second.GetRetrain().GetFromVersion() != 1 || second.GetRetrain().GetToVersion() != 2 {
		t.Fatalf("retrained run: %v %s, %d rows, retrain %v", second.GetState(), second.GetError(), second.GetDatasetRows(), second.GetRetrain())
	}

	// The CLI reads the same dataset.
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "alur"), "datasets", "show", "tiny", "--json", "--server", c.addrs["orchestrator"])
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("alur datasets show: %v\n%s", err, out)
	}
	shown := &orchestratorv1.GetDatasetResponse{}
	if err := protojson.Unmarshal(out, shown); err != nil || shown.GetDataset().GetLatestVersion() != 2 {
		t.Fatalf("alur datasets show --json: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), v2.GetTableDigest()) {
		t.Errorf("CLI output lacks version 2's digest")
	}
}
