package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/alur-ml/alur/ml/selection"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/dashboard"
)

const demoUsage = `
Usage:
  alur demo [--data-dir DIR] [--dataset iris|wine|breast_cancer] [--http ADDR] [-v]

Starts the five alur services in this process on loopback ports, runs the
default pipeline on a dataset that ships with alur (every algorithm for the
task with default hyperparameters, objective accuracy, seed 42), shows each
step as it happens, then prints the leaderboard and the best model's scores
on the test rows. The web dashboard is served while the demo runs (on
--http, or a free loopback port), and the run's self-contained HTML report
is written into the data directory. The services stop when the demo ends; the artifacts stay
in the data directory (a new temporary directory unless --data-dir is
given), where "alur dev --data-dir DIR" serves them again. Each trial is
one line; -v (--verbose) also shows every fold's training and evaluation,
and the services' logs.
`

// demoLabels maps each bundled dataset to the column the demo predicts.
var demoLabels = map[string]string{
	"iris":          "species",
	"wine":          "class",
	"breast_cancer": "class",
}

// demoSeed is the demo's seed, fixed so that every demo gives the same
// split and the same models.
const demoSeed = 42

func runDemo(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "directory for the orchestrator's data (default: a new temporary directory)")
	dataset := fs.String("dataset", "iris", "bundled `dataset`: "+strings.Join(demoDatasets(), ", "))
	verbose := fs.Bool("v", false, "show each trial's steps (every fold's training and evaluation) and the services' logs")
	fs.BoolVar(verbose, "verbose", false, "same as -v")
	httpAddr := fs.String("http", "127.0.0.1:0", "web dashboard listen `address` while the demo runs (empty disables it)")
	rest, err := parseFlags(a, fs, demoUsage, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("demo", "unexpected argument %q", rest[0])
	}
	label, ok := demoLabels[*dataset]
	if !ok {
		return usageErrorf("demo", "unknown dataset %q (want %s)", *dataset, strings.Join(demoDatasets(), ", "))
	}
	dir := *dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "alur-demo-"); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Data directory: %s (kept after the demo)\n", dir)
	}

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	// Every service on a loopback port the system picks (stack.Loopback).
	cfg := stackConfig{HTTPAddr: *httpAddr}
	cfg.DataDir = dir
	cfg.Logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	st, err := startStack(ctx, cfg)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = st.Stop()
		}
	}()
	fmt.Fprintf(a.stdout, "Services: orchestrator %s, ingest %s, prep %s, train %s, eval %s\n",
		st.OrchestratorAddr, st.IngestAddr, st.PrepAddr, st.TrainAddr, st.EvalAddr)
	if st.DashboardURL != "" {
		fmt.Fprintf(a.stdout, "Dashboard: %s (live while the demo runs)\n", st.DashboardURL)
	}
	fmt.Fprintln(a.stdout)

	c, err := dialClient(st.OrchestratorAddr, defaultTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	run, err := c.execute(ctx, demoSpec(*dataset, label), a.stdout, *verbose)
	if err != nil {
		return err
	}
	writeRunReport(a.stdout, run)
	reportPath := writeDemoReport(ctx, a, st, dir, run.GetId())

	stopped = true
	if err := st.Stop(); err != nil {
		fmt.Fprintf(a.stderr, "alur: stopping the services: %v\n", err)
	}
	printDemoHints(a.stdout, run.GetId(), st.StorePath, reportPath, dir)
	return runOutcome(run)
}

// writeDemoReport writes the run's HTML report into dir, drawn from the
// in-process orchestrator (which asks eval for the prediction charts),
// and returns its path; "" when it could not be written (stderr says why).
func writeDemoReport(ctx context.Context, a *app, st *devStack, dir, id string) string {
	path := filepath.Join(dir, "report-"+id+".html")
	page, err := dashboard.RenderReport(ctx, st.Orchestrator.DashboardSource(), id)
	if err == nil {
		err = writeFileAtomic(path, page)
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "alur: the HTML report: %v\n", err)
		return ""
	}
	return path
}

// printDemoHints says where the demo's run, artifacts and report are and
// how to look at them again.
func printDemoHints(w io.Writer, id, storePath, reportPath, dir string) {
	fmt.Fprintf(w, "\nRun ID:    %s\n", id)
	fmt.Fprintf(w, "Artifacts: %s (bbolt)\n", storePath)
	if reportPath != "" {
		fmt.Fprintf(w, "Report:    %s (open it in a browser; the dashboard stopped with the demo)\n", reportPath)
	}
	fmt.Fprintf(w, "Inspect:   alur dev --data-dir %s   (then, in another shell)\n", quoteArg(dir))
	fmt.Fprintf(w, "           alur runs show %s\n", id)
}

// demoSpec is the default pipeline on a bundled dataset: every algorithm
// for the task, objective accuracy, the default budget, seed 42.
func demoSpec(dataset, label string) *orchestratorv1.PipelineSpec {
	return &orchestratorv1.PipelineSpec{
		Name:      "demo-" + dataset,
		Source:    &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: dataset}},
		Label:     label,
		Objective: &orchestratorv1.Objective{Metric: "accuracy"},
		Seed:      demoSeed,
		// The default budget of small data (every bundled dataset is),
		// spelled out so that each trial's line shows the time left.
		TimeBudget: durationpb.New(selection.SmallDataBudget),
	}
}

func demoDatasets() []string {
	names := make([]string, 0, len(demoLabels))
	for n := range demoLabels {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// quoteArg quotes a path for a shell command line when it needs it.
func quoteArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
