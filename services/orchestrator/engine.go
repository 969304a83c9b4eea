package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/display"
	"github.com/alur-ml/alur/ml/metrics"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/orchestrator/store"
)

// Stage versions take part in cache keys: bump one when the stage's output
// for the same input changes, so stale cached outputs are not reused.
const (
	collectVersion  = "collect/v1"
	profileVersion  = "profile/v1"
	prepareVersion  = "prepare/v1"
	trainVersion    = "train/v1"
	evaluateVersion = "evaluate/v1"
	refitVersion    = "refit/v1"
)

// sourceRef is a resolved source: a bundled name, a server-side path, or a
// stored upload to stream.
type sourceRef struct {
	bundled, path, url string
	csv                *ingestv1.CsvOptions
	upload             func(send func([]byte) error) error
}

// runner executes one run. Steps run strictly in order; each is recorded
// on the run, persisted, and announced as an event before the next starts.
type runner struct {
	srv    *Server
	ctx    context.Context
	cancel context.CancelFunc
	// userCancelled is set by CancelRun, to tell a client's cancellation
	// from a shutdown (after which the run resumes).
	userCancelled atomic.Bool

	mu  sync.Mutex
	run *orchestratorv1.Run // guarded by mu; persisted after every change
}

// snapshot returns a copy of the run that is safe to hand out.
func (r *runner) snapshot() *orchestratorv1.Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	return proto.Clone(r.run).(*orchestratorv1.Run)
}

// update changes the run under the lock, persists it, and records an event.
func (r *runner) update(step, msg string, trial *orchestratorv1.Trial, change func(run *orchestratorv1.Run)) {
	r.mu.Lock()
	if change != nil {
		change(r.run)
	}
	snap := proto.Clone(r.run).(*orchestratorv1.Run)
	r.mu.Unlock()
	if err := r.srv.store.PutRun(snap); err != nil {
		r.srv.logger.Error("persist run", "run", snap.GetId(), "err", err)
	}
	if msg != "" {
		r.srv.event(snap.GetId(), &orchestratorv1.RunEvent{
			Time: timestamppb.Now(), RunState: snap.GetState(), Step: step, Message: msg, Trial: trial,
		})
	}
}

// stepFunc does one step's work and returns its output artifact digests and
// a one-line summary for people.
type stepFunc func(ctx context.Context) (outputs []string, summary string, err error)

// step runs one named step at most once per run. A step the run already
// finished (before a restart) is reused as is; a step whose cache key has
// finished outputs is recorded as a cache hit; otherwise fn runs.
func (r *runner) step(name, key string, fn stepFunc) ([]string, error) {
	r.mu.Lock()
	for _, st := range r.run.Steps {
		if st.GetName() == name && st.GetState() == orchestratorv1.StepState_STEP_STATE_SUCCEEDED {
			out := st.GetOutputDigests()
			r.mu.Unlock()
			return out, nil
		}
	}
	r.mu.Unlock()
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	if key != "" {
		outs, ok, err := r.srv.store.CacheGet(key)
		if err == nil && ok {
			serverkit.CacheHits.Inc()
		} else {
			serverkit.CacheMisses.Inc()
		}
		if err == nil && ok {
			for _, d := range outs {
				if err := r.srv.store.LinkArtifact(r.run.GetId(), d); err != nil {
					r.srv.logger.Warn("link cached artifact", "run", r.run.GetId(), "digest", d, "err", err)
				}
			}
			now := timestamppb.Now()
			r.update(name, name+": reused cached result", nil, func(run *orchestratorv1.Run) {
				run.Steps = append(dropStep(run.Steps, name), &orchestratorv1.Step{
					Name: name, State: orchestratorv1.StepState_STEP_STATE_SUCCEEDED,
					StartTime: now, EndTime: now, CacheHit: true, OutputDigests: outs,
				})
			})
			return outs, nil
		}
	}
	start := timestamppb.Now()
	r.update(name, name+": started", nil, func(run *orchestratorv1.Run) {
		run.Steps = append(dropStep(run.Steps, name), &orchestratorv1.Step{
			Name: name, State: orchestratorv1.StepState_STEP_STATE_RUNNING, StartTime: start,
		})
	})
	outs, summary, err := r.retryUnavailable(name, fn)
	end := timestamppb.Now()
	took := end.AsTime().Sub(start.AsTime())
	serverkit.StepDuration.WithLabelValues(stepKind(name)).Observe(took.Seconds())
	if err != nil {
		reason := describeErr(err)
		r.update(name, fmt.Sprintf("%s: failed after %s: %s", name, roundDur(took), reason), nil, func(run *orchestratorv1.Run) {
			if st := findStep(run.Steps, name); st != nil {
				st.State, st.EndTime, st.Error = orchestratorv1.StepState_STEP_STATE_FAILED, end, reason
			}
		})
		return nil, err
	}
	if key != "" {
		if err := r.srv.store.CachePut(key, outs); err != nil {
			r.srv.logger.Warn("cache put", "step", name, "err", err)
		}
	}
	msg := fmt.Sprintf("%s: done in %s", name, roundDur(took))
	if summary != "" {
		msg += ": " + summary
	}
	r.update(name, msg, nil, func(run *orchestratorv1.Run) {
		if st := findStep(run.Steps, name); st != nil {
			st.State, st.EndTime, st.OutputDigests = orchestratorv1.StepState_STEP_STATE_SUCCEEDED, end, outs
		}
	})
	return outs, nil
}

// retryUnavailable runs a step's work, and runs it again with exponential
// backoff while a stage answers Unavailable, for up to
// Config.StageRetryWindow. Steps are safe to repeat: the stages are
// stateless and artifacts are content-addressed. Any other error, or an
// outage longer than the window, ends the step.
func (r *runner) retryUnavailable(name string, fn stepFunc) ([]string, string, error) {
	backoff := 200 * time.Millisecond
	var firstFailure time.Time
	for {
		outs, summary, err := fn(r.ctx)
		if status.Code(err) != codes.Unavailable || r.ctx.Err() != nil {
			return outs, summary, err
		}
		if firstFailure.IsZero() {
			firstFailure = time.Now()
		}
		if time.Since(firstFailure)+backoff > r.srv.cfg.StageRetryWindow {
			return nil, "", status.Errorf(codes.Unavailable, "stage still unavailable after %s of retries: %s",
				roundDur(time.Since(firstFailure)), status.Convert(err).Message())
		}
		r.srv.event(r.run.GetId(), &orchestratorv1.RunEvent{
			Time: timestamppb.Now(), RunState: orchestratorv1.RunState_RUN_STATE_RUNNING, Step: name,
			Message: fmt.Sprintf("%s: stage unavailable (%s); retrying in %s", name, status.Convert(err).Message(), backoff),
		})
		select {
		case <-time.After(backoff):
		case <-r.ctx.Done():
			return nil, "", r.ctx.Err()
		}
		r.srv.stages.resetBackoff()
		backoff = min(2*backoff, 5*time.Second)
	}
}

// stepKind is a step's name without its trial and fold numbers
// ("train/3/fold2" is "train"), the label step metrics use.
func stepKind(name string) string {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return name
}

func dropStep(steps []*orchestratorv1.Step, name string) []*orchestratorv1.Step {
	out := steps[:0]
	for _, s := range steps {
		if s.GetName() != name {
			out = append(out, s)
		}
	}
	return out
}

func findStep(steps []*orchestratorv1.Step, name string) *orchestratorv1.Step {
	for _, s := range steps {
		if s.GetName() == name {
			return s
		}
	}
	return nil
}

// describeErr renders a stage error for the run record: the status code
// word and message, e.g. "InvalidArgument: options.label: column ...".
func describeErr(err error) string {
	if errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "deadline exceeded"
	}
	if st, ok := status.FromError(err); ok {
		return st.Code().String() + ": " + st.Message()
	}
	return err.Error()
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d > 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

// put stores an artifact produced by this run's step.
func (r *runner) put(kind, step, mediaType, name string, content []byte, inputs ...string) (string, error) {
	a, err := r.srv.store.PutArtifact(&orchestratorv1.Artifact{
		Kind: kind, MediaType: mediaType, RunId: r.run.GetId(), Step: step, InputDigests: inputs, Name: name,
	}, content)
	if err != nil {
		return "", status.Errorf(codes.Internal, "store %s artifact: %v", kind, err)
	}
	serverkit.ArtifactBytes.Add(float64(len(content)))
	return a.GetDigest(), nil
}

func (r *runner) putProto(kind, step, name string, m proto.Message, inputs ...string) (string, error) {
	b, err := marshal(m)
	if err != nil {
		return "", err
	}
	return r.put(kind, step, mediaProto(m), name, b, inputs...)
}

func (r *runner) putTable(kind, step, name string, t *table.Table, inputs ...string) (string, error) {
	b, err := encodeTable(t)
	if err != nil {
		return "", err
	}
	return r.put(kind, step, mediaTable, name, b, inputs...)
}

func (r *runner) readTable(digest string) (*table.Table, error) {
	b, err := r.srv.store.ReadArtifact(digest)
	if err != nil {
		return nil, status.Errorf(codes.DataLoss, "read artifact %s: %v", digest, err)
	}
	return decodeTable(b)
}

func (r *runner) readProto(digest string, m proto.Message) error {
	b, err := r.srv.store.ReadArtifact(digest)
	if err != nil {
		return status.Errorf(codes.DataLoss, "read artifact %s: %v", digest, err)
	}
	return proto.Unmarshal(b, m)
}

// cacheKey builds a step's cache key from its version, its canonical
// request and its input digests.
func cacheKey(version string, req proto.Message, inputs ...string) string {
	parts := [][]byte{[]byte(version)}
	if req != nil {
		b, _ := marshal(req)
		parts = append(parts, b)
	}
	for _, in := range inputs {
		parts = append(parts, []byte(in))
	}
	return store.CacheKey(parts...)
}

// execute runs the pipeline: collect, profile, prepare, the trial loop,
// refit, test and the learning curve. It returns the error that ended the run, if any.
func (r *runner) execute() error {
	spec := r.run.GetSpec()

	// 1. Collect.
	outs, err := r.collect(spec.GetSource())
	if err != nil {
		return err
	}
	datasetDigest := outs[0]
	dataset, err := r.readTable(datasetDigest)
	if err != nil {
		return err
	}
	r.update("", "", nil, func(run *orchestratorv1.Run) {
		run.DatasetDigest, run.DatasetRows = datasetDigest, int64(dataset.NumRows())
	})

	// 2. Profile.
	outs, err = r.step("profile", cacheKey(profileVersion, nil, spec.GetLabel(), datasetDigest), func(ctx context.Context) ([]string, string, error) {
		p, err := r.srv.stages.profile(ctx, dataset, spec.GetLabel())
		if err != nil {
			return nil, "", err
		}
		d, err := r.putProto(kindProfile, "profile", "", p, datasetDigest)
		if err != nil {
			return nil, "", err
		}
		return []string{d}, profileSummary(p), nil
	})
	if err != nil {
		return err
	}
	r.update("", "", nil, func(run *orchestratorv1.Run) { run.ProfileDigest = outs[0] })

	// 3. Prepare.
	opts := prepareOptions(spec)
	outs, err = r.step("prepare", cacheKey(prepareVersion, opts, datasetDigest), func(ctx context.Context) ([]string, string, error) {
		p, err := r.srv.stages.prepare(ctx, dataset, opts)
		if err != nil {
			return nil, "", err
		}
		td, err := r.putProto(kindTransform, "prepare", "", p.transform, datasetDigest)
		if err != nil {
			return nil, "", err
		}
		digests := []string{td}
		for _, sp := range []prepv1.Split{prepv1.Split_SPLIT_TRAIN, prepv1.Split_SPLIT_VALIDATION, prepv1.Split_SPLIT_TEST} {
			d, err := r.putTable(kindPrepared, "prepare", splitWord(sp), p.splits[sp], datasetDigest, td)
			if err != nil {
				return nil, "", err
			}
			digests = append(digests, d)
		}
		return digests, fmt.Sprintf("train %s / validation %s / test %s rows, %d features",
			display.Count(int64(p.splits[prepv1.Split_SPLIT_TRAIN].NumRows())), display.Count(int64(p.splits[prepv1.Split_SPLIT_VALIDATION].NumRows())),
			display.Count(int64(p.splits[prepv1.Split_SPLIT_TEST].NumRows())), len(p.transform.GetFeatureNames())), nil
	})
	if err != nil {
		return err
	}
	transformDigest, trainDigest, validDigest, testDigest := outs[0], outs[1], outs[2], outs[3]
	tr := &datav1.FittedTransform{}
	if err := r.readProto(transformDigest, tr); err != nil {
		return err
	}
	task := tr.GetTask()
	metric := spec.GetObjective().GetMetric()
	if metric == "" {
		metric = metrics.DefaultMetric(task)
	}
	if !metrics.KnownMetric(metric, task) {
		return status.Errorf(codes.InvalidArgument, "spec.objective.metric: %q does not apply to %s", metric, taskWord(task))
	}
	r.update("", "", nil, func(run *orchestratorv1.Run) {
		run.TransformDigest, run.Task, run.Metric = transformDigest, task, metric
	})

	// 4. The optimisation loop: train and score candidates on the
	// validation rows until the target is met or the budget is spent.
	configs := expandCandidates(spec, task)
	if len(configs) == 0 {
		return status.Errorf(codes.InvalidArgument, "spec.candidates: no algorithm supports %s", taskWord(task))
	}
	trainTable, err := r.readTable(trainDigest)
	if err != nil {
		return err
	}
	validTable, err := r.readTable(validDigest)
	if err != nil {
		return err
	}
	var folds []fold
	if k := int(spec.GetCvFolds()); k >= 2 {
		both, err := concatTables(trainTable, validTable)
		if err != nil {
			return err
		}
		if folds, err = makeFolds(both, tr.GetLabel(), k, spec.GetSeed()); err != nil {
			return status.Errorf(codes.FailedPrecondition, "spec.cv_folds: %v", err)
		}
	}
	target := spec.GetObjective()
	if err := r.trialLoop(configs, target, task, metric, tr.GetLabel(), trainTable, trainDigest, validTable, validDigest, folds); err != nil {
		return err
	}
	best := r.bestTrial(metric)
	if best == nil {
		return status.Errorf(codes.FailedPrecondition, "every trial failed; the first error: %s", r.firstTrialError())
	}

	// 5. Refit the winner on train + validation rows, then 6. score it once
	// on the test rows.
	cfg := &trainv1.TrainConfig{Algorithm: best.GetAlgorithm(), Params: best.GetParams(), Label: tr.GetLabel(), Task: task, Seed: spec.GetSeed()}
	outs, err = r.step("refit", cacheKey(refitVersion, cfg, trainDigest, validDigest), func(ctx context.Context) ([]string, string, error) {
		both, err := concatTables(trainTable, validTable)
		if err != nil {
			return nil, "", err
		}
		model, res, err := r.srv.stages.trainModel(ctx, cfg, both, r.progressFunc("refit"))
		if err != nil {
			return nil, "", err
		}
		d, err := r.put(kindModel, "refit", mediaProto(&datav1.Model{}), best.GetAlgorithm(), model, trainDigest, validDigest)
		if err != nil {
			return nil, "", err
		}
		return []string{d}, fmt.Sprintf("%s on %s rows in %.2fs", best.GetAlgorithm(), display.Count(res.GetTrainRows()), res.GetFitSeconds()), nil
	})
	if err != nil {
		return err
	}
	modelDigest := outs[0]
	model, err := r.srv.store.ReadArtifact(modelDigest)
	if err != nil {
		return status.Errorf(codes.DataLoss, "read model: %v", err)
	}
	outs, err = r.step("test", cacheKey(evaluateVersion, nil, modelDigest, testDigest), func(ctx context.Context) ([]string, string, error) {
		m, err := r.srv.stages.evaluate(ctx, model, r.mustTable(testDigest), tr.GetLabel())
		if err != nil {
			return nil, "", err
		}
		d, err := r.putProto(kindMetrics, "test", "test", m, modelDigest, testDigest)
		if err != nil {
			return nil, "", err
		}
		return []string{d}, metricsSummary(m), nil
	})
	if err != nil {
		return err
	}
	testMetrics := &datav1.Metrics{}
	if err := r.readProto(outs[0], testMetrics); err != nil {
		return err
	}

	// 7. The learning curve: would more data help?
	outs, err = r.step("learning_curve", cacheKey(learningCurveVersion, cfg, trainDigest, validDigest), func(ctx context.Context) ([]string, string, error) {
		c, err := r.learningCurve(ctx, cfg, metric, trainTable, validTable)
		if err != nil {
			return nil, "", err
		}
		d, err := r.putProto(kindLearningCurve, "learning_curve", "", c, trainDigest, validDigest)
		if err != nil {
			return nil, "", err
		}
		return []string{d}, c.GetVerdict(), nil
	})
	if err != nil {
		return err
	}
	curve := &orchestratorv1.LearningCurve{}
	if err := r.readProto(outs[0], curve); err != nil {
		return err
	}
	met := r.targetMet(target, metric)
	r.update("", "", nil, func(run *orchestratorv1.Run) {
		run.ModelDigest, run.TestMetrics, run.BestTrial, run.ObjectiveMet = modelDigest, testMetrics, best.GetNumber(), met
		run.LearningCurve, run.LearningCurveVerdict = curve.GetPoints(), curve.GetVerdict()
	})
	return nil
}

// collect runs the collect step: a dataset source materialises its pinned
// version from the store, any other source is read through ingest.
func (r *runner) collect(source *orchestratorv1.Source) ([]string, error) {
	if ds := source.GetDataset(); ds != nil {
		v, err := r.srv.store.DatasetVersion(ds.GetName(), ds.GetVersion())
		if err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "spec.source.dataset: %s version %d: %v", ds.GetName(), ds.GetVersion(), err)
		}
		return r.step("collect", cacheKey(collectDatasetVersion, nil, v.GetArtifactDigest()), func(ctx context.Context) ([]string, string, error) {
			if _, err := r.srv.store.StatArtifact(v.GetArtifactDigest()); err != nil {
				return nil, "", status.Errorf(codes.DataLoss, "dataset %s version %d: %v", ds.GetName(), v.GetVersion(), err)
			}
			if err := r.srv.store.LinkArtifact(r.run.GetId(), v.GetArtifactDigest()); err != nil {
				return nil, "", status.Errorf(codes.Internal, "link dataset artifact: %v", err)
			}
			return []string{v.GetArtifactDigest()}, fmt.Sprintf("dataset %s version %d: %s rows × %d columns",
				ds.GetName(), v.GetVersion(), display.Count(v.GetRows()), len(v.GetSchema().GetFields())), nil
		})
	}
	src, cacheable, err := r.srv.resolveSource(source)
	if err != nil {
		return nil, err
	}
	var collectKey string
	if cacheable {
		collectKey = cacheKey(collectVersion, source)
	}
	return r.step("collect", collectKey, func(ctx context.Context) ([]string, string, error) {
		t, sum, rep, err := r.srv.stages.collect(ctx, src)
		if err != nil {
			return nil, "", err
		}
		if rep != nil {
			r.update("", "", nil, func(run *orchestratorv1.Run) { run.IngestReport = rep })
		}
		var inputs []string
		if u := source.GetUpload(); u != "" {
			inputs = append(inputs, u)
		}
		d, err := r.putTable(kindDataset, "collect", sum.GetName(), t, inputs...)
		if err != nil {
			return nil, "", err
		}
		return []string{d}, fmt.Sprintf("%s rows × %d columns", display.Count(int64(t.NumRows())), len(t.Columns)) + reportSummary(rep), nil
	})
}

// mustTable reads a table the run stored itself; errors surface through
// the caller's evaluate call as an empty table.
func (r *runner) mustTable(digest string) *table.Table {
	t, err := r.readTable(digest)
	if err != nil {
		r.srv.logger.Error("read table", "digest", digest, "err", err)
		return &table.Table{}
	}
	return t
}

// trialLoop trains and scores the configurations in order, up to
// Config.MaxParallelTrials at a time (spread over the train replicas), and
// stops launching new ones once the target is met, the run is cancelled,
// or a trial fails in a way that dooms the run.
func (r *runner) trialLoop(configs []trialConfig, target *orchestratorv1.Objective, task datav1.Task, metric, label string,
	trainTable *table.Table, trainDigest string, validTable *table.Table, validDigest string, folds []fold) error {
	var (
		mu    sync.Mutex
		fatal error
		wg    sync.WaitGroup
	)
	slots := make(chan struct{}, r.srv.cfg.MaxParallelTrials)
	stop := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return fatal != nil || r.ctx.Err() != nil || r.targetMet(target, metric)
	}
	for i, cfg := range configs {
		n := int32(i + 1)
		if r.hasTrial(n) {
			continue
		}
		if stop() {
			break
		}
		slots <- struct{}{}
		if stop() {
			<-slots
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			trial := r.runTrial(n, cfg, task, metric, label, trainTable, trainDigest, validTable, validDigest, folds)
			if trial.GetError() != "" && isFatal(trial.GetError()) {
				mu.Lock()
				if fatal == nil {
					fatal = errors.New(trial.GetError())
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := r.ctx.Err(); err != nil {
		return err
	}
	if fatal != nil {
		return fatal
	}
	if r.targetMet(target, metric) {
		r.update("", fmt.Sprintf("objective met: %s reached the target", metric), nil, nil)
	}
	return nil
}

// isFatal reports whether a trial error means the run cannot go on (a
// stage is unreachable or the data is unusable), rather than that this one
// candidate failed.
func isFatal(msg string) bool {
	for _, p := range []string{"Unavailable:", "DataLoss:", "cancelled", "Canceled:"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, ": "+p) {
			return true
		}
	}
	return false
}

// runTrial trains and scores one configuration and records the trial.
func (r *runner) runTrial(n int32, cfg trialConfig, task datav1.Task, metric, label string,
	trainTable *table.Table, trainDigest string, validTable *table.Table, validDigest string, folds []fold) *orchestratorv1.Trial {
	spec := r.run.GetSpec()
	trial := &orchestratorv1.Trial{Number: n, Algorithm: cfg.algorithm, Params: cfg.params}
	if a, ok := algo.Lookup(cfg.algorithm); ok {
		if full, err := a.ResolveParams(cfg.params); err == nil {
			trial.Params = full
		}
	}
	tc := &trainv1.TrainConfig{Algorithm: cfg.algorithm, Params: cfg.params, Label: label, Task: task, Seed: spec.GetSeed()}
	if len(folds) > 0 {
		if err := r.crossValidate(trial, tc, metric, folds); err != nil {
			trial.Error = describeErr(err)
			r.recordTrial(trial, fmt.Sprintf("trial %d (%s) failed: %s", n, cfg.algorithm, trial.Error))
			return trial
		}
		r.recordTrial(trial, fmt.Sprintf("trial %d: %s %s: %d-fold %s %.4f ± %.4f", n, cfg.algorithm, formatParams(trial.GetParams()), len(folds), metric, trial.GetScore(), trial.GetScoreStd()))
		return trial
	}
	trainStep := fmt.Sprintf("train/%d", n)
	outs, err := r.step(trainStep, cacheKey(trainVersion, tc, trainDigest), func(ctx context.Context) ([]string, string, error) {
		model, res, err := r.srv.stages.trainModel(ctx, tc, trainTable, r.progressFunc(trainStep))
		if err != nil {
			return nil, "", err
		}
		md, err := r.put(kindModel, trainStep, mediaProto(&datav1.Model{}), cfg.algorithm, model, trainDigest)
		if err != nil {
			return nil, "", err
		}
		rd, err := r.putProto(kindTrainResult, trainStep, cfg.algorithm, res, md)
		if err != nil {
			return nil, "", err
		}
		return []string{md, rd}, fmt.Sprintf("%s %s in %.3fs", cfg.algorithm, formatParams(res.GetParams()), res.GetFitSeconds()), nil
	})
	if err != nil {
		trial.Error = describeErr(err)
		r.recordTrial(trial, fmt.Sprintf("trial %d (%s) failed: %s", n, cfg.algorithm, trial.Error))
		return trial
	}
	trial.ModelDigest = outs[0]
	res := &trainv1.TrainResult{}
	if err := r.readProto(outs[1], res); err == nil {
		trial.FitSeconds = res.GetFitSeconds()
		trial.Params = res.GetParams()
		trial.TrainServer = res.GetServer()
	}
	model, err := r.srv.store.ReadArtifact(trial.ModelDigest)
	if err != nil {
		trial.Error = "DataLoss: " + err.Error()
		r.recordTrial(trial, fmt.Sprintf("trial %d failed: %s", n, trial.Error))
		return trial
	}
	evalStep := fmt.Sprintf("evaluate/%d", n)
	outs, err = r.step(evalStep, cacheKey(evaluateVersion, nil, trial.ModelDigest, validDigest), func(ctx context.Context) ([]string, string, error) {
		m, err := r.srv.stages.evaluate(ctx, model, validTable, label)
		if err != nil {
			return nil, "", err
		}
		d, err := r.putProto(kindMetrics, evalStep, "validation", m, trial.ModelDigest, validDigest)
		if err != nil {
			return nil, "", err
		}
		return []string{d}, metricsSummary(m), nil
	})
	if err != nil {
		trial.Error = describeErr(err)
		r.recordTrial(trial, fmt.Sprintf("trial %d (%s) failed: %s", n, cfg.algorithm, trial.Error))
		return trial
	}
	m := &datav1.Metrics{}
	if err := r.readProto(outs[0], m); err != nil {
		trial.Error = describeErr(err)
		r.recordTrial(trial, fmt.Sprintf("trial %d failed: %s", n, trial.Error))
		return trial
	}
	trial.ValidationMetrics = m
	score, _, err := metrics.Score(m, metric)
	if err != nil {
		trial.Error = err.Error()
	}
	trial.Score = score
	r.recordTrial(trial, fmt.Sprintf("trial %d: %s %s: validation %s %.4f", n, cfg.algorithm, formatParams(trial.GetParams()), metric, score))
	return trial
}

func (r *runner) recordTrial(t *orchestratorv1.Trial, msg string) {
	r.update(fmt.Sprintf("trial/%d", t.GetNumber()), msg, t, func(run *orchestratorv1.Run) {
		kept := run.Trials[:0]
		for _, old := range run.Trials {
			if old.GetNumber() != t.GetNumber() {
				kept = append(kept, old)
			}
		}
		run.Trials = append(kept, t)
		sort.Slice(run.Trials, func(i, j int) bool { return run.Trials[i].GetNumber() < run.Trials[j].GetNumber() })
		if b := bestOf(run.Trials, run.GetMetric()); b != nil {
			run.BestTrial = b.GetNumber()
		}
	})
}

// progressFunc forwards train progress as events, at most one a second.
func (r *runner) progressFunc(step string) func(*trainv1.TrainProgress) {
	var last time.Time
	return func(p *trainv1.TrainProgress) {
		if time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		msg := fmt.Sprintf("%s: %s", step, p.GetStage())
		if p.GetTotal() > 0 {
			msg += fmt.Sprintf(" %d/%d", p.GetDone(), p.GetTotal())
		} else if p.GetDone() > 0 {
			msg += fmt.Sprintf(" %d", p.GetDone())
		}
		if l := p.GetLoss(); l != 0 && !math.IsNaN(l) {
			msg += fmt.Sprintf(" loss %.4g", l)
		}
		if p.GetMessage() != "" {
			msg += " " + p.GetMessage()
		}
		r.srv.event(r.run.GetId(), &orchestratorv1.RunEvent{Time: timestamppb.Now(), RunState: orchestratorv1.RunState_RUN_STATE_RUNNING, Step: step, Message: msg})
	}
}

func (r *runner) hasTrial(n int32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.run.GetTrials() {
		if t.GetNumber() == n {
			return true
		}
	}
	return false
}

func (r *runner) bestTrial(metric string) *orchestratorv1.Trial {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bestOf(r.run.GetTrials(), metric)
}

func (r *runner) firstTrialError() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.run.GetTrials() {
		if t.GetError() != "" {
			return t.GetError()
		}
	}
	return "no trial ran"
}

// bestOf returns the successful trial with the best score; equal scores go
// to the lower validation log loss (rmse for regression), then to the
// earlier trial.
func bestOf(trials []*orchestratorv1.Trial, metric string) *orchestratorv1.Trial {
	lower := lowerIsBetter(metric)
	var best *orchestratorv1.Trial
	for _, t := range trials {
		if t.GetError() != "" || t.GetValidationMetrics() == nil || math.IsNaN(t.GetScore()) {
			continue
		}
		switch {
		case best == nil,
			lower && t.GetScore() < best.GetScore(),
			!lower && t.GetScore() > best.GetScore(),
			t.GetScore() == best.GetScore() && tieBreak(t.GetValidationMetrics()) < tieBreak(best.GetValidationMetrics()):
			best = t
		}
	}
	return best
}

func lowerIsBetter(metric string) bool {
	switch metric {
	case "log_loss", "rmse", "mae":
		return true
	}
	return false
}

// targetMet reports whether the best trial so far reaches the objective's
// target.
func (r *runner) targetMet(obj *orchestratorv1.Objective, metric string) bool {
	if obj == nil || obj.Target == nil {
		return false
	}
	best := r.bestTrial(metric)
	if best == nil {
		return false
	}
	if lowerIsBetter(metric) {
		return best.GetScore() <= obj.GetTarget()
	}
	return best.GetScore() >= obj.GetTarget()
}

func formatParams(p map[string]float64) string { return "{" + display.Params(p, nil) + "}" }

func profileSummary(p *datav1.DataProfile) string {
	warn := 0
	for _, f := range p.GetFindings() {
		if f.GetSeverity() >= datav1.Severity_SEVERITY_WARNING {
			warn++
		}
	}
	return fmt.Sprintf("%s, %s, %s (%s)", display.Plural(int64(len(p.GetColumns())), "column"),
		display.Plural(p.GetDuplicateRows(), "duplicate row"), display.Plural(int64(len(p.GetFindings())), "finding"),
		display.Plural(int64(warn), "warning or error|warnings or errors"))
}

func metricsSummary(m *datav1.Metrics) string {
	if c := m.GetClassification(); c != nil {
		return fmt.Sprintf("accuracy %.4f, f1_macro %.4f on %s rows", c.GetAccuracy(), c.GetF1Macro(), display.Count(m.GetNumSamples()))
	}
	if g := m.GetRegression(); g != nil {
		return fmt.Sprintf("r2 %.4f, rmse %.4g on %s rows", g.GetR2(), g.GetRmse(), display.Count(m.GetNumSamples()))
	}
	return ""
}

// reportSummary says in a few words what ingest's report holds, for the
// collect step's message: the format when it is not CSV, and the bad rows
// skipped with the first of them.
func reportSummary(rep *ingestv1.IngestReport) string {
	var b strings.Builder
	if f := rep.GetFormat(); f != "" && f != "csv" {
		b.WriteString(", " + f)
	}
	if c := rep.GetCompression(); c != "" {
		b.WriteString(" (" + c + ")")
	}
	if n := rep.GetSkippedRows(); n > 0 {
		fmt.Fprintf(&b, "; %d malformed row", n)
		if n > 1 {
			b.WriteString("s")
		}
		b.WriteString(" skipped")
		if bad := rep.GetBadRows(); len(bad) > 0 {
			fmt.Fprintf(&b, " (first: line %d: %s)", bad[0].GetLine(), bad[0].GetReason())
		}
	}
	return b.String()
}
