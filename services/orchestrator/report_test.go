package orchestrator_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator"
	"github.com/alur-ml/alur/services/orchestrator/blob"
	"github.com/alur-ml/alur/services/orchestrator/store"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore/etcdtest"
)

// endedWithoutReport writes to st a run that ended SUCCEEDED with its
// report still pending, as an orchestrator killed between the two leaves
// it: queued, started, succeeded.
func endedWithoutReport(t *testing.T, st store.Backend, id, owner string) {
	t.Helper()
	run := &orchestratorv1.Run{Id: id, Spec: haIris(&orchestratorv1.Candidate{Algorithm: "logistic_regression"}),
		State: orchestratorv1.RunState_RUN_STATE_PENDING, CreateTime: timestamppb.Now()}
	for _, step := range []struct {
		kind  orchestratorv1.RunEventKind
		state orchestratorv1.RunState
	}{
		{orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_QUEUED, orchestratorv1.RunState_RUN_STATE_PENDING},
		{orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_STARTED, orchestratorv1.RunState_RUN_STATE_RUNNING},
		{orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED, orchestratorv1.RunState_RUN_STATE_SUCCEEDED},
	} {
		run.State = step.state
		if step.state == orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			run.EndTime, run.ReportPending = timestamppb.Now(), true
		}
		ev := &orchestratorv1.RunEvent{Time: timestamppb.Now(), RunState: step.state, Kind: step.kind, Owner: owner}
		if _, err := st.PutRunEvent(run, ev); err != nil {
			t.Fatal(err)
		}
	}
}

// watchTail follows a watch to the end of its stream and returns the
// kinds of the events it sent.
func watchTail(t *testing.T, stream orchestratorv1.OrchestratorService_WatchRunClient) []orchestratorv1.RunEventKind {
	t.Helper()
	var kinds []orchestratorv1.RunEventKind
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return kinds
		}
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		kinds = append(kinds, m.GetEvent().GetKind())
	}
}

// checkEndsWithReport checks that a watch's events end with the terminal
// event followed by REPORT_STORED, each once.
func checkEndsWithReport(t *testing.T, who string, kinds []orchestratorv1.RunEventKind) {
	t.Helper()
	n := len(kinds)
	count := func(k orchestratorv1.RunEventKind) int {
		c := 0
		for _, x := range kinds {
			if x == k {
				c++
			}
		}
		return c
	}
	if n < 2 || kinds[n-1] != orchestratorv1.RunEventKind_RUN_EVENT_KIND_REPORT_STORED ||
		count(orchestratorv1.RunEventKind_RUN_EVENT_KIND_REPORT_STORED) != 1 || count(orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED) != 1 {
		t.Errorf("%s: the watch sent %v; want it to end with REPORT_STORED after the one RUN_SUCCEEDED", who, kinds)
	}
}

// TestWatchOnEtcdEndsAfterTheReport: on orchestrators sharing an etcd
// store, a watch on any replica ends only after the run's report is
// stored, not at its terminal event. A run executed by one replica is
// watched from the other; a run whose owner ended it and stopped before
// storing its report is watched from both while one takes it over and
// stores the report.
func TestWatchOnEtcdEndsAfterTheReport(t *testing.T) {
	etcd := etcdtest.Start(t)
	cfg := haStages(t)
	cfg.Store = "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/watch"
	cfg.Blobs = "file://" + t.TempDir()
	cfg.OwnerTTL = 2 * time.Second

	// The departed owner ended a run, then stopped before its report; its
	// lease still runs while the watches start.
	cli := etcd.Client(t)
	ctx := context.Background()
	lease, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gone := etcdstore.New(cli, "/watch", bs)
	gone.Fence("departed", lease.ID)
	endedWithoutReport(t, gone, "ended-early", "departed")

	cfg.ReplicaID = "replica-b"
	_, b, stopB := haServe(t, cfg)
	defer stopB()
	cfg.ReplicaID = "replica-c"
	_, c, stopC := haServe(t, cfg)
	defer stopC()

	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var streams []orchestratorv1.OrchestratorService_WatchRunClient
	for _, client := range []orchestratorv1.OrchestratorServiceClient{b, c} {
		stream, err := client.WatchRun(wctx, &orchestratorv1.WatchRunRequest{RunId: "ended-early"})
		if err != nil {
			t.Fatal(err)
		}
		// The recorded events come first, the terminal one among them.
		for range 3 {
			if _, err := stream.Recv(); err != nil {
				t.Fatalf("watch of the ended run: %v", err)
			}
		}
		streams = append(streams, stream)
	}
	// Now the owner's lease ends: b or c takes the run over to store its
	// report, and both watches go on to it.
	if _, err := cli.Revoke(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	for i, stream := range streams {
		kinds := append([]orchestratorv1.RunEventKind{
			orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_QUEUED, orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_STARTED,
			orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED}, watchTail(t, stream)...)
		checkEndsWithReport(t, []string{"replica-b", "replica-c"}[i]+" watching the taken-over run", kinds)
	}
	run, err := c.GetRun(ctx, &orchestratorv1.GetRunRequest{RunId: "ended-early"})
	if err != nil {
		t.Fatal(err)
	}
	if run.GetRun().GetReportDigest() == "" || run.GetRun().GetReportPending() {
		t.Errorf("the taken-over run: report %q, pending %v", run.GetRun().GetReportDigest(), run.GetRun().GetReportPending())
	}

	// A run b executes, watched from c, which does not own it.
	start, err := b.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: haIris(&orchestratorv1.Candidate{Algorithm: "logistic_regression"})})
	if err != nil {
		t.Fatal(err)
	}
	stream, err := c.WatchRun(wctx, &orchestratorv1.WatchRunRequest{RunId: start.GetRun().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	checkEndsWithReport(t, "replica-c watching replica-b's run", watchTail(t, stream))
}

// TestWatchOnBboltEndsAfterTheReport: on one orchestrator, a watch ends
// after the report too: of a run it executes, and of a run that ended
// before a crash without its report, which the restarted orchestrator
// stores.
func TestWatchOnBboltEndsAfterTheReport(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	st, err := store.Open(filepath.Join(cfg.DataDir, orchestrator.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	endedWithoutReport(t, st, "ended-early", "crashed")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream, err := client.WatchRun(ctx, &orchestratorv1.WatchRunRequest{RunId: "ended-early"})
	if err != nil {
		t.Fatal(err)
	}
	checkEndsWithReport(t, "the run ended before the restart", watchTail(t, stream))

	start, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: irisSpec(&orchestratorv1.Candidate{Algorithm: "logistic_regression"})})
	if err != nil {
		t.Fatal(err)
	}
	stream, err = client.WatchRun(ctx, &orchestratorv1.WatchRunRequest{RunId: start.GetRun().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	checkEndsWithReport(t, "a run executed here", watchTail(t, stream))
}
