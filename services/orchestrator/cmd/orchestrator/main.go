// Command orchestrator serves alur.orchestrator.v1.OrchestratorService: it
// runs pipelines against the stage services and keeps runs and artifacts in
// a bbolt file under --data-dir, or in etcd and a blob store, a directory
// or an S3 bucket (--store, --blobs). It also serves the web dashboard on --http
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
	"github.com/alur-ml/alur/services/orchestrator/store"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore"
)

// flags are the command line: the orchestrator's Config, the serverkit
// options every service shares, and what only this binary uses.
type flags struct {
	cfg          orchestrator.Config
	opts         *serverkit.Options
	addr         string
	httpAddr     string
	dashInsecure bool
	gcInterval   time.Duration
}

// parseFlags reads the command line into flags.
func parseFlags() *flags {
	f := &flags{}
	cfg := &f.cfg
	flag.StringVar(&f.addr, "addr", "localhost:7000", "address to serve on")
	flag.StringVar(&f.httpAddr, "http", "localhost:8080", "address of the web dashboard (empty disables it); it serves with the gRPC TLS settings and token")
	flag.BoolVar(&f.dashInsecure, "dashboard-insecure", false, "allow the dashboard on a non-loopback address without TLS (plain HTTP shows every run and data value to the network)")
	flag.StringVar(&cfg.DataDir, "data-dir", ".alur", "directory of the bbolt file "+orchestrator.DBFile)
	flag.StringVar(&cfg.Store, "store", "", "where runs, events, the step cache and the registries live: empty (the bbolt file in --data-dir), bbolt:PATH, or etcd://host:port[,host:port]/prefix, shared by several orchestrators (needs --blobs)")
	flag.DurationVar(&cfg.OwnerTTL, "owner-ttl", orchestrator.DefaultOwnerTTL, "with an etcd store: how long after this orchestrator stops answering another takes its runs over (whole seconds)")
	flag.StringVar(&cfg.ReplicaID, "replica-id", "", "this orchestrator's name in the run events it records and, with an etcd store, in the owner keys of its runs (default: host name and process id)")
	flag.StringVar(&cfg.Blobs, "blobs", "", "where an etcd store keeps artifact content: file:///dir (a local or shared volume), or s3://bucket[/prefix]?endpoint=http://host:port&region=R (an S3-compatible object store; credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a shared credentials file named by &credentials_file=PATH or AWS_SHARED_CREDENTIALS_FILE)")
	flag.DurationVar(&cfg.BlobRetryWindow, "blob-retry-window", etcdstore.DefaultBlobRetryWindow, "with an etcd store: how long one blob read or write is retried while the blob store is unavailable; then the step pauses the run and retries on the stage retry window")
	flag.DurationVar(&cfg.BlobGCGrace, "blob-gc-grace", etcdstore.DefaultBlobGCGrace, "with an etcd store: the garbage collector deletes blobs no artifact references once they are this old (younger ones may be writes in flight)")
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
	flag.DurationVar(&f.gcInterval, "gc-interval", time.Hour, "how often the store's garbage collector removes orphan chunks (bbolt) or orphan blobs (etcd; see --blob-gc-grace); it also runs at start; 0 runs it at start only")
	flag.DurationVar(&cfg.StageRetryWindow, "stage-retry-window", 2*time.Minute, "how long a step retries a stage that answers Unavailable before the run fails")
	f.opts = serverkit.BindFlags(flag.CommandLine)
	flag.Parse()
	return f
}

func main() {
	f := parseFlags()
	logger := serverkit.NewLogger("orchestrator")
	fail := func(what string, err error) {
		logger.Error(what, "err", err)
		os.Exit(1)
	}
	f.cfg.Logger = logger
	if f.httpAddr != "" {
		if err := f.opts.CheckHTTPExposure(f.httpAddr, f.dashInsecure); err != nil {
			fail("dashboard", err)
		}
	}
	dopts, err := f.opts.DialOptions()
	if err != nil {
		fail("stage connections", err)
	}
	f.cfg.DialOptions = dopts
	srv, err := orchestrator.New(f.cfg)
	if err != nil {
		fail("start", err)
	}
	logger.Info("store", "path", srv.StorePath())
	go exitOnLostLease(srv, logger)
	gcCtx, stopGC := context.WithCancel(context.Background())
	defer stopGC()
	startGC(gcCtx, srv, f.gcInterval, logger)
	stopDashboard := func() {}
	if f.httpAddr != "" {
		// The dashboard is a view: when it cannot start (its port is
		// taken), the orchestrator still serves and says so.
		if _, stopDashboard, err = serveDashboard(f.httpAddr, f.opts, srv.DashboardSource(), logger); err != nil {
			logger.Error("dashboard disabled", "err", err)
			stopDashboard = func() {}
		}
	}
	serverkit.MainWith("orchestrator", f.addr, f.opts, func(g *grpc.Server) error {
		srv.Register(g)
		return nil
	})
	stopDashboard()
	stopGC()
	if err := srv.Close(); err != nil {
		fail("close", err)
	}
}

// exitOnLostLease ends the process when the store's run-ownership lease is
// lost (an etcd store unreachable for the owner TTL): by then the other
// orchestrators have taken its runs over, and a fenced owner must stop.
func exitOnLostLease(srv *orchestrator.Server, logger *slog.Logger) {
	lost := srv.Lost()
	if lost == nil {
		return
	}
	<-lost
	logger.Error("run ownership lease lost (etcd unreachable for the owner TTL): the other orchestrators have taken the runs over; exiting")
	os.Exit(1)
}

// startGC runs the store's garbage collector, when the store has one, at
// start and every interval, recording what it removes in the metrics.
func startGC(ctx context.Context, srv *orchestrator.Server, interval time.Duration, logger *slog.Logger) {
	gc, ok := srv.Store().(store.Collector)
	if !ok {
		return
	}
	gc.StartGC(ctx, interval, func(n int, b int64, err error) {
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
