package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// timeline is what the client saw around the run: when it started and
// finished the upload, when the report was stored (from its event), and
// when it had the finished run in hand.
type timeline struct {
	UploadStart, UploadEnd time.Time
	// ReportStored is the time of the run's REPORT_STORED event; zero when
	// none came.
	ReportStored time.Time
	// Done is when the client had read the finished run.
	Done time.Time
}

// Row is one line of the step table: a pipeline step, or a trial's train
// and evaluate steps (and folds) together.
type Row struct {
	// Step names the row: "collect", "trial 3: random_forest", ...
	Step string `json:"step"`
	// Steps is how many of the run's steps the row covers (0 for the rows
	// the client measures: upload, report, between steps).
	Steps int `json:"steps"`
	// Seconds is the wall time: the steps' durations added up.
	Seconds float64 `json:"seconds"`
	// Share is Seconds ÷ the total, in [0, 1].
	Share float64 `json:"share"`
	// RowsPerSecond is the data rows ÷ Seconds for collect and prepare, 0
	// elsewhere.
	RowsPerSecond float64 `json:"rows_per_second,omitempty"`
	// Slowest marks the row with the most seconds.
	Slowest bool `json:"slowest,omitempty"`
	// Failed is true when one of the row's steps failed.
	Failed bool `json:"failed,omitempty"`
	// Cached is how many of the row's steps the step cache answered (a
	// configuration tried before), taking next to no time.
	Cached int `json:"cached,omitempty"`
}

// Budget is how the search kept to its time budget.
type Budget struct {
	// Seconds is the budget: the spec's, or the default for the data size.
	Seconds float64 `json:"seconds"`
	// SearchSeconds is from the first trial step's start to the last trial
	// step's end.
	SearchSeconds float64 `json:"search_seconds"`
	// OverrunSeconds is how long the last trial ran past the budget (0
	// when the search ended within it).
	OverrunSeconds float64 `json:"overrun_seconds"`
	// LastTrial is the trial that was running when the budget ran out, or
	// the last one.
	LastTrial string `json:"last_trial,omitempty"`
	// Trials is the number of trials.
	Trials int `json:"trials"`
}

// stepTable groups the run's steps into rows and adds the rows the client
// measures: the upload before the run, the report after its end, and the
// orchestrator's own time between steps (the rest of the total). The total
// is from the upload's start to the client's reading of the finished run;
// budget is the search's time budget. A step without an end (the run
// failed or was cut short) counts until Done.
func stepTable(run *orchestratorv1.Run, tl timeline, budget time.Duration) (rows []Row, total time.Duration, b Budget) {
	total = tl.Done.Sub(tl.UploadStart)
	algorithms := map[int32]string{}
	for _, t := range run.GetTrials() {
		algorithms[t.GetNumber()] = t.GetAlgorithm()
	}
	type group struct {
		row Row
		dur time.Duration
	}
	var groups []*group
	byKey := map[string]*group{}
	var searchStart, searchEnd time.Time
	lastTrialAt := map[string]time.Time{} // trial row → its first step's start
	for _, s := range run.GetSteps() {
		start, end := s.GetStartTime().AsTime(), s.GetEndTime().AsTime()
		if s.GetEndTime() == nil {
			end = tl.Done
		}
		key, trial := rowName(s.GetName(), algorithms)
		g := byKey[key]
		if g == nil {
			g = &group{row: Row{Step: key}}
			byKey[key] = g
			groups = append(groups, g)
			if trial {
				lastTrialAt[key] = start
			}
		}
		g.row.Steps++
		g.dur += end.Sub(start)
		if s.GetState() == orchestratorv1.StepState_STEP_STATE_FAILED {
			g.row.Failed = true
		}
		if s.GetCacheHit() {
			g.row.Cached++
		}
		if trial {
			if searchStart.IsZero() || start.Before(searchStart) {
				searchStart = start
			}
			if end.After(searchEnd) {
				searchEnd = end
			}
		}
	}

	rows = append(rows, Row{Step: "upload (client to orchestrator)", Seconds: tl.UploadEnd.Sub(tl.UploadStart).Seconds()})
	var accounted time.Duration
	accounted += tl.UploadEnd.Sub(tl.UploadStart)
	for _, g := range groups {
		g.row.Seconds = g.dur.Seconds()
		if (g.row.Step == "collect" || g.row.Step == "prepare") && g.dur > 0 && run.GetDatasetRows() > 0 {
			g.row.RowsPerSecond = float64(run.GetDatasetRows()) / g.dur.Seconds()
		}
		rows = append(rows, g.row)
		accounted += g.dur
	}
	if !tl.ReportStored.IsZero() && run.GetEndTime() != nil {
		d := tl.ReportStored.Sub(run.GetEndTime().AsTime())
		rows = append(rows, Row{Step: "report (after the run's end)", Seconds: d.Seconds()})
		accounted += d
	}
	rows = append(rows, Row{Step: "between steps (queue, orchestrator, client)", Seconds: max(0, total-accounted).Seconds()})
	slowest := -1
	for i := range rows {
		if total > 0 {
			rows[i].Share = rows[i].Seconds / total.Seconds()
		}
		if slowest < 0 || rows[i].Seconds > rows[slowest].Seconds {
			slowest = i
		}
	}
	if slowest >= 0 {
		rows[slowest].Slowest = true
	}

	b = Budget{Seconds: budget.Seconds(), Trials: len(run.GetTrials())}
	if !searchStart.IsZero() {
		b.SearchSeconds = searchEnd.Sub(searchStart).Seconds()
		deadline := searchStart.Add(budget)
		if searchEnd.After(deadline) && budget > 0 {
			b.OverrunSeconds = searchEnd.Sub(deadline).Seconds()
		}
		// The trial running at the deadline: the last one started before it.
		var at time.Time
		for _, g := range groups {
			if st, ok := lastTrialAt[g.row.Step]; ok && !st.After(deadline) && !st.Before(at) {
				at, b.LastTrial = st, g.row.Step
			}
		}
	}
	return rows, total, b
}

// rowName is the row a step belongs to: "trial N: algorithm" for a trial's
// train and evaluate steps and their folds ("train/3", "evaluate/3/fold2"),
// the step's own name otherwise.
func rowName(step string, algorithms map[int32]string) (string, bool) {
	parts := strings.Split(step, "/")
	if len(parts) < 2 || (parts[0] != "train" && parts[0] != "evaluate") {
		return step, false
	}
	n, err := strconv.ParseInt(parts[1], 10, 32)
	if err != nil {
		return step, false
	}
	name := "trial " + parts[1]
	if a := algorithms[int32(n)]; a != "" {
		name += ": " + a
	}
	return name, true
}

// writeTable prints the rows as a Markdown table, the slowest row in bold
// and marked.
func writeTable(w io.Writer, rows []Row, total time.Duration) {
	fmt.Fprintln(w, "| step | wall time | share | rows/s |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	for _, r := range rows {
		name, secs := r.Step, fmtSeconds(r.Seconds)
		switch {
		case r.Cached > 0:
			name += fmt.Sprintf(" (%d steps, %d cached)", r.Steps, r.Cached)
		case r.Steps > 1:
			name += fmt.Sprintf(" (%d steps)", r.Steps)
		}
		if r.Failed {
			name += " FAILED"
		}
		if r.Slowest {
			name, secs = "**"+name+"** ← slowest", "**"+secs+"**"
		}
		rps := ""
		if r.RowsPerSecond > 0 {
			rps = fmtRate(r.RowsPerSecond)
		}
		fmt.Fprintf(w, "| %s | %s | %.1f%% | %s |\n", name, secs, 100*r.Share, rps)
	}
	fmt.Fprintf(w, "| total | %s | 100%% | |\n", fmtSeconds(total.Seconds()))
}

// fmtSeconds prints seconds with three significant figures below a
// minute, and as minutes and seconds above.
func fmtSeconds(s float64) string {
	switch {
	case s >= 60:
		m := int(s / 60)
		return fmt.Sprintf("%dm%04.1fs", m, s-60*float64(m))
	case s >= 10:
		return fmt.Sprintf("%.1f s", s)
	case s >= 1:
		return fmt.Sprintf("%.2f s", s)
	default:
		return fmt.Sprintf("%.3f s", s)
	}
}

// fmtRate prints a rate as thousands or millions.
func fmtRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2f M", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.0f k", r/1e3)
	default:
		return fmt.Sprintf("%.0f", r)
	}
}

// fmtBytes prints a byte count in MiB.
func fmtBytes(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
