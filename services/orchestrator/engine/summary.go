package engine

import (
	"fmt"
	"strings"

	"github.com/alur-ml/alur/ml/display"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
)

// profileSummary, metricsSummary and reportSummary say in one line what a
// step produced, for its event.
func profileSummary(p *datav1.DataProfile) string {
	warn := 0
	for _, f := range p.GetFindings() {
		if f.GetSeverity() >= datav1.Severity_SEVERITY_WARNING {
			warn++
		}
	}
	return fmt.Sprintf("%s, %s, %s (%s)", display.Plural(int64(len(p.GetColumns())), "column"),
		display.Plural(p.GetDuplicateRows(), "duplicate row"), display.Plural(int64(len(p.GetFindings())), "finding"),
		display.Plural(int64(warn), "warning or error|warnings or errors"))
}

func metricsSummary(m *datav1.Metrics) string {
	if c := m.GetClassification(); c != nil {
		return fmt.Sprintf("accuracy %.4f, f1_macro %.4f on %s rows", c.GetAccuracy(), c.GetF1Macro(), display.Count(m.GetNumSamples()))
	}
	if g := m.GetRegression(); g != nil {
		return fmt.Sprintf("r2 %.4f, rmse %.4g on %s rows", g.GetR2(), g.GetRmse(), display.Count(m.GetNumSamples()))
	}
	return ""
}

// reportSummary says in a few words what ingest's report holds, for the
// collect step's message: the format when it is not CSV, and the bad rows
// skipped with the first of them.
func reportSummary(rep *ingestv1.IngestReport) string {
	var b strings.Builder
	if f := rep.GetFormat(); f != "" && f != "csv" {
		b.WriteString(", " + f)
	}
	if c := rep.GetCompression(); c != "" {
		b.WriteString(" (" + c + ")")
	}
	if n := rep.GetSkippedRows(); n > 0 {
		fmt.Fprintf(&b, "; %d malformed row", n)
		if n > 1 {
			b.WriteString("s")
		}
		b.WriteString(" skipped")
		if bad := rep.GetBadRows(); len(bad) > 0 {
			fmt.Fprintf(&b, " (first: line %d: %s)", bad[0].GetLine(), bad[0].GetReason())
		}
	}
	return b.String()
}
