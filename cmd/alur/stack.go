package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	evalv1 "github.com/alur-ml/alur/proto/alur/eval/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/eval"
	"github.com/alur-ml/alur/services/ingest"
	"github.com/alur-ml/alur/services/orchestrator"
	"github.com/alur-ml/alur/services/prep"
	"github.com/alur-ml/alur/services/train"
)

// stackConfig says where the in-process services listen and keep state.
// An address with port 0 (such as "127.0.0.1:0") picks a free port.
type stackConfig struct {
	// DataDir holds the orchestrator's bbolt file. Created if missing.
	DataDir string
	// DataRoot is the ingest service's root for source.path; empty
	// disables path sources.
	DataRoot string
	// AllowURLHosts are the hosts the ingest service may download source
	// URLs from; empty turns URL sources off.
	AllowURLHosts []string
	// Addresses to listen on.
	OrchestratorAddr, IngestAddr, PrepAddr, TrainAddr, EvalAddr string
	// HTTPAddr is where the web dashboard listens; empty serves none.
	HTTPAddr string
	// ServeAddr is where the serving stage (Open Inference Protocol)
	// listens, and ServeHTTPAddr its HTTP/JSON form; empty serves none.
	ServeAddr, ServeHTTPAddr string
	// Logger receives the services' logs; nil discards them.
	Logger *slog.Logger
}

// stack is the five alur services (and the serving stage, when asked)
// running in this process, each on its own loopback listener, exactly as
// separate binaries would run them: the orchestrator reaches the stages
// over gRPC, not by function calls.
type stack struct {
	// Addresses the services listen on (with the ports chosen).
	OrchestratorAddr, IngestAddr, PrepAddr, TrainAddr, EvalAddr string
	// DataDir is the orchestrator's data directory.
	DataDir string
	// StorePath is the orchestrator's bbolt file, inside DataDir.
	StorePath string
	// DashboardURL is the web dashboard's address, if one is served.
	DashboardURL string
	// ServeAddr and ServeURL are the serving stage's gRPC address and
	// HTTP/JSON base URL, if served.
	ServeAddr, ServeURL string

	orch        *orchestrator.Server
	stopOrch    context.CancelFunc
	stopStages  context.CancelFunc
	orchDone    sync.WaitGroup
	stagesDone  sync.WaitGroup
	failed      chan error
	stopDash    func()
	serving     *serveStage
	stopOnce    sync.Once
	stopErr     error
	serveErrsMu sync.Mutex
	serveErrs   []error
}

// startStack listens on every address first (so a taken port fails before
// anything runs), serves the four stages, then builds the orchestrator
// pointed at the stages' actual addresses (it may resume unfinished runs
// at once, so the stages are up by then) and serves it. Stop shuts
// everything down. ctx only carries values: the services run until Stop.
func startStack(ctx context.Context, cfg stackConfig) (_ *stack, err error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	type service struct {
		name     string
		addr     string
		lis      net.Listener
		register func(*serverkit.Server)
	}
	stages := []*service{
		{name: "ingest", addr: cfg.IngestAddr, register: func(s *serverkit.Server) {
			ingestv1.RegisterIngestServiceServer(s.GRPC, ingest.NewServer(ingest.Config{DataRoot: cfg.DataRoot, AllowURLHosts: cfg.AllowURLHosts}))
		}},
		{name: "prep", addr: cfg.PrepAddr, register: func(s *serverkit.Server) {
			prepv1.RegisterPrepServiceServer(s.GRPC, prep.NewServer(prep.Config{}))
		}},
		{name: "train", addr: cfg.TrainAddr, register: func(s *serverkit.Server) {
			trainv1.RegisterTrainServiceServer(s.GRPC, train.NewServer(train.Config{}))
		}},
		{name: "eval", addr: cfg.EvalAddr, register: func(s *serverkit.Server) {
			evalv1.RegisterEvalServiceServer(s.GRPC, eval.NewServer(eval.Config{}))
		}},
	}
	orchSvc := &service{name: "orchestrator", addr: cfg.OrchestratorAddr}
	all := append([]*service{orchSvc}, stages...)
	for _, s := range all {
		if s.lis, err = serverkit.Listen(s.addr); err != nil {
			for _, o := range all {
				if o.lis != nil {
					o.lis.Close()
				}
			}
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}

	st := &stack{
		OrchestratorAddr: orchSvc.lis.Addr().String(),
		IngestAddr:       stages[0].lis.Addr().String(),
		PrepAddr:         stages[1].lis.Addr().String(),
		TrainAddr:        stages[2].lis.Addr().String(),
		EvalAddr:         stages[3].lis.Addr().String(),
		DataDir:          cfg.DataDir,
		failed:           make(chan error, len(all)+2),
	}
	// The stages and the orchestrator stop separately: the orchestrator
	// first (it may be calling the stages), the stages after.
	base := context.WithoutCancel(ctx)
	stageCtx, stopStages := context.WithCancel(base)
	orchCtx, stopOrch := context.WithCancel(base)
	st.stopStages, st.stopOrch = stopStages, stopOrch
	for _, s := range stages {
		srv := serverkit.NewGRPCServer(logger.With("service", s.name))
		s.register(srv)
		st.serve(stageCtx, &st.stagesDone, s.name, srv, s.lis)
	}

	orch, err := orchestrator.New(orchestrator.Config{
		DataDir:    cfg.DataDir,
		IngestAddr: st.IngestAddr,
		PrepAddr:   st.PrepAddr,
		TrainAddr:  st.TrainAddr,
		EvalAddr:   st.EvalAddr,
		Logger:     logger.With("service", "orchestrator"),
	})
	if err != nil {
		orchSvc.lis.Close()
		stopOrch()
		stopStages()
		st.stagesDone.Wait()
		return nil, err
	}
	st.orch = orch
	st.StorePath = orch.StorePath()
	srv := serverkit.NewGRPCServer(logger.With("service", "orchestrator"))
	orch.Register(srv.GRPC)
	st.serve(orchCtx, &st.orchDone, "orchestrator", srv, orchSvc.lis)
	if cfg.ServeAddr != "" {
		if st.serving, err = startServe(cfg.ServeAddr, cfg.ServeHTTPAddr, st.OrchestratorAddr, logger.With("service", "serve"), st.failed); err != nil {
			_ = st.Stop()
			return nil, err
		}
		st.ServeAddr, st.ServeURL = st.serving.addr, st.serving.httpURL
	}
	if cfg.HTTPAddr != "" {
		// The dashboard is a view: when its port is taken the services
		// still run, and the log says why there is no dashboard.
		if st.DashboardURL, st.stopDash, err = serveDashboard(cfg.HTTPAddr, st.OrchestratorAddr, logger); err != nil {
			logger.Warn("no web dashboard", "err", err)
		}
	}
	return st, nil
}

// serve runs srv on lis in a goroutine until ctx is done. A server that
// stops on its own (an accept error) is reported on Failed.
func (st *stack) serve(ctx context.Context, wg *sync.WaitGroup, name string, srv *serverkit.Server, lis net.Listener) {
	wg.Go(func() {
		err := srv.Serve(ctx, lis)
		if err == nil && ctx.Err() == nil {
			err = errors.New("stopped serving")
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", name, err)
			st.serveErrsMu.Lock()
			st.serveErrs = append(st.serveErrs, err)
			st.serveErrsMu.Unlock()
			st.failed <- err
		}
	})
}

// Failed delivers the error of a service that stopped serving before Stop.
func (st *stack) Failed() <-chan error { return st.failed }

// Stop shuts the services down gracefully: the orchestrator stops taking
// calls and closes its store (unfinished runs resume on the next start),
// then the stages stop. It is safe to call more than once.
func (st *stack) Stop() error {
	st.stopOnce.Do(func() {
		if st.stopDash != nil {
			st.stopDash()
		}
		if st.serving != nil {
			st.serving.Stop()
		}
		// Stop taking calls, and close the orchestrator at once rather than
		// after the graceful stop: closing ends the WatchRun streams
		// (clients are told to watch again after a restart), which would
		// otherwise hold the graceful stop for its whole grace period.
		st.stopOrch()
		closeErr := st.orch.Close()
		st.orchDone.Wait()
		st.stopStages()
		st.stagesDone.Wait()
		st.serveErrsMu.Lock()
		errs := append([]error(nil), st.serveErrs...)
		st.serveErrsMu.Unlock()
		if closeErr != nil {
			errs = append(errs, fmt.Errorf("orchestrator: close: %w", closeErr))
		}
		st.stopErr = errors.Join(errs...)
	})
	return st.stopErr
}
