package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
// trials show algorithm, hyperparameters, validation score and fit time.
type progressPrinter struct {
	w      io.Writer
	metric string
	start  time.Time
}

// newProgressPrinter prints the events of run to w; w nil prints nothing.
func newProgressPrinter(w io.Writer, run *orchestratorv1.Run) *progressPrinter {
	if w == nil {
		return nil
	}
	p := &progressPrinter{w: w, metric: knownMetric(run)}
	if run.GetCreateTime() != nil {
		p.start = run.GetCreateTime().AsTime()
	}
	return p
}

func (p *progressPrinter) event(ev *orchestratorv1.RunEvent) {
	if p == nil {
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
	if failed {
		return head + "  failed: " + t.GetError()
	}
	return fmt.Sprintf("%s  validation %s %s  (fit %s)", head, p.trialMetric(t), fmtScore(t.GetScore()), fmtSeconds(t.GetFitSeconds()))
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
