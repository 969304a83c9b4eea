package search

import (
	"fmt"
	"slices"
	"time"

	"github.com/alur-ml/alur/ml/display"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// Repeat cross-validates the trials that have out-of-fold predictions a
// second time, on other folds of the same rows (repeated k-fold, as
// AutoGluon's bagging sets): each trial's out-of-fold predictions become
// the mean of its two repetitions, and its fold models the models of both,
// so ensemble selection decides on steadier predictions and k-fold bagging
// averages twice the models. The trials' recorded scores stay those of
// the first repetition. It goes through the trials from the best ranked
// down and starts a trial's repetition only while the time left before
// the Deadline is at least twice the trial's fit time (the time budget is
// spent on it only when the budget allows); trials it does not reach keep
// their first repetition. Its train steps ("train/N/repeat2/foldF") are
// recorded and cached like the first's, so a resumed run trains none
// again. It returns the number of trials repeated.
func (l *Loop) Repeat(s Steps, folds []Fold) (int, error) {
	if _, ok := s.(Predictor); !ok || len(folds) != len(l.Folds) || len(folds) < 2 || l.cvRowsOf(folds) != l.cvRows() {
		return 0, nil
	}
	s, release := l.bound(s)
	defer release()
	p, ok := s.(Predictor)
	if !ok {
		return 0, nil
	}
	var trials []*orchestratorv1.Trial
	l.oof.mu.Lock()
	for _, t := range s.Trials() {
		if l.oof.pred[t.GetNumber()] != nil && len(l.oof.models[t.GetNumber()]) == len(l.Folds) &&
			display.Scored(t) && t.GetAlgorithm() != EnsembleAlgorithm {
			trials = append(trials, t)
		}
	}
	l.oof.mu.Unlock()
	slices.SortStableFunc(trials, func(a, b *orchestratorv1.Trial) int { return display.Compare(a, b, l.Metric) })
	repeated := 0
	for _, t := range trials {
		if err := s.Err(); err != nil {
			return repeated, err
		}
		if l.overBudget() {
			break
		}
		if !l.Deadline.IsZero() && l.Deadline.Sub(l.nowTime()) < 2*time.Duration(t.GetFitSeconds()*float64(time.Second)) {
			continue
		}
		n := t.GetNumber()
		tc := l.trainConfig(Config{Algorithm: t.GetAlgorithm(), Params: t.GetParams()})
		var oof []float64
		var width int
		var models []string
		for f, fd := range folds {
			tr, err := s.Train(fmt.Sprintf("train/%d/repeat2/fold%d", n, f+1), tc, fd.Train)
			if l.cutBy(s, err) {
				// The budget ended mid-repetition: this trial keeps its
				// first repetition, and no other is started.
				return repeated, nil
			}
			if err != nil {
				if Fatal(err) {
					return repeated, err
				}
				oof = nil
				break
			}
			pred, w, err := p.Predict(tr.ModelDigest, fd.Held, l.Label)
			if l.cutBy(s, err) {
				return repeated, nil
			}
			if err != nil {
				if Fatal(err) {
					return repeated, err
				}
				oof = nil
				break
			}
			if len(pred) != w*len(fd.HeldRows) {
				oof = nil
				break
			}
			if oof == nil {
				oof, width = make([]float64, l.cvRows()*w), w
			}
			for i, r := range fd.HeldRows {
				copy(oof[r*w:(r+1)*w], pred[i*w:(i+1)*w])
			}
			models = append(models, tr.ModelDigest)
		}
		if oof == nil || len(models) != len(folds) {
			continue // a failed repetition leaves the first one alone
		}
		l.oof.mu.Lock()
		first := l.oof.pred[n]
		if width == l.oof.width && len(first) == len(oof) {
			mean := make([]float64, len(oof))
			for i := range oof {
				mean[i] = (first[i] + oof[i]) / 2
			}
			l.oof.pred[n] = mean
			l.oof.models[n] = append(slices.Clone(l.oof.models[n]), models...)
			repeated++
		}
		l.oof.mu.Unlock()
	}
	return repeated, nil
}

// cvRowsOf is the number of rows the folds were made from.
func (l *Loop) cvRowsOf(folds []Fold) int {
	n := 0
	for _, f := range folds {
		n += len(f.HeldRows)
	}
	return n
}
