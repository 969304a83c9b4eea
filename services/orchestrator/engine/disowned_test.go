package engine_test

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/alurtest"
	"github.com/alur-ml/alur/services/orchestrator/engine"
	"github.com/alur-ml/alur/services/orchestrator/stack"
	"github.com/alur-ml/alur/services/orchestrator/stageclient"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

// takenStore is a bbolt store that, once taken is set, refuses the run
// writes as a fenced store refuses an owner whose runs another took over
// (store.ErrNotOwner), and keeps what it refused.
type takenStore struct {
	store.Backend

	mu      sync.Mutex
	taken   bool
	refused []*orchestratorv1.RunEvent // nil for a PutRun
	first   chan *orchestratorv1.RunEvent
}

func (s *takenStore) refuse(ev *orchestratorv1.RunEvent) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.taken {
		s.refused = append(s.refused, ev)
	}
	return s.taken
}

func (s *takenStore) PutRun(run *orchestratorv1.Run) error {
	if s.refuse(nil) {
		return fmt.Errorf("run %q is owned by another: %w", run.GetId(), store.ErrNotOwner)
	}
	return s.Backend.PutRun(run)
}

func (s *takenStore) PutRunEvent(run *orchestratorv1.Run, ev *orchestratorv1.RunEvent) (*orchestratorv1.RunEvent, error) {
	if s.refuse(ev) {
		return nil, fmt.Errorf("run %q is owned by another: %w", run.GetId(), store.ErrNotOwner)
	}
	out, err := s.Backend.PutRunEvent(run, ev)
	if err == nil && ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FINISHED {
		// The run is taken over as soon as its first step is done.
		s.mu.Lock()
		if !s.taken {
			s.taken = true
			s.first <- out
		}
		s.mu.Unlock()
	}
	return out, err
}

func (s *takenStore) AppendEvent(runID string, ev *orchestratorv1.RunEvent) (*orchestratorv1.RunEvent, error) {
	if s.refuse(ev) {
		return nil, fmt.Errorf("run %q is owned by another: %w", runID, store.ErrNotOwner)
	}
	return s.Backend.AppendEvent(runID, ev)
}

// TestDisownedRunStops: when the store refuses a run's write because
// another orchestrator took the run over, the engine stops the run at
// once. It starts no further step and records no end (the new owner
// does), so the two never execute the run side by side for long.
func TestDisownedRunStops(t *testing.T) {
	stages := alurtest.Stages(t, stack.StagesConfig{})
	sc, err := stageclient.Dial(stageclient.Config{
		IngestAddr: stages.IngestAddr, PrepAddr: stages.PrepAddr, TrainAddr: stages.TrainAddr, EvalAddr: stages.EvalAddr,
		StepTimeout: time.Minute, TrainTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	bolt, err := store.Open(filepath.Join(t.TempDir(), "alur.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	st := &takenStore{Backend: bolt, first: make(chan *orchestratorv1.RunEvent, 1)}
	eng := engine.New(engine.Config{
		MaxConcurrentRuns: 1, MaxQueuedRuns: 1, MaxParallelTrials: 1, StepTimeout: time.Minute,
		StageRetryWindow: time.Second, Replica: "old-owner", Logger: slog.New(slog.DiscardHandler),
	}, st, sc)
	defer eng.Close()
	run, err := eng.Start(&orchestratorv1.PipelineSpec{
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species", Seed: 1,
		Candidates: []*orchestratorv1.Candidate{{Algorithm: "logistic_regression"}, {Algorithm: "knn"}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-st.first:
	case <-time.After(time.Minute):
		t.Fatal("the run finished no step within a minute")
	}
	// The run leaves the engine: its runner ended.
	deadline := time.After(time.Minute)
	for {
		wake := eng.WaitFor(run.GetId())
		if _, live := eng.Live(run.GetId()); !live {
			break
		}
		select {
		case <-wake:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("the run still executes here a minute after it was taken over")
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	started := 0
	for _, ev := range st.refused {
		switch ev.GetKind() {
		case orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_STARTED:
			started++
		case orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED, orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_FAILED,
			orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_CANCELLED:
			t.Errorf("the disowned run tried to record its end: %v", ev)
		}
	}
	// The write that found the run taken may be a step's start; no step
	// starts after it.
	if started > 1 || len(st.refused) > 3 {
		t.Errorf("after the run was taken over the engine tried %d writes, %d of them step starts; want it stopped at the first", len(st.refused), started)
	}
}
