package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/display"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/dashboard"
)

// maxListedBadRows and maxListedFindings keep `runs show` readable; the
// full lists are in --json and on the dashboard.
const (
	maxListedBadRows  = 10
	maxListedFindings = 20
)

// readProfile fetches a run's data profile artifact, or returns nil when
// the run has none yet.
func (c *client) readProfile(ctx context.Context, run *orchestratorv1.Run) (*datav1.DataProfile, error) {
	d := run.GetProfileDigest()
	if d == "" {
		return nil, nil
	}
	b, err := dashboard.ClientSource(c.orch).ReadArtifact(ctx, d)
	if err != nil {
		return nil, c.wrap("GetArtifact", err)
	}
	p := &datav1.DataProfile{}
	if err := proto.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("decode the data profile %s: %w", shortDigest(d), err)
	}
	return p, nil
}

// writeDataSection prints what reading and exploring the data found: the
// format and dialect, the malformed rows skipped, and the profile's
// findings, most severe first, each with its suggested fix.
func writeDataSection(w io.Writer, run *orchestratorv1.Run, prof *datav1.DataProfile) {
	rep := run.GetIngestReport()
	if rep == nil && len(prof.GetFindings()) == 0 {
		return
	}
	fmt.Fprintln(w, "\nData:")
	if rep != nil {
		read := rep.GetFormat()
		if c := rep.GetCompression(); c != "" {
			read += " (" + c + ")"
		}
		if d := rep.GetDialect(); d != "" {
			read += ", " + d
		}
		fmt.Fprintf(w, "  read %s: %s\n", read, display.Plural(rep.GetRows(), "row"))
		if n := rep.GetSkippedRows(); n > 0 {
			fmt.Fprintf(w, "  %s skipped (--max-bad-rows):\n", display.Plural(n, "malformed row"))
			for i, b := range rep.GetBadRows() {
				if i == maxListedBadRows {
					fmt.Fprintf(w, "    … %d more (the first %d are in --json)\n", n-maxListedBadRows, len(rep.GetBadRows()))
					break
				}
				fmt.Fprintf(w, "    line %d: %s  %q\n", b.GetLine(), b.GetReason(), b.GetExcerpt())
			}
		}
	}
	if len(prof.GetFindings()) == 0 {
		return
	}
	// Most severe first, in the profile's order within a severity.
	ordered := slices.Clone(prof.GetFindings())
	slices.SortStableFunc(ordered, func(a, b *datav1.Finding) int {
		return cmp.Compare(b.GetSeverity(), a.GetSeverity())
	})
	fmt.Fprintf(w, "  %s:\n", display.Plural(int64(len(ordered)), "finding"))
	for i, f := range ordered {
		if i == maxListedFindings {
			fmt.Fprintf(w, "    … %d more (on the dashboard)\n", len(ordered)-maxListedFindings)
			break
		}
		where := strings.Join(f.GetColumns(), ", ")
		if where == "" {
			where = f.GetColumn()
		}
		if where != "" {
			where += ": "
		}
		fmt.Fprintf(w, "    %-7s %s%s\n", severityWord(f.GetSeverity()), where, f.GetMessage())
		if s := f.GetSuggestion(); s != "" {
			fmt.Fprintf(w, "            fix: %s\n", s)
		}
	}
}

// severityWord is a finding's severity in one lowercase word.
func severityWord(s datav1.Severity) string {
	switch s {
	case datav1.Severity_SEVERITY_ERROR:
		return "error"
	case datav1.Severity_SEVERITY_WARNING:
		return "warning"
	case datav1.Severity_SEVERITY_INFO:
		return "info"
	}
	return strings.ToLower(s.String())
}
