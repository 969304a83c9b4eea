package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/alurtest"
	"github.com/alur-ml/alur/services/orchestrator/dashboard"
	"github.com/alur-ml/alur/services/orchestrator/stack"
)

func TestReportCommand(t *testing.T) {
	f := newFake()
	addr := startFake(t, f)
	env := map[string]string{serverEnv: addr}
	id := f.final.GetId()
	dir := t.TempDir()

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
		file     string
	}{
		{name: "to a file", args: []string{"report", id, "-o", filepath.Join(dir, "r.html")}, file: filepath.Join(dir, "r.html")},
		{name: "flags after", args: []string{"report", "-o", filepath.Join(dir, "s.html"), id}, file: filepath.Join(dir, "s.html")},
		{name: "missing ID", args: []string{"report"}, wantCode: exitUsage, wantErr: "missing the run ID"},
		{name: "two IDs", args: []string{"report", id, "other"}, wantCode: exitUsage, wantErr: `unexpected argument "other"`},
		{name: "unknown run", args: []string{"report", "20990101-000000-abcdef", "-o", filepath.Join(dir, "x.html")}, wantCode: exitFailure, wantErr: "not found"},
		{name: "not an ID", args: []string{"report", "../etc", "-o", filepath.Join(dir, "y.html")}, wantCode: exitFailure, wantErr: "not a run ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, out, errb := newTestApp(env)
			if code := runMain(context.Background(), tc.args, a); code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out, errb)
			}
			if tc.wantErr != "" && !strings.Contains(errb.String(), tc.wantErr) {
				t.Errorf("stderr %q lacks %q", errb, tc.wantErr)
			}
			if tc.file == "" {
				return
			}
			b, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			page := string(b)
			for _, want := range []string{"<!doctype html>", id, `data-chart="leaderboard"`, "@media print"} {
				if !strings.Contains(page, want) {
					t.Errorf("report lacks %q", want)
				}
			}
			if !strings.Contains(out.String(), "Wrote "+tc.file) {
				t.Errorf("stdout: %s", out)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.html")); !os.IsNotExist(err) {
		t.Errorf("a failed report left a file: %v", err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".alur-report-*"))
	if len(matches) > 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}

	// Without -o the report goes under the temporary directory, not the
	// current one, and the command says where.
	tmp := t.TempDir()
	a, out, errb := newTestApp(map[string]string{serverEnv: addr, "TMPDIR": tmp})
	if code := runMain(context.Background(), []string{"report", id}, a); code != exitOK {
		t.Fatalf("default path: exit %d: %s", code, errb)
	}
	want := filepath.Join(tmp, "alur-reports", "alur-report-"+id+".html")
	if _, err := os.Stat(want); err != nil {
		t.Errorf("default report not written to %s: %v", want, err)
	}
	if !strings.Contains(out.String(), "Wrote "+want) {
		t.Errorf("stdout does not say where: %s", out)
	}

	// "-o -" writes the page to stdout.
	a, out, errb = newTestApp(env)
	if code := runMain(context.Background(), []string{"report", id, "-o", "-"}, a); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if !strings.HasPrefix(out.String(), "<!doctype html>") {
		t.Errorf("stdout does not start with the page: %.80q", out)
	}
}

// TestDemoWritesReport runs the demo with its dashboard and checks that
// it names the dashboard and writes a report with the run's charts.
func TestDemoWritesReport(t *testing.T) {
	if testing.Short() {
		t.Skip("trains every classifier on iris")
	}
	dir := t.TempDir()
	a, out, errb := newTestApp(nil)
	if code := runMain(context.Background(), []string{"demo", "--data-dir", dir}, a); code != exitOK {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errb)
	}
	if !regexp.MustCompile(`(?m)^Dashboard: http://127\.0\.0\.1:\d+ `).MatchString(out.String()) {
		t.Errorf("demo does not print the dashboard URL:\n%s", out)
	}
	m := regexp.MustCompile(`(?m)^Report:\s+(\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("demo does not print the report path:\n%s", out)
	}
	b, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, chart := range []string{"timeline", "confusion-matrix", "roc", "learning-curve", "feature-importance"} {
		if !strings.Contains(string(b), `data-chart="`+chart+`"`) {
			t.Errorf("the demo report has no %s chart", chart)
		}
	}
}

// TestReportIsTheStoredOne reports a finished run of the real stack: the
// page is the report the orchestrator stored with the run, drawn with
// eval's predictions (its ROC curve), not one rendered over gRPC.
func TestReportIsTheStoredOne(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run")
	}
	st := alurtest.Start(t, stack.Config{})
	env := map[string]string{serverEnv: st.OrchestratorAddr}
	start, err := st.Orchestrator.StartRun(t.Context(), &orchestratorv1.StartRunRequest{Spec: &orchestratorv1.PipelineSpec{
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}, Label: "species",
		Candidates: []*orchestratorv1.Candidate{{Algorithm: "knn"}}, Seed: 1,
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{orch: st.Orchestrator, timeout: time.Minute}
	run, err := c.followRun(t.Context(), start.GetRun().GetId(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.GetReportDigest() == "" {
		t.Fatal("the run stored no report")
	}
	file := filepath.Join(t.TempDir(), "r.html")
	a, out, errb := newTestApp(env)
	if code := runMain(context.Background(), []string{"report", run.GetId(), "-o", file}, a); code != exitOK {
		t.Fatalf("report: exit %d: %s%s", code, out, errb)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := dashboard.ClientSource(st.Orchestrator).ReadArtifact(t.Context(), run.GetReportDigest())
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(stored) || !strings.Contains(string(b), `data-chart="roc"`) {
		t.Error("the report is not the stored one drawn with eval's predictions")
	}
}
