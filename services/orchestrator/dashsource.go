package orchestrator

import (
	"context"
	"errors"
	"fmt"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/dashboard"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

// DashboardSource lets the dashboard and the report read runs and
// artifacts in process, without a gRPC round trip.
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
