package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

const runsUsage = `
Usage:
  alur runs list [--limit N] [--json]
  alur runs show ID [--json]

list shows the newest runs: ID, state, name (or dataset), objective metric,
best validation score, test score, creation time and duration.

show prints one run in detail: the spec in brief, every step with its state,
duration, cache hit and error, the leaderboard, the test metrics and the
run's artifacts with their digests. --json prints the Run message instead.
`

const runsListUsage = `
Usage:
  alur runs list [--limit N] [--json]

Lists the newest runs first.
`

const runsShowUsage = `
Usage:
  alur runs show ID [-v] [--json]

Shows one run in detail: the spec in brief, the steps with their
durations, the report and the artifacts. The folds of a cross-validated
trial share one row with their total time; -v (--verbose) lists every
fold on its own. --json prints the Run message as JSON.
`

// maxListPage is the largest page ListRuns serves.
const maxListPage = 1000

func runRuns(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 {
		return usageErrorf("runs", "missing subcommand: list or show")
	}
	switch args[0] {
	case "list", "ls":
		return runRunsList(ctx, a, args[1:])
	case "show", "get":
		return runRunsShow(ctx, a, args[1:])
	case "-h", "-help", "--help", "help":
		printCommandHelp(a.stdout, flag.NewFlagSet("runs", flag.ContinueOnError), runsUsage)
		return flag.ErrHelp
	}
	return usageErrorf("runs", "unknown subcommand %q (want list or show)", args[0])
}

func runRunsList(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("runs list", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs, a.getenv)
	limit := fs.Int("limit", 20, "show at most `N` runs")
	asJSON := fs.Bool("json", false, "print the runs as JSON (a ListRunsResponse)")
	rest, err := parseFlags(a, fs, runsListUsage, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("runs list", "unexpected argument %q", rest[0])
	}
	if err := cf.validate("runs list"); err != nil {
		return err
	}
	if *limit <= 0 {
		return usageErrorf("runs list", "--limit must be positive, got %d", *limit)
	}
	c, err := cf.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	runs, err := c.listRuns(ctx, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, &orchestratorv1.ListRunsResponse{Runs: runs})
	}
	writeRunList(a.stdout, runs, time.Now())
	return nil
}

// listRuns pages through ListRuns until it has limit runs or there are no
// more. Each page is one call with its own deadline.
func (c *client) listRuns(ctx context.Context, limit int) ([]*orchestratorv1.Run, error) {
	var runs []*orchestratorv1.Run
	token := ""
	for len(runs) < limit {
		cctx, cancel := c.callCtx(ctx)
		resp, err := c.orch.ListRuns(cctx, &orchestratorv1.ListRunsRequest{
			PageSize:  int32(min(limit-len(runs), maxListPage)),
			PageToken: token,
		})
		cancel()
		if err != nil {
			return nil, c.wrap("ListRuns", err)
		}
		runs = append(runs, resp.GetRuns()...)
		token = resp.GetNextPageToken()
		if token == "" || len(resp.GetRuns()) == 0 {
			break
		}
	}
	if len(runs) > limit {
		runs = runs[:limit]
	}
	return runs, nil
}

func runRunsShow(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("runs show", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs, a.getenv)
	asJSON := fs.Bool("json", false, "print the Run message as JSON")
	verbose := fs.Bool("v", false, "list every fold's steps on its own row")
	fs.BoolVar(verbose, "verbose", false, "same as -v")
	rest, err := parseFlags(a, fs, runsShowUsage, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) == 0:
		return usageErrorf("runs show", "missing run ID")
	case len(rest) > 1:
		return usageErrorf("runs show", "unexpected argument %q", rest[1])
	}
	if err := cf.validate("runs show"); err != nil {
		return err
	}
	c, err := cf.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	run, err := c.getRun(ctx, rest[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, run)
	}
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	arts, err := c.orch.ListArtifacts(cctx, &orchestratorv1.ListArtifactsRequest{RunId: run.GetId()})
	if err != nil {
		return c.wrap("ListArtifacts", err)
	}
	writeRunDetails(a.stdout, run, arts.GetArtifacts(), *verbose, time.Now())
	prof, err := c.readProfile(ctx, run)
	if err != nil {
		return err
	}
	writeDataSection(a.stdout, run, prof)
	if !runEnded(run.GetState()) {
		fmt.Fprintf(a.stdout, "\nThe run is still %s.\n", runStateWord(run.GetState()))
	}
	return nil
}
