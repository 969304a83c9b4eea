package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/display"
	"github.com/alur-ml/alur/ml/metrics"
	"github.com/alur-ml/alur/ml/selection"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/services/orchestrator/artifacts"
	"github.com/alur-ml/alur/services/orchestrator/fault"
	"github.com/alur-ml/alur/services/orchestrator/search"
	"github.com/alur-ml/alur/services/orchestrator/stageclient"
)

// pipeline is one execution of a run's steps and what each step hands to
// the next. A resumed run builds it again from the steps' recorded outputs.
type pipeline struct {
	r    *runner
	spec *orchestratorv1.PipelineSpec

	dataset       *table.Table
	datasetDigest string
	prepared      preparedOutput
	transform     *datav1.FittedTransform
	metric        string
	train, valid  search.Data
	objectiveMet  bool
	best          *orchestratorv1.Trial
	winner        *trainv1.TrainConfig // the best trial's configuration
	// members are the best trial's members when it is the ensemble: the
	// refit step refits each and combines them.
	members []search.EnsembleMember
	// bag, when set, is what the refit step hands over instead of a model
	// refitted on every row: the average of the chosen trials' fold
	// models (k-fold bagging; see bagMembers).
	bag         []baggedMember
	cvRows      *table.Table // the rows the folds were made from
	modelDigest string
	testMetrics *datav1.Metrics
	curve       *orchestratorv1.LearningCurve
}

// execute runs the pipeline: collect, profile, prepare, the trial loop,
// refit, test and the learning curve. It returns the error that ended the
// run, if any.
func (r *runner) execute() error {
	p := &pipeline{r: r, spec: r.run.GetSpec()}
	for _, step := range []func() error{
		p.collect, p.profile, p.prepare, p.search, p.refit, p.test, p.learningCurve,
	} {
		if err := step(); err != nil {
			return err
		}
	}
	r.update(func(run *orchestratorv1.Run) {
		run.ModelDigest, run.TestMetrics, run.BestTrial, run.ObjectiveMet = p.modelDigest, p.testMetrics, p.best.GetNumber(), p.objectiveMet
		run.LearningCurve, run.LearningCurveVerdict = p.curve.GetPoints(), p.curve.GetVerdict()
	})
	return nil
}

// collect runs the collect step: a dataset source materialises its pinned
// version from the store, any other source is read through ingest.
func (p *pipeline) collect() error {
	r := p.r
	out, err := r.collect(p.spec.GetSource())
	if err != nil {
		return err
	}
	if p.dataset, err = r.readTable(out.Digest); err != nil {
		return err
	}
	p.datasetDigest = out.Digest
	r.update(func(run *orchestratorv1.Run) {
		run.DatasetDigest, run.DatasetRows = out.Digest, int64(p.dataset.NumRows())
	})
	return nil
}

func (r *runner) collect(source *orchestratorv1.Source) (single, error) {
	if ds := source.GetDataset(); ds != nil {
		return r.collectDataset(ds)
	}
	src, cacheable, err := r.eng.ResolveSource(source)
	if err != nil {
		return single{}, err
	}
	var key string
	if cacheable {
		key = cacheKey(collectVersion, source)
	}
	return runStep(r, "collect", key, decodeSingle, func(ctx context.Context) (single, string, error) {
		t, sum, rep, err := r.eng.stages.Collect(ctx, src)
		if err != nil {
			return single{}, "", err
		}
		if rep != nil {
			r.update(func(run *orchestratorv1.Run) { run.IngestReport = rep })
		}
		var inputs []string
		if u := source.GetUpload(); u != "" {
			inputs = append(inputs, u)
		}
		d, err := r.putTable(artifacts.KindDataset, "collect", sum.GetName(), t, inputs...)
		if err != nil {
			return single{}, "", err
		}
		return single{d}, fmt.Sprintf("%s rows × %d columns", display.Count(int64(t.NumRows())), len(t.Columns)) + reportSummary(rep), nil
	})
}

// collectDataset materialises a dataset version pinned when the run
// started.
func (r *runner) collectDataset(ds *orchestratorv1.DatasetRef) (single, error) {
	v, err := r.eng.store.DatasetVersion(ds.GetName(), ds.GetVersion())
	if err != nil {
		return single{}, fault.FailedPrecondition("spec.source.dataset: %s version %d: %v", ds.GetName(), ds.GetVersion(), err)
	}
	return runStep(r, "collect", cacheKey(collectDatasetVersion, nil, v.GetArtifactDigest()), decodeSingle, func(ctx context.Context) (single, string, error) {
		if _, err := r.eng.store.StatArtifact(v.GetArtifactDigest()); err != nil {
			return single{}, "", fault.DataLoss("dataset %s version %d: %v", ds.GetName(), v.GetVersion(), err)
		}
		if err := r.eng.store.LinkArtifact(r.run.GetId(), v.GetArtifactDigest()); err != nil {
			return single{}, "", fault.Internal("link dataset artifact: %v", err)
		}
		return single{v.GetArtifactDigest()}, fmt.Sprintf("dataset %s version %d: %s rows × %d columns",
			ds.GetName(), v.GetVersion(), display.Count(v.GetRows()), len(v.GetSchema().GetFields())), nil
	})
}

// profile runs the profile step.
func (p *pipeline) profile() error {
	r := p.r
	out, err := runStep(r, "profile", cacheKey(profileVersion, nil, p.spec.GetLabel(), p.datasetDigest), decodeSingle, func(ctx context.Context) (single, string, error) {
		prof, err := r.eng.stages.Profile(ctx, p.dataset, p.spec.GetLabel())
		if err != nil {
			return single{}, "", err
		}
		d, err := r.putProto(artifacts.KindProfile, "profile", "", prof, p.datasetDigest)
		if err != nil {
			return single{}, "", err
		}
		return single{d}, profileSummary(prof), nil
	})
	if err != nil {
		return err
	}
	r.update(func(run *orchestratorv1.Run) { run.ProfileDigest = out.Digest })
	return nil
}

// prepare runs the prepare step, then settles the task and the metric the
// trials are judged by.
func (p *pipeline) prepare() error {
	r := p.r
	opts := search.PrepareOptions(p.spec)
	out, err := runStep(r, "prepare", cacheKey(prepareVersion, opts, p.datasetDigest), decodePrepared, func(ctx context.Context) (preparedOutput, string, error) {
		prep, err := r.eng.stages.Prepare(ctx, p.dataset, opts)
		if err != nil {
			return preparedOutput{}, "", err
		}
		return r.storePrepared(prep, p.datasetDigest)
	})
	if err != nil {
		return err
	}
	p.prepared = out
	p.transform = &datav1.FittedTransform{}
	if err := r.readProto(out.Transform, p.transform); err != nil {
		return err
	}
	task := p.transform.GetTask()
	p.metric = p.spec.GetObjective().GetMetric()
	if p.metric == "" {
		p.metric = metrics.DefaultMetric(task)
	}
	if !metrics.KnownMetric(p.metric, task) {
		return fault.Field("spec.objective.metric", "%q does not apply to %s", p.metric, search.TaskWord(task))
	}
	r.record(kindStepProgress, "prepare", "task: "+p.transform.GetTaskReason(), nil, func(run *orchestratorv1.Run) {
		run.TransformDigest, run.Task, run.Metric, run.TaskReason = out.Transform, task, p.metric, p.transform.GetTaskReason()
	})
	for _, note := range p.transform.GetNotes() {
		r.record(kindStepProgress, "prepare", note, nil, nil)
	}
	return nil
}

// storePrepared stores the transform and the three splits.
func (r *runner) storePrepared(prep *stageclient.Prepared, datasetDigest string) (preparedOutput, string, error) {
	td, err := r.putProto(artifacts.KindTransform, "prepare", "", prep.Transform, datasetDigest)
	if err != nil {
		return preparedOutput{}, "", err
	}
	out := preparedOutput{Transform: td}
	for _, s := range []struct {
		split prepv1.Split
		dst   *string
	}{{prepv1.Split_SPLIT_TRAIN, &out.Train}, {prepv1.Split_SPLIT_VALIDATION, &out.Valid}, {prepv1.Split_SPLIT_TEST, &out.Test}} {
		if *s.dst, err = r.putTable(artifacts.KindPrepared, "prepare", stageclient.SplitWord(s.split), prep.Splits[s.split], datasetDigest, td); err != nil {
			return preparedOutput{}, "", err
		}
	}
	return out, fmt.Sprintf("train %s / validation %s / test %s rows, %d features",
		display.Count(int64(prep.Splits[prepv1.Split_SPLIT_TRAIN].NumRows())), display.Count(int64(prep.Splits[prepv1.Split_SPLIT_VALIDATION].NumRows())),
		display.Count(int64(prep.Splits[prepv1.Split_SPLIT_TEST].NumRows())), len(prep.Transform.GetFeatureNames())), nil
}

// algorithms asks train for its algorithms, retrying while train is
// unavailable like any step.
func (r *runner) algorithms() (*algo.Catalog, error) {
	var cat *algo.Catalog
	_, _, err := r.retryUnavailable("search", func(ctx context.Context) ([]string, string, error) {
		var err error
		cat, err = r.eng.stages.Algorithms(ctx)
		return nil, "", err
	})
	return cat, err
}

// search is the optimisation loop: train and score candidates on the
// validation rows (or cross-validation folds) until the target is met or
// the budget is spent, then pick the best trial.
func (p *pipeline) search() error {
	r := p.r
	task := p.transform.GetTask()
	cat, err := r.algorithms()
	if err != nil {
		return err
	}
	configs := search.ExpandCandidates(p.spec, task, cat)
	if len(configs) == 0 {
		return fault.Field("spec.candidates", "no algorithm supports %s", search.TaskWord(task))
	}
	trainTable, err := r.readTable(p.prepared.Train)
	if err != nil {
		return err
	}
	validTable, err := r.readTable(p.prepared.Valid)
	if err != nil {
		return err
	}
	p.train = search.Data{Table: trainTable, Digest: p.prepared.Train, Stored: true}
	p.valid = search.Data{Table: validTable, Digest: p.prepared.Valid, Stored: true}
	loop := &search.Loop{
		Configs: configs, Objective: p.spec.GetObjective(), Task: task, Metric: p.metric,
		Label: p.transform.GetLabel(), Seed: p.spec.GetSeed(), Train: p.train, Valid: p.valid,
		Parallel: r.eng.cfg.MaxParallelTrials, Catalog: cat,
	}
	plan := selection.PlanValidation(trainTable.NumRows()+validTable.NumRows(), int(p.spec.GetCvFolds()), p.spec.GetTimeBudget().AsDuration())
	r.record(kindStepProgress, "search", "validation: "+plan.Reason, nil, func(run *orchestratorv1.Run) {
		run.ValidationPlan = plan.Reason
		run.SearchTimeBudget = durationpb.New(plan.TimeBudget)
	})
	if k := plan.Folds; k >= 2 {
		both, err := artifacts.ConcatTables(trainTable, validTable)
		if err != nil {
			return fault.Internal("join train and validation rows: %v", err)
		}
		p.cvRows = both
		if loop.Folds, err = search.MakeFolds(both, p.transform.GetLabel(), k, p.spec.GetSeed()); err != nil {
			if p.spec.GetCvFolds() >= 2 {
				return fault.FailedPrecondition("spec.cv_folds: %v", err)
			}
			// Too few rows for the default folds: the validation rows decide.
			loop.Folds = nil
		}
	}
	// The budget runs from the search's first training, so a resumed run
	// does not start it afresh; a trial running past it by more than the
	// grace is stopped once another has succeeded.
	loop.Deadline = r.searchStart().Add(plan.TimeBudget)
	loop.Budget, loop.Grace = plan.TimeBudget, plan.TimeBudget/budgetGraceShare
	r.mu.Lock()
	r.searchDeadline = loop.Deadline
	r.mu.Unlock()
	met, err := loop.Run(trialSteps{r: r})
	if err != nil {
		return err
	}
	defer func() { p.recordSearchStop(loop) }()
	if met {
		r.record(kindObjectiveMet, "", fmt.Sprintf("objective met: %s reached the target", p.metric), nil, nil)
	}
	p.objectiveMet = met
	if !met && len(p.spec.GetCandidates()) == 0 && len(loop.Folds) > 0 {
		if err := p.runSearch(loop, task); err != nil {
			return err
		}
		if err := p.repeatFolds(loop); err != nil {
			return err
		}
	}
	members := p.ensemble(loop, ensembleNumber(r.trials()))
	if p.best = search.Best(r.trials(), p.metric); p.best == nil {
		return fault.FailedPrecondition("every trial failed; the first error: %s", r.firstTrialError())
	}
	best := p.best
	if best.GetAlgorithm() == search.EnsembleAlgorithm {
		p.members = members
		// The learning curve follows the heaviest member.
		heaviest := members[0]
		for _, m := range members[1:] {
			if m.Weight > heaviest.Weight {
				heaviest = m
			}
		}
		best = heaviest.Trial
	}
	p.bag = p.bagMembers(loop, members)
	p.winner = &trainv1.TrainConfig{Algorithm: best.GetAlgorithm(), Params: best.GetParams(), Label: p.transform.GetLabel(), Task: task, Seed: p.spec.GetSeed()}
	return nil
}

// budgetGraceShare sets the grace a trial gets past the time budget
// before it is stopped: 1/20 (5%) of the budget.
const budgetGraceShare = 20

// searchStart is when the run's search began: the start of its first
// train step (a resumed run keeps its own), or now before there is one.
func (r *runner) searchStart() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	for _, st := range r.run.GetSteps() {
		if strings.HasPrefix(st.GetName(), "train/") && st.GetStartTime() != nil && st.GetStartTime().AsTime().Before(start) {
			start = st.GetStartTime().AsTime()
		}
	}
	return start
}

// recordSearchStop records on the run why its search stopped
// (Run.search_stop), which display.StopReason words for the CLI, the
// dashboard and the report.
func (p *pipeline) recordSearchStop(loop *search.Loop) {
	r := p.r
	stop := orchestratorv1.SearchStop_SEARCH_STOP_EXHAUSTED
	maxTrials := int(p.spec.GetMaxTrials())
	if maxTrials == 0 {
		maxTrials = search.DefaultMaxTrials
	}
	n := 0
	for _, t := range r.trials() {
		if t.GetAlgorithm() != search.EnsembleAlgorithm {
			n++
		}
	}
	switch {
	case r.ctx.Err() != nil:
		stop = orchestratorv1.SearchStop_SEARCH_STOP_CANCELLED
	case p.objectiveMet:
		stop = orchestratorv1.SearchStop_SEARCH_STOP_OBJECTIVE_MET
	case loop.StoppedByBudget():
		stop = orchestratorv1.SearchStop_SEARCH_STOP_TIME_BUDGET
	case n >= maxTrials:
		stop = orchestratorv1.SearchStop_SEARCH_STOP_TRIAL_BUDGET
	}
	r.record(kindStepProgress, "search", "search stopped: "+searchStopWords[stop], nil, func(run *orchestratorv1.Run) { run.SearchStop = stop })
}

// searchStopWords word the search's stop in its progress event.
var searchStopWords = map[orchestratorv1.SearchStop]string{
	orchestratorv1.SearchStop_SEARCH_STOP_OBJECTIVE_MET: "the objective's target was met",
	orchestratorv1.SearchStop_SEARCH_STOP_TIME_BUDGET:   "the time budget was spent",
	orchestratorv1.SearchStop_SEARCH_STOP_TRIAL_BUDGET:  "the trial budget was spent",
	orchestratorv1.SearchStop_SEARCH_STOP_EXHAUSTED:     "every candidate configuration was tried",
	orchestratorv1.SearchStop_SEARCH_STOP_CANCELLED:     "the run was cancelled",
}

// runSearch follows the default trials with a successive-halving search
// (search.Loop.RunSearch) over the configurations selection.SampleConfigs
// draws from selection.DefaultSpaces, the defaults left out (the loop
// trained them), within what is left of max_trials and the time budget.
func (p *pipeline) runSearch(loop *search.Loop, task datav1.Task) error {
	r := p.r
	var draws []selection.Config
	for _, c := range selection.SampleConfigs(selection.DefaultSpaces, task, search.SearchConfigs, p.spec.GetSeed()) {
		if len(c.Params) > 0 {
			if a, ok := loop.Catalog.Lookup(c.Algorithm); ok && a.Supports(task) {
				draws = append(draws, c)
			}
		}
	}
	maxTrials := int(p.spec.GetMaxTrials())
	if maxTrials == 0 {
		maxTrials = search.DefaultMaxTrials
	}
	left := maxTrials - len(loop.Configs)
	if left <= 0 || len(draws) == 0 {
		return nil
	}
	stopped, err := loop.RunSearch(trialSteps{r: r}, search.Search{Configs: draws, MaxTrials: left})
	if err != nil {
		return err
	}
	if stopped != "" {
		r.record(kindStepProgress, "search", fmt.Sprintf("successive halving over %d drawn configurations: %s", len(draws), stopped), nil, nil)
	}
	return nil
}

// repeatFolds spends what is left of a default run's time budget on a
// second repetition of its k-fold cross-validation (search.Loop.Repeat),
// on folds drawn with the next seed: steadier out-of-fold predictions for
// the ensemble and twice the fold models for k-fold bagging.
func (p *pipeline) repeatFolds(loop *search.Loop) error {
	r := p.r
	if p.cvRows == nil || time.Now().After(loop.Deadline) {
		return nil
	}
	folds, err := search.MakeFolds(p.cvRows, p.transform.GetLabel(), len(loop.Folds), p.spec.GetSeed()+1)
	if err != nil {
		return nil // too few rows for other folds: one repetition decides
	}
	n, err := loop.Repeat(trialSteps{r: r}, folds)
	if err != nil {
		return err
	}
	if n > 0 {
		r.record(kindStepProgress, "search", fmt.Sprintf("repeated %d-fold cross-validation: %s cross-validated again on other folds within the time budget; their out-of-fold predictions and fold models are those of both repetitions",
			len(folds), display.Plural(int64(n), "trial")), nil, nil)
	}
	return nil
}

// ensembleNumber is the ensemble trial's number: the one a resumed run
// recorded already, else the next after every trial.
func ensembleNumber(trials []*orchestratorv1.Trial) int32 {
	var n int32
	for _, t := range trials {
		if t.GetAlgorithm() == search.EnsembleAlgorithm {
			return t.GetNumber()
		}
		n = max(n, t.GetNumber())
	}
	return n + 1
}

// ensemble builds the ensemble candidate of a cross-validated search
// (search.Loop.Ensemble) and records it as trial number when the ranking
// every leaderboard uses (display.Compare, selection.Better) puts it
// before the best single trial: a higher score on the blend of the
// members' out-of-fold predictions, or an equal one with a lower log loss
// (RMSE); on a full tie the single model, which is simpler, stays first. It returns the members of the recorded
// ensemble. A failure to build one is announced and leaves the single
// trials to choose from.
func (p *pipeline) ensemble(loop *search.Loop, number int32) []search.EnsembleMember {
	r := p.r
	if len(loop.Folds) < 2 || p.cvRows == nil || r.ctx.Err() != nil {
		return nil
	}
	pd, err := dataprep.FromPrepared(p.cvRows, p.transform.GetLabel())
	if err != nil {
		r.record(kindStepProgress, "search", fmt.Sprintf("ensemble: not built: %v", err), nil, nil)
		return nil
	}
	trial, members, err := loop.Ensemble(trialSteps{r: r}, number, pd.Y, pd.ClassNames)
	switch {
	case err != nil:
		r.record(kindStepProgress, "search", fmt.Sprintf("ensemble: not built: %v", err), nil, nil)
		return nil
	case trial == nil:
		return nil
	}
	var singles []*orchestratorv1.Trial
	for _, t := range r.trials() {
		if t.GetAlgorithm() != search.EnsembleAlgorithm {
			singles = append(singles, t)
		}
	}
	single := search.Best(singles, p.metric)
	desc := fmt.Sprintf("ensemble of %d trials %s: %d-fold %s %.4f ± %.4f", len(members), search.FormatParams(trial.GetParams()), len(loop.Folds), p.metric, trial.GetScore(), trial.GetScoreStd())
	if !search.RanksFirst(trial, single, p.metric) {
		r.record(kindStepProgress, "search", fmt.Sprintf("%s, not ranked above the best single trial %d (%.4f): not kept", desc, single.GetNumber(), single.GetScore()), nil, nil)
		return nil
	}
	r.recordTrial(trial, fmt.Sprintf("trial %d: %s, ranked above the best single trial %d (%.4f)", number, desc, single.GetNumber(), single.GetScore()))
	return members
}

// refit trains the winner on the train and validation rows together; an
// ensemble refits each member and combines them with their weights.
func (p *pipeline) refit() error {
	r := p.r
	// A bagged choice (the ensemble's too) hands over its fold models;
	// bagFolds falls back to a refit when it cannot.
	if p.bag != nil {
		return p.bagFolds()
	}
	if p.members != nil {
		return p.refitEnsemble()
	}
	cfg := p.winner
	out, err := runStep(r, "refit", cacheKey(refitVersion, cfg, p.train.Digest, p.valid.Digest), decodeSingle, func(ctx context.Context) (single, string, error) {
		both, err := artifacts.ConcatTables(p.train.Table, p.valid.Table)
		if err != nil {
			return single{}, "", fault.Internal("join train and validation rows: %v", err)
		}
		model, res, err := r.eng.stages.Train(ctx, cfg, both, r.progressFunc("refit"))
		if err != nil {
			return single{}, "", err
		}
		d, err := r.put(artifacts.KindModel, "refit", artifacts.MediaProto(&datav1.Model{}), cfg.GetAlgorithm(), model, p.train.Digest, p.valid.Digest)
		if err != nil {
			return single{}, "", err
		}
		return single{d}, fmt.Sprintf("%s on %s rows in %.2fs", cfg.GetAlgorithm(), display.Count(res.GetTrainRows()), res.GetFitSeconds()), nil
	})
	if err != nil {
		return err
	}
	p.modelDigest = out.Digest
	return nil
}

// test scores the refitted model once on the test rows.
func (p *pipeline) test() error {
	r := p.r
	model, err := r.read(p.modelDigest)
	if err != nil {
		return err
	}
	out, err := runStep(r, "test", cacheKey(evaluateVersion, nil, p.modelDigest, p.prepared.Test), decodeSingle, func(ctx context.Context) (single, string, error) {
		testTable, err := r.readTable(p.prepared.Test)
		if err != nil {
			return single{}, "", err
		}
		m, err := r.eng.stages.Evaluate(ctx, model, testTable, p.transform.GetLabel())
		if err != nil {
			return single{}, "", err
		}
		d, err := r.putProto(artifacts.KindMetrics, "test", "test", m, p.modelDigest, p.prepared.Test)
		if err != nil {
			return single{}, "", err
		}
		return single{d}, metricsSummary(m), nil
	})
	if err != nil {
		return err
	}
	p.testMetrics = &datav1.Metrics{}
	return r.readProto(out.Digest, p.testMetrics)
}

// learningCurve asks whether more data would help: the winner trained on
// growing shares of the training rows.
func (p *pipeline) learningCurve() error {
	r := p.r
	out, err := runStep(r, "learning_curve", cacheKey(learningCurveVersion, p.winner, p.train.Digest, p.valid.Digest), decodeSingle, func(ctx context.Context) (single, string, error) {
		c, err := r.learningCurve(ctx, p.winner, p.metric, p.train.Table, p.valid.Table, p.fullTrainModel())
		if err != nil {
			return single{}, "", err
		}
		d, err := r.putProto(artifacts.KindLearningCurve, "learning_curve", "", c, p.train.Digest, p.valid.Digest)
		if err != nil {
			return single{}, "", err
		}
		return single{d}, c.GetVerdict(), nil
	})
	if err != nil {
		return err
	}
	p.curve = &orchestratorv1.LearningCurve{}
	return r.readProto(out.Digest, p.curve)
}

// fullTrainModel is the digest of the winner's model trained on every
// training row, when the search trained one: a holdout search (no folds)
// whose best trial is a single model. Empty otherwise (cross-validation
// trains on folds; an ensemble's curve follows its heaviest member).
func (p *pipeline) fullTrainModel() string {
	if p.cvRows != nil || p.best.GetAlgorithm() == search.EnsembleAlgorithm {
		return ""
	}
	return p.best.GetModelDigest()
}

// refitEnsemble refits each member of the winning ensemble on the train
// and validation rows and stores the alur.data.v1.EnsembleModel that
// averages them with the ensemble trial's weights.
func (p *pipeline) refitEnsemble() error {
	r := p.r
	var keys []string
	for _, m := range p.members {
		keys = append(keys, fmt.Sprintf("%s %s %g", m.Trial.GetAlgorithm(), search.FormatParams(m.Trial.GetParams()), m.Weight))
	}
	key := cacheKey(refitVersion, p.best, append([]string{p.train.Digest, p.valid.Digest, search.EnsembleAlgorithm}, keys...)...)
	out, err := runStep(r, "refit", key, decodeSingle, func(ctx context.Context) (single, string, error) {
		both, err := artifacts.ConcatTables(p.train.Table, p.valid.Table)
		if err != nil {
			return single{}, "", fault.Internal("join train and validation rows: %v", err)
		}
		var models []*datav1.Model
		var weights []float64
		for _, m := range p.members {
			cfg := &trainv1.TrainConfig{Algorithm: m.Trial.GetAlgorithm(), Params: m.Trial.GetParams(), Label: p.transform.GetLabel(), Task: p.transform.GetTask(), Seed: p.spec.GetSeed()}
			b, _, err := r.eng.stages.Train(ctx, cfg, both, r.progressFunc("refit"))
			if err != nil {
				return single{}, "", err
			}
			model := &datav1.Model{}
			if err := proto.Unmarshal(b, model); err != nil {
				return single{}, "", fault.Internal("decode member model: %v", err)
			}
			models = append(models, model)
			weights = append(weights, m.Weight)
		}
		b, err := encodeEnsemble(models, weights, search.EnsembleMethod, p.best.GetScore())
		if err != nil {
			return single{}, "", err
		}
		d, err := r.put(artifacts.KindModel, "refit", artifacts.MediaProto(&datav1.Model{}), search.EnsembleAlgorithm, b, p.train.Digest, p.valid.Digest)
		if err != nil {
			return single{}, "", err
		}
		return single{d}, fmt.Sprintf("ensemble of %d members on %s rows", len(models), display.Count(int64(both.NumRows()))), nil
	})
	if err != nil {
		return err
	}
	p.modelDigest = out.Digest
	return nil
}

// encodeEnsemble builds the ensemble's alur.data.v1.Model (ensembleModel)
// and encodes it deterministically: the members' params are maps, whose
// entries plain proto.Marshal writes in random order, and the model's
// digest must not depend on that, so the same spec gives the same model
// on every orchestrator and after every restart.
func encodeEnsemble(members []*datav1.Model, weights []float64, method string, selectionScore float64) ([]byte, error) {
	ens, err := ensembleModel(members, weights, method, selectionScore)
	if err != nil {
		return nil, fault.Internal("build the ensemble: %v", err)
	}
	b, err := artifacts.Marshal(ens)
	if err != nil {
		return nil, fault.Internal("encode the ensemble: %v", err)
	}
	return b, nil
}

// baggedMember is one chosen trial and the models it trained on the
// folds, each weighted Weight / len(Models) in the handed-over model.
type baggedMember struct {
	Trial  *orchestratorv1.Trial
	Weight float64
	Models []string
	// Folds is the number of folds of one repetition: Models holds one
	// model per fold of each repetition, the first repetition first.
	Folds int
}

// MaxBaggedModelBytes bounds the bagged model the refit step stores (the
// encoded fold models together): eval, the dashboard's charts and serving
// load it whole. A larger bag keeps only the first repetition of the
// folds, and if that is still larger the winner is refitted on every row.
const MaxBaggedModelBytes = 64 << 20

// bagMembers decides whether the handed-over model is the average of the
// chosen trials' fold models (k-fold bagging, as AutoGluon hands over its
// bagged models) rather than a refit on every row, and returns those
// models: as selection.Bagged says for the run and its best trial (a
// default cross-validated run whose winner is the ensemble or a tree,
// forest, boosting or k-NN trial). The fold models are trained already,
// and their average is the model whose out-of-fold predictions the choice
// was made on. It returns nil when any member's fold models are unknown.
func (p *pipeline) bagMembers(loop *search.Loop, members []search.EnsembleMember) []baggedMember {
	if !selection.Bagged(len(p.spec.GetCandidates()) > 0, len(loop.Folds), p.best.GetAlgorithm()) {
		return nil
	}
	if p.best.GetAlgorithm() != search.EnsembleAlgorithm {
		members = []search.EnsembleMember{{Trial: p.best, Weight: 1}}
	}
	var out []baggedMember
	for _, m := range members {
		d := loop.FoldModels(m.Trial.GetNumber())
		if d == nil {
			return nil
		}
		out = append(out, baggedMember{Trial: m.Trial, Weight: m.Weight, Models: d, Folds: len(loop.Folds)})
	}
	return out
}

// bagFolds is the refit step of a bagged choice (see bagMembers): it
// stores the alur.data.v1.EnsembleModel that averages the fold models,
// trial weight divided among its folds, and trains nothing. Past
// MaxBaggedModelBytes it keeps the first repetition of the folds only
// (bagKeep). When the fold models still take more, or disagree on their
// features or classes (a class absent from a fold's rows), it refits
// instead.
func (p *pipeline) bagFolds() error {
	r := p.r
	raw := make([][][]byte, len(p.bag))
	sizes := make([][]int, len(p.bag))
	folds := make([]int, len(p.bag))
	total := 0
	for i, m := range p.bag {
		folds[i] = m.Folds
		for _, d := range m.Models {
			b, err := r.read(d)
			if err != nil {
				return err
			}
			raw[i] = append(raw[i], b)
			sizes[i] = append(sizes[i], len(b))
			total += len(b)
		}
	}
	keep, ok := bagKeep(sizes, folds, MaxBaggedModelBytes)
	if !ok {
		r.record(kindStepProgress, "refit", fmt.Sprintf("k-fold bagging: the fold models take %s, more than %s; refitting on every row", display.Bytes(int64(total)), display.Bytes(MaxBaggedModelBytes)), nil, nil)
		p.bag = nil
		return p.refit()
	}
	for i := range p.bag {
		raw[i], p.bag[i].Models = raw[i][:keep[i]], p.bag[i].Models[:keep[i]]
	}
	var models []*datav1.Model
	var weights []float64
	var inputs []string
	var desc []string
	for i, m := range p.bag {
		for j, d := range m.Models {
			model := &datav1.Model{}
			if err := proto.Unmarshal(raw[i][j], model); err != nil {
				return fault.DataLoss("decode fold model %s: %v", d, err)
			}
			models = append(models, model)
			weights = append(weights, m.Weight/float64(len(m.Models)))
			inputs = append(inputs, d)
		}
		desc = append(desc, fmt.Sprintf("trial %d (%s) %.2f", m.Trial.GetNumber(), m.Trial.GetAlgorithm(), m.Weight))
	}
	for _, m := range models[1:] {
		if !slices.Equal(m.GetFeatureNames(), models[0].GetFeatureNames()) || !slices.Equal(m.GetClassNames(), models[0].GetClassNames()) {
			r.record(kindStepProgress, "refit", "k-fold bagging: the fold models disagree on their features or classes; refitting on every row", nil, nil)
			p.bag = nil
			return p.refit()
		}
	}
	keys := []string{search.BaggedMethod}
	for i, d := range inputs {
		keys = append(keys, fmt.Sprintf("%s %g", d, weights[i]))
	}
	out, err := runStep(r, "refit", cacheKey(refitVersion, nil, keys...), decodeSingle, func(ctx context.Context) (single, string, error) {
		method := search.BaggedMethod
		if p.best.GetAlgorithm() == search.EnsembleAlgorithm {
			method = search.EnsembleMethod + "+" + search.BaggedMethod
		}
		b, err := encodeEnsemble(models, weights, method, p.best.GetScore())
		if err != nil {
			return single{}, "", err
		}
		d, err := r.put(artifacts.KindModel, "refit", artifacts.MediaProto(&datav1.Model{}), search.EnsembleAlgorithm, b, inputs...)
		if err != nil {
			return single{}, "", err
		}
		return single{d}, fmt.Sprintf("k-fold bagging: the average of %d fold models of %s, no refit", len(models), strings.Join(desc, ", ")), nil
	})
	if err != nil {
		return err
	}
	p.modelDigest = out.Digest
	return nil
}

// bagKeep decides how many of each member's fold models (sizes, in bytes;
// folds per repetition) a bagged model keeps within limit bytes: all of
// them, else the first repetition's, else none (false: refit instead).
func bagKeep(sizes [][]int, folds []int, limit int) ([]int, bool) {
	sum := func(first func(i int) int) ([]int, int) {
		keep := make([]int, len(sizes))
		total := 0
		for i, s := range sizes {
			keep[i] = min(first(i), len(s))
			for _, n := range s[:keep[i]] {
				total += n
			}
		}
		return keep, total
	}
	if keep, total := sum(func(i int) int { return len(sizes[i]) }); total <= limit {
		return keep, true
	}
	if keep, total := sum(func(i int) int { return folds[i] }); total <= limit {
		return keep, true
	}
	return nil, false
}

// ensembleModel is the alur.data.v1.Model of an EnsembleModel that
// averages members with weights (those of weight 0 left out). It only
// assembles the message: eval checks the members agree when it predicts
// the ensemble, and the orchestrator runs no model. feature_importances
// are the weighted sum of the members' when every member has them.
func ensembleModel(members []*datav1.Model, weights []float64, method string, selectionScore float64) (*datav1.Model, error) {
	if len(members) != len(weights) {
		return nil, fmt.Errorf("%d members but %d weights", len(members), len(weights))
	}
	e := &datav1.EnsembleModel{Method: method, SelectionScore: selectionScore}
	for i, m := range members {
		if weights[i] > 0 {
			e.Members = append(e.Members, m)
			e.Weights = append(e.Weights, weights[i])
		}
	}
	if len(e.GetMembers()) == 0 {
		return nil, fmt.Errorf("no member has a weight above 0")
	}
	first := e.GetMembers()[0]
	nf := len(first.GetFeatureNames())
	imp := make([]float64, nf)
	for i, m := range e.GetMembers() {
		fi := m.GetFeatureImportances()
		if nf == 0 || len(fi) != nf {
			imp = nil
			break
		}
		for j, v := range fi {
			imp[j] += e.GetWeights()[i] * v
		}
	}
	return &datav1.Model{
		Algorithm:          search.EnsembleAlgorithm,
		Task:               first.GetTask(),
		FeatureNames:       slices.Clone(first.GetFeatureNames()),
		ClassNames:         slices.Clone(first.GetClassNames()),
		Params:             map[string]float64{"members": float64(len(e.GetMembers()))},
		Parameters:         &datav1.Model_Ensemble{Ensemble: e},
		FeatureImportances: imp,
	}, nil
}
