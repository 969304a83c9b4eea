package engine

import (
	"context"
	"fmt"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/services/orchestrator/artifacts"
	"github.com/alur-ml/alur/services/orchestrator/fault"
	"github.com/alur-ml/alur/services/orchestrator/search"
)

// trialSteps runs the search's train and evaluate requests as recorded,
// cached steps of the run: it is the engine side of search.Steps. cut,
// when set (search.Bounded), also ends the requests: the loop cancels it
// when the time budget stops a trial.
type trialSteps struct {
	r   *runner
	cut context.Context
}

var (
	_ search.Steps   = trialSteps{}
	_ search.Bounded = trialSteps{}
)

// Within returns the steps with their requests also ended by ctx.
func (s trialSteps) Within(ctx context.Context) search.Steps { return trialSteps{r: s.r, cut: ctx} }

// bound derives the context of one request: the run's, also ended when
// the loop cuts the trial. stop releases it.
func (s trialSteps) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.cut == nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.cut, cancel)
	return ctx, func() { stop(); cancel() }
}

func inputs(d search.Data) []string {
	if d.Stored {
		return []string{d.Digest}
	}
	return nil
}

// Train fits cfg on d as the step named step and stores the model and
// train's result.
func (s trialSteps) Train(step string, cfg *trainv1.TrainConfig, d search.Data) (search.Trained, error) {
	r := s.r
	out, err := runStep(r, step, cacheKey(trainVersion, cfg, d.Digest), decodeTrained, func(ctx context.Context) (trainedOutput, string, error) {
		ctx, stop := s.bound(ctx)
		defer stop()
		model, res, err := r.eng.stages.Train(ctx, cfg, d.Table, r.progressFunc(step))
		if err != nil {
			return trainedOutput{}, "", err
		}
		md, err := r.put(artifacts.KindModel, step, artifacts.MediaProto(&datav1.Model{}), cfg.GetAlgorithm(), model, inputs(d)...)
		if err != nil {
			return trainedOutput{}, "", err
		}
		rd, err := r.putProto(artifacts.KindTrainResult, step, cfg.GetAlgorithm(), res, md)
		if err != nil {
			return trainedOutput{}, "", err
		}
		return trainedOutput{Model: md, Result: rd}, fmt.Sprintf("%s %s in %.3fs", cfg.GetAlgorithm(), search.FormatParams(res.GetParams()), res.GetFitSeconds()), nil
	})
	if err != nil {
		return search.Trained{}, err
	}
	res := &trainv1.TrainResult{}
	if err := r.readProto(out.Result, res); err != nil {
		// The result only adds the fit time and the resolved parameters;
		// the model is what the trial needs.
		res = nil
	}
	return search.Trained{ModelDigest: out.Model, Result: res}, nil
}

// Evaluate scores the stored model on d as the step named step.
func (s trialSteps) Evaluate(step, name, modelDigest string, d search.Data, label string) (*datav1.Metrics, error) {
	r := s.r
	model, err := r.read(modelDigest)
	if err != nil {
		return nil, err
	}
	var in []string
	if d.Stored {
		in = []string{modelDigest, d.Digest}
	}
	out, err := runStep(r, step, cacheKey(evaluateVersion, nil, modelDigest, d.Digest), decodeSingle, func(ctx context.Context) (single, string, error) {
		ctx, stop := s.bound(ctx)
		defer stop()
		m, err := r.eng.stages.Evaluate(ctx, model, d.Table, label)
		if err != nil {
			return single{}, "", err
		}
		md, err := r.putProto(artifacts.KindMetrics, step, name, m, in...)
		if err != nil {
			return single{}, "", err
		}
		return single{md}, metricsSummary(m), nil
	})
	if err != nil {
		return nil, err
	}
	m := &datav1.Metrics{}
	if err := r.readProto(out.Digest, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Record stores the trial on the run and announces it.
func (s trialSteps) Record(t *orchestratorv1.Trial, msg string) { s.r.recordTrial(t, msg) }

// Trials returns the trials recorded so far.
func (s trialSteps) Trials() []*orchestratorv1.Trial { return s.r.trials() }

// Err is the run's context error.
func (s trialSteps) Err() error { return s.r.ctx.Err() }

var _ search.Predictor = trialSteps{}

// Predict asks eval for the stored model's outputs on the prepared rows
// of d: the out-of-fold predictions the ensemble is selected on. It is
// not a step: the model and the rows are artifacts already, and the
// answer is cheap to ask again after a restart. An unavailable eval is
// retried like a step's.
func (s trialSteps) Predict(modelDigest string, d search.Data, label string) ([]float64, int, error) {
	r := s.r
	b, err := r.read(modelDigest)
	if err != nil {
		return nil, 0, err
	}
	m := &datav1.Model{}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, 0, fault.DataLoss("decode model %s: %v", modelDigest, err)
	}
	width := 1
	if m.GetTask() == datav1.Task_TASK_CLASSIFICATION {
		width = len(m.GetClassNames())
	}
	var out *mat.Dense
	if _, _, err := r.retryUnavailable("out-of-fold predictions", func(ctx context.Context) ([]string, string, error) {
		ctx, stop := s.bound(ctx)
		defer stop()
		var err error
		out, err = r.eng.stages.Outputs(ctx, b, d.Table, label, width)
		return nil, "", err
	}); err != nil {
		return nil, 0, err
	}
	rows, cols := out.Dims()
	pred := make([]float64, 0, rows*cols)
	for i := range rows {
		pred = append(pred, out.RawRowView(i)...)
	}
	return pred, cols, nil
}
