package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/alur-ml/alur/ml/selection"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/fault"
)

// SearchConfigs is the number of configurations a default search draws
// (selection.SampleConfigs, defaults included): 27 is three full rungs of
// successive halving with Eta 3.
const SearchConfigs = 27

// Search is the successive-halving search that follows the default
// trials when the spec names no candidates: selection.Halving over
// selection.SampleConfigs, each trial cross-validated on a share of every
// fold's training rows (all rows at the last rung), under the loop's
// Deadline and a cap on trainings. Its trials are recorded after the
// loop's, numbered in the order they start; a trial on a share of the rows
// only decides which configurations go on (display.Scored), the ones on
// all rows compete for the choice and the ensemble.
type Search struct {
	Configs   []selection.Config
	MaxTrials int
}

// RunSearch runs the search on the loop's folds, one trial at a time so
// that the trial numbers, and with them the recorded steps, are the same
// after a restart: trials the run already recorded are replayed, not
// trained again. It returns why the search stopped.
func (l *Loop) RunSearch(s Steps, sr Search) (string, error) {
	if len(l.Folds) == 0 || len(sr.Configs) == 0 || sr.MaxTrials <= 0 {
		return "", nil
	}
	if l.overBudget() {
		l.budget.stopped.Store(true)
		return "time budget", nil
	}
	s, release := l.bound(s)
	defer release()
	var mu sync.Mutex
	numbers := map[selection.TrialKey]int32{}
	done := map[selection.TrialKey]float64{}
	var next int32
	for _, t := range s.Trials() {
		if t.GetAlgorithm() == EnsembleAlgorithm {
			continue // recorded after the search, numbered after it
		}
		next = max(next, t.GetNumber())
		if t.GetBudget() == 0 {
			continue
		}
		k := selection.TrialKey{Config: int(t.GetConfigId()), Rung: int(t.GetRung())}
		numbers[k] = t.GetNumber()
		if t.GetError() != "" || math.IsNaN(t.GetScore()) {
			done[k] = math.NaN()
		} else {
			done[k] = t.GetScore()
		}
		if t.GetBudget() >= 1 {
			l.replayOOF(s, t.GetNumber(), Config{Algorithm: t.GetAlgorithm(), Params: configParams(sr.Configs, int(t.GetConfigId()))})
		}
	}
	higher := !LowerIsBetter(l.Metric)
	train := selection.TrainerFunc(func(ctx context.Context, tl selection.Trial) (float64, error) {
		if err := s.Err(); err != nil {
			return 0, err
		}
		mu.Lock()
		next++
		n := next
		mu.Unlock()
		trial := &orchestratorv1.Trial{Number: n, Algorithm: tl.Algorithm, Params: tl.Params,
			Budget: tl.Budget, ConfigId: int32(tl.ID), Rung: int32(tl.Rung)}
		err := l.searchTrial(s, trial, Config{Algorithm: tl.Algorithm, Params: tl.Params}, tl.Budget)
		if err != nil {
			if Fatal(err) {
				return 0, err
			}
			return 0, fmt.Errorf("trial %d: %w", n, err)
		}
		if math.IsNaN(trial.GetScore()) {
			return math.NaN(), nil
		}
		return trial.GetScore(), nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := selection.Halving(ctx, sr.Configs, train, selection.HalvingOptions{
		MaxTrials: sr.MaxTrials, Deadline: l.Deadline, HigherIsBetter: higher, Done: done, Parallel: 1,
	})
	if err != nil && Fatal(err) {
		return "", err
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	if res == nil {
		return "", nil
	}
	if res.Stopped == "time budget" {
		l.budget.stopped.Store(true)
	}
	return res.Stopped, nil
}

// errTimeBudget is a search trial's error when the time budget stopped
// it: the trial is recorded, and the error is not Fatal.
var errTimeBudget = errors.New("stopped by the time budget")

// configParams are the params of configuration id.
func configParams(cs []selection.Config, id int) map[string]float64 {
	for _, c := range cs {
		if c.ID == id {
			return c.Params
		}
	}
	return nil
}

// searchTrial cross-validates cfg with share of each fold's training rows
// and records the trial; a trial on all rows keeps its out-of-fold
// predictions for the ensemble.
func (l *Loop) searchTrial(s Steps, trial *orchestratorv1.Trial, cfg Config, share float64) error {
	tc := l.trainConfig(cfg)
	folds := l.Folds
	if share < 1 {
		folds = make([]Fold, len(l.Folds))
		for f, fd := range l.Folds {
			folds[f] = Fold{Train: subsample(fd.Train, share, l.Seed+int64(f)), Held: fd.Held}
		}
	}
	sub := &Loop{Metric: l.Metric, Label: l.Label, Task: l.Task, Seed: l.Seed, Folds: folds, noOOF: share < 1}
	err := sub.crossValidate(s, trial, tc)
	if err == nil && share >= 1 {
		sub.oof.mu.Lock()
		p, models := sub.oof.pred[trial.GetNumber()], sub.oof.models[trial.GetNumber()]
		width := sub.oof.width
		sub.oof.mu.Unlock()
		if p != nil {
			l.oof.put(trial.GetNumber(), width, p)
		}
		if models != nil {
			l.oof.putModels(trial.GetNumber(), models)
		}
	}
	what := fmt.Sprintf("trial %d: search %s %s on %s of the rows", trial.GetNumber(), cfg.Algorithm, FormatParams(trial.GetParams()), shareWord(share))
	if l.cutBy(s, err) {
		// Not fatal: the search records no score for it and stops at
		// its Deadline.
		l.markCut(trial)
		s.Record(trial, what+" "+trial.Error)
		return errTimeBudget
	}
	if err != nil {
		trial.Error = fault.Describe(err)
		s.Record(trial, what+" failed: "+trial.Error)
		return err
	}
	s.Record(trial, fmt.Sprintf("%s: %d-fold %s %.4f ± %.4f", what, len(folds), l.Metric, trial.GetScore(), trial.GetScoreStd())+l.progress(s, trial))
	return nil
}

func shareWord(share float64) string {
	if share >= 1 {
		return "all"
	}
	return fmt.Sprintf("%.0f%%", 100*share)
}

// MinSearchRows is the fewest training rows a search trial on a share of
// the rows gets (all of them when there are fewer): a score on a dozen rows
// says nothing, and k-NN's largest k in selection.DefaultSpaces needs 50.
const MinSearchRows = 64

// subsample keeps a seeded share of d's rows, at least MinSearchRows.
func subsample(d Data, share float64, seed int64) Data {
	n := d.Table.NumRows()
	k := max(MinSearchRows, int(math.Ceil(share*float64(n))))
	if k >= n {
		return d
	}
	perm := rand.New(rand.NewPCG(uint64(seed), 0x5eed)).Perm(n)[:k]
	// Keep the file order of the rows kept.
	keep := make([]bool, n)
	for _, i := range perm {
		keep[i] = true
	}
	rows := make([]int, 0, k)
	for i, ok := range keep {
		if ok {
			rows = append(rows, i)
		}
	}
	return tableData(d.Table.Take(rows))
}

// DefaultMaxTrials is the trial cap when the spec sets none.
const DefaultMaxTrials = defaultMaxTrials
