package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/alur-ml/alur/ml/display"
	"github.com/alur-ml/alur/ml/selection"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// table writes aligned, space-padded columns (cells separated by '\t')
// without the padding tabwriter leaves at the end of lines whose last
// cells are empty. Call Flush when done.
type table struct {
	*tabwriter.Writer
	out *lineTrimmer
}

// newTable returns a left-aligned table writing to w.
func newTable(w io.Writer) *table { return newTableFlags(w, 0) }

// newTableFlags returns a table with tabwriter flags (such as AlignRight).
func newTableFlags(w io.Writer, flags uint) *table {
	out := &lineTrimmer{w: w}
	return &table{Writer: tabwriter.NewWriter(out, 0, 0, 2, ' ', flags), out: out}
}

// Flush writes the buffered rows.
func (t *table) Flush() error {
	if err := t.Writer.Flush(); err != nil {
		return err
	}
	return t.out.flush()
}

// lineTrimmer passes text on line by line, without trailing spaces.
type lineTrimmer struct {
	w   io.Writer
	buf []byte
	err error
}

func (l *lineTrimmer) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for l.err == nil {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		line := append(bytes.TrimRight(l.buf[:i], " "), '\n')
		_, l.err = l.w.Write(line)
		l.buf = l.buf[i+1:]
	}
	return len(p), l.err
}

// flush writes an unterminated last line, if any.
func (l *lineTrimmer) flush() error {
	if l.err == nil && len(l.buf) > 0 {
		_, l.err = l.w.Write(bytes.TrimRight(l.buf, " "))
		l.buf = nil
	}
	return l.err
}

// printJSON writes m as multiline protojson (two-space indent) and a
// newline, the form scripts read.
func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// fmtScore formats a metric value with four decimals; NaN (no value) is "-".
func fmtScore(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// fmtDuration formats a duration for people: "4ms", "350ms", "1.2s",
// "3m05s", "2h10m".
func fmtDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < time.Millisecond:
		if d == 0 {
			return "0s"
		}
		return "<1ms"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// fmtSeconds formats a duration given in seconds, as trials report them.
func fmtSeconds(s float64) string {
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return "-"
	}
	return fmtDuration(time.Duration(s * float64(time.Second)))
}

// fmtSize formats a byte count with binary units: "512 B", "3.4 KiB",
// "3.4 MiB".
func fmtSize(n int64) string { return display.Bytes(n) }

// fmtTime formats a timestamp in local time; unset is "-".
func fmtTime(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().Local().Format("2006-01-02 15:04:05")
}

// between is the duration from start to end; an unset end means "until
// now" (a run or step still going). Unset start gives -1.
func between(start, end *timestamppb.Timestamp, now time.Time) time.Duration {
	if start == nil {
		return -1
	}
	e := now
	if end != nil {
		e = end.AsTime()
	}
	return e.Sub(start.AsTime())
}

// runStateWord names a run state in lower case without the enum prefix.
func runStateWord(s orchestratorv1.RunState) string {
	return enumWord(s.String(), "RUN_STATE_")
}

// stepStateWord names a step state in lower case without the enum prefix.
func stepStateWord(s orchestratorv1.StepState) string {
	return enumWord(s.String(), "STEP_STATE_")
}

// taskWord names a task in lower case; unspecified is "auto" (inferred).
func taskWord(t datav1.Task) string {
	if t == datav1.Task_TASK_UNSPECIFIED {
		return "auto"
	}
	return enumWord(t.String(), "TASK_")
}

func enumWord(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

// runEnded reports whether a run state is final.
func runEnded(s orchestratorv1.RunState) bool {
	switch s {
	case orchestratorv1.RunState_RUN_STATE_SUCCEEDED, orchestratorv1.RunState_RUN_STATE_FAILED, orchestratorv1.RunState_RUN_STATE_CANCELLED:
		return true
	}
	return false
}

// metricValue reads the named metric out of m. The names are those of
// Objective.metric plus the other fields of the metric messages.
func metricValue(m *datav1.Metrics, name string) (float64, bool) {
	if c := m.GetClassification(); c != nil {
		switch name {
		case "accuracy":
			return c.GetAccuracy(), true
		case "f1_macro":
			return c.GetF1Macro(), true
		case "f1_weighted":
			return c.GetF1Weighted(), true
		case "precision_macro":
			return c.GetPrecisionMacro(), true
		case "recall_macro":
			return c.GetRecallMacro(), true
		case "precision_weighted":
			return c.GetPrecisionWeighted(), true
		case "recall_weighted":
			return c.GetRecallWeighted(), true
		case "log_loss":
			return c.GetLogLoss(), true
		case "roc_auc":
			return c.GetRocAuc(), true
		}
	}
	if r := m.GetRegression(); r != nil {
		switch name {
		case "rmse":
			return r.GetRmse(), true
		case "mae":
			return r.GetMae(), true
		case "r2":
			return r.GetR2(), true
		}
	}
	return math.NaN(), false
}

// runMetric is the objective metric of a run: the server's (after
// defaults), else the spec's, else "score".
func runMetric(run *orchestratorv1.Run) string {
	if m := knownMetric(run); m != "" {
		return m
	}
	return "score"
}

// knownMetric is the run's objective metric if it is known yet: a pending
// run whose spec leaves it to the task's default has none.
func knownMetric(run *orchestratorv1.Run) string {
	if m := run.GetMetric(); m != "" {
		return m
	}
	return run.GetSpec().GetObjective().GetMetric()
}

// objectiveTarget returns the spec's target score, if it sets one.
func objectiveTarget(spec *orchestratorv1.PipelineSpec) (float64, bool) {
	if o := spec.GetObjective(); o != nil && o.Target != nil {
		return *o.Target, true
	}
	return 0, false
}

// bestTrial returns the run's winning trial, or nil.
func bestTrial(run *orchestratorv1.Run) *orchestratorv1.Trial {
	if run.GetBestTrial() == 0 {
		return nil
	}
	for _, t := range run.GetTrials() {
		if t.GetNumber() == run.GetBestTrial() {
			return t
		}
	}
	return nil
}

// maxParamsWidth bounds the params column of the leaderboard.
const maxParamsWidth = 60

// truncate shortens s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// keyParams chooses, per algorithm, the hyperparameters worth a
// leaderboard column: those the spec sets (fixed or in a grid) and those
// whose value differs between the algorithm's trials. When there are none
// (every trial ran with defaults) it returns nil, meaning all of them.
func keyParams(run *orchestratorv1.Run) map[string][]string {
	chosen := map[string]map[string]bool{}
	add := func(alg, k string) {
		if chosen[alg] == nil {
			chosen[alg] = map[string]bool{}
		}
		chosen[alg][k] = true
	}
	for _, c := range run.GetSpec().GetCandidates() {
		for k := range c.GetParams() {
			add(c.GetAlgorithm(), k)
		}
		for k := range c.GetGrid() {
			add(c.GetAlgorithm(), k)
		}
	}
	first := map[string]map[string]float64{}
	for _, t := range run.GetTrials() {
		alg := t.GetAlgorithm()
		if first[alg] == nil {
			first[alg] = t.GetParams()
			continue
		}
		for k, v := range t.GetParams() {
			if w, ok := first[alg][k]; !ok || w != v {
				add(alg, k)
			}
		}
	}
	out := map[string][]string{}
	for alg, set := range chosen {
		for k := range set {
			out[alg] = append(out[alg], k)
		}
	}
	return out
}

// writeLeaderboard renders the run's trials in the order the run chose
// among them (display.Ranked: validation score, equal scores by the lower
// tie-break metric, then the earlier trial; failed trials last), marking
// the winner with "*" and showing the tie-break value beside the score.
func writeLeaderboard(w io.Writer, run *orchestratorv1.Run) {
	trials := display.Ranked(run)
	if len(trials) == 0 {
		fmt.Fprintln(w, "No trials.")
		return
	}
	metric := runMetric(run)
	tieName := tieBreakName(trials)
	keys := keyParams(run)
	tw := newTable(w)
	fmt.Fprintf(tw, "\tRANK\tTRIAL\tALGORITHM\tPARAMS\tVALIDATION %s\t%s (TIE-BREAK)\tFIT\n", strings.ToUpper(metric), strings.ToUpper(tieName))
	rank := 0
	for _, t := range trials {
		mark := ""
		if t.GetNumber() == run.GetBestTrial() {
			mark = "*"
		}
		params := display.Params(display.TrialParams(t), keys[t.GetAlgorithm()])
		if params == "" {
			params = "-"
		}
		rankWord, score, tie := "-", fmtScore(t.GetScore()), "-"
		if display.Scored(t) {
			rank++
			rankWord = strconv.Itoa(rank)
			_, v := display.TieBreak(t.GetValidationMetrics())
			tie = fmtScore(v)
		}
		switch {
		case t.GetStoppedByTimeBudget():
			score = truncate(t.GetError(), maxParamsWidth)
		case t.GetError() != "":
			score = "failed: " + truncate(t.GetError(), maxParamsWidth)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", mark, rankWord, t.GetNumber(), t.GetAlgorithm(),
			truncate(params, maxParamsWidth), score, tie, fmtSeconds(t.GetFitSeconds()))
	}
	tw.Flush()
	if run.GetBestTrial() != 0 {
		note := ""
		if target, ok := objectiveTarget(run.GetSpec()); ok {
			if run.GetObjectiveMet() {
				note = fmt.Sprintf(" (target %s met)", fmtScore(target))
			} else {
				note = fmt.Sprintf(" (target %s not met)", fmtScore(target))
			}
		}
		hard := ""
		if tieName == "log_loss" {
			hard = " (a model with only certain predictions last)"
		}
		fmt.Fprintf(w, "* best: trial %d%s; equal %s scores are ranked by the lower validation %s%s, then the simpler algorithm, as the run chose.\n",
			run.GetBestTrial(), note, metric, tieName, hard)
	}
	if why := display.StopReason(run); why != "" {
		fmt.Fprintln(w, why)
	}
}

// tieBreakName names the tie-break metric of the trials (log_loss or
// rmse), from the first trial with validation metrics.
func tieBreakName(trials []*orchestratorv1.Trial) string {
	for _, t := range trials {
		if name, _ := display.TieBreak(t.GetValidationMetrics()); name != "" {
			return name
		}
	}
	return "log_loss"
}

// writeTestMetrics renders the winner's scores on the test rows: the main
// classification scores and the confusion matrix with class labels, or the
// regression errors.
func writeTestMetrics(w io.Writer, run *orchestratorv1.Run) {
	m := run.GetTestMetrics()
	if m == nil {
		fmt.Fprintln(w, "No test metrics yet.")
		return
	}
	what := "best model"
	if t := bestTrial(run); t != nil {
		how := "refitted on train+validation"
		if selection.Bagged(len(run.GetSpec().GetCandidates()) > 0, len(t.GetFoldScores()), t.GetAlgorithm()) {
			how = "the average of its fold models"
		}
		what = fmt.Sprintf("trial %d, %s, %s", t.GetNumber(), t.GetAlgorithm(), how)
	}
	fmt.Fprintf(w, "Test metrics (%s; %s):\n", what, display.Plural(m.GetNumSamples(), "row"))
	tw := newTable(w)
	if c := m.GetClassification(); c != nil {
		for _, name := range []string{"accuracy", "f1_macro", "log_loss", "roc_auc"} {
			v, _ := metricValue(m, name)
			fmt.Fprintf(tw, "  %s\t%s\n", name, fmtScore(v))
		}
		tw.Flush()
		writeConfusion(w, c.GetConfusionMatrix())
		return
	}
	if m.GetRegression() != nil {
		for _, name := range []string{"rmse", "mae", "r2"} {
			v, _ := metricValue(m, name)
			fmt.Fprintf(tw, "  %s\t%s\n", name, fmtScore(v))
		}
	}
	tw.Flush()
}

// writeConfusion renders a confusion matrix with true classes as rows and
// predicted classes as columns, numbers right-aligned.
func writeConfusion(w io.Writer, cm *datav1.ConfusionMatrix) {
	labels := cm.GetLabels()
	n := len(labels)
	if n == 0 || len(cm.GetCounts()) != n*n {
		return
	}
	fmt.Fprintln(w, "\nConfusion matrix (rows: true class, columns: predicted):")
	tw := newTableFlags(w, tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, l := range labels {
		fmt.Fprintf(tw, "%s\t", l)
	}
	fmt.Fprintln(tw)
	for i, l := range labels {
		fmt.Fprintf(tw, "%s\t", l)
		for j := range n {
			fmt.Fprintf(tw, "%d\t", cm.GetCounts()[i*n+j])
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// writeRunReport renders what a finished run produced: the leaderboard and
// the test metrics. A run that failed before training shows neither.
func writeRunReport(w io.Writer, run *orchestratorv1.Run) {
	if len(run.GetTrials()) == 0 && run.GetTestMetrics() == nil {
		return
	}
	fmt.Fprintln(w, "\nLeaderboard:")
	writeLeaderboard(w, run)
	if run.GetTestMetrics() != nil {
		fmt.Fprintln(w)
		writeTestMetrics(w, run)
	}
	writeLearningCurve(w, run)
}

// writeLearningCurve renders the winner's learning curve and its verdict:
// would more data help?
func writeLearningCurve(w io.Writer, run *orchestratorv1.Run) {
	pts := run.GetLearningCurve()
	if len(pts) == 0 {
		return
	}
	metric := runMetric(run)
	fmt.Fprintln(w, "\nLearning curve (best configuration trained on growing shares of the training rows):")
	tw := newTable(w)
	fmt.Fprintf(tw, "ROWS\tSHARE\tTRAIN %s\tVALIDATION %s\n", strings.ToUpper(metric), strings.ToUpper(metric))
	for _, p := range pts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", display.Count(p.GetTrainRows()), display.Percent(p.GetTrainFraction()), fmtScore(p.GetTrainScore()), fmtScore(p.GetValidationScore()))
	}
	tw.Flush()
	if v := run.GetLearningCurveVerdict(); v != "" {
		fmt.Fprintln(w, v)
	}
}

// writeRunList renders runs as a table, newest first as the server lists
// them.
func writeRunList(w io.Writer, runs []*orchestratorv1.Run, now time.Time) {
	if len(runs) == 0 {
		fmt.Fprintln(w, "No runs yet. Start one with `alur run` or `alur demo`.")
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tSTATE\tNAME\tMETRIC\tBEST\tTEST\tCREATED\tDURATION")
	for _, r := range runs {
		metric := runMetric(r)
		best := "-"
		if t := bestTrial(r); t != nil {
			best = fmtScore(t.GetScore())
		}
		test := "-"
		if v, ok := metricValue(r.GetTestMetrics(), metric); ok {
			test = fmtScore(v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.GetId(), runStateWord(r.GetState()),
			truncate(runName(r.GetSpec()), 32), metric, best, test, fmtTime(r.GetCreateTime()),
			fmtDuration(between(r.GetCreateTime(), r.GetEndTime(), now)))
	}
	tw.Flush()
}

// writeRunDetails renders one run fully: the spec in brief, the steps, the
// leaderboard, the test metrics and the artifacts.
func writeRunDetails(w io.Writer, run *orchestratorv1.Run, artifacts []*orchestratorv1.Artifact, verbose bool, now time.Time) {
	spec := run.GetSpec()
	tw := newTable(w)
	state := runStateWord(run.GetState())
	if run.GetObjectiveMet() {
		state += " (objective met)"
	}
	fmt.Fprintf(tw, "Run\t%s\n", run.GetId())
	fmt.Fprintf(tw, "Name\t%s\n", runName(spec))
	fmt.Fprintf(tw, "State\t%s\n", state)
	if run.GetError() != "" {
		fmt.Fprintf(tw, "Error\t%s\n", run.GetError())
	}
	fmt.Fprintf(tw, "Source\t%s\n", sourceSummary(spec.GetSource()))
	if rt := run.GetRetrain(); rt != nil {
		line := fmt.Sprintf("%s (dataset %s version %d → %d", rt.GetRunId(), rt.GetDataset(), rt.GetFromVersion(), rt.GetToVersion())
		if rt.PreviousTestScore != nil {
			line += fmt.Sprintf(", its test %s %s", rt.GetPreviousMetric(), fmtScore(rt.GetPreviousTestScore()))
		}
		fmt.Fprintf(tw, "Retrains\t%s)\n", line)
	}
	task := run.GetTask()
	if task == datav1.Task_TASK_UNSPECIFIED {
		task = spec.GetTask()
	}
	fmt.Fprintf(tw, "Label\t%s (%s)\n", spec.GetLabel(), taskWord(task))
	if r := run.GetTaskReason(); r != "" {
		fmt.Fprintf(tw, "Task\t%s\n", r)
	}
	if v := run.GetValidationPlan(); v != "" {
		fmt.Fprintf(tw, "Validation\t%s\n", v)
	}
	objective := runMetric(run)
	if target, ok := objectiveTarget(spec); ok {
		objective += " reaching " + fmtScore(target)
	}
	fmt.Fprintf(tw, "Objective\t%s\n", objective)
	maxTrials := spec.GetMaxTrials()
	budget := strconv.Itoa(int(maxTrials))
	if maxTrials == 0 {
		budget = "20 (default)"
	}
	fmt.Fprintf(tw, "Trials\t%d run, budget %s\n", len(run.GetTrials()), budget)
	fmt.Fprintf(tw, "Candidates\t%s\n", candidatesSummary(spec.GetCandidates()))
	fmt.Fprintf(tw, "Seed\t%d\n", spec.GetSeed())
	if run.GetDatasetRows() > 0 {
		fmt.Fprintf(tw, "Rows\t%s\n", display.Count(run.GetDatasetRows()))
	}
	fmt.Fprintf(tw, "Created\t%s\n", fmtTime(run.GetCreateTime()))
	fmt.Fprintf(tw, "Duration\t%s\n", fmtDuration(between(run.GetCreateTime(), run.GetEndTime(), now)))
	tw.Flush()

	writeSteps(w, run.GetSteps(), verbose, now)

	writeRunReport(w, run)

	fmt.Fprintln(w, "\nArtifacts:")
	if len(artifacts) == 0 {
		fmt.Fprintln(w, "None.")
		return
	}
	tw = newTable(w)
	fmt.Fprintln(tw, "DIGEST\tKIND\tSIZE\tSTEP\tNAME")
	for _, a := range artifacts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.GetDigest(), a.GetKind(), fmtSize(a.GetSize()), a.GetStep(), a.GetName())
	}
	tw.Flush()
}

// candidatesSummary lists the algorithms a spec asks for, with the number
// of grid combinations each brings.
func candidatesSummary(cs []*orchestratorv1.Candidate) string {
	if len(cs) == 0 {
		return "all algorithms for the task"
	}
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		combos := 1
		for _, g := range c.GetGrid() {
			// Saturate: the budget caps trials at 1000 anyway.
			combos = min(combos*max(1, len(g.GetValues())), 1_000_000)
		}
		if combos > 1 {
			parts = append(parts, fmt.Sprintf("%s (%d grid points)", c.GetAlgorithm(), combos))
		} else {
			parts = append(parts, c.GetAlgorithm())
		}
	}
	return strings.Join(parts, ", ")
}

// writeSteps renders a run's Steps table. Cross-validation runs a train and
// an eval step per fold ("train/2/fold3"); unless verbose, each trial's
// folds share one row ("train/2 ×5 folds") whose duration is the folds'
// total, so the table stays one screen and the slowest step stands out.
func writeSteps(w io.Writer, steps []*orchestratorv1.Step, verbose bool, now time.Time) {
	fmt.Fprintln(w, "\nSteps:")
	if len(steps) == 0 {
		fmt.Fprintln(w, "No steps yet.")
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "STEP\tSTATE\tDURATION\tCACHE\tERROR")
	for _, g := range groupSteps(steps, verbose) {
		name := g.name
		if g.folds > 0 {
			name = fmt.Sprintf("%s ×%d folds", g.name, g.folds)
		}
		cache := ""
		switch {
		case g.hits == g.count:
			cache = "hit"
		case g.hits > 0:
			cache = fmt.Sprintf("%d/%d hit", g.hits, g.count)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, stepStateWord(g.state), fmtDuration(g.duration(now)), cache, g.err)
	}
	tw.Flush()
}

// stepGroup is one row of the Steps table: a step, or the folds of one.
type stepGroup struct {
	name        string
	folds       int // 0 for a step that is not a fold
	count, hits int
	state       orchestratorv1.StepState
	err         string
	steps       []*orchestratorv1.Step
}

// duration is the time the group's steps took, added up.
func (g *stepGroup) duration(now time.Time) time.Duration {
	var d time.Duration
	for _, s := range g.steps {
		d += between(s.GetStartTime(), s.GetEndTime(), now)
	}
	return d
}

// groupSteps returns the table's rows in the steps' order: every step on its
// own when verbose, else the folds of a step gathered into the row of its
// first fold.
func groupSteps(steps []*orchestratorv1.Step, verbose bool) []*stepGroup {
	var rows []*stepGroup
	byName := map[string]*stepGroup{}
	for _, s := range steps {
		name, fold := s.GetName(), false
		if i := strings.LastIndexByte(name, '/'); i > 0 && !verbose && isFoldName(name[i+1:]) {
			name, fold = name[:i], true
		}
		g := byName[name]
		if g == nil || !fold {
			g = &stepGroup{name: name, state: s.GetState()}
			rows = append(rows, g)
			if fold {
				byName[name] = g
			}
		}
		if fold {
			g.folds++
		}
		g.count++
		if s.GetCacheHit() {
			g.hits++
		}
		g.steps = append(g.steps, s)
		g.state = worseStepState(g.state, s.GetState())
		if g.err == "" {
			g.err = s.GetError()
		}
	}
	return rows
}

// isFoldName reports whether a step name's last part names a fold: "fold"
// and a number.
func isFoldName(part string) bool {
	n, ok := strings.CutPrefix(part, "fold")
	if !ok || n == "" {
		return false
	}
	_, err := strconv.Atoi(n)
	return err == nil
}

// worseStepState is the state a group of steps shows: failed before
// running before succeeded, so one failed fold is seen.
func worseStepState(a, b orchestratorv1.StepState) orchestratorv1.StepState {
	rank := func(s orchestratorv1.StepState) int {
		switch s {
		case orchestratorv1.StepState_STEP_STATE_FAILED:
			return 3
		case orchestratorv1.StepState_STEP_STATE_RUNNING:
			return 2
		case orchestratorv1.StepState_STEP_STATE_SUCCEEDED:
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}
