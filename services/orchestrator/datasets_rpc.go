package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"math"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/metrics"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/datasets"
	"github.com/alur-ml/alur/services/orchestrator/search"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

func validateDatasetName(field, name string) error {
	if name == "" {
		return serverkit.InvalidArgument(field, "is required")
	}
	if !search.DatasetNamePattern.MatchString(name) {
		return serverkit.InvalidArgument(field, fmt.Sprintf("%q is not a dataset name: use a lowercase letter or digit, then up to 63 lowercase letters, digits, '.', '_' or '-'", name))
	}
	return nil
}

// AppendDataset collects a batch through the ingest stage and records the
// dataset's next version: the previous rows followed by the batch.
func (s *Server) AppendDataset(ctx context.Context, req *orchestratorv1.AppendDatasetRequest) (*orchestratorv1.AppendDatasetResponse, error) {
	name := req.GetName()
	if err := validateDatasetName("name", name); err != nil {
		return nil, err
	}
	src := req.GetSource()
	if err := search.ValidateSource("source", src); err != nil {
		return nil, toStatus(err)
	}
	if src.GetDataset() != nil {
		return nil, serverkit.InvalidArgument("source.dataset", "a batch is read from bundled, path, upload or url, not from another dataset")
	}
	if u := src.GetUpload(); u != "" {
		if _, err := s.store.StatArtifact(u); err != nil {
			return nil, status.Errorf(codes.NotFound, "source.upload: no uploaded file with digest %s: upload it with UploadSource first", u)
		}
	}
	batch, report, err := s.engine.Collect(ctx, src)
	if err != nil {
		return nil, serverkit.Wrap(toStatus(err), "source: ingest")
	}
	if batch.NumRows() == 0 {
		return nil, status.Error(codes.FailedPrecondition, "source: the batch has no rows")
	}
	v, err := s.datasets.Append(name, src, batch, report)
	if err != nil {
		return nil, toStatus(err)
	}
	return &orchestratorv1.AppendDatasetResponse{Dataset: name, Version: v}, nil
}

// ListDatasets lists every dataset with its latest version.
func (s *Server) ListDatasets(ctx context.Context, req *orchestratorv1.ListDatasetsRequest) (*orchestratorv1.ListDatasetsResponse, error) {
	ds, err := s.store.ListDatasets()
	if err != nil {
		return nil, toStatus(err)
	}
	return &orchestratorv1.ListDatasetsResponse{Datasets: ds}, nil
}

// GetDataset returns a dataset with every version, newest first.
func (s *Server) GetDataset(ctx context.Context, req *orchestratorv1.GetDatasetRequest) (*orchestratorv1.GetDatasetResponse, error) {
	if err := validateDatasetName("name", req.GetName()); err != nil {
		return nil, err
	}
	d, err := s.store.GetDataset(req.GetName())
	if errors.Is(err, store.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "name: dataset %q not found", req.GetName())
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &orchestratorv1.GetDatasetResponse{Dataset: d}, nil
}

// CompareVersions reports the drift between two versions of a dataset.
func (s *Server) CompareVersions(ctx context.Context, req *orchestratorv1.CompareVersionsRequest) (*orchestratorv1.CompareVersionsResponse, error) {
	name := req.GetName()
	if err := validateDatasetName("name", name); err != nil {
		return nil, err
	}
	if req.GetFromVersion() < 0 {
		return nil, serverkit.InvalidArgument("from_version", fmt.Sprintf("%d is negative: versions count from 1, 0 means the one before to_version", req.GetFromVersion()))
	}
	if req.GetToVersion() < 0 {
		return nil, serverkit.InvalidArgument("to_version", fmt.Sprintf("%d is negative: versions count from 1, 0 means the latest", req.GetToVersion()))
	}
	rep, err := s.datasets.Compare(name, req.GetFromVersion(), req.GetToVersion(), req.GetAppendedOnly())
	if err != nil {
		return nil, toStatus(err)
	}
	return &orchestratorv1.CompareVersionsResponse{Report: rep}, nil
}

// RetrainRun starts the run's spec again on the latest version of its
// dataset.
func (s *Server) RetrainRun(ctx context.Context, req *orchestratorv1.RetrainRunRequest) (*orchestratorv1.RetrainRunResponse, error) {
	old, err := s.getRun(req.GetRunId())
	if err != nil {
		return nil, err
	}
	ds := old.GetSpec().GetSource().GetDataset()
	if ds == nil {
		return nil, status.Errorf(codes.FailedPrecondition, "run_id: run %s reads %s, not a dataset: only a run on a dataset can be retrained on its latest version", old.GetId(), datasets.DescribeSource(old.GetSpec().GetSource()))
	}
	latest, err := s.datasets.Version(ds.GetName(), 0, "run_id")
	if err != nil {
		return nil, toStatus(err)
	}
	spec := proto.Clone(old.GetSpec()).(*orchestratorv1.PipelineSpec)
	spec.GetSource().GetDataset().Version = latest.GetVersion()
	rt := &orchestratorv1.Retrain{
		RunId: old.GetId(), Dataset: ds.GetName(), FromVersion: ds.GetVersion(), ToVersion: latest.GetVersion(), PreviousMetric: old.GetMetric(),
	}
	if old.GetState() == orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		if score, _, err := metrics.Score(old.GetTestMetrics(), old.GetMetric()); err == nil && !math.IsNaN(score) {
			rt.PreviousTestScore = proto.Float64(score)
		}
	}
	run, err := s.engine.Start(spec, rt)
	if err != nil {
		return nil, toStatus(err)
	}
	return &orchestratorv1.RetrainRunResponse{Run: run}, nil
}
