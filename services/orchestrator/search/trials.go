package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/display"
	"github.com/alur-ml/alur/ml/metrics"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/services/orchestrator/fault"
)

// Data is a table a trial trains or scores on, with the digest that keys
// the steps' caches. Stored says the digest names a stored artifact, which
// the step's outputs then list as their input.
type Data struct {
	Table  *table.Table
	Digest string
	Stored bool
}

// Trained is what a train step leaves: the model artifact and the result
// train reported.
type Trained struct {
	ModelDigest string
	Result      *trainv1.TrainResult
}

// Steps is what the search needs from the engine. Train and Evaluate are
// each one recorded step of the run: done at most once, cached by their
// inputs, retried while a stage is unavailable, and skipped when the run
// already finished them before a restart.
type Steps interface {
	// Train fits cfg on d as the step named step.
	Train(step string, cfg *trainv1.TrainConfig, d Data) (Trained, error)
	// Evaluate scores the stored model on d as the step named step; name
	// labels the metrics artifact ("validation", "fold 2").
	Evaluate(step, name, modelDigest string, d Data, label string) (*datav1.Metrics, error)
	// Record stores the trial on the run and announces it with msg.
	Record(trial *orchestratorv1.Trial, msg string)
	// Trials returns the trials recorded so far.
	Trials() []*orchestratorv1.Trial
	// Err is the run's context error: non-nil once it is cancelled or the
	// orchestrator shuts down.
	Err() error
}

// Loop is one run's search: the configurations to try in order, what they
// are scored on, and how many train at once.
type Loop struct {
	Configs   []Config
	Objective *orchestratorv1.Objective
	Task      datav1.Task
	Metric    string
	Label     string
	Seed      int64
	// Train and Valid are the holdout rows; with Folds set, the trials
	// are cross-validated on the folds instead.
	Train, Valid Data
	Folds        []Fold
	// Parallel caps the trials trained at once; 0 means 1.
	Parallel int
	// oof holds the trials' out-of-fold predictions (cross-validation
	// with a Predictor only), for Ensemble.
	oof oofStore
	// noOOF skips the out-of-fold predictions (a search trial on a share
	// of the rows, which no ensemble uses).
	noOOF bool
	// Deadline, when set, is the end of the time budget: no trial starts
	// after it, and once Grace more has passed a trial still training is
	// stopped (recorded with Trial.stopped_by_time_budget) when another
	// trial has succeeded; the first trial to succeed is never stopped.
	// Stopping needs Steps that are Bounded.
	Deadline time.Time
	// Grace is how long past the Deadline a running trial may go on
	// before it is stopped (the engine gives 5% of the budget).
	Grace time.Duration
	// Budget is the time budget the Deadline ends, for the messages.
	Budget time.Duration
	// budget tracks the time budget's effect across Run, RunSearch and
	// Repeat.
	budget budgetState
	// now and after replace the clock in tests (nil: the real one).
	now   func() time.Time
	after func(time.Duration) <-chan time.Time
	// Catalog is the algorithms train serves; a trial records its
	// parameters resolved against the algorithm's spec in it.
	Catalog *algo.Catalog
}

// Run trains and scores the configurations in order, up to Parallel at a
// time, skipping trials a resumed run already recorded, and stops
// launching new ones once the objective is met, the run is cancelled, the
// time budget is spent (StoppedByBudget), or a trial fails in a way that
// dooms the run (Fatal). It reports whether the objective was met.
func (l *Loop) Run(s Steps) (met bool, err error) {
	s, release := l.bound(s)
	defer release()
	var (
		mu    sync.Mutex
		fatal error
		wg    sync.WaitGroup
	)
	slots := make(chan struct{}, max(l.Parallel, 1))
	stop := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if fatal != nil || s.Err() != nil || l.targetMet(s) {
			return true
		}
		// The run must hand over a model: until a trial succeeded, the
		// budget does not stop the search.
		if l.overBudget() && Best(s.Trials(), l.Metric) != nil {
			l.budget.stopped.Store(true)
			return true
		}
		return false
	}
	done := map[int32]bool{}
	for _, t := range s.Trials() {
		done[t.GetNumber()] = true
	}
	for i, cfg := range l.Configs {
		n := int32(i + 1)
		if done[n] {
			l.replayOOF(s, n, cfg)
			continue
		}
		if stop() {
			break
		}
		slots <- struct{}{}
		if stop() {
			<-slots
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if err := l.runTrial(s, n, cfg); Fatal(err) {
				mu.Lock()
				if fatal == nil {
					fatal = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := s.Err(); err != nil {
		return false, err
	}
	if fatal != nil {
		return false, fatal
	}
	return l.targetMet(s), nil
}

// Fatal reports whether a trial's error means the run cannot go on (a
// stage stayed unreachable, stored data is lost, the work was cancelled),
// rather than that this one candidate failed.
func Fatal(err error) bool {
	return errors.Is(err, fault.ErrStageUnavailable) || errors.Is(err, fault.ErrDataLoss) ||
		errors.Is(err, fault.ErrCancelled) || errors.Is(err, context.Canceled)
}

// runTrial trains and scores one configuration and records the trial. The
// error it returns is already recorded on the trial; the loop only asks
// whether it is fatal.
func (l *Loop) runTrial(s Steps, n int32, cfg Config) error {
	trial := &orchestratorv1.Trial{Number: n, Algorithm: cfg.Algorithm, Params: cfg.Params}
	if l.Catalog != nil {
		if a, ok := l.Catalog.Lookup(cfg.Algorithm); ok {
			if full, err := a.ResolveParams(cfg.Params); err == nil {
				trial.Params = full
			}
		}
	}
	tc := l.trainConfig(cfg)
	var err error
	if len(l.Folds) > 0 {
		err = l.crossValidate(s, trial, tc)
	} else {
		err = l.holdout(s, trial, tc)
	}
	if l.cutBy(s, err) {
		l.markCut(trial)
		s.Record(trial, fmt.Sprintf("trial %d (%s) %s", n, cfg.Algorithm, trial.Error))
		return nil
	}
	if err != nil {
		trial.Error = fault.Describe(err)
		s.Record(trial, fmt.Sprintf("trial %d (%s) failed: %s", n, cfg.Algorithm, trial.Error))
		return err
	}
	if display.Scored(trial) {
		l.budget.succeed()
	}
	if len(l.Folds) > 0 {
		s.Record(trial, fmt.Sprintf("trial %d: %s %s: %d-fold %s %.4f ± %.4f", n, cfg.Algorithm, FormatParams(trial.GetParams()), len(l.Folds), l.Metric, trial.GetScore(), trial.GetScoreStd())+l.progress(s, trial))
	} else {
		s.Record(trial, fmt.Sprintf("trial %d: %s %s: validation %s %.4f", n, cfg.Algorithm, FormatParams(trial.GetParams()), l.Metric, trial.GetScore())+l.progress(s, trial))
	}
	return nil
}

// holdout trains on the train rows and scores on the validation rows.
func (l *Loop) holdout(s Steps, trial *orchestratorv1.Trial, tc *trainv1.TrainConfig) error {
	n := trial.GetNumber()
	tr, err := s.Train(fmt.Sprintf("train/%d", n), tc, l.Train)
	if err != nil {
		return err
	}
	trial.ModelDigest = tr.ModelDigest
	if tr.Result != nil {
		trial.FitSeconds = tr.Result.GetFitSeconds()
		trial.Params = tr.Result.GetParams()
		trial.TrainServer = tr.Result.GetServer()
	}
	m, err := s.Evaluate(fmt.Sprintf("evaluate/%d", n), "validation", tr.ModelDigest, l.Valid, l.Label)
	if err != nil {
		return err
	}
	trial.ValidationMetrics = m
	score, _, err := metrics.Score(m, l.Metric)
	if err != nil {
		// The candidate is recorded with the error and its metrics; the
		// failure is not the run's.
		trial.Error = err.Error()
	}
	trial.Score = score
	return nil
}

// crossValidate trains and scores one configuration on every fold and
// fills the trial's fold scores, mean score and averaged metrics.
func (l *Loop) crossValidate(s Steps, trial *orchestratorv1.Trial, tc *trainv1.TrainConfig) error {
	var all []*datav1.Metrics
	var oof []float64
	var width int
	var models []string
	for f, fd := range l.Folds {
		tr, err := s.Train(fmt.Sprintf("train/%d/fold%d", trial.GetNumber(), f+1), tc, fd.Train)
		if err != nil {
			return err
		}
		models = append(models, tr.ModelDigest)
		if tr.Result != nil {
			trial.FitSeconds += tr.Result.GetFitSeconds()
			trial.Params = tr.Result.GetParams()
			trial.TrainServer = tr.Result.GetServer()
		}
		m, err := s.Evaluate(fmt.Sprintf("evaluate/%d/fold%d", trial.GetNumber(), f+1), fmt.Sprintf("fold %d", f+1), tr.ModelDigest, fd.Held, tc.GetLabel())
		if err != nil {
			return err
		}
		if !l.noOOF {
			if err := l.predictFold(s, &oof, &width, fd, tr.ModelDigest); err != nil {
				return err
			}
		}
		score, _, err := metrics.Score(m, l.Metric)
		if err != nil {
			return err
		}
		trial.FoldScores = append(trial.FoldScores, score)
		all = append(all, m)
	}
	trial.Score, trial.ScoreStd = stat.MeanStdDev(trial.GetFoldScores(), nil)
	if math.IsNaN(trial.ScoreStd) {
		trial.ScoreStd = 0
	}
	trial.ValidationMetrics = averageMetrics(all)
	if oof != nil {
		l.oof.put(trial.GetNumber(), width, oof)
	}
	if !l.noOOF {
		l.oof.putModels(trial.GetNumber(), models)
	}
	return nil
}

// overBudget reports whether the time budget is spent.
func (l *Loop) overBudget() bool {
	return l.budget.ended.Load() || (!l.Deadline.IsZero() && !l.nowTime().Before(l.Deadline))
}

// progress is the end of a finished trial's message: the best trial so
// far (this one included) and the time left of the budget.
func (l *Loop) progress(s Steps, trial *orchestratorv1.Trial) string {
	best := Best(append(slices.Clip(s.Trials()), trial), l.Metric)
	msg := ""
	if best != nil {
		msg = fmt.Sprintf("; best so far trial %d (%s %.4f)", best.GetNumber(), best.GetAlgorithm(), best.GetScore())
	}
	if !l.Deadline.IsZero() {
		msg += fmt.Sprintf("; %s of the time budget left", max(l.Deadline.Sub(l.nowTime()), 0).Round(time.Second))
	}
	return msg
}

// targetMet reports whether the best trial so far reaches the objective.
func (l *Loop) targetMet(s Steps) bool {
	return TargetMet(l.Objective, l.Metric, Best(s.Trials(), l.Metric))
}
