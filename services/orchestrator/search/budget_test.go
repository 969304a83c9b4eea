package search

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/services/orchestrator/fault"
)

// cutSteps are fake Bounded steps: the algorithm "slow" announces on
// started that it trains, then trains until the test releases it or the
// loop stops its requests (a stage's cancelled call).
type cutSteps struct {
	*fakeSteps
	cut     context.Context
	started chan string
	release chan struct{}
}

func (c cutSteps) Within(ctx context.Context) Steps { c.cut = ctx; return c }

func (c cutSteps) Train(step string, cfg *trainv1.TrainConfig, d Data) (Trained, error) {
	if cfg.GetAlgorithm() == "slow" {
		c.started <- step
		select {
		case <-c.release:
		case <-c.cut.Done():
			c.fakeSteps.mu.Lock()
			c.fakeSteps.trains = append(c.fakeSteps.trains, "slow (stopped)")
			c.fakeSteps.mu.Unlock()
			return Trained{}, fault.FromStage(status.Error(codes.Canceled, "context canceled"))
		}
	}
	return c.fakeSteps.Train(step, cfg, d)
}

// fakeClock is the loop's clock: now stands still until the test moves
// it, and the budget's end fires when the test closes fire.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	fire chan time.Time
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// end moves the clock past the deadline and fires the budget's end.
func (f *fakeClock) end(past time.Time) {
	f.mu.Lock()
	f.t = past
	f.mu.Unlock()
	close(f.fire)
}

// TestTimeBudgetStopsTrial: a trial still training when the time budget
// ends is stopped once another trial succeeded, recorded as stopped by
// the budget, and the run goes on with the trials it has; the first trial
// to finish is never stopped; a resumed run trains neither its finished
// trials nor the stopped one again. With holdout and with folds, one
// trial at a time and two.
func TestTimeBudgetStopsTrial(t *testing.T) {
	scores := map[string]float64{"a": 0.5, "slow": 0.9, "c": 0.99}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	deadline := start.Add(time.Hour)
	folds := []Fold{{Train: Data{Digest: "f1t"}, Held: Data{Digest: "f1h"}}, {Train: Data{Digest: "f2t"}, Held: Data{Digest: "f2h"}}}
	ok := func(n int32, alg string) *orchestratorv1.Trial {
		return &orchestratorv1.Trial{Number: n, Algorithm: alg, Score: scores[alg], ValidationMetrics: &datav1.Metrics{}}
	}
	cut := &orchestratorv1.Trial{Number: 2, Algorithm: "slow", Error: "stopped by the time budget", StoppedByTimeBudget: true}
	for _, tc := range []struct {
		name     string
		configs  []string
		folds    []Fold
		parallel int
		recorded []*orchestratorv1.Trial
		// ends: the budget ends while "slow" trains (after it started);
		// over: the clock is already past the deadline.
		ends, over bool
		// releaseSlow lets "slow" finish after the budget ended.
		releaseSlow bool
		wantTrains  []string
		wantCut     []int32
		wantBest    int32
		wantStopped bool
	}{
		{name: "holdout: the second trial is stopped", configs: []string{"a", "slow", "c"}, ends: true,
			wantTrains: []string{"a", "slow (stopped)"}, wantCut: []int32{2}, wantBest: 1, wantStopped: true},
		{name: "folds: the second trial is stopped", configs: []string{"a", "slow", "c"}, folds: folds, ends: true,
			wantTrains: []string{"a", "a", "slow (stopped)"}, wantCut: []int32{2}, wantBest: 1, wantStopped: true},
		{name: "two at once: the one still training is stopped", configs: []string{"slow", "a"}, parallel: 2, ends: true,
			wantTrains: []string{"a", "slow (stopped)"}, wantCut: []int32{1}, wantBest: 2, wantStopped: true},
		{name: "the first trial overruns and is not stopped", configs: []string{"slow", "c"}, ends: true, releaseSlow: true,
			wantTrains: []string{"slow"}, wantBest: 1, wantStopped: true},
		{name: "budget left: every configuration runs", configs: []string{"a", "c"},
			wantTrains: []string{"a", "c"}, wantBest: 2},
		{name: "resume after a cut, budget over: nothing trains again", configs: []string{"a", "slow", "c"}, over: true,
			recorded: []*orchestratorv1.Trial{ok(1, "a"), cut}, wantCut: []int32{2}, wantBest: 1, wantStopped: true},
		{name: "resume after a cut, budget left: only the untried configuration trains", configs: []string{"a", "slow", "c"},
			recorded: []*orchestratorv1.Trial{ok(1, "a"), cut}, wantTrains: []string{"c"}, wantCut: []int32{2}, wantBest: 3},
		{name: "budget over before any success: the search goes on until one", configs: []string{"a", "c"}, over: true,
			wantTrains: []string{"a"}, wantBest: 1, wantStopped: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: start, fire: make(chan time.Time)}
			if tc.over {
				clock.t = deadline.Add(time.Minute)
			}
			f := cutSteps{
				fakeSteps: &fakeSteps{scores: scores, trials: slices.Clone(tc.recorded)},
				started:   make(chan string), release: make(chan struct{}),
			}
			var configs []Config
			for _, a := range tc.configs {
				configs = append(configs, Config{Algorithm: a})
			}
			l := &Loop{Configs: configs, Metric: "accuracy", Label: "y", Train: Data{Digest: "tr"}, Valid: Data{Digest: "va"},
				Folds: tc.folds, Parallel: tc.parallel, Deadline: deadline, Grace: 3 * time.Minute, Budget: time.Hour,
				now: clock.now, after: func(time.Duration) <-chan time.Time { return clock.fire }}
			go func() {
				if !tc.ends {
					return
				}
				<-f.started
				clock.end(deadline.Add(time.Hour))
				if tc.releaseSlow {
					close(f.release)
				}
			}()
			met, err := l.Run(f)
			if err != nil || met {
				t.Fatalf("met %v, err %v; want a search that ends without error", met, err)
			}
			if !slices.Equal(f.trains, tc.wantTrains) {
				t.Errorf("trained %v, want %v", f.trains, tc.wantTrains)
			}
			var gotCut []int32
			for _, tr := range f.Trials() {
				if tr.GetStoppedByTimeBudget() {
					gotCut = append(gotCut, tr.GetNumber())
					if tr.GetError() == "" {
						t.Errorf("trial %d stopped by the budget without an error", tr.GetNumber())
					}
				}
			}
			if !slices.Equal(gotCut, tc.wantCut) {
				t.Errorf("trials stopped by the budget %v, want %v", gotCut, tc.wantCut)
			}
			if b := Best(f.Trials(), "accuracy"); b.GetNumber() != tc.wantBest {
				t.Errorf("best trial %d, want %d", b.GetNumber(), tc.wantBest)
			}
			if l.StoppedByBudget() != tc.wantStopped {
				t.Errorf("StoppedByBudget %v, want %v", l.StoppedByBudget(), tc.wantStopped)
			}
		})
	}
}

// TestTimeBudgetCancelStaysFatal: a run cancelled while a trial trains
// fails with the cancellation; the budget does not claim it.
func TestTimeBudgetCancelStaysFatal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := cutSteps{fakeSteps: &fakeSteps{scores: map[string]float64{"a": 0.5}, ctx: ctx}, started: make(chan string), release: make(chan struct{})}
	go func() {
		<-f.started
		cancel()
		close(f.release)
	}()
	l := &Loop{Configs: []Config{{Algorithm: "a"}, {Algorithm: "slow"}}, Metric: "accuracy", Label: "y",
		Deadline: time.Now().Add(time.Hour), after: func(time.Duration) <-chan time.Time { return nil }}
	if _, err := l.Run(f); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want the run's cancellation", err)
	}
	for _, tr := range f.Trials() {
		if tr.GetStoppedByTimeBudget() {
			t.Errorf("trial %d recorded as stopped by the budget", tr.GetNumber())
		}
	}
}

// cutOOF are Bounded steps with out-of-fold predictions whose first
// training of a step ending in block trains until the loop stops it.
type cutOOF struct {
	*oofSteps
	cut     context.Context
	block   string
	once    *sync.Once
	started chan struct{}
}

func (c cutOOF) Within(ctx context.Context) Steps { c.cut = ctx; return c }

func (c cutOOF) Train(step string, cfg *trainv1.TrainConfig, d Data) (Trained, error) {
	blocked := false
	if strings.HasSuffix(step, c.block) {
		c.once.Do(func() { blocked = true })
	}
	if blocked {
		close(c.started)
		<-c.cut.Done()
		return Trained{}, fault.FromStage(status.Error(codes.Canceled, "context canceled"))
	}
	return c.oofSteps.Train(step, cfg, d)
}

// TestTimeBudgetStopsRepeat: a repetition of the folds still training
// when the time budget ends is stopped; the repeat ends without error, no
// other repetition starts, and every trial keeps its first repetition's
// fold models.
func TestTimeBudgetStopsRepeat(t *testing.T) {
	tb, _ := oofTable()
	other, err := MakeFolds(tb, "y", 3, 8)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := oofLoop(t)
	f := cutOOF{oofSteps: &oofSteps{done: map[string]bool{}}, block: "/repeat2/fold2", once: &sync.Once{}, started: make(chan struct{})}
	if _, err := l.Run(f); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: start, fire: make(chan time.Time)}
	l.Deadline, l.now = start.Add(time.Hour), clock.now
	l.after = func(time.Duration) <-chan time.Time { return clock.fire }
	go func() {
		<-f.started
		clock.end(start.Add(2 * time.Hour))
	}()
	n, err := l.Repeat(f, other)
	if err != nil || n != 0 {
		t.Fatalf("%d trials repeated, err %v; want 0 and no error", n, err)
	}
	repeats := 0
	for _, s := range f.trained {
		if strings.Contains(s, "/repeat2/") {
			repeats++
		}
	}
	if repeats != 1 {
		t.Errorf("repetition steps trained %d, want only the first fold's before the cut: %v", repeats, f.trained)
	}
	for n := int32(1); n <= 3; n++ {
		if got := l.FoldModels(n); len(got) != 3 {
			t.Errorf("trial %d: fold models %v, want the first repetition's 3", n, got)
		}
	}
}
