package search

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
)

// oofSteps is a cross-validated search's steps over 30 rows of two
// classes: model "m<j>" is wrong, with probability 0.6 for the other
// class, exactly on the rows i with i%3 == j, and right with 0.9
// elsewhere. Each model scores 2/3, any blend of two of them is always
// right. Train steps are cached by name, as the engine's are: a step done
// before a restart is not trained again.
type oofSteps struct {
	fakeSteps
	mu2     sync.Mutex
	done    map[string]bool
	trained []string
}

const oofRows = 30

func (f *oofSteps) Train(step string, cfg *trainv1.TrainConfig, d Data) (Trained, error) {
	f.mu2.Lock()
	defer f.mu2.Unlock()
	if !f.done[step] {
		f.done[step] = true
		f.trained = append(f.trained, step)
	}
	// The digest names the model and its step: predict reads the model
	// from its head, FoldModels' checks the folds from its tail.
	return Trained{ModelDigest: cfg.GetAlgorithm() + "@" + step, Result: &trainv1.TrainResult{Params: cfg.GetParams()}}, nil
}

// predict gives model's probabilities of the rows of d (their "id").
func predict(model string, d Data) ([]float64, []int) {
	var j int
	fmt.Sscanf(model, "m%d", &j)
	id, _ := d.Table.Column("id")
	var pred []float64
	var y []int
	for _, v := range id.Nums {
		i := int(v)
		truth := i % 2
		p := 0.9
		if i%3 == j {
			p = 0.4
		}
		row := []float64{1 - p, p}
		if truth == 0 {
			row = []float64{p, 1 - p}
		}
		pred = append(pred, row...)
		y = append(y, truth)
	}
	return pred, y
}

func (f *oofSteps) Predict(model string, d Data, label string) ([]float64, int, error) {
	p, _ := predict(model, d)
	return p, 2, nil
}

func (f *oofSteps) Evaluate(step, name, model string, d Data, label string) (*datav1.Metrics, error) {
	p, y := predict(model, d)
	m, err := blendMetrics(p, 2, seqInts(len(y)), intsToFloats(y), []string{"0", "1"}, datav1.Task_TASK_CLASSIFICATION)
	return m, err
}

func seqInts(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func intsToFloats(y []int) []float64 {
	out := make([]float64, len(y))
	for i, v := range y {
		out[i] = float64(v)
	}
	return out
}

// oofTable is the rows of oofSteps: an id and a label of two classes.
func oofTable() (*table.Table, []float64) {
	ids, codes := make([]float64, oofRows), make([]int32, oofRows)
	y := make([]float64, oofRows)
	for i := range ids {
		ids[i] = float64(i)
		codes[i] = int32(i % 2)
		y[i] = float64(i % 2)
	}
	return &table.Table{Columns: []*table.Column{table.NewNumeric("id", ids), table.NewCategorical("y", codes, []string{"0", "1"})}}, y
}

// oofLoop is a 3-fold search over the three models.
func oofLoop(t *testing.T) (*Loop, []float64) {
	tb, y := oofTable()
	folds, err := MakeFolds(tb, "y", 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	return &Loop{Configs: []Config{{Algorithm: "m0"}, {Algorithm: "m1"}, {Algorithm: "m2"}}, Metric: "accuracy",
		Task: datav1.Task_TASK_CLASSIFICATION, Label: "y", Folds: folds}, y
}

// TestEnsembleBeatsEachMember: the ensemble candidate's cross-fitted
// score is above every member's, so it ranks first, with weights on at
// least two members; the same seed gives the same ensemble; and a run
// resumed after two trials trains no fold twice yet blends all three and
// knows every trial's fold models, which k-fold bagging averages.
func TestEnsembleBeatsEachMember(t *testing.T) {
	run := func(recorded []*orchestratorv1.Trial, done map[string]bool) (*orchestratorv1.Trial, *oofSteps) {
		l, y := oofLoop(t)
		f := &oofSteps{fakeSteps: fakeSteps{trials: recorded}, done: done}
		if _, err := l.Run(f); err != nil {
			t.Fatal(err)
		}
		ens, members, err := l.Ensemble(f, 4, y, []string{"0", "1"})
		if err != nil || ens == nil {
			t.Fatalf("ensemble %v, %v", ens, err)
		}
		if len(members) < 2 {
			t.Errorf("members %v, want at least two", members)
		}
		for _, tr := range f.Trials() {
			if !(ens.GetScore() > tr.GetScore()) || !RanksFirst(ens, tr, "accuracy") {
				t.Errorf("ensemble %.4f not above trial %d's %.4f", ens.GetScore(), tr.GetNumber(), tr.GetScore())
			}
			n := tr.GetNumber()
			want := []string{fmt.Sprintf("m%d@train/%d/fold1", n-1, n), fmt.Sprintf("m%d@train/%d/fold2", n-1, n), fmt.Sprintf("m%d@train/%d/fold3", n-1, n)}
			if got := l.FoldModels(n); !slices.Equal(got, want) {
				t.Errorf("trial %d: fold models %v, want %v", n, got, want)
			}
		}
		if b := Best(append(f.Trials(), ens), "accuracy"); b != ens {
			t.Errorf("Best chose trial %d, not the ensemble", b.GetNumber())
		}
		return ens, f
	}
	first, f := run(nil, map[string]bool{})
	if first.GetScore() != 1 {
		t.Errorf("ensemble score %.4f, want 1", first.GetScore())
	}
	again, _ := run(nil, map[string]bool{})
	if !slices.Equal(again.GetFoldScores(), first.GetFoldScores()) || fmt.Sprint(again.GetParams()) != fmt.Sprint(first.GetParams()) {
		t.Errorf("not reproducible: %v %v, then %v %v", first.GetParams(), first.GetFoldScores(), again.GetParams(), again.GetFoldScores())
	}
	// Resume: trials 1 and 2 were recorded, and their fold steps done.
	done := map[string]bool{}
	for _, s := range f.trained {
		if s[:8] != "train/3/" {
			done[s] = true
		}
	}
	resumed, rf := run(slices.Clone(f.Trials()[:2]), maps.Clone(done))
	if want := []string{"train/3/fold1", "train/3/fold2", "train/3/fold3"}; !slices.Equal(rf.trained, want) {
		t.Errorf("resumed run trained %v, want only %v", rf.trained, want)
	}
	if fmt.Sprint(resumed.GetParams()) != fmt.Sprint(first.GetParams()) {
		t.Errorf("resumed ensemble %v, want %v", resumed.GetParams(), first.GetParams())
	}
}

// TestEnsembleOfTheBestAloneTies: when no blend scores higher than the
// best trial (here "m3", right on every row), ensemble selection keeps that
// trial alone; the ensemble then scores exactly as it does, log loss
// included, and does not rank before it, so the run hands over the single
// model.
func TestEnsembleOfTheBestAloneTies(t *testing.T) {
	tb, y := oofTable()
	folds, err := MakeFolds(tb, "y", 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	l := &Loop{Configs: []Config{{Algorithm: "m0"}, {Algorithm: "m3"}, {Algorithm: "m1"}}, Metric: "accuracy",
		Task: datav1.Task_TASK_CLASSIFICATION, Label: "y", Folds: folds}
	f := &oofSteps{done: map[string]bool{}}
	if _, err := l.Run(f); err != nil {
		t.Fatal(err)
	}
	ens, members, err := l.Ensemble(f, 4, y, []string{"0", "1"})
	if err != nil || ens == nil {
		t.Fatalf("ensemble %v, %v", ens, err)
	}
	if len(members) != 1 || members[0].Trial.GetNumber() != 2 || members[0].Weight != 1 {
		t.Fatalf("members %+v, want trial 2 (m3) alone", members)
	}
	best := proto.Clone(members[0].Trial).(*orchestratorv1.Trial)
	best.Algorithm = "random_forest" // a known algorithm, simpler than an ensemble
	if ens.GetScore() != best.GetScore() || ens.GetValidationMetrics().GetClassification().GetLogLoss() != best.GetValidationMetrics().GetClassification().GetLogLoss() {
		t.Errorf("ensemble %.6f (log loss %.6f), its one member %.6f (%.6f): want equal", ens.GetScore(),
			ens.GetValidationMetrics().GetClassification().GetLogLoss(), best.GetScore(), best.GetValidationMetrics().GetClassification().GetLogLoss())
	}
	if RanksFirst(ens, best, "accuracy") {
		t.Error("an ensemble of the best trial alone ranks before it")
	}
}

// TestRanksFirst: the ensemble is kept when the leaderboard's ranking puts
// it first: a higher score, or an equal score with a lower log loss; a
// full tie keeps the single trial, and so does a lower score whatever its
// log loss.
func TestRanksFirst(t *testing.T) {
	trial := func(n int32, alg string, score, logLoss float64) *orchestratorv1.Trial {
		return &orchestratorv1.Trial{Number: n, Algorithm: alg, Score: score, FoldScores: []float64{score},
			ValidationMetrics: &datav1.Metrics{Kind: &datav1.Metrics_Classification{Classification: &datav1.ClassificationMetrics{Accuracy: score, LogLoss: logLoss}}}}
	}
	single := trial(3, "random_forest", 0.95, 0.2)
	for _, tc := range []struct {
		name string
		ens  *orchestratorv1.Trial
		want bool
	}{
		{"higher score", trial(9, EnsembleAlgorithm, 0.96, 0.3), true},
		{"equal score, lower log loss", trial(9, EnsembleAlgorithm, 0.95, 0.1), true},
		{"equal score, higher log loss", trial(9, EnsembleAlgorithm, 0.95, 0.25), false},
		{"full tie", trial(9, EnsembleAlgorithm, 0.95, 0.2), false},
		{"lower score, lower log loss", trial(9, EnsembleAlgorithm, 0.94, 0.05), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RanksFirst(tc.ens, single, "accuracy"); got != tc.want {
				t.Fatalf("RanksFirst = %v, want %v", got, tc.want)
			}
			if got := Best([]*orchestratorv1.Trial{single, tc.ens}, "accuracy") == tc.ens; got != tc.want {
				t.Errorf("Best chose the ensemble: %v, want %v", got, tc.want)
			}
		})
	}
	if !RanksFirst(trial(1, EnsembleAlgorithm, 0.5, 1), nil, "accuracy") {
		t.Error("no single trial: the ensemble does not rank first")
	}
}
