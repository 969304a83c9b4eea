package display

import (
	"fmt"
	"strings"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// DefaultMaxTrials is the trial budget of a spec that sets none, as the
// orchestrator applies it.
const DefaultMaxTrials = 20

// StopReason says in a sentence why a finished run's search stopped: the
// objective's target was met, the run was cancelled, the time budget was
// spent, the trial budget was spent, or every candidate configuration was
// tried. The engine records the reason (Run.search_stop); a run recorded
// before it did is judged from its trials. It is "" for a run still going
// or one that ran no trial.
func StopReason(run *orchestratorv1.Run) string {
	n := len(run.GetTrials())
	switch run.GetState() {
	case orchestratorv1.RunState_RUN_STATE_SUCCEEDED, orchestratorv1.RunState_RUN_STATE_FAILED, orchestratorv1.RunState_RUN_STATE_CANCELLED:
	default:
		return ""
	}
	if n == 0 {
		return ""
	}
	budget := int(run.GetSpec().GetMaxTrials())
	if budget == 0 {
		budget = DefaultMaxTrials
	}
	ran := Plural(int64(n), "trial")
	obj := run.GetSpec().GetObjective()
	stop := run.GetSearchStop()
	switch {
	case run.GetObjectiveMet() || stop == orchestratorv1.SearchStop_SEARCH_STOP_OBJECTIVE_MET:
		return fmt.Sprintf("The search stopped after %s: the validation %s reached the target %s.", ran, Metric(run), Score(obj.GetTarget()))
	case run.GetState() == orchestratorv1.RunState_RUN_STATE_CANCELLED || stop == orchestratorv1.SearchStop_SEARCH_STOP_CANCELLED:
		return fmt.Sprintf("The search stopped after %s: the run was cancelled.", ran)
	case stop == orchestratorv1.SearchStop_SEARCH_STOP_TIME_BUDGET:
		return fmt.Sprintf("The search stopped after %s: %s was spent%s%s.", ran, timeBudget(run), cutTrials(run), unmet(obj))
	case stop == orchestratorv1.SearchStop_SEARCH_STOP_TRIAL_BUDGET,
		stop == orchestratorv1.SearchStop_SEARCH_STOP_UNSPECIFIED && n >= budget:
		return fmt.Sprintf("The search stopped after %s: the trial budget (maxTrials %d) was spent%s.", ran, budget, unmet(obj))
	}
	return fmt.Sprintf("The search stopped after %s: every candidate configuration was tried%s.", ran, unmet(obj))
}

// timeBudget names the time budget the search ran under: the one the
// engine recorded, else the spec's.
func timeBudget(run *orchestratorv1.Run) string {
	b := run.GetSearchTimeBudget()
	if b == nil {
		b = run.GetSpec().GetTimeBudget()
	}
	if b == nil || b.AsDuration() <= 0 {
		return "the time budget"
	}
	return fmt.Sprintf("the time budget (%s)", b.AsDuration())
}

// cutTrials names the trials the time budget stopped while they trained.
func cutTrials(run *orchestratorv1.Run) string {
	var nums []string
	for _, t := range run.GetTrials() {
		if t.GetStoppedByTimeBudget() {
			nums = append(nums, fmt.Sprint(t.GetNumber()))
		}
	}
	switch len(nums) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf(" (trial %s was stopped while it trained)", nums[0])
	}
	return fmt.Sprintf(" (trials %s were stopped while they trained)", strings.Join(nums, ", "))
}

// unmet notes a target the search did not reach.
func unmet(obj *orchestratorv1.Objective) string {
	if obj == nil || obj.Target == nil {
		return ""
	}
	return fmt.Sprintf(" without reaching the target %s", Score(obj.GetTarget()))
}
