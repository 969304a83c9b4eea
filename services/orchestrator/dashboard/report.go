package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/alur-ml/alur/services/orchestrator/artifacts"
)

// RenderReport renders a run's report: one self-contained HTML file with
// the run page's content in the order a reader asks (summary, test
// results, the chosen model, learning curve, candidates, errors and
// feature importance, metrics explained, data profile, preparation; the
// steps and artifacts last), every chart as
// inline SVG and the style sheet inline. It loads nothing from anywhere,
// so it opens offline and can be mailed or archived, and it has print
// styles for A4. A failed or unfinished run renders too, showing what
// there is and why the rest is missing.
func RenderReport(ctx context.Context, src Source, runID string) ([]byte, error) {
	if !validRunID(runID) {
		return nil, fmt.Errorf("%q is not a run ID", runID)
	}
	return renderReport(ctx, newAnalyzer(src), runID, time.Now())
}

func renderReport(ctx context.Context, an *analyzer, runID string, now time.Time) ([]byte, error) {
	d, err := an.load(ctx, runID)
	if err != nil {
		return nil, err
	}
	p := pageData{Report: true, CSS: styleCSS, Generated: now.UTC().Format("2006-01-02 15:04:05 UTC")}
	if end := d.Run.GetEndTime(); terminal(d.Run.GetState()) && end.IsValid() && end.GetSeconds() != 0 {
		// An ended run's report is its record: the run as it ended,
		// dated by its end and without the reports stored of it, so it
		// is the same bytes whenever and by whichever orchestrator it is
		// rendered (the one that stores it may have taken the run over
		// from an owner that stopped before storing it).
		now = end.AsTime()
		p.AsOf = now.UTC().Format("2006-01-02 15:04:05 UTC")
		for dg, a := range d.Artifacts {
			if a.GetKind() == artifacts.KindReport {
				delete(d.Artifacts, dg)
			}
		}
	}
	v := buildRunView(d, now)
	p.Title, p.Data = "Report: "+pageTitle(v), v
	var buf bytes.Buffer
	if err := pageTemplates["run"].ExecuteTemplate(&buf, "layout", p); err != nil {
		return nil, fmt.Errorf("render the report: %w", err)
	}
	return buf.Bytes(), nil
}
