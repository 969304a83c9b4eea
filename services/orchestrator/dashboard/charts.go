package dashboard

import (
	"cmp"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/alur-ml/alur/ml/display"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// chart is one figure on a page: a rendered SVG, or the reason it could
// not be drawn, with an optional legend and a one-line "how to read it".
type chart struct {
	// Name identifies the kind of chart (data-chart attribute).
	Name  string
	Title string
	SVG   template.HTML
	// Missing says why there is no SVG.
	Missing string
	Caption string
	Legend  []legendItem
	// Wide charts span the page; Small ones sit several to a row.
	Wide, Small bool
	// Gradient shows a colour scale under a heatmap.
	Gradient *gradient
}

// legendItem is one entry of an HTML legend under a chart.
type legendItem struct {
	Label string
	// Swatch is the CSS of the entry's line or box.
	Swatch template.CSS
}

// gradient is a colour scale legend: a CSS gradient between two labels.
type gradient struct {
	Low, High string
	CSS       template.CSS
}

func lineSwatch(c color.Color, dashed bool) legendItem {
	style := "solid"
	if dashed {
		style = "dashed"
	}
	return legendItem{Swatch: template.CSS(fmt.Sprintf("border-top: 3px %s %s; width: 26px; height: 0", style, cssColor(c)))}
}

func boxSwatch(c color.Color) legendItem {
	return legendItem{Swatch: template.CSS("background: " + cssColor(c) + "; width: 14px; height: 11px; border-radius: 2px")}
}

// missingChart is a chart that could not be drawn, with the reason.
func missingChart(name, title, reason string) chart {
	return chart{Name: name, Title: title, Missing: reason}
}

// draw renders p into c, or records why it could not.
func (c chart) draw(p *plot.Plot, w, h vg.Length) chart {
	svg, err := renderSVG(p, c.Name, w, h)
	if err != nil {
		c.Missing = "not available: " + err.Error()
		return c
	}
	c.SVG = svg
	return c
}

// Chart sizes in points; the page scales them to its columns.
const (
	stdW, stdH     = 400, 260
	smallW, smallH = 260, 170
	wideW          = 760
)

// rowHeight is the height of one bar row in bar and timeline charts.
const rowHeight = 15

// barChartHeight sizes a horizontal bar chart of n rows.
func barChartHeight(n int) vg.Length {
	return vg.Length(max(150, 70+rowHeight*n))
}

// hbarPlot builds a horizontal bar chart with the first label on top.
func hbarPlot(title, xLabel string, labels []string, bars *hbars) *plot.Plot {
	p := newPlot(title, xLabel, "")
	addGrid(p, true, false)
	p.Add(bars)
	names := make([]string, len(labels))
	for i, l := range labels {
		names[len(labels)-1-i] = truncate(l, 26)
	}
	p.NominalY(names...)
	p.Y.Tick.Label.Color = inkColor
	return p
}

// Step colours of the timeline.
var (
	stepDone    = palette[0]
	stepCached  = palette[2]
	stepFailed  = palette[3]
	stepRunning = palette[1]
)

// maxTimelineSteps caps the rows of the timeline chart.
const maxTimelineSteps = 120

// timelineChart draws the run's steps as a Gantt chart: one bar per step
// from its start to its end, coloured by outcome.
func timelineChart(run *orchestratorv1.Run, now time.Time) chart {
	c := chart{Name: "timeline", Title: "Steps over time", Wide: true}
	steps := run.GetSteps()
	if len(steps) == 0 {
		c.Missing = "No step has started yet."
		return c
	}
	if len(steps) > maxTimelineSteps {
		c.Caption = fmt.Sprintf("Showing the last %d of %d steps. ", maxTimelineSteps, len(steps))
		steps = steps[len(steps)-maxTimelineSteps:]
	}
	t0 := run.GetCreateTime().AsTime()
	if run.GetCreateTime() == nil {
		t0 = steps[0].GetStartTime().AsTime()
	}
	g := &gantt{}
	var labels []string
	seen := map[string]bool{}
	var total float64
	for _, st := range steps {
		start := st.GetStartTime().AsTime().Sub(t0).Seconds()
		end := start
		switch {
		case st.GetEndTime() != nil:
			end = st.GetEndTime().AsTime().Sub(t0).Seconds()
		case st.GetState() == orchestratorv1.StepState_STEP_STATE_RUNNING:
			end = now.Sub(t0).Seconds()
		}
		start, end = math.Max(0, start), math.Max(0, end)
		end = math.Max(start, end)
		total = math.Max(total, end)
		g.Start = append(g.Start, start)
		g.End = append(g.End, end)
		word := stepStateWord(st)
		seen[word] = true
		g.Colors = append(g.Colors, map[string]color.Color{
			"done": stepDone, "cached": stepCached, "failed": stepFailed, "running": stepRunning,
		}[word])
		labels = append(labels, st.GetName())
	}
	unit, scale := "s", 1.0
	if total > 180 {
		unit, scale = "min", 1.0/60
	}
	for i := range g.Start {
		g.Start[i] *= scale
		g.End[i] *= scale
	}
	p := newPlot(c.Title, fmt.Sprintf("Time since the run started (%s)", unit), "")
	addGrid(p, true, false)
	p.Add(g)
	names := make([]string, len(labels))
	for i, l := range labels {
		names[len(labels)-1-i] = truncate(l, 24)
	}
	p.NominalY(names...)
	p.Y.Tick.Label.Color = inkColor
	for _, e := range []struct {
		word, label string
		c           color.Color
	}{{"done", "Ran", stepDone}, {"cached", "Reused from cache", stepCached}, {"failed", "Failed", stepFailed}, {"running", "Running", stepRunning}} {
		if seen[e.word] {
			it := boxSwatch(e.c)
			it.Label = e.label
			c.Legend = append(c.Legend, it)
		}
	}
	c.Caption += "Each bar is one step, from its start to its end; cached steps reused an earlier identical result and took no time."
	return c.draw(p, wideW, vg.Length(max(140, 60+rowHeight*len(steps))))
}

// maxHistograms caps the per-column charts of the profile.
const maxHistograms = 48

// histogramCharts draws one small chart per column: the histogram of a
// numeric column, the most frequent values of a categorical one.
func histogramCharts(p *datav1.DataProfile) []chart {
	var out []chart
	for i, col := range p.GetColumns() {
		if i == maxHistograms {
			break
		}
		out = append(out, columnChart(p, col))
	}
	return out
}

func columnChart(prof *datav1.DataProfile, col *datav1.ColumnProfile) chart {
	name := col.GetName()
	c := chart{Name: "histogram", Title: truncate(name, 40), Small: true}
	rows := prof.GetRowCount()
	c.Caption = columnSummary(col, rows)
	if name == prof.GetLabel() && name != "" {
		c.Caption = "Label. " + c.Caption
	}
	h := col.GetHistogram()
	switch {
	case len(h.GetCounts()) > 0 && len(h.GetEdges()) == len(h.GetCounts())+1:
		hist := &plotter.Histogram{FillColor: primaryColor}
		hist.LineStyle = draw.LineStyle{Color: color.White, Width: vg.Points(0.5)}
		for k, n := range h.GetCounts() {
			hist.Bins = append(hist.Bins, plotter.HistogramBin{Min: h.GetEdges()[k], Max: h.GetEdges()[k+1], Weight: float64(n)})
		}
		if len(hist.Bins) > 0 {
			hist.Width = hist.Bins[0].Max - hist.Bins[0].Min
		}
		p := newPlot(c.Title, truncate(name, 40)+" (value)", "Rows")
		addGrid(p, false, true)
		p.Add(hist)
		p.Y.Min = 0
		return c.draw(p, smallW, smallH)
	case len(col.GetTopCategories()) > 0:
		cats := col.GetTopCategories()
		if len(cats) > 8 {
			cats = cats[:8]
		}
		bars := &hbars{}
		var labels []string
		for _, cc := range cats {
			labels = append(labels, cc.GetValue())
			bars.Values = append(bars.Values, float64(cc.GetCount()))
			bars.Notes = append(bars.Notes, fmtCount(cc.GetCount()))
		}
		p := hbarPlot(c.Title, "Rows", labels, bars)
		return c.draw(p, smallW, vg.Length(max(smallH, 60+13*len(cats))))
	}
	c.Missing = "No values to chart (every value is missing)."
	return c
}

// columnSummary is the one-line description under a column's chart.
func columnSummary(col *datav1.ColumnProfile, rows int64) string {
	s := map[datav1.ColumnType]string{
		datav1.ColumnType_COLUMN_TYPE_NUMERIC:     "Numeric",
		datav1.ColumnType_COLUMN_TYPE_CATEGORICAL: "Categorical",
		datav1.ColumnType_COLUMN_TYPE_BOOLEAN:     "Yes/no",
	}[col.GetType()]
	if s == "" {
		s = "Column"
	}
	if rows > 0 {
		s += fmt.Sprintf(" · %s missing", fmtPercent(float64(col.GetMissing())/float64(rows)))
	}
	s += fmt.Sprintf(" · %s distinct", fmtCount(col.GetDistinct()))
	if col.GetType() == datav1.ColumnType_COLUMN_TYPE_NUMERIC && col.GetCount() > 0 {
		s += fmt.Sprintf(" · mean %s · std %s", fmtNumber(col.GetMean()), fmtNumber(col.GetStd()))
	}
	return s
}

// maxBars caps the bars of the missing-values, importance and
// leaderboard charts.
const maxBars = 20

// missingValuesChart shows the share of missing values per column, worst
// first; ok is false when no column misses anything.
func missingValuesChart(p *datav1.DataProfile) (chart, bool) {
	c := chart{Name: "missing", Title: "Missing values per column"}
	rows := p.GetRowCount()
	var cols []*datav1.ColumnProfile
	for _, col := range p.GetColumns() {
		if col.GetMissing() > 0 {
			cols = append(cols, col)
		}
	}
	if len(cols) == 0 || rows == 0 {
		return c, false
	}
	slices.SortStableFunc(cols, func(a, b *datav1.ColumnProfile) int { return cmp.Compare(b.GetMissing(), a.GetMissing()) })
	if len(cols) > maxBars {
		c.Caption = fmt.Sprintf("The %d columns with most missing values of %d with any. ", maxBars, len(cols))
		cols = cols[:maxBars]
	}
	bars := &hbars{}
	var labels []string
	for _, col := range cols {
		share := float64(col.GetMissing()) / float64(rows)
		labels = append(labels, col.GetName())
		bars.Values = append(bars.Values, share*100)
		bars.Notes = append(bars.Notes, fmt.Sprintf("%s (%s)", fmtPercent(share), fmtCount(col.GetMissing())))
	}
	c.Caption += "Preparation fills missing values (imputation); a column missing most of its values carries little information."
	return c.draw(hbarPlot(c.Title, "Missing values (% of rows)", labels, bars), stdW, barChartHeight(len(cols))), true
}

// classBalanceChart shows how many rows each class of the label has.
func classBalanceChart(p *datav1.DataProfile) chart {
	c := chart{Name: "class-balance", Title: "Class balance"}
	var label *datav1.ColumnProfile
	for _, col := range p.GetColumns() {
		if col.GetName() == p.GetLabel() {
			label = col
		}
	}
	if label == nil || len(label.GetTopCategories()) == 0 {
		c.Missing = "The profile has no class counts for the label."
		return c
	}
	c.Title = "Class balance: " + truncate(label.GetName(), 30)
	cats := label.GetTopCategories()
	if len(cats) > maxBars {
		c.Caption = fmt.Sprintf("The %d largest of %s classes. ", maxBars, fmtCount(label.GetDistinct()))
		cats = cats[:maxBars]
	}
	var total int64
	for _, cc := range label.GetTopCategories() {
		total += cc.GetCount()
	}
	if label.GetCount() > total {
		total = label.GetCount()
	}
	bars := &hbars{}
	var labels []string
	for _, cc := range cats {
		labels = append(labels, cc.GetValue())
		bars.Values = append(bars.Values, float64(cc.GetCount()))
		bars.Notes = append(bars.Notes, fmt.Sprintf("%s (%s)", fmtCount(cc.GetCount()), fmtPercent(float64(cc.GetCount())/float64(max(total, 1)))))
	}
	c.Caption += "Rows per class of the label. Very uneven classes make accuracy misleading; look at F1 and the per-class scores."
	return c.draw(hbarPlot(c.Title, "Rows", labels, bars), stdW, barChartHeight(len(cats)))
}

// correlationChart draws the correlation heatmap of the numeric columns.
func correlationChart(corr *corrResult, err error) chart {
	c := chart{Name: "correlation", Title: "Correlation between numeric columns"}
	if err != nil {
		c.Missing = errText(err)
		return c
	}
	n := len(corr.Names)
	cell := math.Max(14, math.Min(40, 360/float64(n)))
	longest := 0
	for _, name := range corr.Names {
		longest = max(longest, len([]rune(truncate(name, 18))))
	}
	labelSpace := 24 + 4.8*float64(longest)
	w := vg.Length(labelSpace + 30 + cell*float64(n))
	p := newPlot(c.Title, "", "")
	m := &matrix{Rows: n, Cols: n, NoteSize: math.Min(8, cell/3.6),
		Color: func(r, k int) color.Color { return diverging(corr.R[r][k]) },
	}
	if n <= 12 {
		m.Note = func(r, k int) string {
			v := corr.R[r][k]
			if math.IsNaN(v) {
				return "—"
			}
			return fmt.Sprintf("%.2f", v)
		}
	}
	p.Add(m)
	xs, ys := make([]string, n), make([]string, n)
	for i, name := range corr.Names {
		xs[i] = truncate(name, 18)
		ys[n-1-i] = truncate(name, 18)
	}
	p.NominalX(xs...)
	p.NominalY(ys...)
	if 4.6*float64(longest) > cell {
		// Names wider than a cell would overlap: turn them, a space
		// clear of the cells.
		p.NominalX(turned(xs)...)
		p.X.Tick.Label.Rotation = -math.Pi / 2 // reads downwards from the axis
		p.X.Tick.Label.XAlign = text.XLeft
		p.X.Tick.Label.YAlign = text.YCenter
	} else {
		labelSpace = 20
	}
	p.X.Padding, p.Y.Padding = 0, 0
	p.X.Tick.Label.Color, p.Y.Tick.Label.Color = inkColor, inkColor
	c.Gradient = &gradient{Low: "−1 (opposite)", High: "+1 (together)",
		CSS: template.CSS(fmt.Sprintf("background: linear-gradient(to right, %s, #ffffff, %s)", cssColor(divNeg), cssColor(divPos)))}
	c.Caption = fmt.Sprintf("Pearson correlation of %d numeric columns", n)
	if corr.Rows < corr.Total {
		c.Caption += fmt.Sprintf(" on a sample of %s of %s rows", fmtCount(int64(corr.Rows)), fmtCount(int64(corr.Total)))
	}
	c.Caption += ". Strongly correlated features carry the same information; a feature strongly correlated with the label is a good predictor (or a leak)."
	if corr.Omitted > 0 {
		c.Caption += fmt.Sprintf(" %d more numeric columns are not shown.", corr.Omitted)
	}
	if n > 12 {
		c.Wide = true
	}
	return c.draw(p, w, vg.Length(labelSpace+50+cell*float64(n)))
}

// bestTrial returns the run's winning trial, or nil.
func bestTrial(run *orchestratorv1.Run) *orchestratorv1.Trial {
	for _, t := range run.GetTrials() {
		if t.GetNumber() == run.GetBestTrial() && run.GetBestTrial() != 0 {
			return t
		}
	}
	return nil
}

// leaderboardChart draws the validation score of each successful trial,
// best first, the winner highlighted.
func leaderboardChart(run *orchestratorv1.Run) chart {
	c := chart{Name: "leaderboard", Title: "Candidate models on the validation rows"}
	var trials []*orchestratorv1.Trial
	for _, t := range display.Ranked(run) {
		if display.Scored(t) {
			trials = append(trials, t)
		}
	}
	if len(trials) == 0 {
		c.Missing = "No candidate model has been scored yet."
		return c
	}
	if len(trials) > maxBars {
		c.Caption = fmt.Sprintf("The best %d of %d models. ", maxBars, len(trials))
		trials = trials[:maxBars]
	}
	bars := &hbars{}
	var labels []string
	for _, t := range trials {
		labels = append(labels, fmt.Sprintf("#%d %s", t.GetNumber(), t.GetAlgorithm()))
		bars.Values = append(bars.Values, t.GetScore())
		bars.Notes = append(bars.Notes, fmtScore(t.GetScore()))
		col := color.Color(primaryColor)
		if t.GetNumber() == run.GetBestTrial() {
			col = highlightColor
		}
		bars.Colors = append(bars.Colors, col)
	}
	metric := run.GetMetric()
	xLabel := "Validation " + metricTitle(metric)
	if u := metricUnit(metric, run.GetSpec().GetLabel()); u != "" {
		xLabel += " (" + u + ")"
	}
	winner := boxSwatch(highlightColor)
	winner.Label = "Chosen model"
	others := boxSwatch(primaryColor)
	others.Label = "Other candidates"
	c.Legend = []legendItem{winner, others}
	c.Caption += "Each bar is one trained candidate scored on rows it did not learn from; the best one is refitted and tested."
	return c.draw(hbarPlot(c.Title, xLabel, labels, bars), stdW, barChartHeight(len(trials)))
}

// maxConfusionClasses caps the confusion-matrix heatmap.
const maxConfusionClasses = 20

// confusionChart draws the test rows' confusion matrix, shaded by the
// share of each actual class (so small classes read as well as large).
func confusionChart(run *orchestratorv1.Run) chart {
	c := chart{Name: "confusion-matrix", Title: "Confusion matrix (test rows)"}
	cm := run.GetTestMetrics().GetClassification().GetConfusionMatrix()
	k := len(cm.GetLabels())
	switch {
	case cm == nil || k == 0:
		c.Missing = "not available: the run has no test scores yet"
		return c
	case len(cm.GetCounts()) != k*k:
		c.Missing = "not available: the confusion matrix is malformed"
		return c
	case k > maxConfusionClasses:
		c.Missing = fmt.Sprintf("%d classes are too many to draw; see the per-class scores.", k)
		return c
	}
	rowTotal := make([]int64, k)
	for r := range k {
		for j := range k {
			rowTotal[r] += cm.GetCounts()[r*k+j]
		}
	}
	cell := math.Max(22, math.Min(60, 300/float64(k)))
	longest := 0
	for _, l := range cm.GetLabels() {
		longest = max(longest, len([]rune(truncate(l, 18))))
	}
	labelSpace := 30 + 5*float64(longest)
	p := newPlot(c.Title, "Predicted class", "Actual class")
	p.Add(&matrix{Rows: k, Cols: k, NoteSize: math.Min(10, cell/3),
		Color: func(r, j int) color.Color {
			if rowTotal[r] == 0 {
				return sequential(0)
			}
			return sequential(float64(cm.GetCounts()[r*k+j]) / float64(rowTotal[r]))
		},
		Note: func(r, j int) string { return fmtCount(cm.GetCounts()[r*k+j]) },
	})
	xs, ys := make([]string, k), make([]string, k)
	for i, l := range cm.GetLabels() {
		xs[i] = truncate(l, 18)
		ys[k-1-i] = truncate(l, 18)
	}
	p.NominalX(xs...)
	p.NominalY(ys...)
	if longest > 6 && k > 3 {
		p.NominalX(turned(xs)...)
		p.X.Tick.Label.Rotation = -math.Pi / 2 // reads downwards from the axis
		p.X.Tick.Label.XAlign = text.XLeft
		p.X.Tick.Label.YAlign = text.YCenter
	} else {
		labelSpace = 40
	}
	p.X.Padding, p.Y.Padding = 0, 0
	p.X.Tick.Label.Color, p.Y.Tick.Label.Color = inkColor, inkColor
	c.Gradient = &gradient{Low: "0% of the actual class", High: "100%",
		CSS: template.CSS(fmt.Sprintf("background: linear-gradient(to right, %s, %s)", cssColor(seqLight), cssColor(seqDark)))}
	c.Caption = "Rows of each actual class (row) by the class the model predicted (column); the diagonal is right, everything else is a mistake."
	w := vg.Length(math.Max(260, 60+5*float64(longest)+cell*float64(k)+20))
	h := vg.Length(labelSpace + 70 + cell*float64(k))
	return c.draw(p, w, h)
}

// curveChart draws ROC (roc = true) or precision–recall curves.
func curveChart(ev *evalResult, err error, roc bool) chart {
	c := chart{Name: "roc", Title: "ROC curve (test rows)"}
	if !roc {
		c = chart{Name: "pr", Title: "Precision–recall curve (test rows)"}
	}
	if err != nil {
		c.Missing = errText(err)
		return c
	}
	if ev.Task != datav1.Task_TASK_CLASSIFICATION || len(ev.Curves) == 0 {
		c.Missing = "not available: no class curves for this run"
		return c
	}
	var p *plot.Plot
	if roc {
		p = newPlot(c.Title, "False positive rate (share of other rows flagged)", "True positive rate (recall)")
	} else {
		p = newPlot(c.Title, "Recall (share of the class found)", "Precision (share flagged right)")
	}
	addGrid(p, true, true)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1.02
	ref := func(pts plotter.XYs) {
		l, _ := plotter.NewLine(pts)
		l.LineStyle = draw.LineStyle{Color: axisColor, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
		p.Add(l)
	}
	if roc {
		ref(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
		c.Legend = append(c.Legend, withLabel(lineSwatch(axisColor, true), "Chance (AUC 0.5)"))
	} else if len(ev.Curves) == 1 {
		prev := ev.Curves[0].Prevalence
		ref(plotter.XYs{{X: 0, Y: prev}, {X: 1, Y: prev}})
		c.Legend = append(c.Legend, withLabel(lineSwatch(axisColor, true), "Chance ("+fmtPercent(prev)+" positives)"))
	}
	for i, cc := range ev.Curves {
		pts := cc.ROC
		if !roc {
			pts = cc.PR
		}
		xys := make(plotter.XYs, len(pts))
		for j, q := range pts {
			xys[j] = plotter.XY{X: q.X, Y: q.Y}
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			continue
		}
		col := seriesColor(i)
		l.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(1.8)}
		if !roc {
			l.StepStyle = plotter.PreStep
		}
		p.Add(l)
		label := cc.Class
		if len(ev.Curves) == 1 {
			label = cc.Class + " vs the rest"
		}
		if roc {
			label += " — AUC " + fmtScore(cc.AUC)
		} else {
			label += " — AP " + fmtScore(cc.AP)
		}
		c.Legend = append(c.Legend, withLabel(lineSwatch(col, false), label))
	}
	if roc {
		c.Caption = "Each curve trades catching more of a class (up) against false alarms (right) as the decision threshold moves; the closer to the top-left corner, the better."
	} else {
		c.Caption = "As the threshold loosens, the model finds more of the class (right) but flags more wrong rows (down); the closer to the top-right corner, the better."
	}
	if ev.OmittedClass > 0 {
		c.Caption += fmt.Sprintf(" The %d smallest classes are not drawn.", ev.OmittedClass)
	}
	c.Caption += sampledNote(ev)
	return c.draw(p, stdW, stdW*0.8)
}

func withLabel(it legendItem, label string) legendItem {
	it.Label = label
	return it
}

func sampledNote(ev *evalResult) string {
	if ev.Sampled {
		return fmt.Sprintf(" Computed on a sample of %s test rows.", fmtCount(int64(ev.Rows)))
	}
	return fmt.Sprintf(" %s test rows.", fmtCount(int64(ev.Rows)))
}

// scatterPlot adds the points (x[i], y[i]) to p.
func scatterPlot(p *plot.Plot, x, y []float64) {
	xys := make(plotter.XYs, len(x))
	for i := range x {
		xys[i] = plotter.XY{X: x[i], Y: y[i]}
	}
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return
	}
	s.GlyphStyle = draw.GlyphStyle{Shape: draw.CircleGlyph{}, Radius: vg.Points(2), Color: color.NRGBA{0x00, 0x72, 0xb2, 0x99}}
	p.Add(s)
}

// finiteXY drops the pairs where either value is not finite.
func finiteXY(x, y []float64) ([]float64, []float64) {
	var fx, fy []float64
	for i := range x {
		if math.IsNaN(x[i]) || math.IsInf(x[i], 0) || math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			continue
		}
		fx, fy = append(fx, x[i]), append(fy, y[i])
	}
	return fx, fy
}

// predictedVsActualChart plots each test row's prediction against its
// actual value, with the line of perfect predictions.
func predictedVsActualChart(ev *evalResult, err error) chart {
	c := chart{Name: "predicted-vs-actual", Title: "Predicted vs actual (test rows)"}
	if err != nil {
		c.Missing = errText(err)
		return c
	}
	actual, predicted := finiteXY(ev.Actual, ev.Predicted)
	if len(actual) == 0 {
		c.Missing = "not available: no finite predictions"
		return c
	}
	label := truncate(ev.Label, 30)
	p := newPlot(c.Title, "Actual "+label, "Predicted "+label)
	addGrid(p, true, true)
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range actual {
		lo = math.Min(lo, math.Min(actual[i], predicted[i]))
		hi = math.Max(hi, math.Max(actual[i], predicted[i]))
	}
	if hi == lo {
		hi = lo + 1
	}
	l, _ := plotter.NewLine(plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}})
	l.LineStyle = draw.LineStyle{Color: highlightColor, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
	p.Add(l)
	scatterPlot(p, actual, predicted)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = lo, hi, lo, hi
	c.Legend = []legendItem{withLabel(boxSwatch(primaryColor), "A test row"), withLabel(lineSwatch(highlightColor, true), "Perfect prediction")}
	c.Caption = "Dots on the dashed line are predicted exactly; the farther a dot, the larger the error." + shownOf(len(actual), ev)
	return c.draw(p, stdW, stdW*0.8)
}

func shownOf(n int, ev *evalResult) string {
	if n < ev.Rows {
		return fmt.Sprintf(" Showing %s of %s test rows.", fmtCount(int64(n)), fmtCount(int64(ev.Rows)))
	}
	return fmt.Sprintf(" %s test rows.", fmtCount(int64(n)))
}

// residualChart plots each test row's error against its prediction: a
// shapeless band around zero means the errors are noise, a pattern means
// the model misses something systematic.
func residualChart(ev *evalResult, err error) chart {
	c := chart{Name: "residuals", Title: "Residuals (test rows)"}
	if err != nil {
		c.Missing = errText(err)
		return c
	}
	actual, predicted := finiteXY(ev.Actual, ev.Predicted)
	if len(actual) == 0 {
		c.Missing = "not available: no finite predictions"
		return c
	}
	label := truncate(ev.Label, 30)
	res := make([]float64, len(actual))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range actual {
		res[i] = actual[i] - predicted[i]
		lo, hi = math.Min(lo, predicted[i]), math.Max(hi, predicted[i])
	}
	if hi == lo {
		hi = lo + 1
	}
	p := newPlot(c.Title, "Predicted "+label, "Actual − predicted ("+label+" units)")
	addGrid(p, true, true)
	l, _ := plotter.NewLine(plotter.XYs{{X: lo, Y: 0}, {X: hi, Y: 0}})
	l.LineStyle = draw.LineStyle{Color: highlightColor, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
	p.Add(l)
	scatterPlot(p, predicted, res)
	c.Legend = []legendItem{withLabel(boxSwatch(primaryColor), "A test row"), withLabel(lineSwatch(highlightColor, true), "No error")}
	c.Caption = "Above the line the model predicted too low, below it too high. Errors should scatter evenly around zero; a curve or funnel means the model misses a pattern." + shownOf(len(actual), ev)
	return c.draw(p, stdW, stdW*0.8)
}

// importanceChart draws the final model's feature importances as shares
// of their total, largest first. For a model that does not measure
// importance itself it draws the permutation importance measured on the
// test rows instead (see permutationImportance).
func importanceChart(m *datav1.Model, err error, ev *evalResult, evalErr error) chart {
	c := chart{Name: "feature-importance", Title: "Feature importance (final model)"}
	if err != nil {
		c.Missing = errText(err)
		return c
	}
	imp, names := m.GetFeatureImportances(), m.GetFeatureNames()
	if !hasImportances(m) || len(imp) != len(names) {
		return permutationChart(c, m, ev, evalErr)
	}
	var total float64
	for _, v := range imp {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			total += math.Abs(v)
		}
	}
	share := func(i int) float64 {
		if math.IsNaN(imp[i]) || math.IsInf(imp[i], 0) {
			return 0
		}
		return math.Abs(imp[i]) / total
	}
	idx := topIndexes(len(imp), share)
	if len(idx) > maxBars {
		c.Caption = fmt.Sprintf("The %d most important of %d features. ", maxBars, len(idx))
		idx = idx[:maxBars]
	}
	bars := &hbars{}
	var labels []string
	for _, i := range idx {
		labels = append(labels, names[i])
		bars.Values = append(bars.Values, share(i)*100)
		bars.Notes = append(bars.Notes, fmtPercent(share(i)))
	}
	c.Caption += fmt.Sprintf("How much each prepared feature contributes to the %s model's predictions, as measured by the model, as a share of the total. One-hot features are named column=value.", m.GetAlgorithm())
	return c.draw(hbarPlot(c.Title, "Share of total importance (%)", labels, bars), stdW, barChartHeight(len(idx)))
}

// topIndexes returns 0..n-1 ordered by descending key.
func topIndexes(n int, key func(int) float64) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(key(b), key(a)) })
	return idx
}

func permutationChart(c chart, m *datav1.Model, ev *evalResult, evalErr error) chart {
	switch {
	case evalErr != nil:
		c.Missing = fmt.Sprintf("The %s model does not measure feature importance, and the test rows to measure it on are %s", m.GetAlgorithm(), errText(evalErr))
		return c
	case ev.PermErr != "":
		c.Missing = ev.PermErr
		return c
	case len(ev.PermImportance) == 0:
		c.Missing = fmt.Sprintf("not available: the %s algorithm does not measure feature importance", m.GetAlgorithm())
		return c
	}
	imp := ev.PermImportance
	idx := topIndexes(len(imp), func(i int) float64 { return imp[i] })
	if len(idx) > maxBars {
		c.Caption = fmt.Sprintf("The %d most important of %d features. ", maxBars, len(idx))
		idx = idx[:maxBars]
	}
	bars := &hbars{}
	var labels []string
	for _, i := range idx {
		labels = append(labels, ev.PermFeatures[i])
		bars.Values = append(bars.Values, imp[i])
		bars.Notes = append(bars.Notes, fmtScore(imp[i]))
	}
	metric := metricTitle(ev.PermMetric)
	c.Caption += fmt.Sprintf("The %s model does not measure importance itself, so each feature was shuffled in turn on %s test rows (%d times) and the drop in %s measured: the larger the drop, the more the model relies on the feature. Near zero or below means it does not use it.",
		m.GetAlgorithm(), fmtCount(int64(ev.PermRows)), permRepeats, metric)
	return c.draw(hbarPlot(c.Title, "Drop in test "+metric+" when the feature is shuffled", labels, bars), stdW, barChartHeight(len(idx)))
}

// learningCurveChart draws the winner's training and validation scores
// against the number of training rows.
func learningCurveChart(run *orchestratorv1.Run) chart {
	c := chart{Name: "learning-curve", Title: "Learning curve"}
	pts := slices.Clone(run.GetLearningCurve())
	if len(pts) == 0 {
		if terminal(run.GetState()) {
			c.Missing = "Learning curve not available for this run."
		} else {
			c.Missing = "Learning curve not available yet: it is computed after the test step."
		}
		return c
	}
	slices.SortStableFunc(pts, func(a, b *orchestratorv1.LearningCurvePoint) int {
		return cmp.Compare(a.GetTrainRows(), b.GetTrainRows())
	})
	metric := run.GetMetric()
	yLabel := metricTitle(metric)
	if u := metricUnit(metric, run.GetSpec().GetLabel()); u != "" {
		yLabel += " (" + u + ")"
	}
	p := newPlot(c.Title, "Training rows", yLabel)
	addGrid(p, true, true)
	series := []struct {
		name   string
		get    func(*orchestratorv1.LearningCurvePoint) float64
		col    color.RGBA
		dashed bool
	}{
		{"On the training rows", (*orchestratorv1.LearningCurvePoint).GetTrainScore, palette[1], true},
		{"On the validation rows", (*orchestratorv1.LearningCurvePoint).GetValidationScore, palette[0], false},
	}
	for _, s := range series {
		var xys plotter.XYs
		for _, q := range pts {
			if v := s.get(q); !math.IsNaN(v) && !math.IsInf(v, 0) {
				xys = append(xys, plotter.XY{X: float64(q.GetTrainRows()), Y: v})
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(xys)
		if err != nil {
			continue
		}
		l.LineStyle = draw.LineStyle{Color: s.col, Width: vg.Points(1.8)}
		if s.dashed {
			l.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		sc.GlyphStyle = draw.GlyphStyle{Shape: draw.CircleGlyph{}, Radius: vg.Points(2.5), Color: s.col}
		p.Add(l, sc)
		c.Legend = append(c.Legend, withLabel(lineSwatch(s.col, s.dashed), s.name))
	}
	p.X.Min = 0
	if boundedMetric(metric) {
		// Do not blow a difference in the third decimal up to the whole
		// height: show at least a tenth of the scale.
		p.Y.Min, p.Y.Max = minSpan(p.Y.Min, p.Y.Max, 0.1, 1)
	}
	c.Caption = "The chosen model trained on growing shares of the training rows. A validation score still rising at the right means more data would likely help; a wide gap to the training score means the model memorises."
	return c.draw(p, stdW, stdH)
}

// boundedMetric reports whether the metric is a score of at most 1.
func boundedMetric(m string) bool {
	switch m {
	case "accuracy", "f1_macro", "f1_weighted", "roc_auc", "r2":
		return true
	}
	return false
}

// minSpan widens [lo, hi] around its centre to at least span, without
// going above top.
func minSpan(lo, hi, span, top float64) (float64, float64) {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || hi-lo >= span {
		return lo, hi
	}
	mid := (lo + hi) / 2
	lo, hi = mid-span/2, mid+span/2
	if hi > top {
		lo, hi = top-span, top
	}
	return lo, hi
}

// turned prefixes labels drawn turned downwards with a space, so that their
// first letter stays clear of the cells above them.
func turned(labels []string) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = " " + l
	}
	return out
}
