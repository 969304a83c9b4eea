package dashboard

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alur-ml/alur/ml/display"
	"github.com/alur-ml/alur/ml/metrics"
	"github.com/alur-ml/alur/ml/selection"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// runSummary is the one-line description of a run shown in lists and
// headers, every value formatted for people.
type runSummary struct {
	ID, Name string
	State    string // word, also the CSS class of its badge
	Error    string
	// ErrorHead is the first line of Error, cut short, for the runs list;
	// ErrorMore says the rest is folded under it.
	ErrorHead string
	ErrorMore bool
	Dataset   string
	// Version is the dataset version ("v2") for a dataset source, else
	// the content digest, abbreviated.
	Version        string
	Rows           string
	Task           string
	Label          string
	Objective      string
	ObjectiveMet   bool
	HasTarget      bool
	BestAlgorithm  string
	BestScore      string
	TestScore      string
	Trials         string
	Duration       string
	Started, Ended string
	// StartedShort is Started to the minute, for the runs list.
	StartedShort string
	Active       bool
}

// summarize formats a run for lists and headers. dataset names the data
// when the spec alone cannot (an upload's file name); "" uses the spec.
func summarize(run *orchestratorv1.Run, now time.Time, dataset string) runSummary {
	s := runSummary{
		ID:      run.GetId(),
		Name:    run.GetSpec().GetName(),
		State:   display.RunState(run.GetState()),
		Error:   run.GetError(),
		Dataset: sourceWord(run.GetSpec().GetSource()),
		Version: datasetVersion(run),
		Task:    taskWord(run.GetTask()),
		Label:   run.GetSpec().GetLabel(),
		Started: fmtTime(run.GetCreateTime()),
		StartedShort: func() string {
			if run.GetCreateTime() == nil {
				return "—"
			}
			return run.GetCreateTime().AsTime().UTC().Format("2006-01-02 15:04")
		}(),
		Ended:    fmtTime(run.GetEndTime()),
		Active:   !terminal(run.GetState()),
		Duration: fmtDuration(runDuration(run, now)),
	}
	if dataset != "" {
		s.Dataset = dataset
	}
	s.ErrorHead, s.ErrorMore = errorHead(s.Error)
	if s.Version == "" {
		s.Version = "—"
	}
	s.Rows = "—"
	if run.GetDatasetRows() > 0 {
		s.Rows = fmtCount(run.GetDatasetRows())
	}
	metric := run.GetMetric()
	if metric == "" {
		metric = run.GetSpec().GetObjective().GetMetric()
	}
	s.Objective = metricTitle(metric)
	if t := run.GetSpec().GetObjective(); t != nil && t.Target != nil {
		s.HasTarget = true
		op := "≥"
		if lowerIsBetter(metric) {
			op = "≤"
		}
		s.Objective += fmt.Sprintf(" %s %s", op, fmtScore(t.GetTarget()))
		s.ObjectiveMet = run.GetObjectiveMet()
	}
	s.BestScore, s.TestScore, s.BestAlgorithm = "—", "—", "—"
	if b := bestTrial(run); b != nil {
		s.BestScore = fmtScore(b.GetScore())
		s.BestAlgorithm = b.GetAlgorithm()
	}
	if run.GetTestMetrics() != nil && metric != "" {
		if v, _, err := metrics.Score(run.GetTestMetrics(), metric); err == nil {
			s.TestScore = fmtScore(v)
		}
	}
	ok, failed := 0, 0
	for _, t := range run.GetTrials() {
		if t.GetError() != "" {
			failed++
		} else {
			ok++
		}
	}
	s.Trials = fmt.Sprint(ok)
	if failed > 0 {
		s.Trials += fmt.Sprintf(" (+%d failed)", failed)
	}
	return s
}

// datasetVersion names the version of the data a run read: "v2" for a
// dataset source, else the content digest, abbreviated.
func datasetVersion(run *orchestratorv1.Run) string {
	if ref := run.GetSpec().GetSource().GetDataset(); ref != nil && ref.GetVersion() > 0 {
		return fmt.Sprintf("v%d", ref.GetVersion())
	}
	return shortDigest(run.GetDatasetDigest())
}

// maxErrorHead bounds the one-line reason a failed run shows in the runs
// list; the whole error folds away under it.
const maxErrorHead = 100

// errorHead is the one-line reason of an error for the runs list: its
// first line, cut at maxErrorHead runes; more reports whether anything was
// left out.
func errorHead(msg string) (head string, more bool) {
	head, _, more = strings.Cut(strings.TrimSpace(msg), "\n")
	if cut := truncate(head, maxErrorHead); cut != head {
		head, more = cut, true
	}
	return head, more
}

// curveShares names the smallest and largest shares of the training rows
// the learning curve trained on, "" without points.
func curveShares(pts []*orchestratorv1.LearningCurvePoint) string {
	if len(pts) == 0 {
		return ""
	}
	lo, hi := pts[0].GetTrainFraction(), pts[0].GetTrainFraction()
	for _, p := range pts {
		lo, hi = min(lo, p.GetTrainFraction()), max(hi, p.GetTrainFraction())
	}
	return display.Percent(lo) + " to " + display.Percent(hi)
}

// chosenText says which model the run chose, with its hyperparameters,
// and why: the best validation score of the scored candidates.
func chosenText(run *orchestratorv1.Run) string {
	b := bestTrial(run)
	if b == nil {
		return ""
	}
	scored := 0
	for _, t := range run.GetTrials() {
		if display.Scored(t) {
			scored++
		}
	}
	text := fmt.Sprintf("%s (trial %d", b.GetAlgorithm(), b.GetNumber())
	if p := display.Params(display.TrialParams(b), nil); p != "" {
		text += ": " + p
	}
	text += fmt.Sprintf("), ranked first of %s on validation %s (%s)",
		display.Plural(int64(scored), "scored candidate"), metricTitle(run.GetMetric()), fmtScore(b.GetScore()))
	if run.GetTestMetrics() != nil {
		if selection.Bagged(len(run.GetSpec().GetCandidates()) > 0, len(b.GetFoldScores()), b.GetAlgorithm()) {
			text += ", then handed over as the average of its fold models (k-fold bagging) and scored once on the test rows"
		} else {
			text += ", then refitted on the train and validation rows and scored once on the test rows"
		}
	}
	return text + "."
}

// stepRow is one step in the step table.
type stepRow struct {
	Name, State, Start, Duration, Error string
	Cached                              bool
}

// trialRow is one candidate in the leaderboard table.
type trialRow struct {
	Rank      string
	Number    int32
	Algorithm string
	Params    string
	Score     string
	TieBreak  string
	Others    string
	FitTime   string
	Error     string
	// Stopped: the time budget stopped the trial while it trained (Error
	// says so); not a failure.
	Stopped bool
	Best    bool
}

// metricRow is one named score.
type metricRow struct{ Name, Value, Help string }

// classRow is one class's test scores.
type classRow struct{ Class, Precision, Recall, F1, Support string }

// findingRow is one data-profile finding. Fix is the preparation that
// applies the suggestion, written as the spec's prepare.cleaning lines.
type findingRow struct{ Severity, Column, Message, Suggestion, Fix string }

// columnRow describes what preparation did with one column.
type columnRow struct{ Name, Type, Action, Detail string }

// artifactRow is one stored artifact of the run.
type artifactRow struct{ Digest, Kind, Name, Size, Step string }

// runView is everything the run page and the report show.
type runView struct {
	runSummary
	Timeline   chart
	Steps      []stepRow
	FailedStep []stepRow

	ProfileMissing string
	ProfileStats   []metricRow
	FindingCounts  string       // "2 errors, 5 warnings and 3 notes."
	FindingNote    string       // what the errors and fixes mean, when there are any
	Findings       []findingRow // the most severe first
	MoreFindings   []findingRow // beyond maxFindings, folded away
	Histograms     []chart
	MoreColumns    int
	MissingValues  *chart
	NoMissing      bool
	Correlation    chart
	ClassBalance   *chart

	Columns        []columnRow
	Features       string
	PrepareMissing string

	Leaderboard chart
	TrialRows   []trialRow
	MetricName  string
	// TieBreakName names the metric that orders equal scores, as the run
	// chose: "Log loss" or "RMSE".
	TieBreakName string

	IsClassification, IsRegression bool
	TestMissing                    string
	TestMetrics                    []metricRow
	PerClass                       []classRow
	Confusion, ROC, PR             chart
	PredVsActual, Residuals        chart

	Importance    chart
	LearningCurve chart
	Verdict       string
	// CurveShares says which shares of the training rows the learning
	// curve trained on, as the points show them: "11.1% to 100%".
	CurveShares string
	// Chosen says which model the run chose and why, in a sentence.
	Chosen string
	// StopReason says why the search stopped (display.StopReason).
	StopReason string

	Artifacts    []artifactRow
	ArtifactsErr string
}

// maxFindings is how many profile findings show before the rest fold away.
const maxFindings = 6

// buildRunView lays out a run's data for the run page and the report.
func buildRunView(d *runData, now time.Time) *runView {
	run := d.Run
	v := &runView{runSummary: summarize(run, now, uploadName(run, d.Artifacts))}
	v.Timeline = timelineChart(run, now)
	v.Steps, v.FailedStep = stepRows(run, now)

	// Data.
	if d.ProfileErr != nil {
		v.ProfileMissing = errText(d.ProfileErr)
	} else {
		v.addProfile(d.Profile, run.GetTask())
	}
	v.Correlation = correlationChart(d.Corr, d.CorrErr)

	// Preparation.
	if d.TransErr != nil {
		v.PrepareMissing = errText(d.TransErr)
	} else {
		v.Columns = columnRows(d.Transform)
		v.Features = fmtCount(int64(len(d.Transform.GetFeatureNames())))
	}

	// Candidates.
	v.MetricName = metricTitle(run.GetMetric())
	v.TieBreakName = metricTitle("log_loss")
	if run.GetTask() == datav1.Task_TASK_REGRESSION {
		v.TieBreakName = metricTitle("rmse")
	}
	v.Leaderboard = leaderboardChart(run)
	v.TrialRows = trialRows(run)

	// Test.
	v.IsClassification = run.GetTask() == datav1.Task_TASK_CLASSIFICATION
	v.IsRegression = run.GetTask() == datav1.Task_TASK_REGRESSION
	if tm := run.GetTestMetrics(); tm == nil {
		v.TestMissing = "The final model has not been tested yet."
		if terminal(run.GetState()) {
			v.TestMissing = "This run ended before its final model was tested."
		}
	} else {
		v.TestMetrics, v.PerClass = testRows(tm)
	}
	if v.IsClassification {
		v.Confusion = confusionChart(run)
		v.ROC = curveChart(d.Eval, d.EvalErr, true)
		v.PR = curveChart(d.Eval, d.EvalErr, false)
	}
	if v.IsRegression {
		v.PredVsActual = predictedVsActualChart(d.Eval, d.EvalErr)
		v.Residuals = residualChart(d.Eval, d.EvalErr)
	}
	v.Importance = importanceChart(d.Model, d.ModelErr, d.Eval, d.EvalErr)
	v.LearningCurve = learningCurveChart(run)
	v.Verdict = run.GetLearningCurveVerdict()
	v.CurveShares = curveShares(run.GetLearningCurve())
	v.Chosen = chosenText(run)
	v.StopReason = display.StopReason(run)

	// Artifacts.
	if d.ArtErr != nil {
		v.ArtifactsErr = errText(d.ArtErr)
	}
	v.Artifacts = artifactRows(d.Artifacts)
	return v
}

// addProfile fills the data section from the dataset's profile: counts,
// findings, histograms, missing values and the class balance.
func (v *runView) addProfile(p *datav1.DataProfile, task datav1.Task) {
	v.ProfileStats = []metricRow{
		{Name: "Rows", Value: fmtCount(p.GetRowCount())},
		{Name: "Columns", Value: fmtCount(int64(len(p.GetColumns())))},
		{Name: "Duplicate rows", Value: fmtCount(p.GetDuplicateRows())},
	}
	findings := slices.Clone(p.GetFindings())
	slices.SortStableFunc(findings, func(a, b *datav1.Finding) int { return cmp.Compare(b.GetSeverity(), a.GetSeverity()) })
	v.FindingCounts = findingCounts(findings) + "."
	hasFix := false
	for _, f := range findings {
		hasFix = hasFix || fixText(f.GetFix()) != ""
	}
	if len(findings) > 0 && findings[0].GetSeverity() == datav1.Severity_SEVERITY_ERROR {
		v.FindingNote = "Errors make the scores untrustworthy until they are fixed."
	}
	if hasFix {
		v.FindingNote = strings.TrimSpace(v.FindingNote + " Where a preparation option fixes a finding, the spec lines that apply it follow.")
	}
	for i, f := range findings {
		row := findingRow{Severity: severityWord(f.GetSeverity()), Column: findingColumns(f), Message: f.GetMessage(), Suggestion: f.GetSuggestion(), Fix: fixText(f.GetFix())}
		if i < maxFindings {
			v.Findings = append(v.Findings, row)
		} else {
			v.MoreFindings = append(v.MoreFindings, row)
		}
	}
	v.Histograms = histogramCharts(p)
	v.MoreColumns = max(0, len(p.GetColumns())-len(v.Histograms))
	if c, ok := missingValuesChart(p); ok {
		v.MissingValues = &c
	} else {
		v.NoMissing = true
	}
	if task == datav1.Task_TASK_CLASSIFICATION {
		c := classBalanceChart(p)
		v.ClassBalance = &c
	}
}

// artifactRows lists the run's artifacts, oldest first.
func artifactRows(arts map[string]*orchestratorv1.Artifact) []artifactRow {
	var rows []artifactRow
	digests := make([]string, 0, len(arts))
	for dg := range arts {
		digests = append(digests, dg)
	}
	sort.Slice(digests, func(i, j int) bool {
		a, b := arts[digests[i]], arts[digests[j]]
		if !a.GetCreateTime().AsTime().Equal(b.GetCreateTime().AsTime()) {
			return a.GetCreateTime().AsTime().Before(b.GetCreateTime().AsTime())
		}
		return digests[i] < digests[j]
	})
	for _, dg := range digests {
		a := arts[dg]
		rows = append(rows, artifactRow{
			Digest: shortDigest(dg), Kind: a.GetKind(), Name: a.GetName(), Size: fmtBytes(a.GetSize()), Step: a.GetStep(),
		})
	}
	return rows
}

// uploadName names an uploaded dataset by its file name, as the collect
// step recorded it on the dataset artifact; "" for other sources or when
// the artifact is not listed.
func uploadName(run *orchestratorv1.Run, arts map[string]*orchestratorv1.Artifact) string {
	if run.GetSpec().GetSource().GetUpload() == "" {
		return ""
	}
	if a := arts[run.GetDatasetDigest()]; a != nil && a.GetName() != "" {
		return a.GetName() + " (uploaded)"
	}
	return ""
}

func stepRows(run *orchestratorv1.Run, now time.Time) (all, failed []stepRow) {
	t0 := run.GetCreateTime().AsTime()
	for _, st := range run.GetSteps() {
		r := stepRow{Name: st.GetName(), State: stepStateWord(st), Cached: st.GetCacheHit(), Error: st.GetError()}
		if st.GetStartTime() != nil {
			r.Start = "+" + fmtDuration(st.GetStartTime().AsTime().Sub(t0))
			end := now
			if st.GetEndTime() != nil {
				end = st.GetEndTime().AsTime()
			}
			r.Duration = fmtDuration(end.Sub(st.GetStartTime().AsTime()))
		}
		all = append(all, r)
		if st.GetState() == orchestratorv1.StepState_STEP_STATE_FAILED {
			failed = append(failed, r)
		}
	}
	return all, failed
}

// findingCounts sums the findings up by severity for the heading, such
// as "2 errors, 5 warnings and 3 notes".
func findingCounts(fs []*datav1.Finding) string {
	var n [3]int
	for _, f := range fs {
		switch f.GetSeverity() {
		case datav1.Severity_SEVERITY_ERROR:
			n[0]++
		case datav1.Severity_SEVERITY_WARNING:
			n[1]++
		default:
			n[2]++
		}
	}
	var parts []string
	for i, word := range []string{"error", "warning", "note"} {
		if n[i] > 0 {
			parts = append(parts, display.Plural(int64(n[i]), word))
		}
	}
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// findingColumns names the columns of a finding: "a & b" for a pair.
func findingColumns(f *datav1.Finding) string {
	if cols := f.GetColumns(); len(cols) > 1 {
		return strings.Join(cols, " & ")
	}
	return f.GetColumn()
}

// fixText writes a finding's fix as the spec lines that apply it, such as
// "cleaning: clip_outliers: [income]", so a reader can copy it into the
// prepare section of a pipeline spec.
func fixText(c *datav1.CleaningOptions) string {
	if c == nil {
		return ""
	}
	var parts []string
	for _, l := range []struct {
		name  string
		names []string
	}{
		{"drop_columns", c.GetDropColumns()},
		{"parse_numeric", c.GetParseNumeric()},
		{"log_transform", c.GetLogTransform()},
		{"clip_outliers", c.GetClipOutliers()},
		{"group_rare", c.GetGroupRare()},
	} {
		if len(l.names) > 0 {
			parts = append(parts, l.name+": ["+strings.Join(l.names, ", ")+"]")
		}
	}
	for _, r := range c.GetImpute() {
		rule := "impute: {"
		if r.GetColumn() != "" {
			rule += "column: " + r.GetColumn() + ", "
		}
		rule += "strategy: " + r.GetStrategy().String()
		if r.GetValue() != "" {
			rule += ", value: " + strconv.Quote(r.GetValue())
		}
		parts = append(parts, rule+"}")
	}
	if len(parts) == 0 {
		return ""
	}
	return "cleaning: " + strings.Join(parts, "; ")
}

func severityWord(s datav1.Severity) string {
	switch s {
	case datav1.Severity_SEVERITY_ERROR:
		return "error"
	case datav1.Severity_SEVERITY_WARNING:
		return "warning"
	}
	return "info"
}

func columnRows(tr *datav1.FittedTransform) []columnRow {
	var out []columnRow
	for _, c := range tr.GetColumns() {
		r := columnRow{Name: c.GetName(), Type: strings.ToLower(strings.TrimPrefix(c.GetType().String(), "COLUMN_TYPE_"))}
		switch c.GetAction() {
		case datav1.ColumnAction_COLUMN_ACTION_NUMERIC:
			r.Action = "number"
			if c.GetParseNumeric() {
				r.Detail = "read as numbers (words → missing); "
			}
			r.Detail += "missing → " + fmtNumber(c.GetImputeNumber()) + imputeWord(c.GetImputeStrategy())
			if c.GetLog1P() {
				r.Detail += "; log(1+x)"
			}
			if c.GetClipped() {
				r.Detail += fmt.Sprintf("; clipped to [%s, %s]", fmtNumber(c.GetClipLow()), fmtNumber(c.GetClipHigh()))
			}
			if c.GetScaled() {
				r.Detail += fmt.Sprintf("; standardised (mean %s, scale %s)", fmtNumber(c.GetMean()), fmtNumber(c.GetScale()))
			}
		case datav1.ColumnAction_COLUMN_ACTION_ONE_HOT:
			r.Action = "one-hot"
			r.Detail = fmt.Sprintf("%d categories", len(c.GetCategories()))
			if c.GetRareLabel() != "" {
				r.Detail += fmt.Sprintf(" (rare and unseen values → %q)", c.GetRareLabel())
			}
			if c.GetImputeCategory() != "" {
				r.Detail += "; missing → " + c.GetImputeCategory() + imputeWord(c.GetImputeStrategy())
			}
		case datav1.ColumnAction_COLUMN_ACTION_DROP:
			r.Action = "dropped"
			r.Detail = c.GetDropReason()
		default:
			r.Action = "—"
		}
		out = append(out, r)
	}
	return out
}

// imputeWord names an imputation strategy chosen in the spec, for the
// column table; the default strategy says nothing.
func imputeWord(s datav1.ImputeStrategy) string {
	switch s {
	case datav1.ImputeStrategy_IMPUTE_STRATEGY_MEDIAN:
		return " (median)"
	case datav1.ImputeStrategy_IMPUTE_STRATEGY_MEAN:
		return " (mean)"
	case datav1.ImputeStrategy_IMPUTE_STRATEGY_MODE:
		return " (most frequent)"
	case datav1.ImputeStrategy_IMPUTE_STRATEGY_CONSTANT:
		return " (constant)"
	}
	return ""
}

func trialRows(run *orchestratorv1.Run) []trialRow {
	var out []trialRow
	rank := 0
	for _, t := range display.Ranked(run) {
		r := trialRow{
			Number:    t.GetNumber(),
			Algorithm: t.GetAlgorithm(),
			Params:    display.Params(display.TrialParams(t), nil),
			FitTime:   fmtDuration(time.Duration(t.GetFitSeconds() * float64(time.Second))),
			Error:     t.GetError(),
			Stopped:   t.GetStoppedByTimeBudget(),
			Best:      t.GetNumber() == run.GetBestTrial() && run.GetBestTrial() != 0,
			Rank:      "—",
			Score:     "—",
			TieBreak:  "—",
		}
		if display.Scored(t) {
			rank++
			r.Rank = fmt.Sprint(rank)
			r.Score = fmtScore(t.GetScore())
			tieName, tie := display.TieBreak(t.GetValidationMetrics())
			r.TieBreak = fmtScore(tie)
			r.Others = otherMetrics(t.GetValidationMetrics(), run.GetMetric(), tieName)
		}
		out = append(out, r)
	}
	return out
}

// keyMetrics are the metrics shown beside the objective in the
// leaderboard and the comparison: the ones a decision rests on.
var keyMetrics = map[datav1.Task][]string{
	datav1.Task_TASK_CLASSIFICATION: {"accuracy", "f1_macro", "roc_auc", "log_loss"},
	datav1.Task_TASK_REGRESSION:     {"r2", "rmse", "mae"},
}

// otherMetrics lists the key validation metrics other than the objective
// and the tie-break, which have columns of their own.
func otherMetrics(m *datav1.Metrics, objective, tieBreak string) string {
	var parts []string
	for _, name := range keyMetrics[taskOf(m)] {
		if name == objective || name == tieBreak {
			continue
		}
		if v, _, err := metrics.Score(m, name); err == nil {
			parts = append(parts, metricTitle(name)+" "+fmtScore(v))
		}
	}
	return strings.Join(parts, " · ")
}

func taskOf(m *datav1.Metrics) datav1.Task {
	switch {
	case m.GetClassification() != nil:
		return datav1.Task_TASK_CLASSIFICATION
	case m.GetRegression() != nil:
		return datav1.Task_TASK_REGRESSION
	}
	return datav1.Task_TASK_UNSPECIFIED
}

func testRows(m *datav1.Metrics) ([]metricRow, []classRow) {
	var rows []metricRow
	for _, name := range metrics.Names(taskOf(m)) {
		if v, _, err := metrics.Score(m, name); err == nil {
			rows = append(rows, metricRow{Name: metricTitle(name), Value: fmtScore(v), Help: display.MetricHelp(name)})
		}
	}
	if m.GetNumSamples() > 0 {
		rows = append(rows, metricRow{Name: "Test rows", Value: fmtCount(m.GetNumSamples())})
	}
	var classes []classRow
	for _, c := range m.GetClassification().GetPerClass() {
		classes = append(classes, classRow{
			Class: c.GetLabel(), Precision: fmtScore(c.GetPrecision()), Recall: fmtScore(c.GetRecall()),
			F1: fmtScore(c.GetF1()), Support: fmtCount(c.GetSupport()),
		})
	}
	return rows, classes
}

// runsView is the runs list.
type runsView struct {
	Runs      []runSummary
	Next      string
	Active    bool
	PageToken string
}

// compareRow is one line of the side-by-side comparison.
type compareRow struct {
	Name, A, B string
	// Better is "a" or "b" when one side is better on this line.
	Better string
}

// compareView shows two runs side by side.
type compareView struct {
	A, B    *runView
	Rows    []compareRow
	Pairs   []chartPair
	Choices []runSummary // runs to pick from
	AID     string
	BID     string
}

// chartPair is one kind of chart for both compared runs.
type chartPair struct {
	Title string
	A, B  chart
}

// comparePairs lines up the charts worth comparing.
func comparePairs(a, b *runView) []chartPair {
	pairs := []chartPair{
		{Title: "Candidate models", A: a.Leaderboard, B: b.Leaderboard},
		{Title: "Learning curve", A: a.LearningCurve, B: b.LearningCurve},
		{Title: "Feature importance", A: a.Importance, B: b.Importance},
	}
	pick := func(v *runView) (chart, chart) {
		switch {
		case v.IsClassification:
			return v.Confusion, v.ROC
		case v.IsRegression:
			return v.PredVsActual, v.Residuals
		}
		return missingChart("test", "Test results", "not available: the run has no task yet"), missingChart("test", "Test results", "not available: the run has no task yet")
	}
	a1, a2 := pick(a)
	b1, b2 := pick(b)
	pairs = append(pairs, chartPair{Title: "Test results", A: a1, B: b1}, chartPair{Title: "Test results, continued", A: a2, B: b2})
	return pairs
}

// compareRows lines up the two runs' key facts and marks the better side
// of comparable scores (same metric only).
func compareRows(a, b *orchestratorv1.Run, va, vb *runView) []compareRow {
	rows := []compareRow{
		{Name: "Name", A: va.Name, B: vb.Name},
		{Name: "Status", A: va.State, B: vb.State},
		{Name: "Dataset", A: va.Dataset, B: vb.Dataset},
		{Name: "Dataset version", A: va.Version, B: vb.Version},
		{Name: "Rows", A: va.Rows, B: vb.Rows},
		{Name: "Task", A: va.Task, B: vb.Task},
		{Name: "Label", A: va.Label, B: vb.Label},
		{Name: "Objective", A: va.Objective, B: vb.Objective},
		{Name: "Chosen algorithm", A: va.BestAlgorithm, B: vb.BestAlgorithm},
		{Name: "Trials", A: va.Trials, B: vb.Trials},
		{Name: "Duration", A: va.Duration, B: vb.Duration},
		{Name: "Started", A: va.Started, B: vb.Started},
	}
	same := a.GetMetric() != "" && a.GetMetric() == b.GetMetric()
	better := func(x, y float64, ok bool, metric string) string {
		if !ok || x == y {
			return ""
		}
		if (x > y) != lowerIsBetter(metric) {
			return "a"
		}
		return "b"
	}
	ba, bb := bestTrial(a), bestTrial(b)
	rows = append(rows, compareRow{Name: "Best validation score", A: va.BestScore, B: vb.BestScore,
		Better: better(ba.GetScore(), bb.GetScore(), same && ba != nil && bb != nil, a.GetMetric())})
	var names []string
	seen := map[string]bool{}
	for _, m := range []*datav1.Metrics{a.GetTestMetrics(), b.GetTestMetrics()} {
		for _, name := range keyMetrics[taskOf(m)] {
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
	}
	for _, name := range names {
		x, _, ea := metrics.Score(a.GetTestMetrics(), name)
		y, _, eb := metrics.Score(b.GetTestMetrics(), name)
		r := compareRow{Name: "Test " + metricTitle(name), A: "—", B: "—"}
		if ea == nil {
			r.A = fmtScore(x)
		}
		if eb == nil {
			r.B = fmtScore(y)
		}
		r.Better = better(x, y, ea == nil && eb == nil, name)
		rows = append(rows, r)
	}
	rows = append(rows, compareRow{Name: "Learning-curve verdict", A: orDash(va.Verdict), B: orDash(vb.Verdict)})
	return rows
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
