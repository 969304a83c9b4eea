package orchestrator

import (
	"context"
	"errors"
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/table"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/dashboard"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

// DashboardSource lets the dashboard and the report read runs and
// artifacts in process, without a gRPC round trip. It is also the
// dashboard's Predictor: the charts of a model's predictions ask the eval
// stage, as the test step did.
func (s *Server) DashboardSource() dashboard.Source { return dashSource{s} }

type dashSource struct{ s *Server }

func (d dashSource) ListRuns(ctx context.Context, pageSize int, pageToken string) ([]*orchestratorv1.Run, string, error) {
	resp, err := d.s.ListRuns(ctx, &orchestratorv1.ListRunsRequest{PageSize: int32(pageSize), PageToken: pageToken})
	if err != nil {
		return nil, "", err
	}
	return resp.GetRuns(), resp.GetNextPageToken(), nil
}

func (d dashSource) GetRun(_ context.Context, id string) (*orchestratorv1.Run, error) {
	return d.s.getRun(id)
}

func (d dashSource) ListArtifacts(_ context.Context, runID string) ([]*orchestratorv1.Artifact, error) {
	return d.s.store.ListArtifacts(runID)
}

func (d dashSource) ReadArtifact(_ context.Context, digest string) ([]byte, error) {
	b, err := d.s.store.ReadArtifact(digest)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("artifact %s: %w", digest, dashboard.ErrNotFound)
	}
	return b, err
}

// Outputs asks eval for the raw outputs of the stored model on the
// prepared rows t.
func (d dashSource) Outputs(ctx context.Context, modelDigest string, t *table.Table, label string, width int) (*mat.Dense, error) {
	model, err := d.ReadArtifact(ctx, modelDigest)
	if err != nil {
		return nil, err
	}
	return d.s.stages.Outputs(ctx, model, t, label, width)
}

var _ dashboard.Predictor = dashSource{}
