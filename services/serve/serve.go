// Package serve is alur's serving stage: it answers the Open Inference
// Protocol (version 2, the gRPC and HTTP/JSON API of KServe, Triton and
// MLServer) for the models in the orchestrator's registry. A request names
// a model and a version, an alias ("production") or neither (the newest);
// the stage loads each version once from the registry, keeps its fitted
// transform and model decoded in memory, applies the transform to the raw
// columns the request sends and predicts, the same code path evaluation
// uses. Aliases are re-resolved every AliasTTL, so a moved alias is picked
// up without a restart, and the versions already loaded keep answering
// while the move happens.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/ml/dataprep"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/proto/inference"
	"github.com/alur-ml/alur/serverkit"
)

// Defaults of Config.
const (
	DefaultMaxModelBytes   = 256 << 20
	DefaultAliasTTL        = 5 * time.Second
	DefaultMaxRows         = 100_000
	DefaultRegistryTimeout = 30 * time.Second
	DefaultMaxModels       = 32
)

// ServerName and ServerVersion are what ServerMetadata answers.
const (
	ServerName    = "alur-serve"
	ServerVersion = "1"
)

// Config configures a serving stage.
type Config struct {
	// Registry is the orchestrator: GetModel resolves references and
	// GetArtifact reads a version's model and transform. Required.
	Registry orchestratorv1.OrchestratorServiceClient
	// Health checks the orchestrator is reachable; nil treats it as
	// reachable at once.
	Health healthpb.HealthClient
	// Logger receives the stage's logs; nil means slog.Default().
	Logger *slog.Logger
	// MaxModelBytes refuses, at load, a model (or transform) larger than
	// this; 0 means DefaultMaxModelBytes.
	MaxModelBytes int64
	// AliasTTL is how long an alias's or a bare name's resolution is
	// trusted before the registry is asked again; 0 means
	// DefaultAliasTTL.
	AliasTTL time.Duration
	// MaxRows caps the rows of one request; 0 means DefaultMaxRows.
	MaxRows int
	// RegistryTimeout bounds one registry call; 0 means
	// DefaultRegistryTimeout.
	RegistryTimeout time.Duration
	// MaxModels caps the versions kept in memory; beyond it the least
	// recently used is dropped (and loaded again if asked for). 0 means
	// DefaultMaxModels.
	MaxModels int
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxModelBytes <= 0 {
		c.MaxModelBytes = DefaultMaxModelBytes
	}
	if c.AliasTTL <= 0 {
		c.AliasTTL = DefaultAliasTTL
	}
	if c.MaxRows <= 0 {
		c.MaxRows = DefaultMaxRows
	}
	if c.RegistryTimeout <= 0 {
		c.RegistryTimeout = DefaultRegistryTimeout
	}
	if c.MaxModels <= 0 {
		c.MaxModels = DefaultMaxModels
	}
}

// Server implements inference.GRPCInferenceServiceServer.
type Server struct {
	inference.UnimplementedGRPCInferenceServiceServer

	cfg    Config
	models *models
	ready  atomic.Bool
}

// New returns a serving stage. It is not ready (ServerReady false, health
// NOT_SERVING once Watch runs) until the registry first answers.
func New(cfg Config) (*Server, error) {
	cfg.defaults()
	if cfg.Registry == nil {
		return nil, errors.New("serve: a registry client is required")
	}
	s := &Server{cfg: cfg}
	s.models = newModels(&s.cfg)
	if cfg.Health == nil {
		s.ready.Store(true)
	}
	return s, nil
}

// Register adds the inference service to g.
func (s *Server) Register(g *grpc.Server) { inference.RegisterGRPCInferenceServiceServer(g, s) }

// Ready reports whether the registry has answered.
func (s *Server) Ready() bool { return s.ready.Load() }

// WaitReady checks the registry's health every interval until it answers
// SERVING or ctx ends, then calls onReady once (to mark the stage SERVING).
func (s *Server) WaitReady(ctx context.Context, interval time.Duration, onReady func()) {
	for !s.ready.Load() {
		cctx, cancel := context.WithTimeout(ctx, interval)
		resp, err := s.cfg.Health.Check(cctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			s.ready.Store(true)
			s.cfg.Logger.Info("registry reachable: serving")
			break
		}
		s.cfg.Logger.Debug("registry not reachable yet", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
	if onReady != nil {
		onReady()
	}
}

// ServerLive answers true while the process runs.
func (s *Server) ServerLive(context.Context, *inference.ServerLiveRequest) (*inference.ServerLiveResponse, error) {
	return &inference.ServerLiveResponse{Live: true}, nil
}

// ServerReady answers true once the registry has been reached.
func (s *Server) ServerReady(context.Context, *inference.ServerReadyRequest) (*inference.ServerReadyResponse, error) {
	return &inference.ServerReadyResponse{Ready: s.ready.Load()}, nil
}

// ServerMetadata names the server.
func (s *Server) ServerMetadata(context.Context, *inference.ServerMetadataRequest) (*inference.ServerMetadataResponse, error) {
	return &inference.ServerMetadataResponse{Name: ServerName, Version: ServerVersion}, nil
}

// notReady is the answer to model calls before the registry is reached.
func (s *Server) notReady() error {
	if s.ready.Load() {
		return nil
	}
	return status.Error(codes.Unavailable, "not ready: the registry (orchestrator) has not been reached yet")
}

// ModelReady loads the model if needed and answers whether it can serve.
// A model that does not exist is NOT_FOUND, as the protocol's servers do.
func (s *Server) ModelReady(ctx context.Context, req *inference.ModelReadyRequest) (*inference.ModelReadyResponse, error) {
	if !s.ready.Load() {
		return &inference.ModelReadyResponse{}, nil
	}
	if _, err := s.models.get(ctx, req.GetName(), req.GetVersion()); err != nil {
		if c := status.Code(err); c == codes.NotFound || c == codes.InvalidArgument {
			return nil, err
		}
		return &inference.ModelReadyResponse{}, nil
	}
	return &inference.ModelReadyResponse{Ready: true}, nil
}

// ModelMetadata describes the version a request names: its raw input
// columns and its outputs. versions lists the version served.
func (s *Server) ModelMetadata(ctx context.Context, req *inference.ModelMetadataRequest) (*inference.ModelMetadataResponse, error) {
	if err := s.notReady(); err != nil {
		return nil, err
	}
	m, err := s.models.get(ctx, req.GetName(), req.GetVersion())
	if err != nil {
		return nil, err
	}
	return metadata(m), nil
}

func metadata(m *model) *inference.ModelMetadataResponse {
	resp := &inference.ModelMetadataResponse{Name: m.name, Versions: []string{strconv.FormatInt(m.version, 10)}, Platform: "alur_" + m.m.GetAlgorithm()}
	for _, f := range m.inputs {
		resp.Inputs = append(resp.Inputs, &inference.ModelMetadataResponse_TensorMetadata{Name: f.GetName(), Datatype: datatypeOf(f.GetType()), Shape: []int64{-1}})
	}
	if len(m.m.GetClassNames()) > 0 {
		resp.Outputs = []*inference.ModelMetadataResponse_TensorMetadata{
			{Name: outLabel, Datatype: typeBYTES, Shape: []int64{-1}},
			{Name: outProbabilities, Datatype: typeFP64, Shape: []int64{-1, int64(len(m.m.GetClassNames()))}},
		}
	} else {
		resp.Outputs = []*inference.ModelMetadataResponse_TensorMetadata{{Name: outPrediction, Datatype: typeFP64, Shape: []int64{-1}}}
	}
	return resp
}

// ModelInfer predicts the rows of the request's input tensors.
func (s *Server) ModelInfer(ctx context.Context, req *inference.ModelInferRequest) (*inference.ModelInferResponse, error) {
	if err := s.notReady(); err != nil {
		return nil, err
	}
	m, err := s.models.get(ctx, req.GetModelName(), req.GetModelVersion())
	if err != nil {
		return nil, err
	}
	return infer(m, req, s.cfg.MaxRows)
}

func infer(m *model, req *inference.ModelInferRequest, maxRows int) (*inference.ModelInferResponse, error) {
	t, err := inputTable(m, req, maxRows)
	if err != nil {
		return nil, err
	}
	X, err := dataprep.ApplyFeatures(m.tr, t)
	if err != nil {
		var oe *dataprep.OptionError
		if errors.As(err, &oe) {
			return nil, serverkit.InvalidArgument("inputs", oe.Reason)
		}
		return nil, serverkit.InvalidArgument("inputs", err.Error())
	}
	out, err := m.predict(X)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "model %s@%d cannot predict: %v", m.name, m.version, err)
	}
	if r, _ := out.Dims(); r != t.NumRows() {
		return nil, status.Errorf(codes.Internal, "model %s@%d answered %d rows for %d", m.name, m.version, r, t.NumRows())
	}
	outs, err := outputs(m, out, req.GetOutputs())
	if err != nil {
		return nil, err
	}
	resp := &inference.ModelInferResponse{ModelName: m.name, ModelVersion: strconv.FormatInt(m.version, 10), Id: req.GetId(), Outputs: outs}
	if len(req.GetRawInputContents()) > 0 {
		toRaw(resp)
	}
	return resp, nil
}

// Loaded lists the versions in memory as "name@version", sorted, with the
// bytes they hold: for logs and tests.
func (s *Server) Loaded() []string {
	var out []string
	for _, m := range s.models.loaded() {
		out = append(out, fmt.Sprintf("%s (%d bytes)", versionKey(m.name, m.version), m.bytes))
	}
	sort.Strings(out)
	return out
}
