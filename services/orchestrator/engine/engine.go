package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/alur-ml/alur/ml/table"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/services/orchestrator/artifacts"
	"github.com/alur-ml/alur/services/orchestrator/fault"
	"github.com/alur-ml/alur/services/orchestrator/obs"
	"github.com/alur-ml/alur/services/orchestrator/search"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

// Stage versions take part in cache keys: bump one when the stage's output
// for the same input changes, so stale cached outputs are not reused.
const (
	collectVersion        = "collect/v1"
	collectDatasetVersion = "collect-dataset/v1"
	profileVersion        = "profile/v1"
	prepareVersion        = "prepare/v1"
	trainVersion          = "train/v1"
	evaluateVersion       = "evaluate/v1"
	refitVersion          = "refit/v1"
	learningCurveVersion  = "learning_curve/v2"
)

// Event kinds, short names for the proto's.
const (
	kindRunQueued     = orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_QUEUED
	kindRunStarted    = orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_STARTED
	kindRunResumed    = orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_RESUMED
	kindStepStarted   = orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_STARTED
	kindStepProgress  = orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_PROGRESS
	kindStepRetried   = orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_RETRIED
	kindStepFinished  = orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FINISHED
	kindStepCached    = orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_CACHED
	kindStepFailed    = orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FAILED
	kindTrialFinished = orchestratorv1.RunEventKind_RUN_EVENT_KIND_TRIAL_FINISHED
	kindTrialFailed   = orchestratorv1.RunEventKind_RUN_EVENT_KIND_TRIAL_FAILED
	kindObjectiveMet  = orchestratorv1.RunEventKind_RUN_EVENT_KIND_OBJECTIVE_MET
	kindReportStored  = orchestratorv1.RunEventKind_RUN_EVENT_KIND_REPORT_STORED
	kindReportFailed  = orchestratorv1.RunEventKind_RUN_EVENT_KIND_REPORT_FAILED
	kindRunSucceeded  = orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_SUCCEEDED
	kindRunFailed     = orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_FAILED
	kindRunCancelled  = orchestratorv1.RunEventKind_RUN_EVENT_KIND_RUN_CANCELLED
)

// runner executes one run. Steps run strictly in order; each is recorded
// on the run, persisted, and announced as an event before the next starts.
type runner struct {
	eng    *Engine
	ctx    context.Context
	cancel context.CancelFunc
	// userCancelled is set by Cancel, to tell a client's cancellation
	// from a shutdown (after which the run resumes).
	userCancelled atomic.Bool
	// disowned is set when the store refused a write because another
	// orchestrator owns the run now (store.ErrNotOwner): the run stops
	// here at once and records nothing more.
	disowned atomic.Bool

	mu  sync.Mutex
	run *orchestratorv1.Run // guarded by mu; persisted after every change
	// searchDeadline is the end of the search's time budget, once the
	// search has begun (guarded by mu): trial events carry the time left.
	searchDeadline time.Time
}

// snapshot returns a copy of the run that is safe to hand out.
func (r *runner) snapshot() *orchestratorv1.Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	return proto.Clone(r.run).(*orchestratorv1.Run)
}

// update changes the run under the lock and persists it.
func (r *runner) update(change func(run *orchestratorv1.Run)) *orchestratorv1.Run {
	r.mu.Lock()
	if change != nil {
		change(r.run)
	}
	snap := proto.Clone(r.run).(*orchestratorv1.Run)
	r.mu.Unlock()
	if err := r.eng.store.PutRun(snap); err != nil {
		r.writeFailed("persist run", err)
	}
	return snap
}

// writeFailed logs a write the store refused. When it refused because
// another orchestrator took the run over (its lease saw this one's end),
// the run is cancelled here: the new owner executes it, and this one must
// not go on running its steps alongside.
func (r *runner) writeFailed(what string, err error) {
	if !errors.Is(err, store.ErrNotOwner) {
		r.eng.logger.Error(what, "run", r.run.GetId(), "err", err)
		return
	}
	if r.disowned.CompareAndSwap(false, true) {
		r.eng.logger.Warn("another orchestrator owns the run now; stopping it here", "run", r.run.GetId(), "err", err)
		r.cancel()
	}
}

// record changes the run like update and announces the change as an
// event of the given kind, storing both in one transaction: an
// orchestrator killed in between cannot leave the change without its
// event (a finished run without RUN_SUCCEEDED, a step done without
// STEP_FINISHED), nor a watcher see one before the other.
func (r *runner) record(kind orchestratorv1.RunEventKind, step, msg string, trial *orchestratorv1.Trial, change func(run *orchestratorv1.Run)) {
	r.mu.Lock()
	if change != nil {
		change(r.run)
	}
	snap := proto.Clone(r.run).(*orchestratorv1.Run)
	deadline := r.searchDeadline
	r.mu.Unlock()
	ev := &orchestratorv1.RunEvent{
		Time: timestamppb.Now(), RunState: snap.GetState(), Kind: kind, Step: step, Message: msg, Trial: trial, Owner: r.eng.cfg.Replica,
	}
	if trial != nil && !deadline.IsZero() {
		ev.SearchTimeLeft = durationpb.New(max(time.Until(deadline), 0).Round(time.Second))
	}
	if _, err := r.eng.store.PutRunEvent(snap, ev); err != nil {
		r.writeFailed("persist run and event "+kind.String(), err)
	}
	r.eng.notify(snap.GetId())
}

// stepFunc does one step's work and returns its output artifact digests and
// a one-line summary for people.
type stepFunc func(ctx context.Context) (outputs []string, summary string, err error)

// step runs one named step at most once per run. A step the run already
// finished (before a restart) is reused as is; a step whose cache key has
// finished outputs is recorded as a cache hit; otherwise fn runs.
func (r *runner) step(name, key string, fn stepFunc) ([]string, error) {
	if out, ok := r.finished(name); ok {
		return out, nil
	}
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	if out, ok := r.cached(name, key); ok {
		return out, nil
	}
	start := timestamppb.Now()
	r.record(kindStepStarted, name, name+": started", nil, func(run *orchestratorv1.Run) {
		run.Steps = append(dropStep(run.Steps, name), &orchestratorv1.Step{
			Name: name, State: orchestratorv1.StepState_STEP_STATE_RUNNING, StartTime: start,
		})
	})
	outs, summary, err := r.retryUnavailable(name, fn)
	end := timestamppb.Now()
	took := end.AsTime().Sub(start.AsTime())
	obs.StepDuration.WithLabelValues(stepKind(name)).Observe(took.Seconds())
	if err != nil {
		reason := fault.Describe(err)
		r.record(kindStepFailed, name, fmt.Sprintf("%s: failed after %s: %s", name, roundDur(took), reason), nil, func(run *orchestratorv1.Run) {
			if st := findStep(run.Steps, name); st != nil {
				st.State, st.EndTime, st.Error = orchestratorv1.StepState_STEP_STATE_FAILED, end, reason
			}
		})
		return nil, err
	}
	if key != "" {
		if err := r.eng.store.CachePut(key, outs); err != nil {
			r.eng.logger.Warn("cache put", "step", name, "err", err)
		}
	}
	msg := fmt.Sprintf("%s: done in %s", name, roundDur(took))
	if summary != "" {
		msg += ": " + summary
	}
	r.record(kindStepFinished, name, msg, nil, func(run *orchestratorv1.Run) {
		if st := findStep(run.Steps, name); st != nil {
			st.State, st.EndTime, st.OutputDigests = orchestratorv1.StepState_STEP_STATE_SUCCEEDED, end, outs
		}
	})
	return outs, nil
}

// finished returns the outputs of a step the run already finished.
func (r *runner) finished(name string) ([]string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.run.Steps {
		if st.GetName() == name && st.GetState() == orchestratorv1.StepState_STEP_STATE_SUCCEEDED {
			return st.GetOutputDigests(), true
		}
	}
	return nil, false
}

// cached records the step as a cache hit when key has finished outputs.
func (r *runner) cached(name, key string) ([]string, bool) {
	if key == "" {
		return nil, false
	}
	outs, ok, err := r.eng.store.CacheGet(key)
	if err != nil || !ok {
		obs.CacheMisses.Inc()
		return nil, false
	}
	obs.CacheHits.Inc()
	for _, d := range outs {
		if err := r.eng.store.LinkArtifact(r.run.GetId(), d); err != nil {
			r.eng.logger.Warn("link cached artifact", "run", r.run.GetId(), "digest", d, "err", err)
		}
	}
	now := timestamppb.Now()
	r.record(kindStepCached, name, name+": reused cached result", nil, func(run *orchestratorv1.Run) {
		run.Steps = append(dropStep(run.Steps, name), &orchestratorv1.Step{
			Name: name, State: orchestratorv1.StepState_STEP_STATE_SUCCEEDED,
			StartTime: now, EndTime: now, CacheHit: true, OutputDigests: outs,
		})
	})
	return outs, true
}

// retryUnavailable runs a step's work, and runs it again with exponential
// backoff while a stage is unavailable (fault.ErrStageUnavailable), for up
// to Config.StageRetryWindow. Steps are safe to repeat: the stages are
// stateless and artifacts are content-addressed. Any other error, or an
// outage longer than the window, ends the step.
func (r *runner) retryUnavailable(name string, fn stepFunc) ([]string, string, error) {
	backoff := 200 * time.Millisecond
	var firstFailure time.Time
	for {
		outs, summary, err := fn(r.ctx)
		if !errors.Is(err, fault.ErrStageUnavailable) || r.ctx.Err() != nil {
			return outs, summary, err
		}
		if firstFailure.IsZero() {
			firstFailure = time.Now()
		}
		if time.Since(firstFailure)+backoff > r.eng.cfg.StageRetryWindow {
			return nil, "", fmt.Errorf("stage still unavailable after %s of retries: %w", roundDur(time.Since(firstFailure)), err)
		}
		r.eng.event(r.run.GetId(), &orchestratorv1.RunEvent{
			Time: timestamppb.Now(), RunState: orchestratorv1.RunState_RUN_STATE_RUNNING, Kind: kindStepRetried, Step: name,
			Message: fmt.Sprintf("%s: stage unavailable (%s); retrying in %s", name, err.Error(), backoff),
		})
		select {
		case <-time.After(backoff):
		case <-r.ctx.Done():
			return nil, "", r.ctx.Err()
		}
		r.eng.stages.ResetBackoff()
		backoff = min(2*backoff, 5*time.Second)
	}
}

// retryStore runs op, and runs it again with exponential backoff while
// the store is unavailable (store.ErrUnavailable: an object store that is
// away), for up to Config.StageRetryWindow, recording each retry as a
// STEP_RETRIED event: the run pauses where it is, between steps as within
// them, and goes on when the store is back. Reads and writes of
// content-addressed artifacts are safe to repeat.
func (r *runner) retryStore(what string, op func() error) error {
	backoff := 200 * time.Millisecond
	var firstFailure time.Time
	for {
		err := op()
		if !errors.Is(err, store.ErrUnavailable) || r.ctx.Err() != nil {
			return err
		}
		if firstFailure.IsZero() {
			firstFailure = time.Now()
		}
		if time.Since(firstFailure)+backoff > r.eng.cfg.StageRetryWindow {
			return err
		}
		r.eng.event(r.run.GetId(), &orchestratorv1.RunEvent{
			Time: timestamppb.Now(), RunState: orchestratorv1.RunState_RUN_STATE_RUNNING, Kind: kindStepRetried,
			Message: fmt.Sprintf("%s: artifact store unavailable (%s); retrying in %s", what, err.Error(), backoff),
		})
		select {
		case <-time.After(backoff):
		case <-r.ctx.Done():
			return r.ctx.Err()
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// stepKind is a step's name without its trial and fold numbers
// ("train/3/fold2" is "train"), the label step metrics use.
func stepKind(name string) string {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return name
}

func dropStep(steps []*orchestratorv1.Step, name string) []*orchestratorv1.Step {
	out := steps[:0]
	for _, s := range steps {
		if s.GetName() != name {
			out = append(out, s)
		}
	}
	return out
}

func findStep(steps []*orchestratorv1.Step, name string) *orchestratorv1.Step {
	for _, s := range steps {
		if s.GetName() == name {
			return s
		}
	}
	return nil
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d > 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

// put stores an artifact produced by this run's step.
func (r *runner) put(kind, step, mediaType, name string, content []byte, inputs ...string) (string, error) {
	var a *orchestratorv1.Artifact
	err := r.retryStore(step+": store "+kind+" artifact", func() (err error) {
		a, err = r.eng.store.PutArtifact(&orchestratorv1.Artifact{
			Kind: kind, MediaType: mediaType, RunId: r.run.GetId(), Step: step, InputDigests: inputs, Name: name,
		}, content)
		return err
	})
	if errors.Is(err, store.ErrUnavailable) {
		// Still away: the step retries (retryUnavailable) before the run
		// fails.
		return "", fault.New(codes.Unavailable, "store %s artifact: %v", kind, err)
	}
	if err != nil {
		return "", fault.Internal("store %s artifact: %v", kind, err)
	}
	obs.ArtifactBytes.Add(float64(len(content)))
	return a.GetDigest(), nil
}

func (r *runner) putProto(kind, step, name string, m proto.Message, inputs ...string) (string, error) {
	b, err := artifacts.Marshal(m)
	if err != nil {
		return "", fault.Internal("encode %s: %v", kind, err)
	}
	return r.put(kind, step, artifacts.MediaProto(m), name, b, inputs...)
}

func (r *runner) putTable(kind, step, name string, t *table.Table, inputs ...string) (string, error) {
	b, err := artifacts.EncodeTable(t)
	if err != nil {
		return "", fault.Internal("encode %s: %v", kind, err)
	}
	return r.put(kind, step, artifacts.MediaTable, name, b, inputs...)
}

func (r *runner) read(digest string) ([]byte, error) {
	var b []byte
	err := r.retryStore("read artifact "+digest, func() (err error) {
		b, err = r.eng.store.ReadArtifact(digest)
		return err
	})
	if errors.Is(err, store.ErrUnavailable) {
		return nil, fault.New(codes.Unavailable, "read artifact %s: %v", digest, err)
	}
	if err != nil {
		return nil, fault.DataLoss("read artifact %s: %v", digest, err)
	}
	return b, nil
}

func (r *runner) readTable(digest string) (*table.Table, error) {
	b, err := r.read(digest)
	if err != nil {
		return nil, err
	}
	t, err := artifacts.DecodeTable(b)
	if err != nil {
		return nil, fault.DataLoss("decode table artifact %s: %v", digest, err)
	}
	return t, nil
}

func (r *runner) readProto(digest string, m proto.Message) error {
	b, err := r.read(digest)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return fault.DataLoss("decode artifact %s: %v", digest, err)
	}
	return nil
}

// cacheKey builds a step's cache key from its version, its canonical
// request and its input digests.
func cacheKey(version string, req proto.Message, inputs ...string) string {
	parts := [][]byte{[]byte(version)}
	if req != nil {
		b, _ := artifacts.Marshal(req)
		parts = append(parts, b)
	}
	for _, in := range inputs {
		parts = append(parts, []byte(in))
	}
	return store.CacheKey(parts...)
}

// recordTrial stores a finished or failed trial on the run, keeps the
// trials in order and the best one marked, and announces it.
func (r *runner) recordTrial(t *orchestratorv1.Trial, msg string) {
	kind := kindTrialFinished
	if t.GetError() != "" {
		kind = kindTrialFailed
	}
	r.record(kind, fmt.Sprintf("trial/%d", t.GetNumber()), msg, t, func(run *orchestratorv1.Run) {
		kept := run.Trials[:0]
		for _, old := range run.Trials {
			if old.GetNumber() != t.GetNumber() {
				kept = append(kept, old)
			}
		}
		run.Trials = append(kept, t)
		sort.Slice(run.Trials, func(i, j int) bool { return run.Trials[i].GetNumber() < run.Trials[j].GetNumber() })
		if b := search.Best(run.Trials, run.GetMetric()); b != nil {
			run.BestTrial = b.GetNumber()
		}
	})
}

// progressFunc forwards train progress as events, at most one a second.
func (r *runner) progressFunc(step string) func(*trainv1.TrainProgress) {
	var last time.Time
	return func(p *trainv1.TrainProgress) {
		if time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		msg := fmt.Sprintf("%s: %s", step, p.GetStage())
		if p.GetTotal() > 0 {
			msg += fmt.Sprintf(" %d/%d", p.GetDone(), p.GetTotal())
		} else if p.GetDone() > 0 {
			msg += fmt.Sprintf(" %d", p.GetDone())
		}
		if l := p.GetLoss(); l != 0 && !math.IsNaN(l) {
			msg += fmt.Sprintf(" loss %.4g", l)
		}
		if p.GetMessage() != "" {
			msg += " " + p.GetMessage()
		}
		r.eng.event(r.run.GetId(), &orchestratorv1.RunEvent{Time: timestamppb.Now(), RunState: orchestratorv1.RunState_RUN_STATE_RUNNING, Kind: kindStepProgress, Step: step, Message: msg})
	}
}

func (r *runner) trials() []*orchestratorv1.Trial {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*orchestratorv1.Trial(nil), r.run.GetTrials()...)
}

func (r *runner) firstTrialError() string {
	for _, t := range r.trials() {
		if t.GetError() != "" {
			return t.GetError()
		}
	}
	return "no trial ran"
}
