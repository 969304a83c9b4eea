// Package orchestrator runs alur pipelines. It calls the stage services in
// order (ingest, prep, train, eval), keeps every artifact and run in one
// bbolt file (package store), runs the optimisation loop, and resumes
// unfinished runs after a restart.
package orchestrator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

// Config configures an orchestrator.
type Config struct {
	// DataDir holds the bbolt file, alur.db. Created if missing.
	DataDir string
	// IngestAddr, PrepAddr, TrainAddr and EvalAddr are the stage services:
	// each a host:port, a gRPC target such as dns:///train:7003, or a
	// comma-separated list of replicas.
	IngestAddr, PrepAddr, TrainAddr, EvalAddr string
	// Logger receives the orchestrator's logs; nil means slog.Default().
	Logger *slog.Logger
	// MaxConcurrentRuns caps runs executing at once; 0 means 4.
	MaxConcurrentRuns int
	// MaxQueuedRuns caps runs waiting to start; beyond it StartRun answers
	// ResourceExhausted. 0 means 64.
	MaxQueuedRuns int
	// MaxParallelTrials caps the trials of one run trained at once; the
	// train calls are spread round robin over the train replicas listed in
	// TrainAddr. 0 means 1.
	MaxParallelTrials int
	// MaxUploadBytes caps one UploadSource; 0 means 1 GiB.
	MaxUploadBytes int64
	// StepTimeout bounds a data stage call; 0 means 10 minutes.
	StepTimeout time.Duration
	// TrainTimeout bounds one training call; 0 means 2 hours.
	TrainTimeout time.Duration
	// StageRetryWindow is how long a step keeps retrying a stage that
	// answers Unavailable before the run fails; 0 means 2 minutes.
	StageRetryWindow time.Duration
	// DialOptions apply to the stage connections: TLS, client
	// certificates, the bearer token, tracing (serverkit.Options).
	DialOptions []grpc.DialOption
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxConcurrentRuns <= 0 {
		c.MaxConcurrentRuns = 4
	}
	if c.MaxQueuedRuns <= 0 {
		c.MaxQueuedRuns = 64
	}
	if c.MaxParallelTrials <= 0 {
		c.MaxParallelTrials = 1
	}
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = 1 << 30
	}
	if c.StepTimeout <= 0 {
		c.StepTimeout = 10 * time.Minute
	}
	if c.TrainTimeout <= 0 {
		c.TrainTimeout = 2 * time.Hour
	}
	if c.StageRetryWindow <= 0 {
		c.StageRetryWindow = 2 * time.Minute
	}
}

// DBFile is the name of the bbolt file inside Config.DataDir.
const DBFile = "alur.db"

// Server implements orchestratorv1.OrchestratorServiceServer.
type Server struct {
	orchestratorv1.UnimplementedOrchestratorServiceServer

	cfg    Config
	logger *slog.Logger
	store  *store.Store
	stages *stages

	ctx    context.Context // ends when the server closes
	cancel context.CancelFunc
	wg     sync.WaitGroup
	slots  chan struct{} // admission: one token per executing run

	mu      sync.Mutex
	runners map[string]*runner       // live runs
	waiters map[string]chan struct{} // closed on each new event of a run
	queued  int

	datasets datasetLocks // serialises appends per dataset
}

// New opens the store, connects to the stages and resumes every run that
// was pending or running when the orchestrator last stopped.
func New(cfg Config) (*Server, error) {
	cfg.defaults()
	if cfg.DataDir == "" {
		return nil, errors.New("orchestrator: DataDir is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("orchestrator: data dir: %w", err)
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, DBFile))
	if err != nil {
		return nil, fmt.Errorf("orchestrator: %w", err)
	}
	sg, err := dialStages(cfg)
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("orchestrator: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, logger: cfg.Logger, store: st, stages: sg, ctx: ctx, cancel: cancel,
		slots: make(chan struct{}, cfg.MaxConcurrentRuns), runners: map[string]*runner{}, waiters: map[string]chan struct{}{},
	}
	unfinished, err := st.UnfinishedRuns()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("orchestrator: %w", err)
	}
	for _, run := range unfinished {
		s.logger.Info("resuming run", "run", run.GetId())
		s.event(run.GetId(), &orchestratorv1.RunEvent{Time: timestamppb.Now(), RunState: run.GetState(), Message: "orchestrator restarted: resuming from the last finished step"})
		s.launch(run)
	}
	return s, nil
}

// Register adds the service to a gRPC server.
func (s *Server) Register(g *grpc.Server) { orchestratorv1.RegisterOrchestratorServiceServer(g, s) }

// StorePath is the bbolt file's path.
func (s *Server) StorePath() string { return s.store.Path() }

// Store is the server's artifact store, for maintenance the binary runs
// beside the service (the chunk garbage collector).
func (s *Server) Store() *store.Store { return s.store }

// Close stops every run (they stay resumable), waits for them, and closes
// the store and the stage connections.
func (s *Server) Close() error {
	s.cancel()
	s.wg.Wait()
	s.stages.close()
	return s.store.Close()
}

// launch schedules a run: it waits for an admission slot, then executes.
func (s *Server) launch(run *orchestratorv1.Run) {
	ctx, cancel := context.WithCancel(s.ctx)
	r := &runner{srv: s, ctx: ctx, cancel: cancel, run: run}
	s.mu.Lock()
	s.runners[run.GetId()] = r
	s.queued++
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
		}
		s.mu.Lock()
		s.queued--
		s.mu.Unlock()
		if ctx.Err() == nil {
			defer func() { <-s.slots }()
			r.update("", "run started", nil, func(run *orchestratorv1.Run) { run.State = orchestratorv1.RunState_RUN_STATE_RUNNING })
			err := r.executeSafely()
			s.finish(r, err)
		} else {
			s.finish(r, ctx.Err())
		}
		s.mu.Lock()
		delete(s.runners, run.GetId())
		s.mu.Unlock()
		s.notify(run.GetId())
	}()
}

// executeSafely turns a panic in the engine into a failed run rather than
// a dead orchestrator.
func (r *runner) executeSafely() (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.srv.logger.Error("panic in run", "run", r.run.GetId(), "panic", p)
			err = status.Errorf(codes.Internal, "internal error: %v", p)
		}
	}()
	return r.execute()
}

// finish records how a run ended. A run stopped because the orchestrator
// is shutting down stays RUNNING, so the next start resumes it.
func (s *Server) finish(r *runner, err error) {
	if err != nil && s.ctx.Err() != nil && !r.cancelled() {
		s.logger.Info("run interrupted by shutdown; it will resume", "run", r.run.GetId())
		return
	}
	now := timestamppb.Now()
	defer func() {
		snap := r.snapshot()
		serverkit.RunDuration.WithLabelValues(stateWord(snap.GetState())).Observe(now.AsTime().Sub(snap.GetCreateTime().AsTime()).Seconds())
	}()
	switch {
	case err == nil:
		r.update("", "run succeeded", nil, func(run *orchestratorv1.Run) {
			run.State, run.EndTime = orchestratorv1.RunState_RUN_STATE_SUCCEEDED, now
		})
		s.storeReport(r)
	case r.cancelled():
		r.update("", "run cancelled", nil, func(run *orchestratorv1.Run) {
			run.State, run.EndTime, run.Error = orchestratorv1.RunState_RUN_STATE_CANCELLED, now, "cancelled by a client"
		})
	default:
		reason := describeErr(err)
		r.update("", "run failed: "+reason, nil, func(run *orchestratorv1.Run) {
			run.State, run.EndTime, run.Error = orchestratorv1.RunState_RUN_STATE_FAILED, now, reason
		})
		s.storeReport(r)
	}
}

func (r *runner) cancelled() bool { return r.userCancelled.Load() }

// event appends an event to the run's log and wakes its watchers.
func (s *Server) event(runID string, ev *orchestratorv1.RunEvent) {
	if _, err := s.store.AppendEvent(runID, ev); err != nil {
		s.logger.Error("append event", "run", runID, "err", err)
	}
	s.notify(runID)
}

func (s *Server) notify(runID string) {
	s.mu.Lock()
	if ch, ok := s.waiters[runID]; ok {
		close(ch)
		delete(s.waiters, runID)
	}
	s.mu.Unlock()
}

// waitFor returns a channel closed at the run's next event.
func (s *Server) waitFor(runID string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.waiters[runID]
	if !ok {
		ch = make(chan struct{})
		s.waiters[runID] = ch
	}
	return ch
}

// resolveSource turns a spec source into what the collect step streams. It
// reports whether the result may be cached: bundled data and uploads are
// immutable, a server-side file may change between runs.
func (s *Server) resolveSource(src *orchestratorv1.Source) (sourceRef, bool, error) {
	ref := sourceRef{csv: src.GetCsv(), bundled: src.GetBundled(), path: src.GetPath(), url: src.GetUrl()}
	if d := src.GetUpload(); d != "" {
		a, err := s.store.StatArtifact(d)
		if err != nil {
			return ref, false, status.Errorf(codes.NotFound, "spec.source.upload: no uploaded file with digest %s", d)
		}
		if ref.csv == nil {
			ref.csv = &ingestv1.CsvOptions{}
		} else {
			ref.csv = proto.Clone(ref.csv).(*ingestv1.CsvOptions)
		}
		if ref.csv.GetName() == "" {
			ref.csv.Name = a.GetName()
		}
		ref.upload = func(send func([]byte) error) error {
			return s.store.StreamArtifact(d, send)
		}
		return ref, true, nil
	}
	return ref, ref.bundled != "", nil
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:3])
}

// StartRun validates the spec and queues the run.
func (s *Server) StartRun(ctx context.Context, req *orchestratorv1.StartRunRequest) (*orchestratorv1.StartRunResponse, error) {
	if err := validateSpec(req.GetSpec()); err != nil {
		return nil, toStatus(err)
	}
	if u := req.GetSpec().GetSource().GetUpload(); u != "" {
		if _, err := s.store.StatArtifact(u); err != nil {
			return nil, serverkit.InvalidArgument("spec.source.upload", fmt.Sprintf("no uploaded file with digest %s: upload it with UploadSource first", u))
		}
	}
	spec := req.GetSpec()
	if ds := spec.GetSource().GetDataset(); ds != nil {
		// Pin the version now, so a resumed run reads the same rows even
		// after more batches are appended.
		v, err := s.datasetVersion(ds.GetName(), ds.GetVersion(), "spec.source.dataset.version")
		if err != nil {
			return nil, serverkit.Wrap(err, "spec.source.dataset")
		}
		spec = proto.Clone(spec).(*orchestratorv1.PipelineSpec)
		spec.GetSource().GetDataset().Version = v.GetVersion()
	}
	run, err := s.startRun(spec, nil)
	if err != nil {
		return nil, err
	}
	return &orchestratorv1.StartRunResponse{Run: run}, nil
}

// startRun persists a validated spec as a pending run and queues it.
func (s *Server) startRun(spec *orchestratorv1.PipelineSpec, retrain *orchestratorv1.Retrain) (*orchestratorv1.Run, error) {
	s.mu.Lock()
	full := s.queued >= s.cfg.MaxQueuedRuns
	s.mu.Unlock()
	if full {
		return nil, serverkit.ResourceExhausted("max_queued_runs", fmt.Sprintf("%d runs are already waiting; try again later", s.cfg.MaxQueuedRuns))
	}
	run := &orchestratorv1.Run{
		Id: newRunID(), Spec: spec, State: orchestratorv1.RunState_RUN_STATE_PENDING, CreateTime: timestamppb.Now(), Retrain: retrain,
	}
	if err := s.store.PutRun(run); err != nil {
		return nil, status.Errorf(codes.Internal, "persist run: %v", err)
	}
	msg := "run queued"
	if ds := spec.GetSource().GetDataset(); ds != nil {
		msg += fmt.Sprintf(" on dataset %s version %d", ds.GetName(), ds.GetVersion())
	}
	if retrain != nil {
		msg += fmt.Sprintf(", retraining run %s (version %d → %d)", retrain.GetRunId(), retrain.GetFromVersion(), retrain.GetToVersion())
	}
	s.event(run.GetId(), &orchestratorv1.RunEvent{Time: timestamppb.Now(), RunState: run.GetState(), Message: msg})
	s.launch(proto.Clone(run).(*orchestratorv1.Run))
	return run, nil
}

// toStatus maps engine and store errors to gRPC statuses in one place.
func toStatus(err error) error {
	var se *specError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return serverkit.InvalidArgument(se.field, se.reason)
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, store.ErrCorrupt):
		return status.Error(codes.DataLoss, err.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}

func (s *Server) getRun(id string) (*orchestratorv1.Run, error) {
	if id == "" {
		return nil, serverkit.InvalidArgument("run_id", "is required")
	}
	s.mu.Lock()
	r := s.runners[id]
	s.mu.Unlock()
	if r != nil {
		return r.snapshot(), nil
	}
	run, err := s.store.GetRun(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "run %q not found", id)
	}
	return run, toStatus(err)
}

// GetRun returns a run.
func (s *Server) GetRun(ctx context.Context, req *orchestratorv1.GetRunRequest) (*orchestratorv1.GetRunResponse, error) {
	run, err := s.getRun(req.GetRunId())
	if err != nil {
		return nil, err
	}
	return &orchestratorv1.GetRunResponse{Run: run}, nil
}

// ListRuns pages through runs, newest first.
func (s *Server) ListRuns(ctx context.Context, req *orchestratorv1.ListRunsRequest) (*orchestratorv1.ListRunsResponse, error) {
	size := int(req.GetPageSize())
	switch {
	case size < 0 || size > 1000:
		return nil, serverkit.InvalidArgument("page_size", fmt.Sprintf("%d is outside [0, 1000]", size))
	case size == 0:
		size = 50
	}
	runs, next, err := s.store.ListRuns(size, req.GetPageToken())
	if errors.Is(err, store.ErrBadPageToken) {
		return nil, serverkit.InvalidArgument("page_token", "not a token from a previous ListRuns answer")
	}
	if err != nil {
		return nil, toStatus(err)
	}
	for i, run := range runs {
		s.mu.Lock()
		r := s.runners[run.GetId()]
		s.mu.Unlock()
		if r != nil {
			runs[i] = r.snapshot()
		}
	}
	return &orchestratorv1.ListRunsResponse{Runs: runs, NextPageToken: next}, nil
}

// WatchRun streams the run's recorded events, then new ones, until the run
// ends.
func (s *Server) WatchRun(req *orchestratorv1.WatchRunRequest, stream orchestratorv1.OrchestratorService_WatchRunServer) error {
	if _, err := s.getRun(req.GetRunId()); err != nil {
		return err
	}
	var seq int64
	for {
		wake := s.waitFor(req.GetRunId())
		evs, err := s.store.Events(req.GetRunId(), seq)
		if err != nil {
			return toStatus(err)
		}
		for _, ev := range evs {
			if err := stream.Send(&orchestratorv1.WatchRunResponse{Event: ev}); err != nil {
				return err
			}
			seq = ev.GetSequence()
		}
		run, err := s.getRun(req.GetRunId())
		if err != nil {
			return err
		}
		if terminal(run.GetState()) {
			s.mu.Lock()
			live := s.runners[req.GetRunId()] != nil
			s.mu.Unlock()
			if !live {
				// Flush events recorded between the read and the state check.
				evs, err := s.store.Events(req.GetRunId(), seq)
				if err != nil {
					return toStatus(err)
				}
				for _, ev := range evs {
					if err := stream.Send(&orchestratorv1.WatchRunResponse{Event: ev}); err != nil {
						return err
					}
				}
				return nil
			}
		}
		select {
		case <-wake:
		case <-stream.Context().Done():
			return serverkit.FromContext(stream.Context().Err())
		case <-s.ctx.Done():
			return status.Error(codes.Unavailable, "orchestrator is shutting down; watch again after it restarts")
		}
	}
}

func terminal(st orchestratorv1.RunState) bool {
	switch st {
	case orchestratorv1.RunState_RUN_STATE_SUCCEEDED, orchestratorv1.RunState_RUN_STATE_FAILED, orchestratorv1.RunState_RUN_STATE_CANCELLED:
		return true
	}
	return false
}

// CancelRun cancels a pending or running run; the context cancellation
// crosses into the stage calls in flight.
func (s *Server) CancelRun(ctx context.Context, req *orchestratorv1.CancelRunRequest) (*orchestratorv1.CancelRunResponse, error) {
	run, err := s.getRun(req.GetRunId())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	r := s.runners[run.GetId()]
	s.mu.Unlock()
	if r == nil || terminal(run.GetState()) {
		return &orchestratorv1.CancelRunResponse{Run: run}, nil
	}
	r.userCancelled.Store(true)
	r.cancel()
	deadline := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		live := s.runners[run.GetId()] != nil
		s.mu.Unlock()
		if !live {
			break
		}
		select {
		case <-s.waitFor(run.GetId()):
		case <-deadline:
			return &orchestratorv1.CancelRunResponse{Run: r.snapshot()}, nil
		case <-ctx.Done():
			return nil, serverkit.FromContext(ctx.Err())
		}
	}
	run, err = s.getRun(run.GetId())
	if err != nil {
		return nil, err
	}
	return &orchestratorv1.CancelRunResponse{Run: run}, nil
}

// ListArtifacts lists a run's artifacts, or all of them.
func (s *Server) ListArtifacts(ctx context.Context, req *orchestratorv1.ListArtifactsRequest) (*orchestratorv1.ListArtifactsResponse, error) {
	if id := req.GetRunId(); id != "" {
		if _, err := s.getRun(id); err != nil {
			return nil, err
		}
	}
	arts, err := s.store.ListArtifacts(req.GetRunId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &orchestratorv1.ListArtifactsResponse{Artifacts: arts}, nil
}

// GetArtifact streams an artifact's metadata, then its verified content.
func (s *Server) GetArtifact(req *orchestratorv1.GetArtifactRequest, stream orchestratorv1.OrchestratorService_GetArtifactServer) error {
	if !isDigest(req.GetDigest()) {
		return serverkit.InvalidArgument("digest", fmt.Sprintf("%q is not a sha256 digest (64 lowercase hex characters)", req.GetDigest()))
	}
	a, err := s.store.StatArtifact(req.GetDigest())
	if errors.Is(err, store.ErrNotFound) {
		return status.Errorf(codes.NotFound, "artifact %s not found", req.GetDigest())
	}
	if err != nil {
		return toStatus(err)
	}
	if err := stream.Send(&orchestratorv1.GetArtifactResponse{Part: &orchestratorv1.GetArtifactResponse_Artifact{Artifact: a}}); err != nil {
		return err
	}
	err = s.store.StreamArtifact(req.GetDigest(), func(chunk []byte) error {
		return stream.Send(&orchestratorv1.GetArtifactResponse{Part: &orchestratorv1.GetArtifactResponse_Chunk{Chunk: chunk}})
	})
	return toStatus(err)
}

// UploadSource stores a client's data file as a source artifact.
func (s *Server) UploadSource(stream orchestratorv1.OrchestratorService_UploadSourceServer) error {
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return serverkit.InvalidArgument("name", "the stream is empty: send the file name, then chunks")
	}
	if err != nil {
		return err
	}
	name := first.GetName()
	if _, ok := first.GetPart().(*orchestratorv1.UploadSourceRequest_Name); !ok || name == "" {
		return serverkit.InvalidArgument("name", "the first message must carry the file name")
	}
	pr, pw := io.Pipe()
	var received int64
	go func() {
		for {
			m, err := stream.Recv()
			if errors.Is(err, io.EOF) && received == 0 {
				// Fail the read, so the store commits no empty artifact.
				_ = pw.CloseWithError(serverkit.InvalidArgument("chunk", "the uploaded file is empty"))
				return
			}
			if errors.Is(err, io.EOF) {
				_ = pw.Close()
				return
			}
			if err != nil {
				_ = pw.CloseWithError(err)
				return
			}
			chunk, ok := m.GetPart().(*orchestratorv1.UploadSourceRequest_Chunk)
			if !ok {
				_ = pw.CloseWithError(serverkit.InvalidArgument("name", "sent twice: only the first message carries the name"))
				return
			}
			received += int64(len(chunk.Chunk))
			if received > s.cfg.MaxUploadBytes {
				_ = pw.CloseWithError(serverkit.ResourceExhausted("max_upload_bytes", fmt.Sprintf("the upload exceeds %d bytes", s.cfg.MaxUploadBytes)))
				return
			}
			if _, err := pw.Write(chunk.Chunk); err != nil {
				return
			}
		}
	}()
	a, err := s.store.PutArtifactStream(&orchestratorv1.Artifact{Kind: kindSource, MediaType: mediaCSV, Name: filepath.Base(name)}, pr)
	_ = pr.Close()
	if err != nil {
		// A status the receiving side failed the read with (a limit, an
		// empty file) goes back as it was, not wrapped in the store's words.
		var se interface{ GRPCStatus() *status.Status }
		if errors.As(err, &se) {
			return se.GRPCStatus().Err()
		}
		return toStatus(err)
	}
	if a.GetSize() == 0 {
		return serverkit.InvalidArgument("chunk", "the uploaded file is empty")
	}
	return stream.SendAndClose(&orchestratorv1.UploadSourceResponse{Artifact: a})
}

// Predict predicts raw rows with a succeeded run's final model.
func (s *Server) Predict(ctx context.Context, req *orchestratorv1.PredictRequest) (*orchestratorv1.PredictResponse, error) {
	run, err := s.getRun(req.GetRunId())
	if err != nil {
		return nil, err
	}
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		return nil, status.Errorf(codes.FailedPrecondition, "run %s is %s: only a succeeded run has a model to predict with", run.GetId(), stateWord(run.GetState()))
	}
	if len(req.GetRows().GetRows()) == 0 {
		return nil, serverkit.InvalidArgument("rows.rows", "no rows to predict")
	}
	model, err := s.store.ReadArtifact(run.GetModelDigest())
	if err != nil {
		return nil, toStatus(err)
	}
	tb, err := s.store.ReadArtifact(run.GetTransformDigest())
	if err != nil {
		return nil, toStatus(err)
	}
	tr := &datav1.FittedTransform{}
	if err := proto.Unmarshal(tb, tr); err != nil {
		return nil, status.Errorf(codes.DataLoss, "transform artifact: %v", err)
	}
	resp, err := s.stages.predict(ctx, model, tr, req.GetRows())
	if err != nil {
		return nil, err
	}
	return &orchestratorv1.PredictResponse{Predictions: resp.GetPredictions(), ClassNames: resp.GetClassNames()}, nil
}

func stateWord(st orchestratorv1.RunState) string {
	switch st {
	case orchestratorv1.RunState_RUN_STATE_PENDING:
		return "pending"
	case orchestratorv1.RunState_RUN_STATE_RUNNING:
		return "running"
	case orchestratorv1.RunState_RUN_STATE_SUCCEEDED:
		return "succeeded"
	case orchestratorv1.RunState_RUN_STATE_FAILED:
		return "failed"
	case orchestratorv1.RunState_RUN_STATE_CANCELLED:
		return "cancelled"
	}
	return "unknown"
}
