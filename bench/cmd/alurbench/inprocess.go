package main

import (
	"context"
	"math"
	"runtime/debug"
	"time"

	"github.com/alur-ml/alur/ml/algo"
	_ "github.com/alur-ml/alur/ml/algo/builtin" // registers the algorithms
	"github.com/alur-ml/alur/ml/metrics"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

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

// runInProcess times algo.Fit and algo.Predict of every case at every
// thread count (GOMAXPROCS set to it), the best of o.repeat runs each
// (o.repeatSmall when the first took under smallSeconds), and
// scores the test rows.
func runInProcess(ctx context.Context, d *benchData, o options, res *Results, lg *logger) error {
	ds := &algo.Dataset{
		X: d.xTrain, Y: d.yTrain,
		Task:         datav1.Task_TASK_CLASSIFICATION,
		NumClasses:   d.numClasses(),
		FeatureNames: d.transform.GetFeatureNames(),
		ClassNames:   d.transform.GetClassNames(),
	}
	for _, bc := range o.cases {
		spec, why := lookupClassifier(bc.Algorithm)
		if spec == nil {
			res.note("alur %s skipped: %s", bc.Key, why)
			lg.logf("alur: %s skipped: %s", bc.Key, why)
			res.Alur = append(res.Alur, AlurRun{Case: bc.Key, Name: bc.Algorithm, Skipped: why})
			continue
		}
		params, notes := paramsFor(bc, spec)
		for _, n := range notes {
			res.note("%s", n)
		}
		for _, threads := range o.threads {
			run := AlurRun{Case: bc.Key, Name: bc.Algorithm, Threads: threads, Params: params}
			run.FitSeconds, run.PredictSeconds = math.Inf(1), math.Inf(1)
			for i, runs := 0, o.repeat; i < runs; i++ {
				if err := ctx.Err(); err != nil {
					return err
				}
				lg.logf("alur: %s fit + predict on %d threads, run %d", bc.Key, threads, i+1)
				var fit, predict, acc float64
				var err error
				withThreads(threads, func() {
					fit, predict, acc, err = timeAlgorithm(ctx, bc.Algorithm, ds, params, int64(o.seed), d)
				})
				if err != nil {
					run.Skipped = "failed: " + err.Error()
					res.note("alur %s failed: %v", bc.Key, err)
					break
				}
				run.FitSeconds = min(run.FitSeconds, fit)
				run.PredictSeconds = min(run.PredictSeconds, predict)
				run.Accuracy = acc
				if i == 0 {
					runs = o.runsFor(fit + predict)
				}
			}
			if run.Skipped != "" {
				run.FitSeconds, run.PredictSeconds = 0, 0
			} else {
				lg.logf("alur: %s on %d threads: fit %.3fs, predict %.3fs, accuracy %.4f", bc.Key, threads, run.FitSeconds, run.PredictSeconds, run.Accuracy)
			}
			res.Alur = append(res.Alur, run)
		}
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
