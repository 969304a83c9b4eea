package orchestrator

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/alur-ml/alur/ml/display"
	"github.com/alur-ml/alur/ml/metrics"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
)

// modelNamePattern is the shape of a registered model's name, the same as
// a dataset's: safe in a URL path (/v2/models/{name}) and a file name.
var modelNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// aliasPattern is the shape of an alias. It starts with a letter so that
// "name@3" is always a version and "name@prod" always an alias.
var aliasPattern = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,63}$`)

// latestAlias names the newest version in a reference; it cannot be set.
const latestAlias = "latest"

// maxRecordText bounds created_by, description, updated_by and reason.
const maxRecordText = 4096

func checkModelName(field, name string) error {
	if name == "" {
		return serverkit.InvalidArgument(field, "is required")
	}
	if !modelNamePattern.MatchString(name) {
		return serverkit.InvalidArgument(field, fmt.Sprintf("%q is not a model name: a lowercase letter or digit, then up to 63 lowercase letters, digits, '.', '_' or '-'", name))
	}
	return nil
}

func checkRecordText(field, s string) error {
	if len(s) > maxRecordText {
		return serverkit.InvalidArgument(field, fmt.Sprintf("is %d bytes, over the %d-byte limit", len(s), maxRecordText))
	}
	return nil
}

// RegisterModel records a succeeded run's final model and transform as the
// next version of a named model.
func (s *Server) RegisterModel(ctx context.Context, req *orchestratorv1.RegisterModelRequest) (*orchestratorv1.RegisterModelResponse, error) {
	if err := checkModelName("name", req.GetName()); err != nil {
		return nil, err
	}
	if err := checkRecordText("created_by", req.GetCreatedBy()); err != nil {
		return nil, err
	}
	if err := checkRecordText("description", req.GetDescription()); err != nil {
		return nil, err
	}
	run, err := s.getRun(req.GetRunId())
	if err != nil {
		return nil, err
	}
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		return nil, status.Errorf(codes.FailedPrecondition, "run %s is %s: only a succeeded run has a model to register", run.GetId(), display.RunState(run.GetState()))
	}
	tb, err := s.store.ReadArtifact(run.GetTransformDigest())
	if err != nil {
		return nil, toStatus(err)
	}
	tr := &datav1.FittedTransform{}
	if err := proto.Unmarshal(tb, tr); err != nil {
		return nil, status.Errorf(codes.DataLoss, "transform artifact %s: %v", run.GetTransformDigest(), err)
	}
	mb, err := s.store.ReadArtifact(run.GetModelDigest())
	if err != nil {
		return nil, toStatus(err)
	}
	m := &datav1.Model{}
	if err := proto.Unmarshal(mb, m); err != nil {
		return nil, status.Errorf(codes.DataLoss, "model artifact %s: %v", run.GetModelDigest(), err)
	}
	v := &orchestratorv1.ModelVersion{
		Name:            req.GetName(),
		CreateTime:      timestamppb.Now(),
		CreatedBy:       req.GetCreatedBy(),
		Description:     req.GetDescription(),
		RunId:           run.GetId(),
		ModelDigest:     run.GetModelDigest(),
		TransformDigest: run.GetTransformDigest(),
		InputSchema:     InputSchema(tr),
		Label:           tr.GetLabel(),
		Task:            m.GetTask(),
		Algorithm:       m.GetAlgorithm(),
		ClassNames:      m.GetClassNames(),
		Metric:          run.GetMetric(),
		DatasetDigest:   run.GetDatasetDigest(),
		Dataset:         run.GetSpec().GetSource().GetDataset(),
		ModelSize:       int64(len(mb)),
	}
	if run.GetTestMetrics() != nil {
		if score, _, err := metrics.Score(run.GetTestMetrics(), run.GetMetric()); err == nil {
			v.TestScore = &score
		}
	}
	out, err := s.store.PutModelVersion(v)
	if err != nil {
		return nil, toStatus(err)
	}
	s.logger.Info("model registered", "model", out.GetName(), "version", out.GetVersion(), "run", run.GetId())
	return &orchestratorv1.RegisterModelResponse{Version: out}, nil
}

// InputSchema lists the raw columns a fitted transform reads, in its
// order, with their raw types: the columns a caller must send to predict.
// The label and dropped columns are left out.
func InputSchema(tr *datav1.FittedTransform) *datav1.Schema {
	sc := &datav1.Schema{}
	for _, ct := range tr.GetColumns() {
		if ct.GetAction() == datav1.ColumnAction_COLUMN_ACTION_DROP || ct.GetName() == tr.GetLabel() {
			continue
		}
		sc.Fields = append(sc.Fields, &datav1.Field{Name: ct.GetName(), Type: ct.GetType()})
	}
	return sc
}

// ListModels lists the registered models.
func (s *Server) ListModels(ctx context.Context, req *orchestratorv1.ListModelsRequest) (*orchestratorv1.ListModelsResponse, error) {
	models, err := s.store.ListModels()
	if err != nil {
		return nil, toStatus(err)
	}
	return &orchestratorv1.ListModelsResponse{Models: models}, nil
}

// ParseModelRef splits "name", "name@VERSION" or "name@ALIAS" into the
// name and either a version (0 for none) or an alias ("" for none).
func ParseModelRef(ref string) (name string, version int64, alias string, err error) {
	name, sel, hasSel := strings.Cut(ref, "@")
	if err := checkModelName("ref", name); err != nil {
		return "", 0, "", err
	}
	if !hasSel {
		return name, 0, "", nil
	}
	if sel == "" {
		return "", 0, "", serverkit.InvalidArgument("ref", fmt.Sprintf("%q: nothing after '@': want a version number or an alias", ref))
	}
	if sel[0] >= '0' && sel[0] <= '9' {
		n, err := strconv.ParseInt(sel, 10, 64)
		if err != nil || n < 1 {
			return "", 0, "", serverkit.InvalidArgument("ref", fmt.Sprintf("%q: version %q is not a whole number from 1", ref, sel))
		}
		return name, n, "", nil
	}
	if !aliasPattern.MatchString(sel) {
		return "", 0, "", serverkit.InvalidArgument("ref", fmt.Sprintf("%q: %q is not an alias: a lowercase letter, then up to 63 lowercase letters, digits, '.', '_' or '-'", ref, sel))
	}
	if sel == latestAlias {
		return name, 0, "", nil
	}
	return name, 0, sel, nil
}

// GetModel returns a model and the version its reference resolves to.
func (s *Server) GetModel(ctx context.Context, req *orchestratorv1.GetModelRequest) (*orchestratorv1.GetModelResponse, error) {
	name, version, alias, err := ParseModelRef(req.GetRef())
	if err != nil {
		return nil, err
	}
	m, err := s.store.GetModel(name)
	if err != nil {
		return nil, toStatus(err)
	}
	if alias != "" {
		for _, a := range m.GetAliases() {
			if a.GetAlias() == alias {
				version = a.GetVersion()
			}
		}
		if version == 0 {
			return nil, status.Errorf(codes.NotFound, "model %q has no alias %q", name, alias)
		}
	}
	var v *orchestratorv1.ModelVersion
	for _, mv := range m.GetVersions() {
		if version == 0 || mv.GetVersion() == version {
			v = mv
			break
		}
	}
	if v == nil {
		if version == 0 {
			return nil, status.Errorf(codes.NotFound, "model %q has no versions left", name)
		}
		return nil, status.Errorf(codes.NotFound, "model %q has no version %d", name, version)
	}
	return &orchestratorv1.GetModelResponse{Model: m, Version: v}, nil
}

// SetModelAlias points an alias at a version, or removes it.
func (s *Server) SetModelAlias(ctx context.Context, req *orchestratorv1.SetModelAliasRequest) (*orchestratorv1.SetModelAliasResponse, error) {
	if err := checkModelName("name", req.GetName()); err != nil {
		return nil, err
	}
	switch a := req.GetAlias(); {
	case a == "":
		return nil, serverkit.InvalidArgument("alias", "is required")
	case a == latestAlias:
		return nil, serverkit.InvalidArgument("alias", `"latest" is reserved: it always names the newest version`)
	case !aliasPattern.MatchString(a):
		return nil, serverkit.InvalidArgument("alias", fmt.Sprintf("%q is not an alias: a lowercase letter, then up to 63 lowercase letters, digits, '.', '_' or '-'", a))
	}
	if req.GetVersion() < 0 {
		return nil, serverkit.InvalidArgument("version", "must be 0 (remove the alias) or a version number")
	}
	if err := checkRecordText("updated_by", req.GetUpdatedBy()); err != nil {
		return nil, err
	}
	if err := checkRecordText("reason", req.GetReason()); err != nil {
		return nil, err
	}
	a, err := s.store.SetModelAlias(req.GetName(), &orchestratorv1.ModelAlias{
		Alias: req.GetAlias(), Version: req.GetVersion(), UpdatedBy: req.GetUpdatedBy(), Reason: req.GetReason(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	s.logger.Info("model alias set", "model", req.GetName(), "alias", req.GetAlias(), "version", req.GetVersion())
	return &orchestratorv1.SetModelAliasResponse{Alias: a}, nil
}

// DeleteModelVersion removes a version no alias points at.
func (s *Server) DeleteModelVersion(ctx context.Context, req *orchestratorv1.DeleteModelVersionRequest) (*orchestratorv1.DeleteModelVersionResponse, error) {
	if err := checkModelName("name", req.GetName()); err != nil {
		return nil, err
	}
	if req.GetVersion() < 1 {
		return nil, serverkit.InvalidArgument("version", "is required: a version number from 1")
	}
	v, err := s.store.DeleteModelVersion(req.GetName(), req.GetVersion())
	if err != nil {
		return nil, toStatus(err)
	}
	s.logger.Info("model version deleted", "model", req.GetName(), "version", req.GetVersion())
	return &orchestratorv1.DeleteModelVersionResponse{Version: v}, nil
}
