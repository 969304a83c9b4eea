package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/alurtest"
	"github.com/alur-ml/alur/services/orchestrator/artifacts"
	"github.com/alur-ml/alur/services/orchestrator/blob"
	"github.com/alur-ml/alur/services/orchestrator/dashboard"
	"github.com/alur-ml/alur/services/orchestrator/engine"
	"github.com/alur-ml/alur/services/orchestrator/stack"
	"github.com/alur-ml/alur/services/orchestrator/stageclient"
	"github.com/alur-ml/alur/services/orchestrator/store"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore/etcdtest"
)

// errKilled is what a killed orchestrator's store answers: nothing it
// tries to write after the kill is written.
var errKilled = errors.New("the orchestrator was killed")

// killedAfterEnd is a store whose orchestrator is killed the moment the
// run's terminal event is stored: between RUN_SUCCEEDED and its report.
// Every write after that fails (reads still work, as the rendering of
// the report the dead owner never stores shows).
type killedAfterEnd struct {
	store.Backend

	mu     sync.Mutex
	killed bool
	dead   chan struct{}
}

func (s *killedAfterEnd) dying() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.killed
}

func (s *killedAfterEnd) PutRunEvent(run *orchestratorv1.Run, ev *orchestratorv1.RunEvent) (*orchestratorv1.RunEvent, error) {
	if s.dying() {
		return nil, errKilled
	}
	out, err := s.Backend.PutRunEvent(run, ev)
	if err == nil && ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED {
		s.mu.Lock()
		s.killed = true
		close(s.dead)
		s.mu.Unlock()
	}
	return out, err
}

func (s *killedAfterEnd) PutRun(run *orchestratorv1.Run) error {
	if s.dying() {
		return errKilled
	}
	return s.Backend.PutRun(run)
}

func (s *killedAfterEnd) AppendEvent(runID string, ev *orchestratorv1.RunEvent) (*orchestratorv1.RunEvent, error) {
	if s.dying() {
		return nil, errKilled
	}
	return s.Backend.AppendEvent(runID, ev)
}

func (s *killedAfterEnd) PutArtifact(meta *orchestratorv1.Artifact, content []byte) (*orchestratorv1.Artifact, error) {
	if s.dying() {
		return nil, errKilled
	}
	return s.Backend.PutArtifact(meta, content)
}

func (s *killedAfterEnd) PutArtifactParts(meta *orchestratorv1.Artifact, parts [][]byte) (*orchestratorv1.Artifact, error) {
	if s.dying() {
		return nil, errKilled
	}
	return s.Backend.PutArtifactParts(meta, parts)
}

func (s *killedAfterEnd) PutArtifactStream(meta *orchestratorv1.Artifact, r io.Reader) (*orchestratorv1.Artifact, error) {
	if s.dying() {
		return nil, errKilled
	}
	return s.Backend.PutArtifactStream(meta, r)
}

func (s *killedAfterEnd) LinkArtifact(runID, digest string) error {
	if s.dying() {
		return errKilled
	}
	return s.Backend.LinkArtifact(runID, digest)
}

// storeSource lets the dashboard render a report straight from a store.
type storeSource struct{ st store.Backend }

func (s storeSource) ListRuns(_ context.Context, n int, tok string) ([]*orchestratorv1.Run, string, error) {
	return s.st.ListRuns(n, tok)
}

func (s storeSource) GetRun(_ context.Context, id string) (*orchestratorv1.Run, error) {
	return s.st.GetRun(id)
}

func (s storeSource) ListArtifacts(_ context.Context, runID string) ([]*orchestratorv1.Artifact, error) {
	return s.st.ListArtifacts(runID)
}

func (s storeSource) ReadArtifact(_ context.Context, digest string) ([]byte, error) {
	return s.st.ReadArtifact(digest)
}

// renderings renders reports with the dashboard and keeps the digest of
// every one rendered, stored or not.
type renderings struct {
	mu      sync.Mutex
	digests map[string][]string // run id → digests, in rendering order
}

func (r *renderings) report(st store.Backend) func(ctx context.Context, runID string) ([]byte, error) {
	return func(ctx context.Context, runID string) ([]byte, error) {
		b, err := dashboard.RenderReport(ctx, storeSource{st}, runID)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		r.mu.Lock()
		r.digests[runID] = append(r.digests[runID], hex.EncodeToString(sum[:]))
		r.mu.Unlock()
		return b, nil
	}
}

// TestReportSurvivesItsOwner kills the orchestrator that owns a run
// between the run's RUN_SUCCEEDED and the storing of its report, then
// lets the next one find the run (a restart on bbolt, a takeover on
// etcd): it stores the missing report, exactly once, fenced, with the
// very bytes the killed owner had rendered, and the run's log ends with
// REPORT_STORED.
func TestReportSurvivesItsOwner(t *testing.T) {
	stages := alurtest.Stages(t, stack.StagesConfig{})
	sc, err := stageclient.Dial(stageclient.Config{
		IngestAddr: stages.IngestAddr, PrepAddr: stages.PrepAddr, TrainAddr: stages.TrainAddr, EvalAddr: stages.EvalAddr,
		StepTimeout: time.Minute, TrainTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()

	// A backend gives the killed owner's store and, after the kill, the
	// next owner's store with the run it picks up.
	type backend struct {
		owner func(t *testing.T) store.Backend
		next  func(t *testing.T, runID string) (store.Backend, *orchestratorv1.Run, string)
	}
	cases := []struct {
		name string
		open func(t *testing.T) backend
	}{
		{"bbolt restart", func(t *testing.T) backend {
			bolt, err := store.Open(filepath.Join(t.TempDir(), "alur.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = bolt.Close() })
			return backend{
				owner: func(*testing.T) store.Backend { return bolt },
				next: func(t *testing.T, runID string) (store.Backend, *orchestratorv1.Run, string) {
					unf, err := bolt.UnfinishedRuns()
					if err != nil || len(unf) != 1 || unf[0].GetId() != runID {
						t.Fatalf("unfinished runs after the kill: %v, %v; want the run whose report is pending", unf, err)
					}
					return bolt, unf[0], "orchestrator restarted"
				},
			}
		}},
		{"etcd takeover", func(t *testing.T) backend {
			etcd := etcdtest.Start(t)
			cli := etcd.Client(t)
			bs, err := blob.NewDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			fenced := func(owner string) (*etcdstore.Store, clientv3.LeaseID) {
				lease, err := cli.Grant(t.Context(), 60)
				if err != nil {
					t.Fatal(err)
				}
				st := etcdstore.New(cli, "/report", bs)
				st.Fence(owner, lease.ID)
				return st, lease.ID
			}
			old, oldLease := fenced("old-owner")
			return backend{
				owner: func(*testing.T) store.Backend { return old },
				next: func(t *testing.T, runID string) (store.Backend, *orchestratorv1.Run, string) {
					st, _ := fenced("new-owner")
					if _, ok, err := st.Claim(runID); ok || err != nil {
						t.Fatalf("claimed a run whose owner lives: %v, %v", ok, err)
					}
					// The owner's lease ends, as when etcd stops hearing from it.
					if _, err := cli.Revoke(t.Context(), oldLease); err != nil {
						t.Fatal(err)
					}
					orphans, err := st.Orphans()
					if err != nil || len(orphans) != 1 || orphans[0] != runID {
						t.Fatalf("orphans %v, %v; want the run whose report is pending", orphans, err)
					}
					run, ok, err := st.Claim(runID)
					if !ok || err != nil {
						t.Fatalf("claim: %v, %v", ok, err)
					}
					// The killed owner's late write is refused.
					late := &orchestratorv1.RunEvent{Kind: orchestratorv1.RunEventKind_RUN_EVENT_KIND_REPORT_STORED, Message: "late"}
					if _, err := old.PutRunEvent(run, late); !errors.Is(err, store.ErrNotOwner) {
						t.Fatalf("the old owner's write after the takeover: %v, want ErrNotOwner", err)
					}
					return st, run, "taken over by orchestrator new-owner"
				},
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.open(t)
			rendered := &renderings{digests: map[string][]string{}}
			cfg := func(replica string, st store.Backend) engine.Config {
				return engine.Config{
					MaxConcurrentRuns: 1, MaxQueuedRuns: 1, MaxParallelTrials: 1, StepTimeout: time.Minute,
					StageRetryWindow: time.Second, Replica: replica, Logger: slog.New(slog.DiscardHandler), Report: rendered.report(st),
				}
			}
			st := &killedAfterEnd{Backend: b.owner(t), dead: make(chan struct{})}
			owner := engine.New(cfg("old-owner", st), st, sc)
			run, err := owner.Start(&orchestratorv1.PipelineSpec{
				Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species", Seed: 1,
				Candidates: []*orchestratorv1.Candidate{{Algorithm: "logistic_regression"}},
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			id := run.GetId()
			select {
			case <-st.dead:
			case <-time.After(2 * time.Minute):
				t.Fatal("the run did not succeed within two minutes")
			}
			waitGone(t, owner, id)
			owner.Close()
			ended, err := st.Backend.GetRun(id)
			if err != nil {
				t.Fatal(err)
			}
			if ended.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED || !ended.GetReportPending() || ended.GetReportDigest() != "" {
				t.Fatalf("after the kill the run is %v, report pending %v, report %q; want SUCCEEDED with its report pending",
					ended.GetState(), ended.GetReportPending(), ended.GetReportDigest())
			}
			rendered.mu.Lock()
			want := rendered.digests[id]
			rendered.mu.Unlock()
			if len(want) != 1 {
				t.Fatalf("the owner rendered %d reports before it was killed, want 1", len(want))
			}

			next, found, why := b.next(t, id)
			eng := engine.New(cfg("new-owner", next), next, sc)
			defer eng.Close()
			eng.ResumeRun(found, why)
			waitGone(t, eng, id)

			done, err := next.GetRun(id)
			if err != nil {
				t.Fatal(err)
			}
			if done.GetReportPending() || done.GetReportDigest() != want[0] || done.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
				t.Errorf("after %s: %v, report pending %v, report %s; want SUCCEEDED with the report the owner rendered, %s",
					why, done.GetState(), done.GetReportPending(), done.GetReportDigest(), want[0])
			}
			if unf, err := next.UnfinishedRuns(); err != nil || len(unf) != 0 {
				t.Errorf("unfinished runs once the report is stored: %d, %v", len(unf), err)
			}
			if b, err := next.ReadArtifact(done.GetReportDigest()); err != nil || len(b) == 0 {
				t.Errorf("read the stored report: %d bytes, %v", len(b), err)
			}
			arts, err := next.ListArtifacts(id)
			if err != nil {
				t.Fatal(err)
			}
			reports := 0
			for _, a := range arts {
				if a.GetKind() == artifacts.KindReport {
					reports++
				}
			}
			if reports != 1 {
				t.Errorf("the run has %d report artifacts, want 1", reports)
			}
			evs, err := next.Events(id, 0)
			if err != nil {
				t.Fatal(err)
			}
			counts := map[orchestratorv1.RunEventKind]int{}
			for _, ev := range evs {
				counts[ev.GetKind()]++
			}
			last := evs[len(evs)-1]
			if last.GetKind() != orchestratorv1.RunEventKind_RUN_EVENT_KIND_REPORT_STORED || last.GetOwner() != "new-owner" {
				t.Errorf("the last event is %v by %q, want REPORT_STORED by new-owner", last.GetKind(), last.GetOwner())
			}
			if counts[orchestratorv1.RunEventKind_RUN_EVENT_KIND_REPORT_STORED] != 1 || counts[orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED] != 1 ||
				counts[orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_STARTED] != 1 || counts[orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_RESUMED] != 1 {
				t.Errorf("events by kind %v: want one start, one success, one resume and one report", counts)
			}
		})
	}
}

// waitGone waits for the run to leave the engine (its runner ended).
func waitGone(t *testing.T, eng *engine.Engine, id string) {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		wake := eng.WaitFor(id)
		if _, live := eng.Live(id); !live {
			return
		}
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("run %s still live after two minutes", id)
		}
	}
}

// TestReportEndsTheLog: a run that ended SUCCEEDED owes a report; its log
// ends with REPORT_STORED when the report is stored, and with
// REPORT_FAILED when it cannot be made, which settles the run too (no
// longer report_pending, so nobody tries again).
func TestReportEndsTheLog(t *testing.T) {
	stages := alurtest.Stages(t, stack.StagesConfig{})
	sc, err := stageclient.Dial(stageclient.Config{
		IngestAddr: stages.IngestAddr, PrepAddr: stages.PrepAddr, TrainAddr: stages.TrainAddr, EvalAddr: stages.EvalAddr,
		StepTimeout: time.Minute, TrainTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	cases := []struct {
		name       string
		render     func(ctx context.Context, runID string) ([]byte, error)
		last       orchestratorv1.RunEventKind
		withReport bool
	}{
		{"stored", func(context.Context, string) ([]byte, error) { return []byte("<html>report</html>"), nil },
			orchestratorv1.RunEventKind_RUN_EVENT_KIND_REPORT_STORED, true},
		{"failed", func(context.Context, string) ([]byte, error) { return nil, errors.New("the template broke") },
			orchestratorv1.RunEventKind_RUN_EVENT_KIND_REPORT_FAILED, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := store.Open(filepath.Join(t.TempDir(), "alur.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			eng := engine.New(engine.Config{
				MaxConcurrentRuns: 1, MaxQueuedRuns: 1, MaxParallelTrials: 1, StepTimeout: time.Minute,
				StageRetryWindow: time.Second, Replica: "only", Logger: slog.New(slog.DiscardHandler), Report: c.render,
			}, st, sc)
			defer eng.Close()
			run, err := eng.Start(&orchestratorv1.PipelineSpec{
				Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species", Seed: 1,
				Candidates: []*orchestratorv1.Candidate{{Algorithm: "logistic_regression"}},
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			waitGone(t, eng, run.GetId())
			done, err := st.GetRun(run.GetId())
			if err != nil {
				t.Fatal(err)
			}
			if done.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED || done.GetReportPending() || (done.GetReportDigest() != "") != c.withReport {
				t.Errorf("run %v, report pending %v, report %q", done.GetState(), done.GetReportPending(), done.GetReportDigest())
			}
			if unf, err := st.UnfinishedRuns(); err != nil || len(unf) != 0 {
				t.Errorf("%d unfinished runs, %v; want none", len(unf), err)
			}
			evs, err := st.Events(run.GetId(), 0)
			if err != nil || len(evs) < 2 {
				t.Fatalf("events %v, %v", evs, err)
			}
			if got := evs[len(evs)-1].GetKind(); got != c.last || evs[len(evs)-2].GetKind() != orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED {
				t.Errorf("the log ends with %v, %v; want RUN_SUCCEEDED, %v", evs[len(evs)-2].GetKind(), got, c.last)
			}
		})
	}
}
