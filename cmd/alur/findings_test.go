package main

import (
	"strings"
	"testing"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

func TestWriteDataSection(t *testing.T) {
	run := &orchestratorv1.Run{IngestReport: &ingestv1.IngestReport{
		Format: "csv", Compression: "gzip", Dialect: `delimiter ";" quote "\"" header`, Rows: 98, SkippedRows: 12,
	}}
	for i := range 12 {
		run.IngestReport.BadRows = append(run.IngestReport.BadRows, &ingestv1.BadRow{Line: int64(10 + i), Reason: "has 3 fields, but the header has 2", Excerpt: "1;2;3"})
	}
	prof := &datav1.DataProfile{Findings: []*datav1.Finding{
		{Severity: datav1.Severity_SEVERITY_INFO, Column: "income", Message: "skewed", Suggestion: "log_transform"},
		{Severity: datav1.Severity_SEVERITY_ERROR, Column: "refund", Message: "leaks the label", Suggestion: "drop it"},
		{Severity: datav1.Severity_SEVERITY_WARNING, Columns: []string{"a", "b"}, Message: "near duplicates"},
	}}
	var b strings.Builder
	writeDataSection(&b, run, prof)
	out := b.String()
	for _, want := range []string{
		`read csv (gzip), delimiter ";" quote "\"" header: 98 rows`,
		"12 malformed rows skipped",
		"line 10: has 3 fields, but the header has 2",
		"… 2 more (the first 12 are in --json)",
		"3 findings:",
		"fix: drop it",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Most severe first.
	e, w, i := strings.Index(out, "error   refund: leaks"), strings.Index(out, "warning a, b: near"), strings.Index(out, "info    income: skewed")
	if e < 0 || w < 0 || i < 0 || !(e < w && w < i) {
		t.Errorf("findings not ordered error, warning, info:\n%s", out)
	}
	b.Reset()
	writeDataSection(&b, &orchestratorv1.Run{}, nil)
	if b.Len() != 0 {
		t.Errorf("nothing to say, yet wrote %q", b.String())
	}
}
