package orchestrator

import (
	"context"
	"strings"
	"testing"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore/etcdtest"
)

// TestRunOnEtcdStore runs a whole pipeline with the state in a real etcd
// and the artifacts in a blob directory, then reads the run, its events
// and its model from a second orchestrator on the same store.
func TestRunOnEtcdStore(t *testing.T) {
	etcd := etcdtest.Start(t)
	cfg := startStages(t)
	cfg.Store = "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/pipeline"
	cfg.Blobs = "file://" + t.TempDir()
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	ctx := context.Background()
	start, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: irisSpec(&orchestratorv1.Candidate{Algorithm: "logistic_regression"})})
	if err != nil {
		t.Fatal(err)
	}
	run := await(t, client, start.GetRun().GetId())
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("state %v: %s", run.GetState(), run.GetError())
	}
	_, other, stop2 := newTestOrchestrator(t, cfg)
	defer stop2()
	got, err := other.GetRun(ctx, &orchestratorv1.GetRunRequest{RunId: run.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetRun().GetModelDigest() != run.GetModelDigest() {
		t.Fatalf("second orchestrator sees model %s, want %s", got.GetRun().GetModelDigest(), run.GetModelDigest())
	}
	arts, err := other.ListArtifacts(ctx, &orchestratorv1.ListArtifactsRequest{RunId: run.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if len(arts.GetArtifacts()) < 4 {
		t.Fatalf("%d artifacts listed for the run", len(arts.GetArtifacts()))
	}
}
