package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/alur-ml/alur/ml/display"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// maxWatchRetries bounds how often followRun reconnects after the stream
// breaks with Unavailable (the only code worth retrying) before giving up.
const maxWatchRetries = 5

// followRun streams the events of run id to p (nil prints nothing) until
// the run ends, then returns the run's final state. WatchRun replays the
// events already recorded before new ones, so after a broken stream it
// reconnects and skips the events it has seen (by sequence number). The
// stream has no deadline of its own (runs take as long as they take); it
// ends when ctx is cancelled.
func (c *client) followRun(ctx context.Context, id string, p *progressPrinter) (*orchestratorv1.Run, error) {
	var seen int64
	failures := 0
	for {
		got, err := c.watchOnce(ctx, id, &seen, p)
		if got {
			failures = 0
		}
		if err == nil {
			// The stream ended: the run should have ended too.
			run, err := c.getRun(ctx, id)
			if err != nil {
				return nil, err
			}
			if runEnded(run.GetState()) {
				return run, nil
			}
			err = status.Error(codes.Unavailable, "event stream ended before the run did")
			if failures++; failures > maxWatchRetries {
				return nil, c.wrap("WatchRun", err)
			}
		} else {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if status.Code(err) != codes.Unavailable {
				return nil, c.wrap("WatchRun", err)
			}
			if failures++; failures > maxWatchRetries {
				return nil, c.wrap("WatchRun", err)
			}
		}
		// Back off 0.2s, 0.4s, 0.8s, ... before reconnecting.
		t := time.NewTimer(time.Duration(100<<failures) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// watchOnce reads one WatchRun stream to its end. It reports whether any
// new event arrived and returns nil at the stream's normal end.
func (c *client) watchOnce(ctx context.Context, id string, seen *int64, p *progressPrinter) (bool, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.orch.WatchRun(sctx, &orchestratorv1.WatchRunRequest{RunId: id})
	if err != nil {
		return false, err
	}
	got := false
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		ev := resp.GetEvent()
		if ev.GetSequence() != 0 && ev.GetSequence() <= *seen {
			continue // replayed after a reconnect
		}
		*seen = ev.GetSequence()
		got = true
		p.event(ev)
	}
}

// progressPrinter shows a run's events as they happen, one line each:
// the time since the run started, the step, and what happened. Finished
// trials show algorithm, hyperparameters, validation score and fit time,
// then the search's progress: trials so far, the best one, and the time
// left when the spec sets a budget. The steps of a single trial (its
// training and evaluation, fold by fold under cross-validation) print only
// when verbose: the trial's own line sums them up.
type progressPrinter struct {
	w       io.Writer
	metric  string
	start   time.Time
	verbose bool
	// budget is the spec's time budget (0: the service's default, which
	// the search step's line names); searchStart is when the search began.
	budget      time.Duration
	searchStart time.Time
	last        time.Time // the time of the latest event
	// left is the time left of the search's budget the latest trial
	// event carried (RunEvent.search_time_left; nil in older events).
	left   *durationpb.Duration
	trials int
	best   *orchestratorv1.Trial
}

// newProgressPrinter prints the events of run to w; w nil prints nothing.
// verbose also prints the step events of each trial.
func newProgressPrinter(w io.Writer, run *orchestratorv1.Run, verbose bool) *progressPrinter {
	if w == nil {
		return nil
	}
	p := &progressPrinter{w: w, metric: knownMetric(run), verbose: verbose}
	if run.GetCreateTime() != nil {
		p.start = run.GetCreateTime().AsTime()
	}
	if b := run.GetSpec().GetTimeBudget(); b != nil {
		p.budget = b.AsDuration()
	}
	return p
}

// trialStep reports whether step names one step of a single trial, such
// as "train/3", "evaluate/3" or "train/3/fold2": the step's first part is
// train or evaluate and its second the trial's number. The run's own
// train-like steps ("refit", "test") have no number.
func trialStep(step string) bool {
	parts := strings.Split(step, "/")
	if len(parts) < 2 || (parts[0] != "train" && parts[0] != "evaluate") {
		return false
	}
	_, err := strconv.Atoi(parts[1])
	return err == nil
}

// stepKind reports whether kind is the event of a step's work (as opposed
// to a trial's result, the run's state or the objective).
func stepKind(kind orchestratorv1.RunEventKind) bool {
	switch kind {
	case orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_STARTED,
		orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_PROGRESS,
		orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_RETRIED,
		orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FINISHED,
		orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_CACHED,
		orchestratorv1.RunEventKind_RUN_EVENT_KIND_STEP_FAILED,
		orchestratorv1.RunEventKind_RUN_EVENT_KIND_UNSPECIFIED:
		return true
	}
	return false
}

// shown reports whether ev gets a line: every event when verbose,
// otherwise all but the step events of a single trial (a failed one
// included: the trial's failed line carries its error).
func (p *progressPrinter) shown(ev *orchestratorv1.RunEvent) bool {
	if p.verbose || !stepKind(ev.GetKind()) || !trialStep(ev.GetStep()) {
		return true
	}
	// An event from before kinds existed that carries a trial is the
	// trial's own line.
	return ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_UNSPECIFIED && ev.GetTrial() != nil
}

func (p *progressPrinter) event(ev *orchestratorv1.RunEvent) {
	if p == nil {
		return
	}
	if ev.GetTime() != nil {
		p.last = ev.GetTime().AsTime()
		if ev.GetStep() == "search" && p.searchStart.IsZero() {
			p.searchStart = p.last
		}
	}
	if !p.shown(ev) {
		return
	}
	elapsed := ""
	if ev.GetTime() != nil {
		if p.start.IsZero() {
			p.start = ev.GetTime().AsTime()
		}
		elapsed = fmtDuration(ev.GetTime().AsTime().Sub(p.start))
	}
	step := ev.GetStep()
	if step == "" {
		step = "run"
	}
	fmt.Fprintf(p.w, "%7s  %-13s %s\n", elapsed, step, p.describe(ev))
}

// describe is the text of one event line. What it shows is decided by
// the event's kind, never by its message's wording: a trial event shows
// the trial, any other event its message.
func (p *progressPrinter) describe(ev *orchestratorv1.RunEvent) string {
	p.left = ev.GetSearchTimeLeft()
	switch ev.GetKind() {
	case orchestratorv1.RunEventKind_RUN_EVENT_KIND_TRIAL_FINISHED, orchestratorv1.RunEventKind_RUN_EVENT_KIND_TRIAL_FAILED:
		if t := ev.GetTrial(); t != nil {
			return p.describeTrial(t, ev.GetKind() == orchestratorv1.RunEventKind_RUN_EVENT_KIND_TRIAL_FAILED)
		}
	case orchestratorv1.RunEventKind_RUN_EVENT_KIND_UNSPECIFIED:
		// Recorded before events carried a kind: a trial event is one
		// that carries a trial.
		if t := ev.GetTrial(); t != nil {
			return p.describeTrial(t, t.GetError() != "")
		}
	}
	// The step is shown in its own column; do not repeat it.
	msg := ev.GetMessage()
	if ev.GetStep() != "" {
		msg = strings.TrimPrefix(msg, ev.GetStep()+": ")
	}
	if msg != "" {
		return msg
	}
	return runStateWord(ev.GetRunState())
}

// describeTrial shows a trial: algorithm, hyperparameters, then its
// validation score and fit time, or why it failed.
func (p *progressPrinter) describeTrial(t *orchestratorv1.Trial, failed bool) string {
	head := fmt.Sprintf("trial %d  %s", t.GetNumber(), t.GetAlgorithm())
	if ps := display.Params(display.TrialParams(t), nil); ps != "" {
		head += "  " + ps
	}
	if b := t.GetBudget(); b > 0 && b < 1 {
		head += fmt.Sprintf("  (search, %.0f%% of the rows)", 100*b)
	}
	p.trials++
	if t.GetStoppedByTimeBudget() {
		// Not a failure: the budget ended while it trained.
		return head + "  " + t.GetError() + p.searchProgress()
	}
	if failed {
		return head + "  failed: " + t.GetError() + p.searchProgress()
	}
	// The best as the leaderboard ranks: a search trial on a share of the
	// rows only decides which configurations go on (display.Scored).
	if display.Scored(t) && (p.best == nil || display.Compare(t, p.best, p.trialMetric(t)) < 0) {
		p.best = t
	}
	score := fmtScore(t.GetScore())
	what := "validation " + p.trialMetric(t)
	if n := len(t.GetFoldScores()); n > 1 {
		what = fmt.Sprintf("%d-fold %s", n, p.trialMetric(t))
		score += " ± " + fmtScore(t.GetScoreStd())
	}
	return fmt.Sprintf("%s  %s %s  (fit %s)%s", head, what, score, fmtSeconds(t.GetFitSeconds()), p.searchProgress())
}

// searchProgress is the end of a trial's line: how many trials so far,
// the best of them, and the time left of the search's budget: the one the
// event carries, else reckoned from the spec's.
func (p *progressPrinter) searchProgress() string {
	msg := fmt.Sprintf("  [%s", display.Plural(int64(p.trials), "trial"))
	if p.best != nil {
		msg += fmt.Sprintf(", best %d (%s)", p.best.GetNumber(), fmtScore(p.best.GetScore()))
	}
	if p.left != nil {
		// The engine's count, under whatever budget the search runs
		// (the spec's, or the default for the data's size).
		msg += fmt.Sprintf(", %s left", p.left.AsDuration().Round(time.Second))
	} else if p.budget > 0 && !p.searchStart.IsZero() && p.last.After(p.searchStart) {
		left := max(p.budget-p.last.Sub(p.searchStart), 0)
		msg += fmt.Sprintf(", %s left", left.Round(time.Second))
	}
	return msg + "]"
}

// trialMetric names the metric of a trial's score. A run started without
// one uses the task's default (Objective.metric: accuracy for
// classification, r2 for regression), which the trial's metrics reveal.
func (p *progressPrinter) trialMetric(t *orchestratorv1.Trial) string {
	switch {
	case p.metric != "":
		return p.metric
	case t.GetValidationMetrics().GetClassification() != nil:
		p.metric = "accuracy"
	case t.GetValidationMetrics().GetRegression() != nil:
		p.metric = "r2"
	default:
		return "score"
	}
	return p.metric
}
