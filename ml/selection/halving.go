package selection

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"
)

// Trainer trains one configuration with a share of the full budget and
// returns its score (the mean cross-validated objective, say). The share is
// in (0, 1]: the caller decides what it scales, the training rows or the
// boosting rounds. An error fails the trial, not the search, unless it is
// the context's.
type Trainer interface {
	Train(ctx context.Context, t Trial) (score float64, err error)
}

// TrainerFunc adapts a function to Trainer.
type TrainerFunc func(ctx context.Context, t Trial) (float64, error)

// Train calls f.
func (f TrainerFunc) Train(ctx context.Context, t Trial) (float64, error) { return f(ctx, t) }

// TrialKey names a trial in a search's journal: a configuration at a rung.
type TrialKey struct {
	Config int
	Rung   int
}

// Trial is one training of a configuration at a rung of the search.
type Trial struct {
	Config
	Rung int
	// Budget is the share of the full budget, MinBudget × Eta^Rung, at
	// most 1.
	Budget float64
}

// Key is the trial's journal key.
func (t *Trial) Key() TrialKey { return TrialKey{t.ID, t.Rung} }

// Outcome is a finished trial.
type Outcome struct {
	Trial
	// Score is NaN when the trial failed.
	Score float64
	Err   error
	// Replayed says the outcome came from HalvingOptions.Done: it was
	// trained before a restart and not trained again.
	Replayed bool
}

// HalvingOptions tune Halving.
type HalvingOptions struct {
	// Eta is the reduction factor: each rung keeps the best 1/Eta of the
	// configurations and gives them Eta times the budget. 0 means 3, as
	// scikit-learn's HalvingRandomSearchCV and Hyperband.
	Eta int
	// MinBudget is the share of the budget at the first rung; 0 means
	// 1/Eta², three rungs.
	MinBudget float64
	// MaxTrials caps the trainings, replayed ones included; 0 means no cap.
	// With a cap, only as many configurations start as the rungs allow.
	MaxTrials int
	// Deadline is the time after which no training starts; zero means
	// none. The trial running at the deadline finishes.
	Deadline time.Time
	// Now is the clock; nil means time.Now. Tests pass a fake.
	Now func() time.Time
	// HigherIsBetter says how scores compare.
	HigherIsBetter bool
	// Done holds the scores of trials that finished before a restart (NaN
	// for a failed one), as the caller journaled them from OnOutcome: they
	// are replayed, not trained again, so a resumed search finishes as the
	// uninterrupted one would have.
	Done map[TrialKey]float64
	// OnOutcome is called after every trial, replayed or new, as it
	// finishes (one call at a time; in configuration order when Parallel
	// is 1): the place to journal it and to show progress.
	OnOutcome func(Outcome)
	// Parallel is how many trials of a rung train at once; 0 means 1. The
	// outcomes and the promotions do not depend on it, as long as the
	// trial cap and the deadline do not cut a rung short.
	Parallel int
}

// HalvingResult is what a search found.
type HalvingResult struct {
	// Best is the best configuration of the highest rung reached that has
	// a successful trial.
	Best Outcome
	// Outcomes are every trial, rung by rung, in configuration order
	// within a rung.
	Outcomes []Outcome
	// Stopped says why the search ended: "finished", "max trials" or
	// "time budget".
	Stopped string
}

// Halving searches configs by successive halving (Jamieson and Talwalkar,
// AISTATS 2016; the synchronous form of ASHA, Li et al., MLSys 2020): every
// configuration is trained at the smallest budget, the best 1/Eta go on to
// Eta times the budget, and so on until the survivors train at the full
// budget. Trials of a rung run in configuration order and promotions sort
// by score, then configuration ID, so the search is reproducible: the same
// configurations and the same scores give the same trials. It stops early
// at MaxTrials or the Deadline, returning the best of the highest rung
// reached.
func Halving(ctx context.Context, configs []Config, tr Trainer, opts HalvingOptions) (*HalvingResult, error) {
	eta := opts.Eta
	if eta == 0 {
		eta = 3
	}
	if eta < 2 {
		return nil, fmt.Errorf("eta %d: must be at least 2", eta)
	}
	minB := opts.MinBudget
	if minB == 0 {
		minB = 1 / float64(eta*eta)
	}
	if !(minB > 0 && minB <= 1) {
		return nil, fmt.Errorf("min budget %g: must be in (0, 1]", minB)
	}
	if len(configs) == 0 {
		return nil, errors.New("no configurations")
	}
	rungs := 1
	for b := minB; b < 1-1e-12; b *= float64(eta) {
		rungs++
	}
	if minB == 1 {
		rungs = 1
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	n := len(configs)
	if opts.MaxTrials > 0 {
		n = min(n, maxStart(opts.MaxTrials, eta, rungs))
	}
	res := &HalvingResult{Stopped: "finished"}
	alive := configs[:n]
	var ran [][]Outcome // each rung's outcomes, rungs that ran a trial
	for rung := 0; rung < rungs && len(alive) > 0; rung++ {
		budget := min(minB*math.Pow(float64(eta), float64(rung)), 1)
		done, err := runRung(ctx, alive, rung, budget, tr, &opts, now, res)
		if err != nil {
			return res, err
		}
		if len(done) > 0 {
			ran = append(ran, done)
		}
		if res.Stopped != "finished" {
			break
		}
		alive = promote(done, eta, opts.HigherIsBetter)
	}
	if len(ran) == 0 {
		return res, errors.New("no trial ran")
	}
	for r := len(ran) - 1; r >= 0; r-- {
		if best := rankOutcomes(ran[r], opts.HigherIsBetter)[0]; !math.IsNaN(best.Score) {
			res.Best = best
			return res, nil
		}
	}
	return res, errors.New("every trial failed")
}

// runRung trains a rung's configurations, up to opts.Parallel at a time,
// launching them in configuration order and checking the trial cap and the
// deadline before each launch; it returns the rung's outcomes in
// configuration order and appends them to res.Outcomes.
func runRung(ctx context.Context, alive []Config, rung int, budget float64, tr Trainer,
	opts *HalvingOptions, now func() time.Time, res *HalvingResult) ([]Outcome, error) {
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
	)
	slots := make(chan struct{}, max(opts.Parallel, 1))
	results := make([]*Outcome, len(alive))
	report := func(i int, o Outcome) {
		mu.Lock()
		defer mu.Unlock()
		results[i] = &o
		if opts.OnOutcome != nil {
			opts.OnOutcome(o)
		}
	}
	started := len(res.Outcomes)
	for i, c := range alive {
		if opts.MaxTrials > 0 && started >= opts.MaxTrials {
			res.Stopped = "max trials"
			break
		}
		t := Trial{Config: c, Rung: rung, Budget: budget}
		if s, ok := opts.Done[t.Key()]; ok {
			started++
			report(i, Outcome{Trial: t, Score: s, Replayed: true})
			continue
		}
		slots <- struct{}{} // a free slot: with one slot, the previous trial has finished
		if ctx.Err() != nil {
			<-slots
			break
		}
		if !opts.Deadline.IsZero() && !now().Before(opts.Deadline) {
			<-slots
			res.Stopped = "time budget"
			break
		}
		started++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			s, err := tr.Train(ctx, t)
			o := Outcome{Trial: t, Score: s}
			if err != nil {
				if ctx.Err() != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, ctx.Err())
					mu.Unlock()
					return
				}
				o.Score, o.Err = math.NaN(), err
			}
			report(i, o)
		}()
	}
	wg.Wait()
	var done []Outcome
	for _, o := range results {
		if o != nil {
			done = append(done, *o)
		}
	}
	res.Outcomes = append(res.Outcomes, done...)
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return done, firstErr
}

// maxStart is the most configurations that can start when at most
// maxTrials trainings run over the rungs, each rung keeping ceil(n/eta).
func maxStart(maxTrials, eta, rungs int) int {
	cost := func(n int) int {
		total := 0
		for r := 0; r < rungs; r++ {
			total += n
			n = max(1, (n+eta-1)/eta)
		}
		return total
	}
	n := 1
	for cost(n+1) <= maxTrials {
		n++
	}
	return n
}

// promote keeps the best ceil(len/eta) successful outcomes as the next
// rung's configurations.
func promote(done []Outcome, eta int, higherIsBetter bool) []Config {
	keep := max(1, (len(done)+eta-1)/eta)
	var out []Config
	for _, o := range rankOutcomes(done, higherIsBetter) {
		if len(out) == keep || math.IsNaN(o.Score) {
			break
		}
		out = append(out, o.Config)
	}
	return out
}

// rankOutcomes sorts by score (failed last), then configuration ID.
func rankOutcomes(done []Outcome, higherIsBetter bool) []Outcome {
	out := append([]Outcome(nil), done...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Score, out[j].Score
		if math.IsNaN(a) != math.IsNaN(b) {
			return !math.IsNaN(a)
		}
		if !math.IsNaN(a) && a != b {
			return (a > b) == higherIsBetter
		}
		return out[i].ID < out[j].ID
	})
	return out
}
