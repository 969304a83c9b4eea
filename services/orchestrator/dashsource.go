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

// storeReport renders the finished run's self-contained HTML report and
// keeps it as an artifact, so the report a manager reads is part of the
// run's record.
func (s *Server) storeReport(r *runner) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StepTimeout)
	defer cancel()
	id := r.run.GetId()
	html, err := dashboard.RenderReport(ctx, s.DashboardSource(), id)
	if err != nil {
		s.logger.Warn("render report", "run", id, "err", err)
		return
	}
	r.mu.Lock()
	inputs := []string{}
	for _, d := range []string{r.run.GetDatasetDigest(), r.run.GetModelDigest()} {
		if d != "" {
			inputs = append(inputs, d)
		}
	}
	r.mu.Unlock()
	d, err := r.put(kindReport, "report", "text/html; charset=utf-8", "report-"+id+".html", html, inputs...)
	if err != nil {
		s.logger.Warn("store report", "run", id, "err", err)
		return
	}
	r.update("", "report stored: "+d, nil, func(run *orchestratorv1.Run) { run.ReportDigest = d })
}
