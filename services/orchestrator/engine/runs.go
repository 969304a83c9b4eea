package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/alur-ml/alur/ml/display"
	"github.com/alur-ml/alur/ml/table"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/artifacts"
	"github.com/alur-ml/alur/services/orchestrator/fault"
	"github.com/alur-ml/alur/services/orchestrator/obs"
	"github.com/alur-ml/alur/services/orchestrator/stageclient"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

// Config tunes the engine. Zero values are not defaults here: the
// orchestrator's Config fills them in.
type Config struct {
	// MaxConcurrentRuns caps runs executing at once.
	MaxConcurrentRuns int
	// MaxQueuedRuns caps runs waiting to start; beyond it Start refuses
	// with a *fault.LimitError naming max_queued_runs.
	MaxQueuedRuns int
	// MaxParallelTrials caps the trials of one run trained at once.
	MaxParallelTrials int
	// StepTimeout bounds rendering a finished run's report.
	StepTimeout time.Duration
	// StageRetryWindow is how long a step keeps retrying a stage that is
	// unavailable before the run fails.
	StageRetryWindow time.Duration
	// Report, when set, renders a finished run's HTML report, which the
	// engine stores as an artifact of the run.
	Report func(ctx context.Context, runID string) ([]byte, error)
	// Replica names this orchestrator in the events it records
	// (RunEvent.owner), so a run's log tells which replica executed each
	// step when several share the store.
	Replica string
	Logger  *slog.Logger
}

// Engine executes runs: it admits them (a bounded queue, a bounded number
// executing), runs their steps, records every change and event in the
// store, and resumes unfinished runs after a restart.
type Engine struct {
	cfg    Config
	logger *slog.Logger
	store  store.Backend
	stages *stageclient.Clients

	ctx    context.Context // ends when the engine closes
	cancel context.CancelFunc
	wg     sync.WaitGroup
	slots  chan struct{} // admission: one token per executing run

	mu      sync.Mutex
	runners map[string]*runner       // live runs
	waiters map[string]chan struct{} // closed on each new event of a run
	queued  int                      // runs admitted and waiting for a slot
}

// New returns an engine that keeps runs in st and calls the stages
// through stages. Call Resume to pick up unfinished runs.
func New(cfg Config, st store.Backend, stages *stageclient.Clients) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Engine{
		cfg: cfg, logger: cfg.Logger, store: st, stages: stages, ctx: ctx, cancel: cancel,
		slots: make(chan struct{}, max(cfg.MaxConcurrentRuns, 1)), runners: map[string]*runner{}, waiters: map[string]chan struct{}{},
	}
}

// Resume launches every run that was pending or running when the
// orchestrator last stopped, and stores the report of every run that
// ended without it (the orchestrator stopped in between). Resumed runs
// are admitted whatever the queue holds: they were admitted before.
func (e *Engine) Resume() error {
	unfinished, err := e.store.UnfinishedRuns()
	if err != nil {
		return err
	}
	for _, run := range unfinished {
		e.ResumeRun(run, "orchestrator restarted")
	}
	return nil
}

// ReportPending reports whether a run has ended and its report is still
// to store: all that is left of it to do.
func ReportPending(run *orchestratorv1.Run) bool {
	return terminal(run.GetState()) && run.GetReportPending()
}

func terminal(st orchestratorv1.RunState) bool {
	switch st {
	case orchestratorv1.RunState_RUN_STATE_SUCCEEDED, orchestratorv1.RunState_RUN_STATE_FAILED, orchestratorv1.RunState_RUN_STATE_CANCELLED:
		return true
	}
	return false
}

// ResumeRun launches one unfinished run, saying why in its event log
// (after a restart, or when this orchestrator took the run over from one
// that stopped): a pending or running run from its last finished step, an
// ended run whose report is pending to store that report. A run already
// live here is left alone.
func (e *Engine) ResumeRun(run *orchestratorv1.Run, why string) {
	if _, live := e.Live(run.GetId()); live {
		return
	}
	msg := why + ": resuming from the last finished step"
	if ReportPending(run) {
		msg = why + ": storing the report of the ended run"
	}
	e.logger.Info("resuming run", "run", run.GetId(), "why", msg)
	e.event(run.GetId(), &orchestratorv1.RunEvent{Time: timestamppb.Now(), RunState: run.GetState(), Kind: kindRunResumed, Message: msg})
	e.mu.Lock()
	e.queued++
	e.mu.Unlock()
	e.launch(run)
}

// Close stops every run (they stay resumable) and waits for them.
func (e *Engine) Close() {
	e.cancel()
	e.wg.Wait()
}

// Done is closed when the engine is closing.
func (e *Engine) Done() <-chan struct{} { return e.ctx.Done() }

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:3])
}

// Start persists a validated spec as a pending run and queues it. A full
// queue refuses the run with a *fault.LimitError before anything is
// written: the queue slot is taken under the lock, so concurrent starts
// cannot overfill it.
func (e *Engine) Start(spec *orchestratorv1.PipelineSpec, retrain *orchestratorv1.Retrain) (*orchestratorv1.Run, error) {
	e.mu.Lock()
	if e.queued >= e.cfg.MaxQueuedRuns {
		e.mu.Unlock()
		return nil, &fault.LimitError{Limit: "max_queued_runs", Reason: fmt.Sprintf("%d runs are already waiting; try again later", e.cfg.MaxQueuedRuns)}
	}
	e.queued++
	e.mu.Unlock()
	run := &orchestratorv1.Run{
		Id: newRunID(), Spec: spec, State: orchestratorv1.RunState_RUN_STATE_PENDING, CreateTime: timestamppb.Now(), Retrain: retrain,
	}
	msg := "run queued"
	if ds := spec.GetSource().GetDataset(); ds != nil {
		msg += fmt.Sprintf(" on dataset %s version %d", ds.GetName(), ds.GetVersion())
	}
	if retrain != nil {
		msg += fmt.Sprintf(", retraining run %s (version %d → %d)", retrain.GetRunId(), retrain.GetFromVersion(), retrain.GetToVersion())
	}
	// The run and its first event are stored together.
	queued := &orchestratorv1.RunEvent{Time: timestamppb.Now(), RunState: run.GetState(), Kind: kindRunQueued, Message: msg, Owner: e.cfg.Replica}
	if _, err := e.store.PutRunEvent(run, queued); err != nil {
		e.mu.Lock()
		e.queued--
		e.mu.Unlock()
		return nil, fault.Internal("persist run: %v", err)
	}
	e.notify(run.GetId())
	e.launch(proto.Clone(run).(*orchestratorv1.Run))
	return run, nil
}

// launch schedules an admitted run (its queue slot already counted): it
// waits for an execution slot, then executes.
func (e *Engine) launch(run *orchestratorv1.Run) {
	ctx, cancel := context.WithCancel(e.ctx)
	r := &runner{eng: e, ctx: ctx, cancel: cancel, run: run}
	e.mu.Lock()
	e.runners[run.GetId()] = r
	e.mu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer cancel()
		select {
		case e.slots <- struct{}{}:
		case <-ctx.Done():
		}
		e.mu.Lock()
		e.queued--
		e.mu.Unlock()
		switch {
		case ReportPending(run):
			// The run ended; only its report is left to store. A
			// shutdown before the slot leaves it pending.
			if ctx.Err() == nil {
				defer func() { <-e.slots }()
				e.storeReport(r)
			}
		case ctx.Err() == nil:
			defer func() { <-e.slots }()
			r.record(kindRunStarted, "", "run started", nil, func(run *orchestratorv1.Run) { run.State = orchestratorv1.RunState_RUN_STATE_RUNNING })
			e.finish(r, r.executeSafely())
		default:
			e.finish(r, ctx.Err())
		}
		e.mu.Lock()
		delete(e.runners, run.GetId())
		e.mu.Unlock()
		e.notify(run.GetId())
	}()
}

// executeSafely turns a panic in the engine into a failed run rather than
// a dead orchestrator.
func (r *runner) executeSafely() (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.eng.logger.Error("panic in run", "run", r.run.GetId(), "panic", p)
			err = fault.Internal("internal error: %v", p)
		}
	}()
	return r.execute()
}

// finish records how a run ended. A run stopped because the orchestrator
// is shutting down stays RUNNING, so the next start resumes it; a run
// another orchestrator took over is left to it.
func (e *Engine) finish(r *runner, err error) {
	if err != nil && e.ctx.Err() != nil && !r.userCancelled.Load() {
		e.logger.Info("run interrupted by shutdown; it will resume", "run", r.run.GetId())
		return
	}
	if r.disowned.Load() {
		// Its end is the new owner's to record.
		return
	}
	now := timestamppb.Now()
	defer func() {
		snap := r.snapshot()
		obs.RunDuration.WithLabelValues(display.RunState(snap.GetState())).Observe(now.AsTime().Sub(snap.GetCreateTime().AsTime()).Seconds())
	}()
	// A run that ends SUCCEEDED or FAILED owes a report: report_pending
	// is set with the terminal event, in the same write, so an
	// orchestrator killed before the report is stored leaves the run
	// unfinished for the next one (after a restart, or taking it over).
	owesReport := e.cfg.Report != nil
	switch {
	case err == nil:
		r.record(kindRunSucceeded, "", "run succeeded", nil, func(run *orchestratorv1.Run) {
			run.State, run.EndTime, run.ReportPending = orchestratorv1.RunState_RUN_STATE_SUCCEEDED, now, owesReport
		})
		e.storeReport(r)
	case r.userCancelled.Load():
		r.record(kindRunCancelled, "", "run cancelled", nil, func(run *orchestratorv1.Run) {
			run.State, run.EndTime, run.Error = orchestratorv1.RunState_RUN_STATE_CANCELLED, now, "cancelled by a client"
		})
	default:
		reason := fault.Describe(err)
		r.record(kindRunFailed, "", "run failed: "+reason, nil, func(run *orchestratorv1.Run) {
			run.State, run.EndTime, run.Error, run.ReportPending = orchestratorv1.RunState_RUN_STATE_FAILED, now, reason, owesReport
		})
		e.storeReport(r)
	}
}

// storeReport renders the ended run's self-contained HTML report and
// keeps it as an artifact, so the report a manager reads is part of the
// run's record. It runs once the terminal event is stored with
// report_pending: right after it, or after a restart or a takeover that
// found the report missing. Its input is the ended run and its artifacts,
// which no longer change, so whichever orchestrator stores the report
// stores the same bytes; the store's fence lets only the run's owner
// record it. It ends the run's log with REPORT_STORED, or REPORT_FAILED
// when the report cannot be made; a shutdown or a lost ownership leaves
// the report pending, for the next owner.
func (e *Engine) storeReport(r *runner) {
	snap := r.snapshot()
	if e.cfg.Report == nil || !ReportPending(snap) {
		return
	}
	ctx, cancel := context.WithTimeout(r.ctx, e.cfg.StepTimeout)
	defer cancel()
	id := snap.GetId()
	html, err := e.cfg.Report(ctx, id)
	var d string
	if err == nil {
		inputs := []string{}
		for _, dg := range []string{snap.GetDatasetDigest(), snap.GetModelDigest()} {
			if dg != "" {
				inputs = append(inputs, dg)
			}
		}
		d, err = r.put(artifacts.KindReport, "report", "text/html; charset=utf-8", "report-"+id+".html", html, inputs...)
	}
	switch {
	case err == nil:
		r.record(kindReportStored, "", "report stored: "+d, nil, func(run *orchestratorv1.Run) { run.ReportDigest, run.ReportPending = d, false })
	case r.ctx.Err() != nil:
		// A shutdown, or another orchestrator owns the run now: the
		// report stays pending for whoever resumes the run.
		e.logger.Info("report interrupted; it stays pending", "run", id, "err", err)
	default:
		e.logger.Warn("report", "run", id, "err", err)
		r.record(kindReportFailed, "", "report failed: "+fault.Describe(err), nil, func(run *orchestratorv1.Run) { run.ReportPending = false })
	}
}

// event appends an event to the run's log, signed with this replica's
// name, and wakes its watchers.
func (e *Engine) event(runID string, ev *orchestratorv1.RunEvent) {
	ev.Owner = e.cfg.Replica
	if _, err := e.store.AppendEvent(runID, ev); err != nil {
		e.logger.Error("append event", "run", runID, "err", err)
	}
	e.notify(runID)
}

func (e *Engine) notify(runID string) {
	e.mu.Lock()
	if ch, ok := e.waiters[runID]; ok {
		close(ch)
		delete(e.waiters, runID)
	}
	e.mu.Unlock()
}

// WaitFor returns a channel closed at the run's next event.
func (e *Engine) WaitFor(runID string) <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch, ok := e.waiters[runID]
	if !ok {
		ch = make(chan struct{})
		e.waiters[runID] = ch
	}
	return ch
}

// Live returns a snapshot of the run when it is executing or queued here.
func (e *Engine) Live(runID string) (*orchestratorv1.Run, bool) {
	e.mu.Lock()
	r := e.runners[runID]
	e.mu.Unlock()
	if r == nil {
		return nil, false
	}
	return r.snapshot(), true
}

// Cancel cancels a live run; the context cancellation crosses into the
// stage calls in flight. It waits, up to 5 seconds or ctx, for the run to
// record its end, and returns the run as it then is; ok is false when the
// run is not live here.
func (e *Engine) Cancel(ctx context.Context, runID string) (run *orchestratorv1.Run, ok bool, err error) {
	e.mu.Lock()
	r := e.runners[runID]
	e.mu.Unlock()
	if r == nil {
		return nil, false, nil
	}
	if ReportPending(r.snapshot()) {
		// The run has ended; storing its report is not cancelled.
		return r.snapshot(), true, nil
	}
	r.userCancelled.Store(true)
	r.cancel()
	deadline := time.After(5 * time.Second)
	for {
		// Ask to be woken before looking, so the end cannot slip between
		// the look and the wait.
		wake := e.WaitFor(runID)
		if _, live := e.Live(runID); !live {
			return r.snapshot(), true, nil
		}
		select {
		case <-wake:
		case <-deadline:
			return r.snapshot(), true, nil
		case <-ctx.Done():
			return nil, true, ctx.Err()
		}
	}
}

// ResolveSource turns a spec source into what the collect step streams. It
// reports whether the result may be cached: bundled data and uploads are
// immutable, a server-side file may change between runs.
func (e *Engine) ResolveSource(src *orchestratorv1.Source) (stageclient.Source, bool, error) {
	ref := stageclient.Source{CSV: src.GetCsv(), Bundled: src.GetBundled(), Path: src.GetPath(), URL: src.GetUrl()}
	if d := src.GetUpload(); d != "" {
		a, err := e.store.StatArtifact(d)
		if err != nil {
			return ref, false, fault.New(codes.NotFound, "spec.source.upload: no uploaded file with digest %s", d)
		}
		if ref.CSV == nil {
			ref.CSV = &ingestv1.CsvOptions{}
		} else {
			ref.CSV = proto.Clone(ref.CSV).(*ingestv1.CsvOptions)
		}
		if ref.CSV.GetName() == "" {
			ref.CSV.Name = a.GetName()
		}
		ref.Upload = func(send func([]byte) error) error {
			err := e.store.StreamArtifact(d, send)
			if errors.Is(err, store.ErrUnavailable) {
				// Typed, so the collect step retries it like a
				// stage that is away.
				return fault.New(codes.Unavailable, "read upload %s: %v", d, err)
			}
			return err
		}
		return ref, true, nil
	}
	return ref, ref.Bundled != "", nil
}

// Collect reads a source through the ingest stage outside any run, for a
// dataset append.
func (e *Engine) Collect(ctx context.Context, src *orchestratorv1.Source) (*table.Table, *ingestv1.IngestReport, error) {
	ref, _, err := e.ResolveSource(src)
	if err != nil {
		return nil, nil, err
	}
	t, _, rep, err := e.stages.Collect(ctx, ref)
	return t, rep, err
}
