package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"time"
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
	v := buildRunView(d, now)
	p := pageData{
		Title:     "Report: " + pageTitle(v),
		Report:    true,
		CSS:       styleCSS,
		Generated: now.UTC().Format("2006-01-02 15:04:05 UTC"),
		Data:      v,
	}
	var buf bytes.Buffer
	if err := pageTemplates["run"].ExecuteTemplate(&buf, "layout", p); err != nil {
		return nil, fmt.Errorf("render the report: %w", err)
	}
	return buf.Bytes(), nil
}
