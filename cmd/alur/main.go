// Command alur is the command-line client of the alur workflow system. It
// starts pipelines on an OrchestratorService and follows them step by step,
// lists and shows runs, predicts with a run's best model, and can start the
// whole system in one process (alur demo, alur dev) so that nothing else has
// to be installed to try it.
//
// Every command is one file of this package; main only dispatches.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// SIGINT and SIGTERM cancel the context: streams stop being followed,
	// in-process services shut down gracefully, and the command returns.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], &app{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// app is what every command gets from the process: its output streams and
// environment. Tests build one around buffers.
type app struct {
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// keepFieldNames keeps the API's field names in errors: the user gave
	// a spec file (-f) and wrote them. Otherwise errors name the flags.
	keepFieldNames bool
}
