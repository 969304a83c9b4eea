package search

import (
	"maps"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin" // registers the algorithms the tests name
	"github.com/alur-ml/alur/ml/selection"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/fault"
)

// builtin is the catalog of the algorithms compiled into the test binary,
// standing for the one train serves.
var builtin = algo.Registered()

func irisSpec(cands ...*orchestratorv1.Candidate) *orchestratorv1.PipelineSpec {
	return &orchestratorv1.PipelineSpec{
		Source:     &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}},
		Label:      "species",
		Candidates: cands,
		Seed:       42,
	}
}

func TestExpandCandidates(t *testing.T) {
	spec := &orchestratorv1.PipelineSpec{MaxTrials: 5, Candidates: []*orchestratorv1.Candidate{
		{Algorithm: "knn", Params: map[string]float64{"distance_weighted": 1}, Grid: map[string]*orchestratorv1.ParamValues{"k": {Values: []float64{1, 3}}}},
		{Algorithm: "ridge", Grid: map[string]*orchestratorv1.ParamValues{"alpha": {Values: []float64{0.1, 1, 10, 100}}}},
	}}
	got := ExpandCandidates(spec, datav1.Task_TASK_REGRESSION, builtin)
	if len(got) != 5 {
		t.Fatalf("%d configs, want the budget of 5", len(got))
	}
	if got[0].Algorithm != "knn" || got[0].Params["k"] != 1 || got[0].Params["distance_weighted"] != 1 || got[1].Params["k"] != 3 {
		t.Errorf("knn grid: %+v %+v", got[0], got[1])
	}
	if got[4].Algorithm != "ridge" || got[4].Params["alpha"] != 10 {
		t.Errorf("last config %+v, want ridge alpha=10", got[4])
	}
	all := ExpandCandidates(&orchestratorv1.PipelineSpec{}, datav1.Task_TASK_CLASSIFICATION, builtin)
	for _, c := range all {
		if c.Algorithm == "linear_regression" || c.Algorithm == "ridge" {
			t.Errorf("default classification candidates include %s", c.Algorithm)
		}
	}
}

// TestDefaultCandidatesPortfolio: a spec without candidates tries every
// algorithm of the task at its defaults, then selection.Portfolio's
// entries with their params; an entry naming a param the catalog's
// algorithm lacks (an older train stage) is left out.
func TestDefaultCandidatesPortfolio(t *testing.T) {
	all := ExpandCandidates(&orchestratorv1.PipelineSpec{}, datav1.Task_TASK_CLASSIFICATION, builtin)
	var defaults, portfolio []Config
	for _, c := range all {
		if len(c.Params) == 0 {
			if len(portfolio) > 0 {
				t.Errorf("default %s after a portfolio entry: defaults come first", c.Algorithm)
			}
			defaults = append(defaults, c)
		} else {
			portfolio = append(portfolio, c)
		}
	}
	seen := map[string]bool{}
	for _, c := range defaults {
		seen[c.Algorithm] = true
	}
	for _, want := range []string{"logistic_regression", "gradient_boosting", "random_forest", "extra_trees", "knn", "naive_bayes", "decision_tree"} {
		if !seen[want] {
			t.Errorf("defaults %v lack %s", defaults, want)
		}
	}
	var want []Config
	for _, c := range selection.Portfolio {
		want = append(want, Config{Algorithm: c.Algorithm, Params: c.Params})
	}
	if len(portfolio) != len(want) {
		t.Fatalf("portfolio trials %v, want %v", portfolio, want)
	}
	for i := range want {
		if portfolio[i].Algorithm != want[i].Algorithm || !maps.Equal(portfolio[i].Params, want[i].Params) {
			t.Errorf("portfolio trial %d = %v, want %v", i, portfolio[i], want[i])
		}
	}

	// A catalog whose boosting lacks a portfolio param skips the entry.
	var specs []*algo.Spec
	for _, a := range builtin.All() {
		if a.Name == "gradient_boosting" {
			cut := *a
			cut.Params = nil
			for _, p := range a.Params {
				if p.Name != "l2_regularization" {
					cut.Params = append(cut.Params, p)
				}
			}
			a = &cut
		}
		specs = append(specs, a)
	}
	old, err := algo.NewCatalog(specs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ExpandCandidates(&orchestratorv1.PipelineSpec{}, datav1.Task_TASK_CLASSIFICATION, old) {
		if len(c.Params) > 0 {
			t.Errorf("%v tried on a catalog without l2_regularization", c)
		}
	}
}

func FuzzValidateSpec(f *testing.F) {
	f.Add("iris", "species", "knn", "k", 5.0, int32(3), "accuracy")
	f.Add("", "", "", "", -1.0, int32(-1), "")
	f.Fuzz(func(t *testing.T, src, label, alg, param string, v float64, trials int32, metric string) {
		spec := &orchestratorv1.PipelineSpec{
			Source:     &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: src}},
			Label:      label,
			Candidates: []*orchestratorv1.Candidate{{Algorithm: alg, Params: map[string]float64{param: v}}},
			Objective:  &orchestratorv1.Objective{Metric: metric},
			MaxTrials:  trials,
		}
		err := ValidateSpec(spec, builtin)
		if err != nil {
			if _, ok := err.(*fault.FieldError); !ok {
				t.Fatalf("ValidateSpec returned %T, want *fault.FieldError", err)
			}
			return
		}
		_ = ExpandCandidates(spec, datav1.Task_TASK_CLASSIFICATION, builtin)
	})
}

func TestBestOfTieBreak(t *testing.T) {
	m := func(logLoss float64) *datav1.Metrics {
		return &datav1.Metrics{Kind: &datav1.Metrics_Classification{Classification: &datav1.ClassificationMetrics{LogLoss: logLoss}}}
	}
	trials := []*orchestratorv1.Trial{
		{Number: 1, Score: 0.9, ValidationMetrics: m(0.5)},
		{Number: 2, Score: 0.95, ValidationMetrics: m(0.4)},
		{Number: 3, Score: 0.95, ValidationMetrics: m(0.2)},
		{Number: 4, Score: 0.99, Error: "failed"},
	}
	if b := Best(trials, "accuracy"); b.GetNumber() != 3 {
		t.Errorf("best = %d, want 3 (tie on accuracy, lower log loss)", b.GetNumber())
	}
	if b := Best(trials, "log_loss"); b.GetNumber() != 1 {
		t.Errorf("lower-is-better: best = %d, want 1", b.GetNumber())
	}
}

func TestExpandRanges(t *testing.T) {
	c := &orchestratorv1.Candidate{Algorithm: "logistic_regression", Samples: 50,
		Ranges: map[string]*orchestratorv1.ParamRange{"C": {Min: 0.001, Max: 1000, Log: true}, "max_iter": {Min: 10, Max: 500, Integer: true}}}
	a := expandRanges(c, 7, 0)
	b := expandRanges(c, 7, 0)
	if len(a) != 50 {
		t.Fatalf("%d draws, want 50", len(a))
	}
	small := 0
	for i := range a {
		if a[i]["C"] != b[i]["C"] || a[i]["max_iter"] != b[i]["max_iter"] {
			t.Fatal("draws are not reproducible for a seed")
		}
		if c := a[i]["C"]; c < 0.001 || c > 1000 {
			t.Fatalf("C=%g outside the range", c)
		}
		if c := a[i]["C"]; c < 1 {
			small++
		}
		if m := a[i]["max_iter"]; m != float64(int(m)) || m < 10 || m > 500 {
			t.Fatalf("max_iter=%g not a whole number in range", m)
		}
	}
	// Log-uniform: about half the draws fall below the geometric middle.
	if small < 15 || small > 35 {
		t.Errorf("%d of 50 log-uniform draws below 1, want about 25", small)
	}
	if d := expandRanges(c, 8, 0); d[0]["C"] == a[0]["C"] {
		t.Error("another seed drew the same value")
	}
	spec := &orchestratorv1.PipelineSpec{BalanceClasses: true, Candidates: []*orchestratorv1.Candidate{{Algorithm: "naive_bayes"}, {Algorithm: "logistic_regression"}}}
	for _, tc := range ExpandCandidates(spec, datav1.Task_TASK_CLASSIFICATION, builtin) {
		weighs := weighsClasses(builtin, tc.Algorithm, datav1.Task_TASK_CLASSIFICATION)
		if weighs && tc.Params[algo.BalancedParamName] != 1 {
			t.Errorf("%s: balance_classes did not set %s", tc.Algorithm, algo.BalancedParamName)
		}
		if !weighs {
			if _, ok := tc.Params[algo.BalancedParamName]; ok {
				t.Errorf("%s: balanced set on an algorithm without it", tc.Algorithm)
			}
		}
	}
}

func TestSearchSpecValidation(t *testing.T) {
	base := func(c *orchestratorv1.Candidate) *orchestratorv1.PipelineSpec { return irisSpec(c) }
	cases := []struct {
		name  string
		spec  *orchestratorv1.PipelineSpec
		field string
	}{
		{"min above max", base(&orchestratorv1.Candidate{Algorithm: "ridge", Ranges: map[string]*orchestratorv1.ParamRange{"alpha": {Min: 2, Max: 1}}}), `spec.candidates[0].ranges["alpha"]`},
		{"log from zero", base(&orchestratorv1.Candidate{Algorithm: "ridge", Ranges: map[string]*orchestratorv1.ParamRange{"alpha": {Min: 0, Max: 1, Log: true}}}), `spec.candidates[0].ranges["alpha"]`},
		{"out of bounds", base(&orchestratorv1.Candidate{Algorithm: "knn", Ranges: map[string]*orchestratorv1.ParamRange{"k": {Min: -5, Max: 3}}}), `spec.candidates[0].ranges["k"]`},
		{"samples", base(&orchestratorv1.Candidate{Algorithm: "knn", Samples: -1}), "spec.candidates[0].samples"},
		{"folds", &orchestratorv1.PipelineSpec{Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species", CvFolds: 50}, "spec.cv_folds"},
		{"time budget", &orchestratorv1.PipelineSpec{Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species", TimeBudget: durationpb.New(-time.Second)}, "spec.time_budget"},
	}
	for _, tc := range cases {
		err := ValidateSpec(tc.spec, builtin)
		se, ok := err.(*fault.FieldError)
		if !ok || se.Field != tc.field {
			t.Errorf("%s: got %v, want an error on %s", tc.name, err, tc.field)
		}
	}
}
