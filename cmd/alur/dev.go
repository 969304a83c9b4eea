package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

const devUsage = `
Usage:
  alur dev [--data-dir DIR] [--data-root DIR] [--allow-url-host HOST]
           [--addr ADDR] [--ingest-addr ADDR] [--prep-addr ADDR]
           [--train-addr ADDR] [--eval-addr ADDR] [--serve-addr ADDR]
           [--serve-http ADDR] [--http ADDR] [--metrics-addr ADDR]

Serves the six alur services from this one process, on their default ports
unless told otherwise, until SIGINT or SIGTERM; then they shut down
gracefully and unfinished runs resume on the next start. The other commands
(run, runs, predict, report) talk to the orchestrator at localhost:7000 by
default. The serving stage answers the Open Inference Protocol for
registered models on --serve-addr (gRPC, localhost:7005) and --serve-http
(HTTP/JSON, localhost:8005). The web dashboard is served on --http
(localhost:8080; empty disables it). --metrics-addr serves Prometheus
metrics of all six services, from one registry, at http://ADDR/metrics
(default: none).

Every service answers grpc.health.v1 and server reflection, so
"grpcurl -plaintext localhost:7000 list" works. Logs go to stderr; set
ALUR_LOG_LEVEL=debug|info|warn|error to change how much.
`

func runDev(ctx context.Context, a *app, args []string) error {
	cfg, err := parseDevFlags(a, args)
	if err != nil {
		return err
	}
	st, err := startStack(ctx, cfg)
	if err != nil {
		return err
	}
	printDevStack(a.stdout, st)
	fmt.Fprintln(a.stdout, "Serving; press Ctrl-C to stop. From another terminal: alur run --csv FILE --label COLUMN")

	var failure error
	select {
	case <-ctx.Done():
		fmt.Fprintln(a.stdout, "Shutting down...")
	case failure = <-st.Failed():
		fmt.Fprintf(a.stderr, "alur dev: %v; shutting down\n", failure)
	}
	stopErr := st.Stop()
	if failure != nil {
		return failure
	}
	if stopErr != nil {
		return stopErr
	}
	fmt.Fprintln(a.stdout, "Stopped.")
	return nil
}

// parseDevFlags reads alur dev's flags into the stack's configuration,
// with a logger on stderr at ALUR_LOG_LEVEL.
func parseDevFlags(a *app, args []string) (stackConfig, error) {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	cfg := stackConfig{}
	fs.StringVar(&cfg.DataDir, "data-dir", ".alur", "`directory` for the orchestrator's bbolt file")
	fs.StringVar(&cfg.DataRoot, "data-root", "", "`directory` that a spec's source.path is relative to (ingest's data root)")
	fs.Func("allow-url-host", "`host` (or host:port) the ingest service may download source URLs from; repeatable or comma-separated (default: none, URLs off)", func(v string) error {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				cfg.AllowURLHosts = append(cfg.AllowURLHosts, h)
			}
		}
		return nil
	})
	fs.StringVar(&cfg.OrchestratorAddr, "addr", "localhost:7000", "orchestrator listen `address`")
	fs.StringVar(&cfg.IngestAddr, "ingest-addr", "localhost:7001", "ingest listen `address`")
	fs.StringVar(&cfg.PrepAddr, "prep-addr", "localhost:7002", "prep listen `address`")
	fs.StringVar(&cfg.TrainAddr, "train-addr", "localhost:7003", "train listen `address`")
	fs.StringVar(&cfg.EvalAddr, "eval-addr", "localhost:7004", "eval listen `address`")
	fs.StringVar(&cfg.ServeAddr, "serve-addr", "localhost:7005", "serving stage (Open Inference Protocol) listen `address` (empty disables it)")
	fs.StringVar(&cfg.ServeHTTPAddr, "serve-http", "localhost:8005", "serving stage HTTP/JSON listen `address` (empty disables it)")
	fs.StringVar(&cfg.HTTPAddr, "http", "localhost:8080", "web dashboard listen `address` (empty disables it)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "Prometheus /metrics listen `address` (empty disables it)")
	rest, err := parseFlags(a, fs, devUsage, args)
	if err != nil {
		return cfg, err
	}
	if len(rest) > 0 {
		return cfg, usageErrorf("dev", "unexpected argument %q", rest[0])
	}
	if cfg.DataDir == "" {
		return cfg, usageErrorf("dev", "--data-dir must not be empty")
	}
	level := slog.LevelInfo
	if err := level.UnmarshalText([]byte(a.getenv("ALUR_LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	cfg.Logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	return cfg, nil
}

// printDevStack lists where each service listens.
func printDevStack(w io.Writer, st *devStack) {
	tw := newTable(w)
	fmt.Fprintf(tw, "orchestrator\t%s\n", st.OrchestratorAddr)
	fmt.Fprintf(tw, "ingest\t%s\n", st.IngestAddr)
	fmt.Fprintf(tw, "prep\t%s\n", st.PrepAddr)
	fmt.Fprintf(tw, "train\t%s\n", st.TrainAddr)
	fmt.Fprintf(tw, "eval\t%s\n", st.EvalAddr)
	if st.ServeAddr != "" {
		fmt.Fprintf(tw, "serve\t%s\n", st.ServeAddr)
	}
	if st.ServeURL != "" {
		fmt.Fprintf(tw, "serve-http\t%s\n", st.ServeURL)
	}
	fmt.Fprintf(tw, "data\t%s\n", st.StorePath)
	if st.DashboardURL != "" {
		fmt.Fprintf(tw, "dashboard\t%s\n", st.DashboardURL)
	}
	if st.MetricsURL != "" {
		fmt.Fprintf(tw, "metrics\t%s\n", st.MetricsURL)
	}
	tw.Flush()
}
