package search

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// Bounded is a Steps whose train, evaluate and predict requests can be
// stopped from outside: Within returns Steps whose requests end when ctx
// is done (the run's own cancellation still ends them too, and Err stays
// the run's). The loop uses it to stop a trial still training when the
// time budget ends, so that one slow configuration cannot hold the run
// far past its budget.
type Bounded interface {
	Within(ctx context.Context) Steps
}

// budgetState is what the loop knows of its time budget across Run,
// RunSearch and Repeat.
type budgetState struct {
	mu        sync.Mutex
	succeeded chan struct{} // closed once a trial on all rows succeeded
	ended     atomic.Bool   // the Deadline plus the Grace passed
	cut       atomic.Bool   // a request was stopped by the time budget
	stopped   atomic.Bool   // the budget left work undone (untried or cut)
}

// succeededCh returns the channel closed once a trial succeeded.
func (b *budgetState) succeededCh() chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.succeeded == nil {
		b.succeeded = make(chan struct{})
	}
	return b.succeeded
}

// succeed notes that a trial succeeded: from now on a trial still
// training when the budget ends may be stopped.
func (b *budgetState) succeed() {
	ch := b.succeededCh()
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// StoppedByBudget reports whether the time budget ended the search: a
// configuration was left untried, or a trial was stopped while it
// trained, because the budget was spent.
func (l *Loop) StoppedByBudget() bool { return l.budget.stopped.Load() }

// nowTime is the loop's clock (a test sets l.now).
func (l *Loop) nowTime() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}

// afterTime waits like time.After on the loop's clock (a test sets
// l.after).
func (l *Loop) afterTime(d time.Duration) <-chan time.Time {
	if l.after != nil {
		return l.after(d)
	}
	return time.After(d)
}

// bound returns the Steps the loop's trials use: when there is a
// Deadline and s is Bounded, their requests are stopped once the
// Deadline plus the Grace has passed and at least one trial succeeded,
// so the run always has a model and the first trial to finish is never
// stopped. release ends the watch.
func (l *Loop) bound(s Steps) (bounded Steps, release func()) {
	if Best(s.Trials(), l.Metric) != nil {
		l.budget.succeed()
	}
	b, ok := s.(Bounded)
	if l.Deadline.IsZero() || !ok {
		return s, func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop := make(chan struct{})
	succeeded := l.budget.succeededCh()
	wait := l.Deadline.Add(l.Grace).Sub(l.nowTime())
	go func() {
		select {
		case <-l.afterTime(wait):
		case <-stop:
			return
		}
		l.budget.ended.Store(true)
		select {
		case <-succeeded:
			l.budget.cut.Store(true)
			cancel()
		case <-stop:
		}
	}()
	var once sync.Once
	return b.Within(ctx), func() { once.Do(func() { close(stop); cancel() }) }
}

// cutBy reports whether err ended a trial because the time budget
// stopped it, not because the run was cancelled or the trial failed on
// its own.
func (l *Loop) cutBy(s Steps, err error) bool {
	return err != nil && l.budget.cut.Load() && s.Err() == nil
}

// markCut records trial as stopped by the time budget.
func (l *Loop) markCut(trial *orchestratorv1.Trial) {
	l.budget.stopped.Store(true)
	trial.StoppedByTimeBudget = true
	trial.Score, trial.ScoreStd = 0, 0
	trial.Error = "stopped by the time budget"
	if l.Budget > 0 {
		trial.Error = fmt.Sprintf("stopped by the time budget (%s) while it trained; another trial had succeeded", l.Budget.Round(time.Second))
	} else {
		trial.Error += " while it trained; another trial had succeeded"
	}
}
