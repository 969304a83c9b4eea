package selection

import (
	"context"
	"errors"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// quality is a configuration's score at the full budget in the fake
// trainer: a deterministic function of its ID, best at ID 17.
func quality(id int) float64 { return 1 - math.Abs(float64(id-17))/100 }

// fakeTrainer scores a trial as its quality scaled by its budget, records
// the trials it trains, and advances a fake clock one second per trial.
type fakeTrainer struct {
	trained []TrialKey
	clock   time.Time
	fail    map[int]bool
	// cancelAt cancels the search's context while training this many'th
	// trial, as a crash would end it.
	cancelAt int
	cancel   context.CancelFunc
}

func (f *fakeTrainer) Train(ctx context.Context, t Trial) (float64, error) {
	if f.cancelAt > 0 && len(f.trained)+1 == f.cancelAt {
		f.cancel()
		return 0, ctx.Err()
	}
	f.trained = append(f.trained, t.Key())
	f.clock = f.clock.Add(time.Second)
	if f.fail[t.ID] {
		return 0, errors.New("diverged")
	}
	return quality(t.ID) * (0.5 + t.Budget/2), nil
}

func (f *fakeTrainer) now() time.Time { return f.clock }

func configs(n int) []Config {
	out := make([]Config, n)
	for i := range out {
		out[i] = Config{ID: i, Algorithm: "knn"}
	}
	return out
}

func TestHalving(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		n         int
		opts      HalvingOptions
		fail      map[int]bool
		perRung   []int
		budgets   []float64
		best      int
		stopped   string
		bestScore float64
	}{
		{name: "27 configurations, three rungs", n: 27, opts: HalvingOptions{HigherIsBetter: true},
			perRung: []int{27, 9, 3}, budgets: []float64{1.0 / 9, 1.0 / 3, 1}, best: 17, stopped: "finished", bestScore: quality(17)},
		{name: "max trials caps the start", n: 27, opts: HalvingOptions{HigherIsBetter: true, MaxTrials: 13},
			perRung: []int{9, 3, 1}, budgets: []float64{1.0 / 9, 1.0 / 3, 1}, best: 8, stopped: "finished", bestScore: quality(8)},
		{name: "time budget", n: 27, opts: HalvingOptions{HigherIsBetter: true, Deadline: start.Add(5 * time.Second)},
			perRung: []int{5}, budgets: []float64{1.0 / 9}, best: 4, stopped: "time budget", bestScore: quality(4) * (0.5 + 1.0/18)},
		{name: "failed trials are not promoted", n: 27, opts: HalvingOptions{HigherIsBetter: true}, fail: map[int]bool{17: true, 16: true},
			perRung: []int{27, 9, 3}, budgets: []float64{1.0 / 9, 1.0 / 3, 1}, best: 18, stopped: "finished", bestScore: quality(18)},
		{name: "eta 2, lower is better", n: 8, opts: HalvingOptions{Eta: 2, MinBudget: 0.25},
			perRung: []int{8, 4, 2}, budgets: []float64{0.25, 0.5, 1}, best: 0, stopped: "finished", bestScore: quality(0)},
		{name: "one rung", n: 4, opts: HalvingOptions{MinBudget: 1, HigherIsBetter: true},
			perRung: []int{4}, budgets: []float64{1}, best: 3, stopped: "finished", bestScore: quality(3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTrainer{clock: start, fail: tc.fail}
			tc.opts.Now = f.now
			var seen []Outcome
			tc.opts.OnOutcome = func(o Outcome) { seen = append(seen, o) }
			res, err := Halving(context.Background(), configs(tc.n), f, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var perRung []int
			var budgets []float64
			for _, o := range res.Outcomes {
				if o.Rung == len(perRung) {
					perRung = append(perRung, 0)
					budgets = append(budgets, o.Budget)
				}
				perRung[o.Rung]++
			}
			if !reflect.DeepEqual(perRung, tc.perRung) || !reflect.DeepEqual(budgets, tc.budgets) {
				t.Errorf("trials per rung %v at budgets %v, want %v at %v", perRung, budgets, tc.perRung, tc.budgets)
			}
			if res.Best.ID != tc.best || res.Stopped != tc.stopped || math.Abs(res.Best.Score-tc.bestScore) > 1e-12 {
				t.Errorf("best %d (%v), stopped %q; want %d (%v), %q", res.Best.ID, res.Best.Score, res.Stopped, tc.best, tc.bestScore, tc.stopped)
			}
			if len(seen) != len(res.Outcomes) || len(f.trained) != len(res.Outcomes) {
				t.Errorf("%d outcomes reported, %d trained, %d in the result", len(seen), len(f.trained), len(res.Outcomes))
			}
		})
	}
}

// TestHalvingResume crashes a seeded search after six trials, resumes it
// from the journal of finished trials, and checks that no finished trial
// is trained again and that the result is the uninterrupted search's.
func TestHalvingResume(t *testing.T) {
	cfgs := SampleConfigs(DefaultSpaces, datav1.Task_TASK_CLASSIFICATION, 20, 42)
	// score depends on the configuration's draws, not only its ID
	var train TrainerFunc = func(_ context.Context, tr Trial) (float64, error) {
		s := 0.5 + 0.01*float64(tr.ID%7) + tr.Budget/10
		for _, v := range tr.Params {
			s += 1e-6 * math.Mod(math.Abs(v), 1)
		}
		return s, nil
	}
	whole, err := Halving(context.Background(), cfgs, train, HalvingOptions{HigherIsBetter: true})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Halving(context.Background(), SampleConfigs(DefaultSpaces, datav1.Task_TASK_CLASSIFICATION, 20, 42), train, HalvingOptions{HigherIsBetter: true})
	if err != nil || !reflect.DeepEqual(whole.Outcomes, again.Outcomes) {
		t.Fatalf("the same seed ran a different search (%v)", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	journal := map[TrialKey]float64{}
	first := &fakeTrainer{cancelAt: 7, cancel: cancel}
	crashing := TrainerFunc(func(ctx context.Context, tr Trial) (float64, error) {
		if _, err := first.Train(ctx, tr); err != nil {
			return 0, err
		}
		return train(ctx, tr)
	})
	_, err = Halving(ctx, cfgs, crashing, HalvingOptions{HigherIsBetter: true,
		OnOutcome: func(o Outcome) { journal[o.Key()] = o.Score }})
	if !errors.Is(err, context.Canceled) || len(journal) != 6 {
		t.Fatalf("crash: %v with %d journaled trials", err, len(journal))
	}

	var retrained []TrialKey
	resumed, err := Halving(context.Background(), cfgs, TrainerFunc(func(ctx context.Context, tr Trial) (float64, error) {
		retrained = append(retrained, tr.Key())
		return train(ctx, tr)
	}), HalvingOptions{HigherIsBetter: true, Done: journal})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range retrained {
		if _, ok := journal[k]; ok {
			t.Errorf("trial %+v trained twice", k)
		}
	}
	if len(retrained)+len(journal) != len(whole.Outcomes) {
		t.Errorf("%d retrained + %d journaled, the whole search has %d", len(retrained), len(journal), len(whole.Outcomes))
	}
	if resumed.Best.Key() != whole.Best.Key() || resumed.Best.Score != whole.Best.Score {
		t.Errorf("resumed best %+v, uninterrupted %+v", resumed.Best.Key(), whole.Best.Key())
	}
	replayed := 0
	for _, o := range resumed.Outcomes {
		if o.Replayed {
			replayed++
		}
	}
	if replayed != len(journal) {
		t.Errorf("%d replayed, %d journaled", replayed, len(journal))
	}
}

func TestHalvingErrors(t *testing.T) {
	f := &fakeTrainer{fail: map[int]bool{0: true, 1: true}}
	for _, tc := range []struct {
		name string
		cfgs []Config
		opts HalvingOptions
	}{
		{"eta 1", configs(3), HalvingOptions{Eta: 1}},
		{"min budget", configs(3), HalvingOptions{MinBudget: 2}},
		{"no configurations", nil, HalvingOptions{}},
		{"every trial failed", configs(2), HalvingOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Halving(context.Background(), tc.cfgs, f, tc.opts); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// TestHalvingParallel checks that training a rung's trials four at a time
// runs the same trials, in the same order in the result, and finds the
// same best as one at a time.
func TestHalvingParallel(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	train := TrainerFunc(func(_ context.Context, tr Trial) (float64, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		if tr.ID == 5 {
			return 0, errors.New("diverged")
		}
		return quality(tr.ID) * (0.5 + tr.Budget/2), nil
	})
	seq, err := Halving(context.Background(), configs(27), train, HalvingOptions{HigherIsBetter: true})
	if err != nil {
		t.Fatal(err)
	}
	reported := 0
	par, err := Halving(context.Background(), configs(27), train, HalvingOptions{HigherIsBetter: true, Parallel: 4,
		OnOutcome: func(Outcome) { reported++ }})
	if err != nil {
		t.Fatal(err)
	}
	key := func(os []Outcome) []TrialKey {
		var k []TrialKey
		for _, o := range os {
			k = append(k, o.Key())
		}
		return k
	}
	if !reflect.DeepEqual(key(seq.Outcomes), key(par.Outcomes)) || seq.Best.Key() != par.Best.Key() || reported != len(par.Outcomes) {
		t.Fatalf("parallel ran %v, best %+v; sequential %v, best %+v", key(par.Outcomes), par.Best.Key(), key(seq.Outcomes), seq.Best.Key())
	}
	if calls != 2*len(seq.Outcomes) {
		t.Errorf("%d trainings for two searches of %d trials", calls, len(seq.Outcomes))
	}
}
