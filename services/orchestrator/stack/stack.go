package stack

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

// Loopback is the address a service listens on when its address is left
// empty: a loopback port the system picks.
const Loopback = "127.0.0.1:0"

// StagesConfig says how the four stages run.
type StagesConfig struct {
	// DataRoot is the ingest service's root for source.path; empty
	// disables path sources.
	DataRoot string
	// AllowURLHosts are the hosts ingest may download source URLs from;
	// empty turns URL sources off.
	AllowURLHosts []string
	// TrainServerID names the train server in its results; empty means
	// its host name.
	TrainServerID string
	// Addresses to listen on; empty means Loopback. A port of 0 picks a
	// free port.
	IngestAddr, PrepAddr, TrainAddr, EvalAddr string
	// Logger receives the services' logs; nil discards them.
	Logger *slog.Logger
}

// Stages is the four stage services serving in this process, each on its
// own listener, exactly as separate binaries would run them.
type Stages struct {
	// Addresses the stages listen on, with the ports chosen.
	IngestAddr, PrepAddr, TrainAddr, EvalAddr string

	group *group
}

// Config says how the whole stack runs: the stages and the orchestrator.
type Config struct {
	StagesConfig
	// DataDir holds the orchestrator's bbolt file. Created if missing.
	DataDir string
	// OrchestratorAddr is where the orchestrator listens; empty means
	// Loopback.
	OrchestratorAddr string
	// Orchestrator, when set, adjusts the orchestrator's configuration
	// (limits, timeouts) before it starts; the stage addresses, data
	// directory and logger are already filled in.
	Orchestrator func(*orchestrator.Config)
}

// Stack is the five alur services serving in this process: the
// orchestrator reaches the stages over gRPC, not by function calls.
type Stack struct {
	*Stages
	// OrchestratorAddr is the orchestrator's address, with its port.
	OrchestratorAddr string
	// Orchestrator is the orchestrator's server.
	Orchestrator *orchestrator.Server
	// StorePath is the orchestrator's bbolt file.
	StorePath string

	orch     *group
	stopOnce sync.Once
	stopErr  error
}

type service struct {
	name     string
	addr     string
	lis      net.Listener
	register func(*serverkit.Server)
}

// listen listens on every service's address, or on none: a taken port
// fails before anything serves.
func listen(svcs []*service) error {
	for _, s := range svcs {
		addr := s.addr
		if addr == "" {
			addr = Loopback
		}
		lis, err := serverkit.Listen(addr)
		if err != nil {
			for _, o := range svcs {
				if o.lis != nil {
					o.lis.Close()
				}
			}
			return fmt.Errorf("%s: %w", s.name, err)
		}
		s.lis = lis
	}
	return nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// stageServices lists the four stages as cfg configures them.
func stageServices(cfg StagesConfig) []*service {
	return []*service{
		{name: "ingest", addr: cfg.IngestAddr, register: func(s *serverkit.Server) {
			ingestv1.RegisterIngestServiceServer(s.GRPC, ingest.NewServer(ingest.Config{DataRoot: cfg.DataRoot, AllowURLHosts: cfg.AllowURLHosts}))
		}},
		{name: "prep", addr: cfg.PrepAddr, register: func(s *serverkit.Server) {
			prepv1.RegisterPrepServiceServer(s.GRPC, prep.NewServer(prep.Config{}))
		}},
		{name: "train", addr: cfg.TrainAddr, register: func(s *serverkit.Server) {
			trainv1.RegisterTrainServiceServer(s.GRPC, train.NewServer(train.Config{ServerID: cfg.TrainServerID}))
		}},
		{name: "eval", addr: cfg.EvalAddr, register: func(s *serverkit.Server) {
			evalv1.RegisterEvalServiceServer(s.GRPC, eval.NewServer(eval.Config{}))
		}},
	}
}

// StartStages serves the four stages until Stop. ctx only carries values:
// the stages run until Stop.
func StartStages(ctx context.Context, cfg StagesConfig) (*Stages, error) {
	svcs := stageServices(cfg)
	if err := listen(svcs); err != nil {
		return nil, err
	}
	return serveStages(ctx, svcs, logger(cfg.Logger)), nil
}

func serveStages(ctx context.Context, svcs []*service, log *slog.Logger) *Stages {
	st := &Stages{
		IngestAddr: svcs[0].lis.Addr().String(),
		PrepAddr:   svcs[1].lis.Addr().String(),
		TrainAddr:  svcs[2].lis.Addr().String(),
		EvalAddr:   svcs[3].lis.Addr().String(),
		group:      newGroup(ctx),
	}
	for _, s := range svcs {
		srv := serverkit.NewGRPCServer(log.With("service", s.name))
		s.register(srv)
		st.group.serve(s.name, srv, s.lis)
	}
	return st
}

// Failed delivers the error of a stage that stopped serving before Stop.
func (st *Stages) Failed() <-chan error { return st.group.failed }

// Stop shuts the stages down gracefully and returns the errors of those
// that stopped serving on their own.
func (st *Stages) Stop() error { return st.group.stop() }

// Start listens on every address first (so a taken port fails before
// anything runs), serves the four stages, then builds the orchestrator
// pointed at the stages' actual addresses (it may resume unfinished runs
// at once, so the stages are up by then) and serves it. Stop shuts
// everything down. ctx only carries values: the services run until Stop.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	log := logger(cfg.Logger)
	orchSvc := &service{name: "orchestrator", addr: cfg.OrchestratorAddr}
	svcs := stageServices(cfg.StagesConfig)
	if err := listen(append([]*service{orchSvc}, svcs...)); err != nil {
		return nil, err
	}
	stages := serveStages(ctx, svcs, log)
	ocfg := orchestrator.Config{
		DataDir:    cfg.DataDir,
		IngestAddr: stages.IngestAddr, PrepAddr: stages.PrepAddr, TrainAddr: stages.TrainAddr, EvalAddr: stages.EvalAddr,
		Logger: log.With("service", "orchestrator"),
	}
	if cfg.Orchestrator != nil {
		cfg.Orchestrator(&ocfg)
	}
	orch, err := orchestrator.New(ocfg)
	if err != nil {
		orchSvc.lis.Close()
		return nil, errors.Join(err, stages.Stop())
	}
	st := &Stack{
		Stages:           stages,
		OrchestratorAddr: orchSvc.lis.Addr().String(),
		Orchestrator:     orch,
		StorePath:        orch.StorePath(),
		orch:             newGroup(ctx),
	}
	// The orchestrator reports a failure on the stages' channel, so
	// Failed covers all five.
	st.orch.failed = stages.group.failed
	srv := serverkit.NewGRPCServer(log.With("service", "orchestrator"))
	orch.Register(srv.GRPC)
	st.orch.serve("orchestrator", srv, orchSvc.lis)
	return st, nil
}

// Failed delivers the error of a service that stopped serving before Stop.
func (st *Stack) Failed() <-chan error { return st.Stages.Failed() }

// Stop shuts the services down gracefully: the orchestrator stops taking
// calls and closes its store (unfinished runs resume on the next start),
// then the stages stop. It is safe to call more than once.
func (st *Stack) Stop() error {
	st.stopOnce.Do(func() {
		// Stop taking calls, and close the orchestrator at once rather
		// than after the graceful stop: closing ends the WatchRun streams
		// (clients are told to watch again after a restart), which would
		// otherwise hold the graceful stop for its whole grace period.
		st.orch.cancel()
		closeErr := st.Orchestrator.Close()
		errs := []error{st.orch.stop()}
		if closeErr != nil {
			errs = append(errs, fmt.Errorf("orchestrator: close: %w", closeErr))
		}
		errs = append(errs, st.Stages.Stop())
		st.stopErr = errors.Join(errs...)
	})
	return st.stopErr
}

// group is servers that stop together.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	failed chan error

	mu   sync.Mutex
	errs []error
	once sync.Once
	err  error
}

func newGroup(ctx context.Context) *group {
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	// Room for every service of a stack, so a failing server never blocks.
	return &group{ctx: gctx, cancel: cancel, failed: make(chan error, 5)}
}

// serve runs srv on lis until the group stops. A server that stops on its
// own (an accept error) is reported on failed.
func (g *group) serve(name string, srv *serverkit.Server, lis net.Listener) {
	g.wg.Go(func() {
		err := srv.Serve(g.ctx, lis)
		if err == nil && g.ctx.Err() == nil {
			err = errors.New("stopped serving")
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", name, err)
			g.mu.Lock()
			g.errs = append(g.errs, err)
			g.mu.Unlock()
			select {
			case g.failed <- err:
			default:
			}
		}
	})
}

// stop stops the group's servers gracefully and waits for them.
func (g *group) stop() error {
	g.once.Do(func() {
		g.cancel()
		g.wg.Wait()
		g.mu.Lock()
		defer g.mu.Unlock()
		g.err = errors.Join(g.errs...)
	})
	return g.err
}
