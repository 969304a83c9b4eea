package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

const runUsage = `
Usage:
  alur run -f SPEC [--json] [-v]
  alur run --csv FILE --label COL [--task classification|regression]
           [--algorithms a,b] [--metric m] [--target x] [--max-trials n]
           [--seed n] [--split-column col] [--delimiter c] [--max-bad-rows n]
           [--time-budget d] [--keep col,col] [--json] [-v]
  alur run --dataset NAME[@VERSION] --label COL [the same flags as --csv]

Runs a pipeline on the orchestrator and follows it step by step, then prints
the leaderboard of trials and the best model's scores on the test rows.
Each trial is one line (its score, then the search's progress: trials so
far, the best one, the time left of the spec's budget); -v (--verbose) also
shows the trial's own steps, every fold's training and evaluation.

SPEC is a PipelineSpec (alur.orchestrator.v1) written as YAML or JSON, with
the protobuf field names that grpcurl uses:

  name: churn
  source: {bundled: iris}        # or path: data/x.csv, url: https://…, upload: <digest>,
                                 # or dataset: {name: sales, version: 2}
  label: species
  task: TASK_CLASSIFICATION       # optional; inferred from the label (a few
                                 # distinct whole numbers are class codes)
  candidates:
    - algorithm: random_forest
      grid: {max_depth: {values: [4, 8]}}
  objective: {metric: accuracy, target: 0.95}
  max_trials: 10
  seed: 42
  time_budget: 60s               # optional; default 60s up to 10,000 rows, 5m above
  prepare: {keep_columns: [id]}  # optional; id-like columns are dropped otherwise

A spec's source.path is read by the ingest service, relative to its data
root, on the machine where it runs: the file is NOT uploaded from here. To
send a local file, use the short form (--csv), which uploads it first. Files
may be CSV, TSV, JSON Lines or Parquet, gzip-compressed or not; the format
and the CSV dialect are detected.

Exit status: 0 when the run succeeds, 1 when it fails or is cancelled (the
reason is printed to stderr), 2 for usage errors.
`

// uploadChunkSize is the size of the chunks of an upload: half the
// contract's 1 MiB cap, so every message stays well under gRPC's limits.
const uploadChunkSize = 512 << 10

func runRun(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs, a.getenv)
	var (
		specPath string
		asJSON   bool
		sf       shortForm
	)
	fs.StringVar(&specPath, "f", "", "pipeline spec `file` (YAML or JSON)")
	fs.BoolVar(&asJSON, "json", false, "print only the finished run, as JSON, to stdout")
	var verbose bool
	fs.BoolVar(&verbose, "v", false, "also show each trial's steps (every fold's training and evaluation)")
	fs.BoolVar(&verbose, "verbose", false, "same as -v")
	fs.StringVar(&sf.csv, "csv", "", "local CSV `file` to upload and run on (short form)")
	fs.StringVar(&sf.label, "label", "", "`column` to predict (short form)")
	fs.StringVar(&sf.name, "name", "", "run `name` (short form; default: the file's base name)")
	fs.StringVar(&sf.task, "task", "", "classification or regression (default: inferred from the label)")
	fs.StringVar(&sf.algorithms, "algorithms", "", "comma-separated algorithms to try (default: all for the task)")
	fs.StringVar(&sf.metric, "metric", "", "objective `metric` (default: accuracy or r2)")
	fs.Float64Var(&sf.target, "target", 0, "stop once the validation score reaches this `value`")
	fs.IntVar(&sf.maxTrials, "max-trials", 0, "cap on trained models (`n`, 0 means 20)")
	fs.Int64Var(&sf.seed, "seed", 42, "random `seed` for the split and the algorithms")
	fs.StringVar(&sf.splitColumn, "split-column", "", "`column` giving each row's split (train/validation/test)")
	fs.StringVar(&sf.delimiter, "delimiter", "", "CSV field separator (default: detected)")
	fs.Int64Var(&sf.maxBadRows, "max-bad-rows", 0, "skip up to `n` malformed rows and report them (default 0: the first one fails the run)")
	fs.DurationVar(&sf.timeBudget, "time-budget", 0, "search for this `duration`: no new trial starts after it, and a trial still training 5% of it later is stopped once another has succeeded (default: 60s up to 10,000 rows, 5m above)")
	fs.StringVar(&sf.keep, "keep", "", "comma-separated `columns` to keep as features even if they look like identifiers")
	dataset := fs.String("dataset", "", "run on dataset `NAME[@VERSION]` (short form; default version: the latest)")
	rest, err := parseFlags(a, fs, runUsage, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("run", "unexpected argument %q", rest[0])
	}
	if err := cf.validate("run"); err != nil {
		return err
	}
	set := flagsSet(fs)
	sf.hasTarget = set["target"]

	spec, err := runSpec(a, specPath, sf, set, *dataset)
	if err != nil {
		return err
	}

	c, err := cf.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	if sf.csv != "" {
		digest, err := c.upload(ctx, sf.csv)
		if err != nil {
			return err
		}
		spec.Source.Kind = &orchestratorv1.Source_Upload{Upload: digest}
	}
	var progress io.Writer
	if !asJSON {
		progress = a.stdout
	}
	run, err := c.execute(ctx, spec, progress, verbose)
	if err != nil {
		return err
	}
	if asJSON {
		if err := printJSON(a.stdout, run); err != nil {
			return err
		}
	} else {
		writeRunReport(a.stdout, run)
		fmt.Fprintf(a.stdout, "\nDetails: alur runs show %s\n", run.GetId())
	}
	return runOutcome(run)
}

// runSpec is the spec alur run starts: a dataset's (--dataset), a spec
// file's (-f), or the short form's (--csv); the flags set (set) must
// belong to the form chosen.
func runSpec(a *app, specPath string, sf shortForm, set map[string]bool, dataset string) (*orchestratorv1.PipelineSpec, error) {
	switch {
	case dataset != "":
		return datasetRunSpec(specPath, sf, set, dataset)
	case specPath != "" && sf.csv != "":
		return nil, usageErrorf("run", "give either -f SPEC or --csv FILE, not both")
	case specPath != "":
		for _, name := range []string{"label", "name", "task", "algorithms", "metric", "target", "max-trials", "seed", "split-column", "delimiter", "max-bad-rows", "time-budget", "keep"} {
			if set[name] {
				return nil, usageErrorf("run", "--%s belongs to the short form (--csv); with -f, set it in the spec", name)
			}
		}
		spec, err := loadSpec(specPath)
		if err != nil {
			return nil, err
		}
		if p := spec.GetSource().GetPath(); p != "" {
			if _, err := os.Stat(p); err == nil {
				fmt.Fprintf(a.stderr, "note: source.path %q is read by the ingest service under its data root, not uploaded from here (use --csv to upload)\n", p)
			}
		}
		return spec, nil
	case sf.csv != "":
		spec, err := buildShortSpec(sf)
		if err != nil {
			return nil, usageErrorf("run", "%v", err)
		}
		return spec, nil
	default:
		return nil, usageErrorf("run", "give -f SPEC, or --csv FILE --label COL")
	}
}

// runOutcome is nil for a succeeded run and a runEndedError otherwise.
func runOutcome(run *orchestratorv1.Run) error {
	if run.GetState() == orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		return nil
	}
	reason := run.GetError()
	if reason == "" && run.GetState() == orchestratorv1.RunState_RUN_STATE_CANCELLED {
		reason = "cancelled by a client"
	}
	return &runEndedError{runID: run.GetId(), state: runStateWord(run.GetState()), reason: reason}
}

// execute starts a run of spec and follows it to its end, printing the
// events to progress (nil prints nothing; verbose adds each trial's
// steps), and returns the final run.
func (c *client) execute(ctx context.Context, spec *orchestratorv1.PipelineSpec, progress io.Writer, verbose bool) (*orchestratorv1.Run, error) {
	cctx, cancel := c.callCtx(ctx)
	resp, err := c.orch.StartRun(cctx, &orchestratorv1.StartRunRequest{Spec: spec})
	cancel()
	if err != nil {
		return nil, c.wrap("StartRun", err)
	}
	run := resp.GetRun()
	if progress != nil {
		task := ""
		if t := run.GetTask(); t != datav1.Task_TASK_UNSPECIFIED {
			task = " (" + taskWord(t) + ")"
		}
		objective := ""
		if m := knownMetric(run); m != "" {
			objective = ", objective " + m
		}
		fmt.Fprintf(progress, "Run %s: %s, label %s%s%s\n", run.GetId(),
			sourceSummary(spec.GetSource()), spec.GetLabel(), task, objective)
	}
	final, err := c.followRun(ctx, run.GetId(), newProgressPrinter(progress, run, verbose))
	if err != nil {
		if ctx.Err() != nil && progress != nil {
			fmt.Fprintf(progress, "\nStopped following run %s; it goes on on the server (alur runs show %s).\n", run.GetId(), run.GetId())
		}
		return nil, err
	}
	return final, nil
}

// upload sends a local file with UploadSource, the name first and then
// chunks of uploadChunkSize, and returns the stored artifact's digest. The
// whole upload has the client's deadline.
func (c *client) upload(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	stream, err := c.orch.UploadSource(cctx)
	if err != nil {
		return "", c.wrap("UploadSource", err)
	}
	send := func(req *orchestratorv1.UploadSourceRequest) error {
		if err := stream.Send(req); err != nil {
			// The server's reason, if any, comes with CloseAndRecv.
			if errors.Is(err, io.EOF) {
				_, err = stream.CloseAndRecv()
			}
			return c.wrap("UploadSource", err)
		}
		return nil
	}
	if err := send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Name{Name: filepath.Base(path)}}); err != nil {
		return "", err
	}
	buf := make([]byte, uploadChunkSize)
	for {
		n, rerr := io.ReadFull(f, buf)
		if n > 0 {
			chunk := append([]byte(nil), buf[:n]...)
			if err := send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Chunk{Chunk: chunk}}); err != nil {
				return "", err
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return "", fmt.Errorf("read %s: %w", path, rerr)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return "", c.wrap("UploadSource", err)
	}
	return resp.GetArtifact().GetDigest(), nil
}
