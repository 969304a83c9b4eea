package dashboard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/ml/table"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// Source is what the dashboard reads. The orchestrator implements it in
// process; ClientSource implements it over gRPC. A missing run or artifact
// is reported with an error that wraps ErrNotFound or carries the gRPC code
// NotFound, so that the dashboard can answer 404.
type Source interface {
	// ListRuns pages through runs, newest first.
	ListRuns(ctx context.Context, pageSize int, pageToken string) ([]*orchestratorv1.Run, string, error)
	// GetRun returns a run's current state.
	GetRun(ctx context.Context, id string) (*orchestratorv1.Run, error)
	// ListArtifacts lists the artifacts a run made or reused.
	ListArtifacts(ctx context.Context, runID string) ([]*orchestratorv1.Artifact, error)
	// ReadArtifact returns an artifact's verified content.
	ReadArtifact(ctx context.Context, digest string) ([]byte, error)
}

// Predictor runs a run's stored model on prepared rows. The orchestrator's
// in-process source implements it by asking its eval stage, so that the
// dashboard never runs a model itself: the ROC and precision–recall
// curves, the predicted-vs-actual plots and the permutation importance
// come from the same eval service that scored the test rows. A Source
// that is not a Predictor (ClientSource) shows those charts as not
// available.
type Predictor interface {
	// Outputs returns the raw outputs of the model stored under
	// modelDigest on the prepared table t, whose label column is label:
	// rows × width, the class probabilities in the model's class order
	// (width classes) or the predicted value (width 1).
	Outputs(ctx context.Context, modelDigest string, t *table.Table, label string, width int) (*mat.Dense, error)
}

// ErrNotFound marks a run or artifact that does not exist.
var ErrNotFound = errors.New("not found")

// isNotFound reports whether err says that a run or artifact is missing.
func isNotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || status.Code(err) == codes.NotFound
}

// Limits of ClientSource.
const (
	// clientCallTimeout bounds one call when the caller's context has no
	// deadline of its own, as the design asks of every outgoing call.
	clientCallTimeout = 30 * time.Second
	// maxClientArtifactBytes caps what ReadArtifact holds in memory. The
	// dashboard reads datasets, models and prepared tables; anything
	// larger is reported as too large rather than exhausting memory.
	maxClientArtifactBytes = 1 << 30
)

// ClientSource reads runs and artifacts from an OrchestratorService over
// gRPC. Every call gets a deadline (30 s unless ctx has an earlier one);
// artifacts are reassembled from their chunks and checked against their
// digest.
func ClientSource(c orchestratorv1.OrchestratorServiceClient) Source {
	return &clientSource{c: c, timeout: clientCallTimeout, maxBytes: maxClientArtifactBytes}
}

type clientSource struct {
	c        orchestratorv1.OrchestratorServiceClient
	timeout  time.Duration
	maxBytes int64
}

func (s *clientSource) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.timeout)
}

func (s *clientSource) ListRuns(ctx context.Context, pageSize int, pageToken string) ([]*orchestratorv1.Run, string, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	size := int32(min(max(pageSize, 0), math.MaxInt32))
	resp, err := s.c.ListRuns(ctx, &orchestratorv1.ListRunsRequest{PageSize: size, PageToken: pageToken})
	if err != nil {
		return nil, "", err
	}
	return resp.GetRuns(), resp.GetNextPageToken(), nil
}

func (s *clientSource) GetRun(ctx context.Context, id string) (*orchestratorv1.Run, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	resp, err := s.c.GetRun(ctx, &orchestratorv1.GetRunRequest{RunId: id})
	if err != nil {
		return nil, err
	}
	return resp.GetRun(), nil
}

func (s *clientSource) ListArtifacts(ctx context.Context, runID string) ([]*orchestratorv1.Artifact, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	resp, err := s.c.ListArtifacts(ctx, &orchestratorv1.ListArtifactsRequest{RunId: runID})
	if err != nil {
		return nil, err
	}
	return resp.GetArtifacts(), nil
}

func (s *clientSource) ReadArtifact(ctx context.Context, digest string) ([]byte, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	stream, err := s.c.GetArtifact(ctx, &orchestratorv1.GetArtifactRequest{Digest: digest})
	if err != nil {
		return nil, err
	}
	first, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	meta := first.GetArtifact()
	if meta == nil {
		return nil, fmt.Errorf("artifact %s: the stream did not start with the metadata", shortDigest(digest))
	}
	if meta.GetSize() < 0 || meta.GetSize() > s.maxBytes {
		return nil, fmt.Errorf("artifact %s is %s, over the dashboard's %s limit", shortDigest(digest), fmtBytes(meta.GetSize()), fmtBytes(s.maxBytes))
	}
	buf := make([]byte, 0, meta.GetSize())
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		chunk := m.GetChunk()
		if int64(len(buf))+int64(len(chunk)) > meta.GetSize() {
			return nil, fmt.Errorf("artifact %s: more content than its declared %d bytes", shortDigest(digest), meta.GetSize())
		}
		buf = append(buf, chunk...)
	}
	if int64(len(buf)) != meta.GetSize() {
		return nil, fmt.Errorf("artifact %s: got %d of its %d bytes", shortDigest(digest), len(buf), meta.GetSize())
	}
	sum := sha256.Sum256(buf)
	if got := hex.EncodeToString(sum[:]); got != digest {
		return nil, fmt.Errorf("artifact %s: content hashes to %s", shortDigest(digest), shortDigest(got))
	}
	return buf, nil
}
