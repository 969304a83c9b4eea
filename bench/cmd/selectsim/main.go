// Command selectsim measures, in process, what the selection rules of
// ml/selection choose on one CSV file with a train/test split column: it
// prepares the data as a run does (ml/prep fitted on the train rows), then
// scores the test rows of
//
//   - each algorithm at its defaults and each selection.Portfolio entry
//     (--portfolio=false leaves those out), fitted on all train rows;
//   - "cv": the best default configuration by 5-fold cross-validation on
//     the train rows, ranked by selection.Rank, refitted;
//   - "ensemble" and "ensemble_bagged": ensemble selection over the
//     defaults' out-of-fold predictions, under the rule before k-fold
//     bagging (strict: kept only when its cross-fitted score beats "cv",
//     25 rounds, refitted) and under the orchestrator's rule (bagged: 50
//     rounds, kept when selection.Better ranks it first, handed over as
//     the average of the fold models for the ensemble and for what
//     selection.BagFolds names);
//   - "search" and "search_bagged": the same two rules over the defaults
//     and the finalists of a successive-halving search over
//     selection.DefaultSpaces (budget: a share of each fold's train rows).
//
// "variants" holds the other combinations (single, refit or bagged; 25 or
// 50 rounds; strict or ranked; the ensemble selected on log loss; a
// stacked logistic regression), by name.
// --repeats repeats the cross-validation with other folds: the
// out-of-fold predictions are averaged over the repetitions and every
// fold model joins the bag. It prints one JSON object.
// bench/selection/selection.py runs it next to the real `alur run` when
// given --sim.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin"
	"github.com/alur-ml/alur/ml/csvio"
	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/selection"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

func main() {
	var (
		path, label, split, taskName string
		folds, searchN, repeats      int
		searchCap                    int
		minBudget                    float64
		seed                         int64
		portfolio                    bool
	)
	flag.StringVar(&path, "csv", "", "CSV `file`")
	flag.StringVar(&label, "label", "", "label `column`")
	flag.StringVar(&split, "split-column", "split", "`column` marking test rows")
	flag.StringVar(&taskName, "task", "", "classification or regression (default: selection.InferTask)")
	flag.IntVar(&folds, "folds", 5, "cross-validation `k`")
	flag.IntVar(&searchN, "search", 27, "configurations the search starts with (0: no search)")
	flag.Int64Var(&seed, "seed", 42, "random `seed`")
	flag.IntVar(&repeats, "repeats", 1, "cross-validation repetitions")
	flag.BoolVar(&portfolio, "portfolio", true, "also cross-validate selection.Portfolio with the defaults")
	flag.IntVar(&searchCap, "search-trials", 0, "cap on the search's trainings (0: none)")
	flag.Float64Var(&minBudget, "min-budget", 0, "share of the rows at the search's first rung (0: 1/9)")
	flag.Parse()
	if path == "" || label == "" {
		fmt.Fprintln(os.Stderr, "usage: selectsim --csv FILE --label COL [--task t] [--folds k] [--search n]")
		os.Exit(2)
	}
	out, err := simulate(path, label, split, taskName, folds, searchN, repeats, searchCap, minBudget, seed, portfolio)
	if err != nil {
		fmt.Fprintln(os.Stderr, "selectsim:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		os.Exit(1)
	}
}

// Choice is one selection rule's outcome.
type Choice struct {
	Model string  `json:"model"`
	CV    float64 `json:"cv"`
	Test  float64 `json:"test"`
}

// Output is what selectsim prints.
type Output struct {
	Task      string             `json:"task"`
	Inferred  string             `json:"inferred"`
	TrainRows int                `json:"train_rows"`
	TestRows  int                `json:"test_rows"`
	Defaults  map[string]float64 `json:"defaults"`
	CV        Choice             `json:"cv"`
	Ensemble  Choice             `json:"ensemble"`
	Search    Choice             `json:"search"`
	// EnsembleBagged and SearchBagged follow the orchestrator's rule: the
	// ensemble ranked with the single trials by selection.Better, and the
	// choice handed over as its bagged fold models (see ensemble).
	// trials by selection.Rank (ties in score go to the lower log loss)
	// instead of requiring a strictly higher score.
	EnsembleBagged Choice  `json:"ensemble_bagged"`
	SearchBagged   Choice  `json:"search_bagged"`
	SearchRuns     int     `json:"search_trainings"`
	Seconds        float64 `json:"seconds"`
	CVSeconds      float64 `json:"cv_seconds"`
	SearchNotes    string  `json:"search_stopped"`
	// Variants are the rules tried side by side, by name.
	Variants map[string]Choice `json:"variants"`
}

// data is the prepared train and test rows.
type data struct {
	task              datav1.Task
	k                 int // classes
	xTrain, xTest     *mat.Dense
	yTrain, yTest     []float64
	names, classNames []string
	fold              []int   // fold of each train row (first repetition)
	folds             [][]int // fold of each train row, per repetition
	nFolds            int
	seed              int64
	score             func(pred []float64, y []float64) float64 // test scorer
	variants          map[string]Choice
}

func simulate(path, label, split, taskName string, nFolds, searchN, repeats, searchCap int, minBudget float64, seed int64, portfolio bool) (*Output, error) {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	t, err := csvio.Read(f, csvio.Options{})
	f.Close()
	if err != nil {
		return nil, err
	}
	inf := inferTask(t, label)
	task := inf.Task
	switch taskName {
	case "classification":
		task = datav1.Task_TASK_CLASSIFICATION
	case "regression":
		task = datav1.Task_TASK_REGRESSION
	}
	opts := &prepv1.PrepareOptions{Label: label, Task: task, SplitColumn: split, Seed: seed,
		NumericImpute: prepv1.NumericImpute_NUMERIC_IMPUTE_MEDIAN}
	sp, err := dataprep.Split(t, opts)
	if err != nil {
		return nil, err
	}
	trainRows := append(append([]int(nil), sp.Train...), sp.Validation...)
	sort.Ints(trainRows)
	tr, err := dataprep.Fit(t, trainRows, opts)
	if err != nil {
		return nil, err
	}
	d := &data{task: task, names: tr.GetFeatureNames(), classNames: tr.GetClassNames(), k: len(tr.GetClassNames()), nFolds: nFolds, seed: seed}
	if d.xTrain, d.yTrain, err = dataprep.ApplyWithLabel(tr, t.Take(trainRows)); err != nil {
		return nil, err
	}
	if d.xTest, d.yTest, err = dataprep.ApplyWithLabel(tr, t.Take(sp.Test)); err != nil {
		return nil, err
	}
	for r := 0; r < max(repeats, 1); r++ {
		d.folds = append(d.folds, assignFolds(d.yTrain, task, nFolds, seed+int64(r)))
	}
	d.fold = d.folds[0]
	out := &Output{Task: taskWord(task), Inferred: inf.Reason, TrainRows: len(d.yTrain), TestRows: len(d.yTest), Defaults: map[string]float64{}}

	ctx := context.Background()
	configs := selection.SampleConfigs(selection.DefaultSpaces, task, max(searchN, 1), seed)
	var defaults []selection.Config
	for _, c := range configs {
		if len(c.Params) == 0 {
			defaults = append(defaults, c)
			if portfolio {
				for _, p := range selection.PortfolioFor(c.Algorithm) {
					defaults = append(defaults, selection.Config{ID: 1000 + len(defaults), Algorithm: c.Algorithm, Params: p})
				}
			}
		}
	}
	// Every default, on all train rows (alur's own hindsight), and by CV.
	var lib []*trained
	for _, c := range defaults {
		test, err := d.fitTest(ctx, c)
		if err != nil {
			return nil, err
		}
		out.Defaults[defaultName(c)] = test
		tc, err := d.crossValidate(ctx, c, 1)
		if err != nil {
			return nil, err
		}
		lib = append(lib, tc)
	}
	best := d.rank(lib)
	out.CV = Choice{Model: defaultName(lib[best].cfg), CV: lib[best].cand.Score, Test: out.Defaults[defaultName(lib[best].cfg)]}
	out.CVSeconds = time.Since(start).Seconds()
	out.Ensemble, out.EnsembleBagged, err = d.ensemble(ctx, "def_", lib, best)
	if err != nil {
		return nil, err
	}

	out.Search, out.SearchBagged = out.Ensemble, out.EnsembleBagged
	if searchN > 0 {
		res, err := selection.Halving(ctx, configs, selection.TrainerFunc(func(ctx context.Context, tl selection.Trial) (float64, error) {
			tc, err := d.crossValidate(ctx, tl.Config, tl.Budget)
			if err != nil {
				return 0, err
			}
			return tc.cand.Score, nil
		}), selection.HalvingOptions{HigherIsBetter: true, MaxTrials: searchCap, MinBudget: minBudget})
		if err != nil {
			return nil, err
		}
		out.SearchRuns, out.SearchNotes = len(res.Outcomes), res.Stopped
		lib2 := append([]*trained(nil), lib...)
		for _, o := range res.Outcomes {
			if o.Budget == 1 && len(o.Params) > 0 {
				tc, err := d.crossValidate(ctx, o.Config, 1)
				if err != nil {
					return nil, err
				}
				lib2 = append(lib2, tc)
			}
		}
		b2 := d.rank(lib2)
		if out.Search, out.SearchBagged, err = d.ensemble(ctx, "srch_", lib2, b2); err != nil {
			return nil, err
		}
	}
	out.Seconds = time.Since(start).Seconds()
	out.Variants = d.variants
	return out, nil
}

// inferTask applies selection.InferTask to the raw label column.
func inferTask(t *table.Table, label string) selection.Inference {
	col, _ := t.Column(label)
	if col == nil {
		return selection.Inference{Reason: "no label column"}
	}
	if col.Type != datav1.ColumnType_COLUMN_TYPE_NUMERIC {
		seen := map[string]bool{}
		for i := 0; i < t.NumRows(); i++ {
			if !col.IsMissing(i) {
				seen[col.Text(i)] = true
			}
		}
		return selection.InferTask(selection.Label{Name: label, TextClasses: len(seen)})
	}
	v := make([]float64, t.NumRows())
	for i := range v {
		if col.IsMissing(i) {
			v[i] = math.NaN()
		} else {
			v[i] = col.Nums[i]
		}
	}
	return selection.InferTask(selection.Label{Name: label, Numeric: true, Values: v})
}

func taskWord(t datav1.Task) string {
	if t == datav1.Task_TASK_CLASSIFICATION {
		return "classification"
	}
	return "regression"
}

// assignFolds deals the rows of each class (of all rows for regression), in
// a seeded order, to the folds in turn: stratified k-fold.
func assignFolds(y []float64, task datav1.Task, k int, seed int64) []int {
	r := selection.NewRand(seed)
	groups := map[float64][]int{}
	var keys []float64
	for i, v := range y {
		g := 0.0
		if task == datav1.Task_TASK_CLASSIFICATION {
			g = v
		}
		if _, ok := groups[g]; !ok {
			keys = append(keys, g)
		}
		groups[g] = append(groups[g], i)
	}
	sort.Float64s(keys)
	fold := make([]int, len(y))
	next := 0
	for _, g := range keys {
		rows := groups[g]
		for i := len(rows) - 1; i > 0; i-- {
			j := r.IntN(i + 1)
			rows[i], rows[j] = rows[j], rows[i]
		}
		for _, row := range rows {
			fold[row] = next % k
			next++
		}
	}
	return fold
}

// trained is a configuration's cross-validation: its ranking candidate and
// its out-of-fold predictions.
type trained struct {
	cfg  selection.Config
	cand selection.Candidate
	oof  []float64
	// bag is the average of the fold models' test predictions.
	bag []float64
}

func (d *data) width() int {
	if d.task == datav1.Task_TASK_CLASSIFICATION {
		return d.k
	}
	return 1
}

func (d *data) dataset(rows []int) *algo.Dataset {
	_, c := d.xTrain.Dims()
	X := mat.NewDense(len(rows), c, nil)
	y := make([]float64, len(rows))
	for i, r := range rows {
		X.SetRow(i, d.xTrain.RawRowView(r))
		y[i] = d.yTrain[r]
	}
	return &algo.Dataset{X: X, Y: y, Task: d.task, NumClasses: d.k, FeatureNames: d.names, ClassNames: d.classNames}
}

// crossValidate trains cfg on each fold's train rows (the first share of
// them, in a seeded order, for a budget below 1) and predicts the held-out
// rows.
func (d *data) crossValidate(ctx context.Context, cfg selection.Config, budget float64) (*trained, error) {
	w := d.width()
	tc := &trained{cfg: cfg, oof: make([]float64, len(d.yTrain)*w)}
	tc.cand = selection.Candidate{Number: cfg.ID, Algorithm: cfg.Algorithm, Params: cfg.Params, Hard: true}
	scores := 0.0
	reps := len(d.folds)
	if budget < 1 {
		reps = 1
	}
	for rep := 0; rep < reps; rep++ {
		for f := 0; f < d.nFolds; f++ {
			var in, held []int
			for i, g := range d.folds[rep] {
				if g == f {
					held = append(held, i)
				} else {
					in = append(in, i)
				}
			}
			if budget < 1 {
				in = append([]int(nil), in...)
				r := selection.NewRand(d.seed + int64(f))
				for i := len(in) - 1; i > 0; i-- {
					j := r.IntN(i + 1)
					in[i], in[j] = in[j], in[i]
				}
				in = in[:max(int(math.Ceil(budget*float64(len(in)))), 2*d.width())]
				sort.Ints(in)
			}
			m, err := algo.Fit(ctx, cfg.Algorithm, d.dataset(in), cfg.Params, d.seed, nil)
			if err != nil {
				tc.cand.Failed = true
				tc.cand.Score = math.NaN()
				return tc, nil
			}
			hd := d.dataset(held)
			p, err := algo.Predict(m, hd.X)
			if err != nil {
				return nil, err
			}
			if budget >= 1 {
				tp, err := algo.Predict(m, d.xTest)
				if err != nil {
					return nil, err
				}
				if tc.bag == nil {
					tc.bag = make([]float64, len(d.yTest)*w)
				}
				for i, v := range dense(tp) {
					tc.bag[i] += v / float64(reps*d.nFolds)
				}
			}
			raw := p.RawMatrix()
			fp := make([]float64, 0, len(held)*w)
			for i, r := range held {
				row := raw.Data[i*raw.Stride : i*raw.Stride+w]
				for j, v := range row {
					tc.oof[r*w+j] += v / float64(reps)
				}
				fp = append(fp, row...)
			}
			if d.task == datav1.Task_TASK_CLASSIFICATION {
				y := make([]int, len(held))
				for i, r := range held {
					y[i] = int(d.yTrain[r])
				}
				loss, hard := selection.ClippedLogLoss(fp, w, y)
				tc.cand.FoldLoss = append(tc.cand.FoldLoss, loss)
				tc.cand.Hard = tc.cand.Hard && hard
				scores += selection.Accuracy(y, w)(fp, nil)
			} else {
				tc.cand.Hard = false
				y := hd.Y
				tc.cand.FoldLoss = append(tc.cand.FoldLoss, -selection.NegRMSE(y)(fp, nil))
				scores += selection.R2(y)(fp, nil)
			}
		}
	}
	tc.cand.Score = scores / float64(reps*d.nFolds)
	return tc, nil
}

// rank returns the index of the best trained configuration.
func (d *data) rank(lib []*trained) int {
	cands := make([]selection.Candidate, len(lib))
	for i, t := range lib {
		cands[i] = t.cand
		cands[i].Number = i
	}
	return selection.Rank(cands, true)[0]
}

// scorers returns the ensemble's scorer and tie-break on the train rows.
func (d *data) scorers(y []float64) (selection.Scorer, selection.Scorer) {
	if d.task == datav1.Task_TASK_CLASSIFICATION {
		yi := make([]int, len(y))
		for i, v := range y {
			yi[i] = int(v)
		}
		return selection.Accuracy(yi, d.k), selection.NegLogLoss(yi, d.k)
	}
	return selection.R2(y), nil
}

// ensemble compares, on one library of cross-validated configurations,
// the single best one and ensemble selection over all of them, and
// returns the outcome of two rules:
//
//   - strict (the rule before k-fold bagging): Caruana's selection with
//     25 rounds, kept only when its cross-fitted score beats the best
//     single configuration's; the choice refitted on all train rows;
//   - bagged (the orchestrator's rule): 50 rounds, kept when
//     selection.Better ranks it first when scored on the blend of the
//     members' out-of-fold predictions (an equal score with a lower log
//     loss wins), handed over as the average of the fold models (k-fold
//     bagging) for the ensemble and for a single configuration that
//     selection.BagFolds names, refitted otherwise; "cross_fitted_rule"
//     is the same with the ensemble's score cross-fitted.
//
// The other combinations are recorded as variants, prefixed by prefix.
func (d *data) ensemble(ctx context.Context, prefix string, lib []*trained, best int) (strict, bagged Choice, err error) {
	single := Choice{Model: describe(lib[best].cfg), CV: lib[best].cand.Score}
	if single.Test, err = d.fitTest(ctx, lib[best].cfg); err != nil {
		return
	}
	singleBag := Choice{Model: single.Model + " bagged", CV: single.CV, Test: d.testScore(lib[best].bag)}
	singleRule := single
	if selection.BagFolds(lib[best].cfg.Algorithm) {
		singleRule = singleBag
	}
	var members, bags [][]float64
	var cfgs []selection.Config
	for _, t := range lib {
		if !t.cand.Failed {
			members = append(members, t.oof)
			cfgs = append(cfgs, t.cfg)
			bags = append(bags, t.bag)
		}
	}
	score, tie := d.scorers(d.yTrain)
	d.variant(prefix+"single_refit", single)
	d.variant(prefix+"single_bag", singleBag)
	if st, serr := d.stack(ctx, members, bags); serr == nil {
		d.variant(prefix+"stack_bag", st)
		d.variant(prefix+"stack_or_single", pick(st.CV > single.CV+selection.ScoreTolerance, st, singleRule))
	}
	for _, rounds := range []int{25, 50} {
		opts := selection.EnsembleOptions{Rounds: rounds, TieBreak: tie}
		oof, ferr := selection.CrossFit(members, d.width(), score, d.fold, opts)
		if ferr != nil {
			return strict, bagged, ferr
		}
		cand := d.foldCandidate(oof)
		cand.Algorithm, cand.Number = "ensemble", len(lib)
		e, ferr := selection.SelectEnsemble(members, d.width(), score, nil, opts)
		if ferr != nil {
			return strict, bagged, ferr
		}
		// Refit the members with a weight on all train rows, or average
		// their fold models, and blend on the test rows.
		all := make([]int, len(d.yTrain))
		for i := range all {
			all[i] = i
		}
		ds := d.dataset(all)
		var preds, bagPreds [][]float64
		var weights []float64
		name := "ensemble("
		for m, w := range e.Weights {
			if w == 0 {
				continue
			}
			model, ferr := algo.Fit(ctx, cfgs[m].Algorithm, ds, cfgs[m].Params, d.seed, nil)
			if ferr != nil {
				return strict, bagged, ferr
			}
			p, perr := algo.Predict(model, d.xTest)
			if perr != nil {
				return strict, bagged, perr
			}
			preds = append(preds, dense(p))
			bagPreds = append(bagPreds, bags[m])
			weights = append(weights, w)
			name += fmt.Sprintf("%s %.2f ", describe(cfgs[m]), w)
		}
		ens := Choice{Model: name[:len(name)-1] + ")", CV: cand.Score, Test: d.testScore(selection.Blend(preds, weights))}
		ensBag := Choice{Model: ens.Model + " bagged", CV: cand.Score, Test: d.testScore(selection.Blend(bagPreds, weights))}
		useStrict := cand.Score > single.CV+selection.ScoreTolerance
		useRanked := selection.Better(&cand, &lib[best].cand, true)
		// The orchestrator's rule: the ensemble scored on the blend of
		// the members' out-of-fold predictions, weights chosen on them.
		blended := d.foldCandidate(selection.Blend(members, e.Weights))
		blended.Algorithm, blended.Number = "ensemble", len(lib)
		useBlended := selection.Better(&blended, &lib[best].cand, true)
		r := fmt.Sprintf("r%d_", rounds)
		d.variant(prefix+r+"ens_refit", ens)
		d.variant(prefix+r+"ens_bag", ensBag)
		d.variant(prefix+r+"strict_refit", pick(useStrict, ens, single))
		d.variant(prefix+r+"ranked_refit", pick(useRanked, ens, single))
		d.variant(prefix+r+"ranked_bag", pick(useRanked, ensBag, singleBag))
		d.variant(prefix+r+"cross_fitted_rule", pick(useRanked, ensBag, singleRule))
		d.variant(prefix+r+"rule", pick(useBlended, ensBag, singleRule))
		if rounds == selection.DefaultEnsembleRounds && d.task == datav1.Task_TASK_CLASSIFICATION {
			// The same selection on log loss, accuracy breaking ties.
			el, lerr := selection.SelectEnsemble(members, d.width(), tie, nil, selection.EnsembleOptions{Rounds: rounds, TieBreak: score})
			if lerr != nil {
				return strict, bagged, lerr
			}
			var lp [][]float64
			var lw []float64
			for m, w := range el.Weights {
				if w > 0 {
					lp, lw = append(lp, bags[m]), append(lw, w)
				}
			}
			d.variant(prefix+r+"ens_ll_bag", Choice{Model: "ensemble(log loss)", Test: d.testScore(selection.Blend(lp, lw))})
		}
		switch rounds {
		case 25:
			strict = pick(useStrict, ens, single)
		case selection.DefaultEnsembleRounds:
			bagged = pick(useBlended, ensBag, singleRule)
		}
	}
	return
}

func pick(use bool, a, b Choice) Choice {
	if use {
		return a
	}
	return b
}

// stack fits a regularised logistic regression (ridge for regression) on
// the members' out-of-fold predictions, cross-fitted on the folds for its
// CV score, and predicts the test rows from the members' bagged test
// predictions.
func (d *data) stack(ctx context.Context, members, bags [][]float64) (Choice, error) {
	w := d.width()
	n := len(d.yTrain)
	cols := len(members) * w
	feat := func(preds [][]float64, rows int) *mat.Dense {
		X := mat.NewDense(rows, cols, nil)
		for m, p := range preds {
			for i := 0; i < rows; i++ {
				for j := 0; j < w; j++ {
					v := p[i*w+j]
					if d.task == datav1.Task_TASK_CLASSIFICATION {
						v = math.Log(min(max(v, 1e-4), 1-1e-4))
					}
					X.Set(i, m*w+j, v)
				}
			}
		}
		return X
	}
	X := feat(members, n)
	alg, params := "logistic_regression", map[string]float64{"C": 0.1}
	if d.task != datav1.Task_TASK_CLASSIFICATION {
		alg, params = "ridge", map[string]float64{"alpha": 1}
	}
	names := make([]string, cols)
	for i := range names {
		names[i] = fmt.Sprintf("m%d", i)
	}
	ds := func(rows []int) *algo.Dataset {
		Xs := mat.NewDense(len(rows), cols, nil)
		y := make([]float64, len(rows))
		for i, r := range rows {
			Xs.SetRow(i, X.RawRowView(r))
			y[i] = d.yTrain[r]
		}
		return &algo.Dataset{X: Xs, Y: y, Task: d.task, NumClasses: d.k, FeatureNames: names, ClassNames: d.classNames}
	}
	oof := make([]float64, n*w)
	for f := 0; f < d.nFolds; f++ {
		var in, held []int
		for i, g := range d.fold {
			if g == f {
				held = append(held, i)
			} else {
				in = append(in, i)
			}
		}
		m, err := algo.Fit(ctx, alg, ds(in), params, d.seed, nil)
		if err != nil {
			return Choice{}, err
		}
		p, err := algo.Predict(m, ds(held).X)
		if err != nil {
			return Choice{}, err
		}
		for i, r := range held {
			copy(oof[r*w:(r+1)*w], p.RawRowView(i))
		}
	}
	cand := d.foldCandidate(oof)
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	m, err := algo.Fit(ctx, alg, ds(all), params, d.seed, nil)
	if err != nil {
		return Choice{}, err
	}
	p, err := algo.Predict(m, feat(bags, len(d.yTest)))
	if err != nil {
		return Choice{}, err
	}
	return Choice{Model: "stack", CV: cand.Score, Test: d.testScore(dense(p))}, nil
}

func (d *data) variant(name string, c Choice) {
	if d.variants == nil {
		d.variants = map[string]Choice{}
	}
	d.variants[name] = c
}

// foldCandidate scores out-of-fold predictions fold by fold, as
// crossValidate does for one configuration.
func (d *data) foldCandidate(oof []float64) selection.Candidate {
	w := d.width()
	c := selection.Candidate{}
	total := 0.0
	for f := 0; f < d.nFolds; f++ {
		var fp, yv []float64
		var yi []int
		for i, g := range d.fold {
			if g == f {
				fp = append(fp, oof[i*w:(i+1)*w]...)
				yv = append(yv, d.yTrain[i])
				yi = append(yi, int(d.yTrain[i]))
			}
		}
		if d.task == datav1.Task_TASK_CLASSIFICATION {
			loss, _ := selection.ClippedLogLoss(fp, w, yi)
			c.FoldLoss = append(c.FoldLoss, loss)
			total += selection.Accuracy(yi, w)(fp, nil)
		} else {
			c.FoldLoss = append(c.FoldLoss, -selection.NegRMSE(yv)(fp, nil))
			total += selection.R2(yv)(fp, nil)
		}
	}
	c.Score = total / float64(d.nFolds)
	return c
}

// defaultName names a default configuration: its algorithm, marked when
// it is a selection.Portfolio entry.
func defaultName(c selection.Config) string {
	if len(c.Params) > 0 {
		return c.Algorithm + "+portfolio"
	}
	return c.Algorithm
}

func describe(c selection.Config) string {
	if len(c.Params) == 0 {
		return c.Algorithm
	}
	return c.Algorithm + "*"
}

func dense(p *mat.Dense) []float64 {
	r, c := p.Dims()
	out := make([]float64, 0, r*c)
	for i := 0; i < r; i++ {
		out = append(out, p.RawRowView(i)...)
	}
	return out
}

// fitTest fits cfg on all train rows and scores the test rows.
func (d *data) fitTest(ctx context.Context, cfg selection.Config) (float64, error) {
	all := make([]int, len(d.yTrain))
	for i := range all {
		all[i] = i
	}
	m, err := algo.Fit(ctx, cfg.Algorithm, d.dataset(all), cfg.Params, d.seed, nil)
	if err != nil {
		return math.NaN(), nil
	}
	p, err := algo.Predict(m, d.xTest)
	if err != nil {
		return 0, err
	}
	return d.testScore(dense(p)), nil
}

func (d *data) testScore(pred []float64) float64 {
	if d.task == datav1.Task_TASK_CLASSIFICATION {
		y := make([]int, len(d.yTest))
		for i, v := range d.yTest {
			y[i] = int(v)
		}
		return selection.Accuracy(y, d.k)(pred, nil)
	}
	return selection.R2(d.yTest)(pred, nil)
}
