package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses. They follow the usual Unix conventions so that scripts can
// tell a bad command line from a failed run.
const (
	exitOK          = 0
	exitFailure     = 1   // the command or the run failed
	exitUsage       = 2   // the command line was wrong
	exitInterrupted = 130 // SIGINT or SIGTERM (128 + 2, as shells report it)
)

// command is one subcommand: its name, a one-line summary for `alur help`,
// and the function that parses its own flags and does the work.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

// commands lists the subcommands in the order `alur help` shows them. It is
// a function rather than a variable so that the help command can refer to
// it without an initialisation cycle.
func commands() []*command {
	return []*command{
		{name: "demo", summary: "start everything in one process and run the default pipeline on a bundled dataset", run: runDemo},
		{name: "dev", summary: "serve the six services on their default ports until interrupted", run: runDev},
		{name: "run", summary: "run a pipeline (a spec file, or a local CSV and a label) and follow it", run: runRun},
		{name: "runs", summary: "list runs, or show one run in detail", run: runRuns},
		{name: "predict", summary: "predict rows with the best model of a finished run", run: runPredict},
		{name: "report", summary: "write a run's self-contained HTML report (charts inline, opens offline)", run: runReport},
		{name: "datasets", summary: "list, show, append to and compare versioned datasets", run: runDatasets},
		{name: "models", summary: "register run models, list and show them, move aliases such as production", run: runModels},
		{name: "retrain", summary: "run a dataset run's spec again on the dataset's latest version", run: runRetrain},
	}
}

func lookupCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// runMain dispatches args (without the program name) to a command and
// turns its result into an exit status, printing any error to stderr.
func runMain(ctx context.Context, args []string, a *app) int {
	if len(args) == 0 {
		printMainUsage(a.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			c := lookupCommand(args[1])
			if c == nil {
				fmt.Fprintf(a.stderr, "alur: unknown command %q\n", args[1])
				printMainUsage(a.stderr)
				return exitUsage
			}
			return a.exitStatus(ctx, c.run(ctx, a, []string{"-h"}))
		}
		printMainUsage(a.stdout)
		return exitOK
	}
	c := lookupCommand(name)
	if c == nil {
		fmt.Fprintf(a.stderr, "alur: unknown command %q\n\n", name)
		printMainUsage(a.stderr)
		return exitUsage
	}
	a.keepFieldNames = specFileGiven(args[1:])
	return a.exitStatus(ctx, c.run(ctx, a, args[1:]))
}

func printMainUsage(w io.Writer) {
	fmt.Fprint(w, `alur runs machine-learning workflows as gRPC services:
collect data, prepare it, train candidate models, test the best one.

Usage:
  alur <command> [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "alur help <command>" or "alur <command> -h" for a command's flags.

Start here:
  alur demo                      everything in one process, on the iris data
  alur dev &                     the services on localhost:7000-7005, then:
  alur run --csv data.csv --label target
  alur runs list
  alur report RUN_ID             the run's report as one HTML file
`)
}

// usageError is a mistake on the command line. It exits with status 2 and
// points at the command's help.
type usageError struct {
	cmd string
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usageErrorf(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// runEndedError reports a run that ended without success (failed or
// cancelled). The run's own report has been printed already; the error
// carries the reason for stderr.
type runEndedError struct {
	runID  string
	state  string
	reason string
}

func (e *runEndedError) Error() string {
	if e.reason == "" {
		return fmt.Sprintf("run %s %s", e.runID, e.state)
	}
	return fmt.Sprintf("run %s %s: %s", e.runID, e.state, e.reason)
}

// exitStatus prints err (if any) in the form that suits it and returns the
// process exit status.
func (a *app) exitStatus(ctx context.Context, err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(a.stderr, "alur %s: %s\nRun \"alur %s -h\" for usage.\n", ue.cmd, ue.msg, ue.cmd)
		return exitUsage
	case ctx.Err() != nil:
		// Interrupted: whatever failed, failed because of it.
		fmt.Fprintln(a.stderr, "alur: interrupted")
		return exitInterrupted
	default:
		msg := formatError(err)
		if !a.keepFieldNames {
			msg = flagNames(msg)
		}
		fmt.Fprintln(a.stderr, msg)
		return exitFailure
	}
}

// parseFlags parses args with fs, accepting flags before and after
// positional arguments (so both `alur runs show ID --json` and
// `alur runs show --json ID` work). -h prints the command's usage text and
// flags to stdout and returns flag.ErrHelp; any other problem is a
// usageError.
func parseFlags(a *app, fs *flag.FlagSet, usage string, args []string) (positional []string, err error) {
	fs.SetOutput(io.Discard)
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printCommandHelp(a.stdout, fs, usage)
				return nil, flag.ErrHelp
			}
			return nil, usageErrorf(fs.Name(), "%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		// The flag package stops at the first non-flag argument; take it
		// and carry on, unless the user ended flags with "--".
		if consumedTerminator(args, rest) {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// consumedTerminator reports whether the flag parse that left rest
// stopped at a "--" argument.
func consumedTerminator(args, rest []string) bool {
	i := len(args) - len(rest) - 1
	return i >= 0 && args[i] == "--"
}

func printCommandHelp(w io.Writer, fs *flag.FlagSet, usage string) {
	fmt.Fprintln(w, strings.TrimSpace(usage))
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// flagsSet returns the names of the flags given on the command line.
func flagsSet(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}
