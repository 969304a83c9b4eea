package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/ml/display"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/dashboard"
)

const reportUsage = `
Usage:
  alur report RUN_ID [-o FILE]

Writes a run's report: one self-contained HTML file that leads with what
a reader asks first (how good the model is, which model, whether more data
would help), then the candidate models, where the model goes wrong, the
metrics explained and the data, with the run's steps and artifacts at the
end; every chart inline. It loads nothing from the network, so
it opens offline, can be mailed or archived, and prints on A4.

-o names the file; "-o -" writes to stdout. Without -o the report goes to
alur-reports/alur-report-RUN_ID.html under the temporary directory ($TMPDIR,
else the system's), not the current directory, and the command says where.
--timeout bounds the whole report.
`

func runReport(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs, a.getenv)
	out := fs.String("o", "", "output `file` (- for stdout; default: alur-reports/alur-report-RUN_ID.html in the temporary directory)")
	rest, err := parseFlags(a, fs, reportUsage, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) == 0:
		return usageErrorf("report", "missing the run ID")
	case len(rest) > 1:
		return usageErrorf("report", "unexpected argument %q", rest[1])
	}
	id := rest[0]
	if err := cf.validate("report"); err != nil {
		return err
	}
	path := *out
	if path == "" {
		dir := defaultReportDir(a.getenv)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		path = filepath.Join(dir, "alur-report-"+id+".html")
	}
	c, err := cf.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	rctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	page, err := reportPage(rctx, c.orch, id)
	if err != nil {
		if _, ok := status.FromError(err); ok {
			return c.wrap("report", err)
		}
		return err
	}
	if path == "-" {
		_, err := a.stdout.Write(page)
		return err
	}
	if err := writeFileAtomic(path, page); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "Wrote %s (%s); open it in a browser.\n", path, display.Bytes(int64(len(page))))
	return nil
}

// reportPage is the run's HTML report: the one the orchestrator stored
// when the run ended (drawn with eval's predictions), else one rendered
// here from the run's artifacts, whose charts of the model's predictions
// say they are drawn where the orchestrator runs.
func reportPage(ctx context.Context, orch orchestratorv1.OrchestratorServiceClient, id string) ([]byte, error) {
	src := dashboard.ClientSource(orch)
	// A run that cannot be read is RenderReport's to explain.
	if run, err := src.GetRun(ctx, id); err == nil && run.GetReportDigest() != "" {
		d := run.GetReportDigest()
		if page, err := src.ReadArtifact(ctx, d); err == nil {
			return page, nil
		}
	}
	return dashboard.RenderReport(ctx, src, id)
}

// defaultReportDir is where reports go without -o: alur-reports under the
// temporary directory ($TMPDIR, else the system's), so that a report never
// litters the current directory (a repository's work tree, say).
func defaultReportDir(getenv func(string) string) string {
	base := getenv("TMPDIR")
	if base == "" {
		base = os.TempDir()
	}
	return filepath.Join(base, "alur-reports")
}

// writeFileAtomic writes b to path through a temporary file in the same
// directory, so that a failed write never leaves half a report.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".alur-report-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// serveDashboard serves the web dashboard on addr ("127.0.0.1:0" picks a
// port), reading src (the in-process orchestrator's source, which asks
// eval for the charts of the models' predictions), as the orchestrator
// binary's --http does. It returns the dashboard's URL and a func that
// shuts it down gracefully.
//
// It serves plain HTTP without a token, so it refuses a non-loopback
// address (serverkit's CheckHTTPExposure): the orchestrator binary serves
// the dashboard with TLS and a token.
func serveDashboard(addr string, src dashboard.Source, logger *slog.Logger) (url string, stop func(), err error) {
	if err := (&serverkit.Options{}).CheckHTTPExposure(addr, false); err != nil {
		return "", nil, err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("dashboard: listen on %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h := dashboard.NewHandler(src, logger.With("service", "dashboard"))
		if err := dashboard.Serve(ctx, lis, h); err != nil {
			logger.Error("dashboard", "err", err)
		}
	}()
	return "http://" + lis.Addr().String(), func() {
		cancel()
		<-done
	}, nil
}
