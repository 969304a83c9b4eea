package main

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"slices"
	"time"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin" // registers the algorithms
	"github.com/alur-ml/alur/ml/metrics"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// paramChoice sets one hyperparameter to match the scikit-learn
// counterpart: the first of names that the algorithm declares gets value.
type paramChoice struct {
	names []string
	value float64
}

// benchParams are the hyperparameters set for each algorithm so that both
// sides fit comparable models; everything else takes alur's defaults
// (which follow scikit-learn's). gradient_boosting lists two spellings of
// its iteration count, since it is being written while this harness is.
var benchParams = map[string][]paramChoice{
	"logistic_regression": {{[]string{"max_iter"}, 1000}},
	"random_forest":       {{[]string{"n_estimators"}, 100}},
	"gradient_boosting":   {{[]string{"max_iter", "n_estimators"}, 100}},
	"knn":                 {{[]string{"k", "n_neighbors"}, 5}},
}

// paramsFor returns the benchmark's hyperparameters that spec declares,
// and notes for those it does not.
func paramsFor(spec *algo.Spec) (map[string]float64, []string) {
	params := map[string]float64{}
	var notes []string
	for _, pc := range benchParams[spec.Name] {
		found := false
		for _, name := range pc.names {
			if slices.ContainsFunc(spec.Params, func(p algo.Param) bool { return p.Name == name }) {
				params[name] = pc.value
				found = true
				break
			}
		}
		if !found {
			notes = append(notes, fmt.Sprintf("%s declares none of %v; it ran with its defaults instead of %g", spec.Name, pc.names, pc.value))
		}
	}
	return params, notes
}

// lookupClassifier returns the algorithm's spec, or why it cannot run.
func lookupClassifier(name string) (*algo.Spec, string) {
	spec, ok := algo.Lookup(name)
	if !ok {
		return nil, "not registered in this build of ml/algo"
	}
	if !spec.Supports(datav1.Task_TASK_CLASSIFICATION) {
		return nil, "does not support classification"
	}
	return spec, ""
}

// freeMemory collects garbage and returns it to the OS, so that one
// measurement does not pay for the previous one's garbage.
func freeMemory() { debug.FreeOSMemory() }

// runInProcess times algo.Fit and algo.Predict of every algorithm on the
// prepared data, the best of o.repeat runs each, and scores the test rows.
func runInProcess(ctx context.Context, d *benchData, o options, res *Results, lg *logger) error {
	ds := &algo.Dataset{
		X: d.xTrain, Y: d.yTrain,
		Task:         datav1.Task_TASK_CLASSIFICATION,
		NumClasses:   d.numClasses(),
		FeatureNames: d.transform.GetFeatureNames(),
		ClassNames:   d.transform.GetClassNames(),
	}
	for _, name := range o.algorithms {
		run := AlurRun{Name: name}
		spec, why := lookupClassifier(name)
		if spec == nil {
			run.Skipped = why
			res.note("alur %s skipped: %s", name, why)
			lg.logf("alur: %s skipped: %s", name, why)
			res.Alur = append(res.Alur, run)
			continue
		}
		params, notes := paramsFor(spec)
		for _, n := range notes {
			res.note("%s", n)
		}
		run.Params = params
		run.FitSeconds, run.PredictSeconds = math.Inf(1), math.Inf(1)
		for i := range o.repeat {
			if err := ctx.Err(); err != nil {
				return err
			}
			lg.logf("alur: %s fit + predict, run %d/%d", name, i+1, o.repeat)
			fit, predict, acc, err := timeAlgorithm(ctx, name, ds, params, int64(o.seed), d)
			if err != nil {
				run.Skipped = "failed: " + err.Error()
				res.note("alur %s failed: %v", name, err)
				break
			}
			run.FitSeconds = min(run.FitSeconds, fit)
			run.PredictSeconds = min(run.PredictSeconds, predict)
			run.Accuracy = acc
		}
		if run.Skipped != "" {
			run.FitSeconds, run.PredictSeconds = 0, 0
		} else {
			lg.logf("alur: %s fit %.3fs, predict %.3fs, accuracy %.4f", name, run.FitSeconds, run.PredictSeconds, run.Accuracy)
		}
		res.Alur = append(res.Alur, run)
	}
	return nil
}

// timeAlgorithm fits once and predicts the test rows once.
func timeAlgorithm(ctx context.Context, name string, ds *algo.Dataset, params map[string]float64, seed int64, d *benchData) (fit, predict, acc float64, err error) {
	freeMemory()
	start := time.Now()
	m, err := algo.Fit(ctx, name, ds, params, seed, nil)
	fit = time.Since(start).Seconds()
	if err != nil {
		return 0, 0, 0, err
	}
	start = time.Now()
	p, err := algo.Predict(m, d.xTest)
	predict = time.Since(start).Seconds()
	if err != nil {
		return 0, 0, 0, err
	}
	cm, err := metrics.Classification(d.yTestClass, p, d.transform.GetClassNames())
	if err != nil {
		return 0, 0, 0, err
	}
	return fit, predict, cm.GetAccuracy(), nil
}
