package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	evalv1 "github.com/alur-ml/alur/proto/alur/eval/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/eval"
	"github.com/alur-ml/alur/services/ingest"
	"github.com/alur-ml/alur/services/orchestrator"
	"github.com/alur-ml/alur/services/orchestrator/blob"
	"github.com/alur-ml/alur/services/orchestrator/store"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore/etcdtest"
	"github.com/alur-ml/alur/services/prep"
	"github.com/alur-ml/alur/services/train"
)

// TestRunOnEtcdStore runs a whole pipeline with the state in a real etcd
// and the artifacts in a blob directory, then reads the run, its events
// and its model from a second orchestrator on the same store.
func TestRunOnEtcdStore(t *testing.T) {
	etcd := etcdtest.Start(t)
	cfg := haStages(t)
	cfg.Store = "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/pipeline"
	cfg.Blobs = "file://" + t.TempDir()
	_, client, stop := haServe(t, cfg)
	defer stop()
	ctx := context.Background()
	start, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: haIris(&orchestratorv1.Candidate{Algorithm: "logistic_regression"})})
	if err != nil {
		t.Fatal(err)
	}
	run := haAwait(t, client, start.GetRun().GetId())
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("state %v: %s", run.GetState(), run.GetError())
	}
	_, other, stop2 := haServe(t, cfg)
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

// TestTakeoverOfOrphanedRuns leaves three runs unfinished by an
// orchestrator whose lease ends, then starts two orchestrators on the same
// store: between them they take every run over, each exactly once, and
// finish it; either answers a watch of a run the other executes. Every
// event from the takeover on names the replica that took the run.
func TestTakeoverOfOrphanedRuns(t *testing.T) {
	etcd := etcdtest.Start(t)
	cfg := haStages(t)
	cfg.Store = "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/takeover"
	cfg.Blobs = "file://" + t.TempDir()
	cfg.OwnerTTL = 2 * time.Second

	// The departed orchestrator: its runs are written under its lease,
	// which then ends.
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
	gone := etcdstore.New(cli, "/takeover", bs)
	gone.Fence("departed", lease.ID)
	var ids []string
	for i := range 3 {
		id := fmt.Sprintf("orphan-%d", i)
		ids = append(ids, id)
		run := &orchestratorv1.Run{Id: id, Spec: haIris(&orchestratorv1.Candidate{Algorithm: "logistic_regression"}),
			State: orchestratorv1.RunState_RUN_STATE_RUNNING, CreateTime: timestamppb.Now()}
		if err := gone.PutRun(run); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Revoke(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}

	cfg.ReplicaID = "replica-b"
	_, b, stopB := haServe(t, cfg)
	defer stopB()
	cfg.ReplicaID = "replica-c"
	_, c, stopC := haServe(t, cfg)
	defer stopC()
	for i, id := range ids {
		client := []orchestratorv1.OrchestratorServiceClient{b, c}[i%2]
		run := haAwait(t, client, id)
		if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
			t.Fatalf("run %s: state %v: %s", id, run.GetState(), run.GetError())
		}
		counts := map[orchestratorv1.RunEventKind]int{}
		owner := ""
		for _, ev := range haEvents(t, client, id) {
			counts[ev.GetKind()]++
			if ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_RESUMED {
				owner = ev.GetOwner()
			}
			if owner != "" && ev.GetOwner() != owner {
				t.Errorf("run %s: event %d (%s) recorded by %q after %q took the run over", id, ev.GetSequence(), ev.GetKind(), ev.GetOwner(), owner)
			}
		}
		if owner != "replica-b" && owner != "replica-c" {
			t.Errorf("run %s taken over by %q, want replica-b or replica-c", id, owner)
		}
		if counts[orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_RESUMED] != 1 ||
			counts[orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_STARTED] != 1 ||
			counts[orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED] != 1 {
			t.Fatalf("run %s events by kind %v: want one takeover, one start, one success", id, counts)
		}
	}
}

// TestCancelThroughAnotherOrchestrator cancels a run from an orchestrator
// that does not execute it: the request reaches the owner through etcd.
func TestCancelThroughAnotherOrchestrator(t *testing.T) {
	etcd := etcdtest.Start(t)
	cfg := haStages(t)
	cfg.Store = "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/cancel"
	cfg.Blobs = "file://" + t.TempDir()
	_, owner, stopOwner := haServe(t, cfg)
	defer stopOwner()
	_, other, stopOther := haServe(t, cfg)
	defer stopOther()
	spec := haIris(&orchestratorv1.Candidate{Algorithm: "random_forest", Grid: map[string]*orchestratorv1.ParamValues{"n_estimators": {Values: []float64{2000, 2001, 2002}}}})
	ctx := context.Background()
	start, err := owner.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	id := start.GetRun().GetId()
	waitForKind(t, other, id, orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FINISHED)
	resp, err := other.CancelRun(ctx, &orchestratorv1.CancelRunRequest{RunId: id})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetRun().GetState() != orchestratorv1.RunState_RUN_STATE_CANCELLED {
		t.Fatalf("after cancel through the other orchestrator: %v", resp.GetRun().GetState())
	}
}

// waitForKind follows a run's events until one of kind arrives.
func waitForKind(t *testing.T, client orchestratorv1.OrchestratorServiceClient, id string, kind orchestratorv1.RunEventKind) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream, err := client.WatchRun(ctx, &orchestratorv1.WatchRunRequest{RunId: id})
	if err != nil {
		t.Fatal(err)
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("run %s: no %v event: %v", id, kind, err)
		}
		if m.GetEvent().GetKind() == kind {
			return
		}
	}
}

// TestLostLeaseIsReported ends an orchestrator's lease behind its back (as
// etcd does when it cannot reach it for the TTL): Lost is closed, and its
// writes to its runs are refused. A clean Close, by contrast, is not a
// loss.
func TestLostLeaseIsReported(t *testing.T) {
	etcd := etcdtest.Start(t)
	cfg := haStages(t)
	cfg.Store = "etcd+unix://" + strings.TrimPrefix(etcd.Endpoint, "unix://") + "?prefix=/lost"
	cfg.Blobs = "file://" + t.TempDir()
	srv, _, stop := haServe(t, cfg)
	defer stop()
	if srv.Lost() == nil {
		t.Fatal("Lost is nil on an etcd store")
	}
	select {
	case <-srv.Lost():
		t.Fatal("Lost closed while the lease lives")
	default:
	}
	run := &orchestratorv1.Run{Id: "mine", State: orchestratorv1.RunState_RUN_STATE_RUNNING, CreateTime: timestamppb.Now()}
	if err := srv.Store().PutRun(run); err != nil {
		t.Fatal(err)
	}
	// The orchestrator's lease is the only one in this etcd.
	cli := etcd.Client(t)
	leases, err := cli.Leases(context.Background())
	if err != nil || len(leases.Leases) != 1 {
		t.Fatalf("leases %v, %v; want the orchestrator's one", leases, err)
	}
	if _, err := cli.Revoke(context.Background(), leases.Leases[0].ID); err != nil {
		t.Fatal(err)
	}
	<-srv.Lost()
	if err := srv.Store().PutRun(run); !errors.Is(err, store.ErrNotOwner) {
		t.Fatalf("write after the lease ended: %v, want ErrNotOwner", err)
	}

	other, _, stopOther := haServe(t, cfg)
	lost := other.Lost()
	stopOther()
	select {
	case <-lost:
		t.Fatal("a clean Close reported a lost lease")
	default:
	}
}

// The helpers below are this file's own (the package's other tests have
// theirs): the four stages in process, an orchestrator over an in-process
// connection, and a run followed to its end.

// haStages serves the four stages on loopback ports in this process.
func haStages(t *testing.T) orchestrator.Config {
	t.Helper()
	serve := func(register func(*grpc.Server)) string {
		srv := serverkit.NewGRPCServer(slog.New(slog.DiscardHandler))
		register(srv.GRPC)
		lis, err := serverkit.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = srv.Serve(ctx, lis); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		return lis.Addr().String()
	}
	return orchestrator.Config{
		IngestAddr: serve(func(g *grpc.Server) { ingestv1.RegisterIngestServiceServer(g, ingest.NewServer(ingest.Config{})) }),
		PrepAddr:   serve(func(g *grpc.Server) { prepv1.RegisterPrepServiceServer(g, prep.NewServer(prep.Config{})) }),
		TrainAddr:  serve(func(g *grpc.Server) { trainv1.RegisterTrainServiceServer(g, train.NewServer(train.Config{})) }),
		EvalAddr:   serve(func(g *grpc.Server) { evalv1.RegisterEvalServiceServer(g, eval.NewServer(eval.Config{})) }),
		Logger:     slog.New(slog.DiscardHandler),
	}
}

// haServe serves an orchestrator over an in-process connection.
func haServe(t *testing.T, cfg orchestrator.Config) (*orchestrator.Server, orchestratorv1.OrchestratorServiceClient, func()) {
	t.Helper()
	srv, err := orchestrator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn, stop := serverkit.NewInProcess(srv.Register)
	return srv, orchestratorv1.NewOrchestratorServiceClient(conn), func() {
		stop()
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
}

func haIris(cands ...*orchestratorv1.Candidate) *orchestratorv1.PipelineSpec {
	return &orchestratorv1.PipelineSpec{
		Source:     &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}},
		Label:      "species",
		Candidates: cands,
		Seed:       42,
	}
}

// haAwait follows a run to its end and returns it.
func haAwait(t *testing.T, client orchestratorv1.OrchestratorServiceClient, id string) *orchestratorv1.Run {
	t.Helper()
	haEvents(t, client, id)
	resp, err := client.GetRun(context.Background(), &orchestratorv1.GetRunRequest{RunId: id})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetRun()
}

// haEvents watches a run to its end and returns its events.
func haEvents(t *testing.T, client orchestratorv1.OrchestratorServiceClient, id string) []*orchestratorv1.RunEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream, err := client.WatchRun(ctx, &orchestratorv1.WatchRunRequest{RunId: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []*orchestratorv1.RunEvent
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("watch %s: %v", id, err)
		}
		out = append(out, m.GetEvent())
	}
}
