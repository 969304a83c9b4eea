// Command orchestrator serves alur.orchestrator.v1.OrchestratorService: it
// runs pipelines against the stage services and keeps runs and artifacts in
// a bbolt file under --data-dir. It also serves the web dashboard on --http
// (empty disables it).
package main

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator"
	"github.com/alur-ml/alur/services/orchestrator/dashboard"
	"github.com/alur-ml/alur/services/orchestrator/obs"
)

func main() {
	addr := flag.String("addr", "localhost:7000", "address to serve on")
	httpAddr := flag.String("http", "localhost:8080", "address of the web dashboard (empty disables it); it serves with the gRPC TLS settings and token")
	dashInsecure := flag.Bool("dashboard-insecure", false, "allow the dashboard on a non-loopback address without TLS (plain HTTP shows every run and data value to the network)")
	cfg := orchestrator.Config{}
	flag.StringVar(&cfg.DataDir, "data-dir", ".alur", "directory of the bbolt file "+orchestrator.DBFile)
	flag.StringVar(&cfg.IngestAddr, "ingest", "localhost:7001", "address of the ingest service")
	flag.StringVar(&cfg.PrepAddr, "prep", "localhost:7002", "address of the prep service")
	flag.StringVar(&cfg.TrainAddr, "train", "localhost:7003", "address of the train service: host:port, dns:///name:port, or a comma-separated list of replicas (round robin)")
	flag.IntVar(&cfg.MaxParallelTrials, "max-parallel-trials", 1, "trials of one run trained at once, spread over the train replicas")
	flag.StringVar(&cfg.EvalAddr, "eval", "localhost:7004", "address of the eval service")
	flag.IntVar(&cfg.MaxConcurrentRuns, "max-concurrent-runs", 4, "runs executing at once")
	flag.IntVar(&cfg.MaxQueuedRuns, "max-queued-runs", 64, "runs waiting to start before StartRun answers ResourceExhausted")
	flag.Int64Var(&cfg.MaxUploadBytes, "max-upload-bytes", 1<<30, "largest accepted upload")
	flag.DurationVar(&cfg.StepTimeout, "step-timeout", 10*time.Minute, "deadline of one data stage call")
	flag.DurationVar(&cfg.TrainTimeout, "train-timeout", 2*time.Hour, "deadline of one training call")
	gcInterval := flag.Duration("gc-interval", time.Hour, "how often the store's garbage collector removes orphan chunks (it also runs at start); 0 runs it at start only")
	flag.DurationVar(&cfg.StageRetryWindow, "stage-retry-window", 2*time.Minute, "how long a step retries a stage that answers Unavailable before the run fails")
	opts := serverkit.BindFlags(flag.CommandLine)
	flag.Parse()

	logger := serverkit.NewLogger("orchestrator")
	cfg.Logger = logger
	if *httpAddr != "" {
		if err := opts.CheckHTTPExposure(*httpAddr, *dashInsecure); err != nil {
			logger.Error("dashboard", "err", err)
			os.Exit(1)
		}
	}
	dopts, err := opts.DialOptions()
	if err != nil {
		logger.Error("stage connections", "err", err)
		os.Exit(1)
	}
	cfg.DialOptions = dopts
	srv, err := orchestrator.New(cfg)
	if err != nil {
		logger.Error("start", "err", err)
		os.Exit(1)
	}
	logger.Info("store", "path", srv.StorePath())
	gcCtx, stopGC := context.WithCancel(context.Background())
	defer stopGC()
	srv.Store().StartGC(gcCtx, *gcInterval, func(n int, b int64, err error) {
		if err != nil {
			logger.Error("store gc", "err", err)
			return
		}
		obs.StoreGCChunks.Add(float64(n))
		obs.StoreGCBytes.Add(float64(b))
		if n > 0 {
			logger.Info("store gc removed orphan chunks", "chunks", n, "bytes", b)
		}
	})
	stopDashboard := func() {}
	if *httpAddr != "" {
		// The dashboard is a view: when it cannot start (its port is
		// taken), the orchestrator still serves and says so.
		if _, stopDashboard, err = serveDashboard(*httpAddr, opts, srv.DashboardSource(), logger); err != nil {
			logger.Error("dashboard disabled", "err", err)
			stopDashboard = func() {}
		}
	}
	serverkit.MainWith("orchestrator", *addr, opts, func(g *grpc.Server) error {
		srv.Register(g)
		return nil
	})
	stopDashboard()
	stopGC()
	if err := srv.Close(); err != nil {
		logger.Error("close", "err", err)
		os.Exit(1)
	}
}

// serveDashboard serves the dashboard on httpAddr, reading this
// orchestrator in process, until SIGINT or SIGTERM; the returned func waits
// for its graceful shutdown. It serves with the gRPC server's TLS (and
// mTLS) settings and behind its bearer token (a login form sets a session
// cookie for browsers); /healthz stays open for probes. It returns the
// address it listens on.
func serveDashboard(httpAddr string, opts *serverkit.Options, src dashboard.Source, logger *slog.Logger) (string, func(), error) {
	plain, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return "", nil, err
	}
	lis, err := opts.HTTPListener(plain)
	if err != nil {
		plain.Close()
		return "", nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h := opts.HTTPAuth(dashboard.NewHandler(src, serverkit.NewLogger("dashboard")), "/healthz", "/favicon.ico")
		if err := dashboard.Serve(ctx, lis, h); err != nil {
			logger.Error("dashboard", "err", err)
		}
	}()
	logger.Info("dashboard", "url", opts.HTTPScheme()+"://"+lis.Addr().String(), "auth", opts.AuthToken != "")
	return lis.Addr().String(), func() {
		stop()
		<-done
	}, nil
}
