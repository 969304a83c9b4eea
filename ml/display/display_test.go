package display

import (
	"math"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		noun string
		want string
	}{
		{0, "duplicate row", "0 duplicate rows"},
		{1, "duplicate row", "1 duplicate row"},
		{2, "warning or error|warnings or errors", "2 warnings or errors"},
		{1, "warning or error|warnings or errors", "1 warning or error"},
		{11122, "row", "11,122 rows"},
	} {
		if got := Plural(tc.n, tc.noun); got != tc.want {
			t.Errorf("Plural(%d, %q) = %q, want %q", tc.n, tc.noun, got, tc.want)
		}
	}
}

func TestNumbers(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{Count(9918), "9,918"},
		{Count(-1234567), "-1,234,567"},
		{Number(math.NaN()), "—"},
		{Number(0.1), "0.1"},
		{Number(12345.6), "12,346"},
		{Number(1e-6), "1e-06"},
		{Number(1.2345e-5), "1.23e-05"},
		{Score(0.96666), "0.9667"},
		{Score(2.5), "2.5"},
		{Percent(0.1), "10%"},
		{Percent(0.1111), "11.1%"},
		{Percent(0.0004), "0.04%"},
		{Params(map[string]float64{"k": 5, "C": 0.1}, nil), "C=0.1, k=5"},
		{Params(map[string]float64{"k": 5, "C": 0.1}, []string{"k", "x"}), "k=5"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func classTrial(n int32, score, logLoss float64) *orchestratorv1.Trial {
	return &orchestratorv1.Trial{Number: n, Score: score, ValidationMetrics: &datav1.Metrics{
		Kind: &datav1.Metrics_Classification{Classification: &datav1.ClassificationMetrics{Accuracy: score, LogLoss: logLoss}},
	}}
}

// TestRankedFollowsTheChoice checks the order the orchestrator chooses by:
// score, then the lower tie-break, then the earlier trial; failed last.
func TestRankedFollowsTheChoice(t *testing.T) {
	failed := &orchestratorv1.Trial{Number: 2, Error: "boom"}
	for _, tc := range []struct {
		name   string
		metric string
		trials []*orchestratorv1.Trial
		want   []int32
	}{
		{"tie goes to lower log loss", "accuracy", []*orchestratorv1.Trial{
			classTrial(1, 0.95, 0.30), failed, classTrial(3, 0.95, 0.10), classTrial(4, 0.90, 0.01),
		}, []int32{3, 1, 4, 2}},
		{"full tie goes to the earlier trial", "accuracy", []*orchestratorv1.Trial{
			classTrial(3, 0.95, 0.2), classTrial(1, 0.95, 0.2),
		}, []int32{1, 3}},
		{"lower is better", "log_loss", []*orchestratorv1.Trial{
			classTrial(1, 0.4, 0.4), classTrial(2, 0.2, 0.2),
		}, []int32{2, 1}},
		{"no validation metrics is failed", "accuracy", []*orchestratorv1.Trial{
			{Number: 1, Score: 1}, classTrial(2, 0.5, 0.5),
		}, []int32{2, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := &orchestratorv1.Run{Metric: tc.metric, Trials: tc.trials}
			var got []int32
			for _, tr := range Ranked(run) {
				got = append(got, tr.GetNumber())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Ranked = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTrialParamsDropsBalancedForRegression(t *testing.T) {
	reg := &orchestratorv1.Trial{Params: map[string]float64{"balanced": 0, "max_depth": 3},
		ValidationMetrics: &datav1.Metrics{Kind: &datav1.Metrics_Regression{Regression: &datav1.RegressionMetrics{}}}}
	if got := Params(TrialParams(reg), nil); got != "max_depth=3" {
		t.Errorf("regression params = %q", got)
	}
	cls := classTrial(1, 1, 0)
	cls.Params = map[string]float64{"balanced": 1}
	if got := Params(TrialParams(cls), nil); got != "balanced=1" {
		t.Errorf("classification params = %q", got)
	}
}

func TestSource(t *testing.T) {
	for _, tc := range []struct {
		src  *orchestratorv1.Source
		want string
	}{
		{&orchestratorv1.Source{Kind: &orchestratorv1.Source_Dataset{Dataset: &orchestratorv1.DatasetRef{Name: "sales", Version: 2}}}, "sales v2"},
		{&orchestratorv1.Source{Kind: &orchestratorv1.Source_Dataset{Dataset: &orchestratorv1.DatasetRef{Name: "sales"}}}, "sales (latest)"},
		{&orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, "iris (bundled)"},
		{nil, ""},
	} {
		if got := Source(tc.src); got != tc.want {
			t.Errorf("Source(%v) = %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestStopReason(t *testing.T) {
	target := 0.99
	obj := &orchestratorv1.Objective{Metric: "accuracy", Target: &target}
	trials := func(n int) []*orchestratorv1.Trial {
		out := make([]*orchestratorv1.Trial, n)
		for i := range out {
			out[i] = classTrial(int32(i+1), 0.9, 0.1)
		}
		return out
	}
	done := orchestratorv1.RunState_RUN_STATE_SUCCEEDED
	for _, tc := range []struct {
		name string
		run  *orchestratorv1.Run
		want string
	}{
		{"target met", &orchestratorv1.Run{State: done, Metric: "accuracy", ObjectiveMet: true, Trials: trials(3), Spec: &orchestratorv1.PipelineSpec{Objective: obj}},
			"The search stopped after 3 trials: the validation accuracy reached the target 0.9900."},
		{"budget", &orchestratorv1.Run{State: done, Metric: "accuracy", Trials: trials(4), Spec: &orchestratorv1.PipelineSpec{Objective: obj, MaxTrials: 4}},
			"The search stopped after 4 trials: the trial budget (maxTrials 4) was spent without reaching the target 0.9900."},
		{"all tried", &orchestratorv1.Run{State: done, Metric: "accuracy", Trials: trials(1), Spec: &orchestratorv1.PipelineSpec{}},
			"The search stopped after 1 trial: every candidate configuration was tried."},
		{"running", &orchestratorv1.Run{State: orchestratorv1.RunState_RUN_STATE_RUNNING, Trials: trials(1)}, ""},
		{"time budget", &orchestratorv1.Run{State: done, Metric: "accuracy", Trials: trials(3), Spec: &orchestratorv1.PipelineSpec{},
			SearchStop: orchestratorv1.SearchStop_SEARCH_STOP_TIME_BUDGET, SearchTimeBudget: durationpb.New(5 * time.Minute)},
			"The search stopped after 3 trials: the time budget (5m0s) was spent."},
		{"time budget cut a trial", &orchestratorv1.Run{State: done, Metric: "accuracy", Spec: &orchestratorv1.PipelineSpec{Objective: obj},
			Trials:     append(trials(2), &orchestratorv1.Trial{Number: 3, Algorithm: "random_forest", Error: "stopped by the time budget", StoppedByTimeBudget: true}),
			SearchStop: orchestratorv1.SearchStop_SEARCH_STOP_TIME_BUDGET, SearchTimeBudget: durationpb.New(5 * time.Minute)},
			"The search stopped after 3 trials: the time budget (5m0s) was spent (trial 3 was stopped while it trained) without reaching the target 0.9900."},
		{"time budget from the spec", &orchestratorv1.Run{State: done, Metric: "accuracy", Trials: trials(2),
			Spec:       &orchestratorv1.PipelineSpec{TimeBudget: durationpb.New(90 * time.Second)},
			SearchStop: orchestratorv1.SearchStop_SEARCH_STOP_TIME_BUDGET},
			"The search stopped after 2 trials: the time budget (1m30s) was spent."},
		{"trial budget recorded", &orchestratorv1.Run{State: done, Metric: "accuracy", Trials: trials(2), Spec: &orchestratorv1.PipelineSpec{MaxTrials: 5},
			SearchStop: orchestratorv1.SearchStop_SEARCH_STOP_TRIAL_BUDGET},
			"The search stopped after 2 trials: the trial budget (maxTrials 5) was spent."},
		{"exhausted recorded", &orchestratorv1.Run{State: done, Metric: "accuracy", Trials: trials(4), Spec: &orchestratorv1.PipelineSpec{MaxTrials: 4},
			SearchStop: orchestratorv1.SearchStop_SEARCH_STOP_EXHAUSTED},
			"The search stopped after 4 trials: every candidate configuration was tried."},
		{"cancelled", &orchestratorv1.Run{State: orchestratorv1.RunState_RUN_STATE_CANCELLED, Trials: trials(2), Spec: &orchestratorv1.PipelineSpec{},
			SearchStop: orchestratorv1.SearchStop_SEARCH_STOP_TIME_BUDGET},
			"The search stopped after 2 trials: the run was cancelled."},
	} {
		if got := StopReason(tc.run); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
