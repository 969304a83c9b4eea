package display

import (
	"fmt"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// DefaultMaxTrials is the trial budget of a spec that sets none, as the
// orchestrator applies it.
const DefaultMaxTrials = 20

// StopReason says in a sentence why a finished run's search stopped: the
// objective's target was met, the trial budget was spent, or every
// candidate configuration was tried. It is "" for a run still going or
// one that ran no trial.
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
	switch {
	case run.GetObjectiveMet():
		return fmt.Sprintf("The search stopped after %s: the validation %s reached the target %s.", ran, Metric(run), Score(obj.GetTarget()))
	case run.GetState() == orchestratorv1.RunState_RUN_STATE_CANCELLED:
		return fmt.Sprintf("The search stopped after %s: the run was cancelled.", ran)
	case n >= budget:
		return fmt.Sprintf("The search stopped after %s: the trial budget (maxTrials %d) was spent%s.", ran, budget, unmet(obj))
	}
	return fmt.Sprintf("The search stopped after %s: every candidate configuration was tried%s.", ran, unmet(obj))
}

// unmet notes a target the search did not reach.
func unmet(obj *orchestratorv1.Objective) string {
	if obj == nil || obj.Target == nil {
		return ""
	}
	return fmt.Sprintf(" without reaching the target %s", Score(obj.GetTarget()))
}
