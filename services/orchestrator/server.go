package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/display"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/artifacts"
	"github.com/alur-ml/alur/services/orchestrator/dashboard"
	"github.com/alur-ml/alur/services/orchestrator/datasets"
	"github.com/alur-ml/alur/services/orchestrator/engine"
	"github.com/alur-ml/alur/services/orchestrator/obs"
	"github.com/alur-ml/alur/services/orchestrator/search"
	"github.com/alur-ml/alur/services/orchestrator/stageclient"
	"github.com/alur-ml/alur/services/orchestrator/store"
	"github.com/alur-ml/alur/services/orchestrator/store/etcdstore"
)

// Config configures an orchestrator.
type Config struct {
	// DataDir holds the bbolt file, alur.db, when Store is empty. Created
	// if missing.
	DataDir string
	// Store selects where runs, events, the step cache and the registries
	// live: "" (the bbolt file in DataDir), "bbolt:PATH", or
	// "etcd://host:port[,host:port]/prefix" (shared by several
	// orchestrators; Blobs is then required). See OpenStore.
	Store string
	// Blobs is where an etcd store keeps artifact content: file:///dir
	// (a local or shared volume) or s3://bucket[/prefix]?endpoint=...
	// (an S3-compatible object store). See blob.Open.
	Blobs string
	// BlobRetryWindow is, on an etcd store, how long a blob operation is
	// retried while the blob store is unavailable before the step sees
	// the outage and pauses the run with its own retries; 0 means
	// etcdstore.DefaultBlobRetryWindow.
	BlobRetryWindow time.Duration
	// BlobGCGrace is, on an etcd store, the age below which the garbage
	// collector spares a blob no artifact references (a write in
	// flight); 0 means etcdstore.DefaultBlobGCGrace.
	BlobGCGrace time.Duration
	// OwnerTTL is, on an etcd store, the lease of this orchestrator's
	// runs: how long after it stops answering another orchestrator takes
	// them over. 0 means DefaultOwnerTTL.
	OwnerTTL time.Duration
	// ReplicaID names this orchestrator in the run events it records
	// (RunEvent.owner) and, on an etcd store, in the owner keys of its
	// runs. "" means the host name and process id ("host-1234").
	ReplicaID string
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
	if c.ReplicaID == "" {
		c.ReplicaID = DefaultReplicaID()
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

	cfg      Config
	logger   *slog.Logger
	store    store.Backend
	stages   *stageclient.Clients
	engine   *engine.Engine
	datasets *datasets.Versions
	// ha shares runs with the other orchestrators on an etcd store; nil
	// on bbolt.
	ha *takeover
}

// New opens the store, connects to the stages and resumes every run that
// was pending or running when the orchestrator last stopped.
func New(cfg Config) (*Server, error) {
	cfg.defaults()
	if err := serverkit.RegisterMetrics(obs.Collectors()...); err != nil {
		return nil, fmt.Errorf("orchestrator: metrics: %w", err)
	}
	st, err := OpenStore(cfg.Store, cfg.Blobs, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("orchestrator: %w", err)
	}
	if es, ok := st.(*etcdstore.Store); ok {
		if cfg.BlobRetryWindow > 0 {
			es.SetBlobRetryWindow(cfg.BlobRetryWindow)
		}
		es.SetBlobGCGrace(cfg.BlobGCGrace)
	}
	sg, err := stageclient.Dial(stageclient.Config{
		IngestAddr: cfg.IngestAddr, PrepAddr: cfg.PrepAddr, TrainAddr: cfg.TrainAddr, EvalAddr: cfg.EvalAddr,
		StepTimeout: cfg.StepTimeout, TrainTimeout: cfg.TrainTimeout, DialOptions: cfg.DialOptions,
	})
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("orchestrator: %w", err)
	}
	s := &Server{cfg: cfg, logger: cfg.Logger, store: st, stages: sg, datasets: datasets.New(st, cfg.Logger)}
	s.engine = engine.New(engine.Config{
		MaxConcurrentRuns: cfg.MaxConcurrentRuns, MaxQueuedRuns: cfg.MaxQueuedRuns, MaxParallelTrials: cfg.MaxParallelTrials,
		StepTimeout: cfg.StepTimeout, StageRetryWindow: cfg.StageRetryWindow, Replica: cfg.ReplicaID, Logger: cfg.Logger,
		Report: func(ctx context.Context, runID string) ([]byte, error) {
			return dashboard.RenderReport(ctx, s.DashboardSource(), runID)
		},
	}, st, sg)
	if es, ok := st.(*etcdstore.Store); ok {
		// Several orchestrators share the store: each resumes only the
		// runs it claims.
		if s.ha, err = newTakeover(es, cfg.ReplicaID, cfg.OwnerTTL, cfg.Logger); err != nil {
			s.Close()
			return nil, fmt.Errorf("orchestrator: %w", err)
		}
		s.ha.start(s.engine)
		return s, nil
	}
	if err := s.engine.Resume(); err != nil {
		s.Close()
		return nil, fmt.Errorf("orchestrator: %w", err)
	}
	return s, nil
}

// Register adds the service to a gRPC server.
func (s *Server) Register(g *grpc.Server) { orchestratorv1.RegisterOrchestratorServiceServer(g, s) }

// StorePath names where the state lives: the bbolt file's path, or the
// etcd URL.
func (s *Server) StorePath() string { return s.store.Path() }

// Store is the server's state, for maintenance the binary runs beside
// the service (the chunk garbage collector, when the backend has one).
func (s *Server) Store() store.Backend { return s.store }

// Close stops every run (they stay resumable), waits for them, and closes
// the store and the stage connections.
func (s *Server) Close() error {
	if s.ha != nil {
		s.ha.stop()
	}
	s.engine.Close()
	s.stages.Close()
	if s.ha != nil {
		if err := s.ha.release(); err != nil {
			s.logger.Warn("release owner lease", "err", err)
		}
	}
	return s.store.Close()
}

// Lost is closed when this orchestrator's run ownership lease ended while
// it ran (etcd unreachable for the lease TTL): the other orchestrators have
// taken its runs over and its writes are refused, so the process should
// exit and start afresh. It is nil (never closed) on a bbolt store.
func (s *Server) Lost() <-chan struct{} {
	if s.ha == nil {
		return nil
	}
	return s.ha.lost
}

// StartRun validates the spec and queues the run.
func (s *Server) StartRun(ctx context.Context, req *orchestratorv1.StartRunRequest) (*orchestratorv1.StartRunResponse, error) {
	cat, err := s.stages.Algorithms(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	if err := search.ValidateSpec(req.GetSpec(), cat); err != nil {
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
		v, err := s.datasets.Version(ds.GetName(), ds.GetVersion(), "spec.source.dataset.version")
		if err != nil {
			return nil, serverkit.Wrap(toStatus(err), "spec.source.dataset")
		}
		spec = proto.Clone(spec).(*orchestratorv1.PipelineSpec)
		spec.GetSource().GetDataset().Version = v.GetVersion()
	}
	run, err := s.engine.Start(spec, nil)
	if err != nil {
		return nil, toStatus(err)
	}
	return &orchestratorv1.StartRunResponse{Run: run}, nil
}

// getRun returns the run id names (the field run_id of the request), live
// or stored.
func (s *Server) getRun(id string) (*orchestratorv1.Run, error) {
	if err := validateRunID("run_id", id); err != nil {
		return nil, err
	}
	if run, ok := s.engine.Live(id); ok {
		return run, nil
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
		if live, ok := s.engine.Live(run.GetId()); ok {
			runs[i] = live
		}
	}
	return &orchestratorv1.ListRunsResponse{Runs: runs, NextPageToken: next}, nil
}

// WatchRun streams the run's recorded events, then new ones, until the
// run's last: its terminal event and, for a run that owes a report
// (report_pending), REPORT_STORED or REPORT_FAILED after it. On a shared
// store the watch follows the run through etcd whichever orchestrator
// executes it, and goes on past the terminal event while another one
// (the owner, or the one that takes the run over) stores the report.
func (s *Server) WatchRun(req *orchestratorv1.WatchRunRequest, stream orchestratorv1.OrchestratorService_WatchRunServer) error {
	if _, err := s.getRun(req.GetRunId()); err != nil {
		return err
	}
	var seq int64
	// On a shared store the run may execute on another orchestrator:
	// its events arrive through an etcd watch rather than the engine.
	var remote <-chan struct{}
	if s.ha != nil {
		remote = s.ha.watchEvents(stream.Context(), req.GetRunId())
	}
	for {
		wake := s.engine.WaitFor(req.GetRunId())
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
		if terminal(run.GetState()) && !run.GetReportPending() {
			if _, live := s.engine.Live(req.GetRunId()); !live {
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
		case <-remote:
		case <-stream.Context().Done():
			return serverkit.FromContext(stream.Context().Err())
		case <-s.engine.Done():
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
	if terminal(run.GetState()) {
		return &orchestratorv1.CancelRunResponse{Run: run}, nil
	}
	live, ok, err := s.engine.Cancel(ctx, run.GetId())
	switch {
	case err != nil:
		return nil, serverkit.FromContext(err)
	case !ok && s.ha != nil:
		// Another orchestrator executes the run: ask it through etcd and
		// wait a little, as a local cancel does, for the run to end.
		return s.cancelRemote(ctx, run.GetId())
	case !ok:
		// The run ended between the read and the cancel.
		if run, err = s.getRun(run.GetId()); err != nil {
			return nil, err
		}
		return &orchestratorv1.CancelRunResponse{Run: run}, nil
	}
	if _, still := s.engine.Live(run.GetId()); still {
		return &orchestratorv1.CancelRunResponse{Run: live}, nil
	}
	run, err = s.getRun(run.GetId())
	if err != nil {
		return nil, err
	}
	return &orchestratorv1.CancelRunResponse{Run: run}, nil
}

// cancelRemote asks the owner of a run executing on another orchestrator
// to cancel it, and returns the run once it ended, or after 5 seconds as
// it then is.
func (s *Server) cancelRemote(ctx context.Context, id string) (*orchestratorv1.CancelRunResponse, error) {
	wctx, stop := context.WithTimeout(ctx, 5*time.Second)
	defer stop()
	wake := s.ha.watchEvents(wctx, id)
	if err := s.ha.st.RequestCancel(id); err != nil {
		return nil, toStatus(err)
	}
	for {
		run, err := s.getRun(id)
		if err != nil {
			return nil, err
		}
		if terminal(run.GetState()) {
			return &orchestratorv1.CancelRunResponse{Run: run}, nil
		}
		select {
		case <-wake:
		case <-wctx.Done():
			if ctx.Err() != nil {
				return nil, serverkit.FromContext(ctx.Err())
			}
			return &orchestratorv1.CancelRunResponse{Run: run}, nil
		}
	}
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
	if !search.IsDigest(req.GetDigest()) {
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
	go s.receiveUpload(stream, pw)
	a, err := s.store.PutArtifactStream(&orchestratorv1.Artifact{Kind: artifacts.KindSource, MediaType: artifacts.MediaCSV, Name: filepath.Base(name)}, pr)
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

// receiveUpload writes the uploaded chunks to pw and closes it: with nil
// at the end of a non-empty file, or with the status that ends the upload
// (an empty file, a second name, the size limit, the client's error).
func (s *Server) receiveUpload(stream orchestratorv1.OrchestratorService_UploadSourceServer, pw *io.PipeWriter) {
	var received int64
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
}

// Predict predicts raw rows with a succeeded run's final model.
func (s *Server) Predict(ctx context.Context, req *orchestratorv1.PredictRequest) (*orchestratorv1.PredictResponse, error) {
	run, err := s.getRun(req.GetRunId())
	if err != nil {
		return nil, err
	}
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		return nil, status.Errorf(codes.FailedPrecondition, "run %s is %s: only a succeeded run has a model to predict with", run.GetId(), display.RunState(run.GetState()))
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
	resp, err := s.stages.Predict(ctx, model, tr, req.GetRows())
	if err != nil {
		return nil, toStatus(err)
	}
	return &orchestratorv1.PredictResponse{Predictions: resp.GetPredictions(), ClassNames: resp.GetClassNames()}, nil
}
