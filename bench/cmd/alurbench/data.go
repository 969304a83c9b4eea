package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/bench/synth"
	"github.com/alur-ml/alur/ml/csvio"
	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
)

// testFraction is the share of every class the benchmark tests on.
const testFraction = 0.2

// benchData is the prepared data every measurement uses: the same
// transform, rows and split as the scikit-learn side.
type benchData struct {
	transform     *datav1.FittedTransform
	xTrain, xTest *mat.Dense
	yTrain, yTest []float64
	// yTestClass is yTest as class indexes, for metrics.
	yTestClass []int

	// Prepared tables (dataprep.PreparedTable) for the services, made on
	// first use.
	trainTable, testTable *table.Table
}

// preparedTables returns the prepared train and test tables, as
// PrepService would send them.
func (d *benchData) preparedTables() (train, test *table.Table) {
	if d.trainTable == nil {
		d.trainTable = dataprep.PreparedTable(d.transform, d.xTrain, d.yTrain)
		d.testTable = dataprep.PreparedTable(d.transform, d.xTest, d.yTest)
	}
	return d.trainTable, d.testTable
}

// numClasses is the number of classes the transform learnt.
func (d *benchData) numClasses() int { return len(d.transform.GetClassNames()) }

// obtainCSV returns the CSV file to benchmark: a generated one in dir, the
// --csv file when it has the split column, or a copy of it with a split
// column added.
func obtainCSV(o options, dir string, res *Results, lg *logger) (string, error) {
	if o.csvPath == "" {
		path := filepath.Join(dir, "bench.csv")
		lg.logf("generating %d rows × %d features into %s", o.rows, o.features, path)
		start := time.Now()
		sum, err := writeGenerated(path, synth.Config{Rows: o.rows, Features: o.features, Seed: o.seed})
		if err != nil {
			return "", err
		}
		res.Data.GenerateSeconds = time.Since(start).Seconds()
		c := sum.Config
		res.Data.Source = fmt.Sprintf("generated: %d classes, %d clusters per class, %d informative + %d redundant + %d noise features, class_sep %g, %g%% labels flipped, seed %d",
			c.Classes, c.ClustersPerClass, c.Informative, c.Redundant, c.Noise(), c.ClassSep, 100*c.FlipY, c.Seed)
		return path, nil
	}
	res.Data.Source = o.csvPath
	f, err := os.Open(o.csvPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	t, err := csvio.Read(f, csvio.Options{})
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", o.csvPath, err)
	}
	if c, _ := t.Column(o.splitColumn); c != nil {
		return o.csvPath, nil
	}
	lc, _ := t.Column(o.label)
	if lc == nil {
		return "", fmt.Errorf("%s has no label column %q (set --label)", o.csvPath, o.label)
	}
	path := filepath.Join(dir, strings.TrimSuffix(filepath.Base(o.csvPath), filepath.Ext(o.csvPath))+"_split.csv")
	lg.logf("%s has no %q column: writing a copy with a stratified %g/%g split to %s", o.csvPath, o.splitColumn, 100*(1-testFraction), 100*testFraction, path)
	if err := writeWithSplit(path, t, lc, o); err != nil {
		return "", err
	}
	res.note("%s had no %q column; the benchmark used a copy with a seeded stratified %g/%g split added", o.csvPath, o.splitColumn, 100*(1-testFraction), 100*testFraction)
	return path, nil
}

// writeGenerated writes the synthetic data set to path.
func writeGenerated(path string, cfg synth.Config) (*synth.Summary, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	sum, err := synth.Generate(f, cfg)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return sum, err
}

// writeWithSplit writes t to path with a split column appended: a
// stratified split of the rows whose label is present (rows without a
// label are marked train; both sides leave them out).
func writeWithSplit(path string, t *table.Table, label *table.Column, o options) error {
	classOf := map[string]int32{}
	var labelled []int
	var classes []int32
	for r := range label.Len() {
		if label.IsMissing(r) {
			continue
		}
		k, ok := classOf[label.Text(r)]
		if !ok {
			k = int32(len(classOf))
			classOf[label.Text(r)] = k
		}
		labelled = append(labelled, r)
		classes = append(classes, k)
	}
	if len(classOf) < 2 {
		return fmt.Errorf("label column %q has %d distinct values; a classification benchmark needs at least 2", o.label, len(classOf))
	}
	test := make([]bool, t.NumRows())
	for i, isTest := range synth.StratifiedSplit(classes, len(classOf), testFraction, o.seed) {
		test[labelled[i]] = isTest
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := csv.NewWriter(bw)
	rec := make([]string, len(t.Columns)+1)
	for j, c := range t.Columns {
		rec[j] = c.Name
	}
	rec[len(t.Columns)] = o.splitColumn
	err = w.Write(rec)
	for r := 0; r < t.NumRows() && err == nil; r++ {
		for j, c := range t.Columns {
			rec[j] = cellText(c, r)
		}
		rec[len(t.Columns)] = synth.TrainValue
		if test[r] {
			rec[len(t.Columns)] = synth.TestValue
		}
		err = w.Write(rec)
	}
	w.Flush()
	err = errors.Join(err, w.Error(), bw.Flush(), f.Close())
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// cellText writes a cell back as CSV text that csvio and pandas read as
// the same value: numbers in their shortest exact form, missing as empty.
func cellText(c *table.Column, r int) string {
	if c.IsMissing(r) {
		return ""
	}
	if c.Type == datav1.ColumnType_COLUMN_TYPE_NUMERIC {
		return strconv.FormatFloat(c.Nums[r], 'g', -1, 64)
	}
	return c.Text(r)
}

// loadAndPrepare times csvio.Read of the file and the preparation (fit on
// the train rows, apply to train and test), each the best of o.repeat
// runs (o.repeatSmall for small figures).
func loadAndPrepare(ctx context.Context, path string, o options, res *Results, lg *logger) (*benchData, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	res.Data.Bytes = st.Size()
	// csvio.Read parses with up to GOMAXPROCS goroutines: time it on
	// every thread count; the one-core figure is the one compared with
	// pandas, which parses on one core.
	var t *table.Table
	for _, threads := range o.threads {
		best := math.Inf(1)
		for i, runs := 0, o.repeat; i < runs; i++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			lg.logf("alur: reading the CSV (%.1f MB) with csvio.Read on %d threads, run %d", float64(st.Size())/1e6, threads, i+1)
			t = nil
			freeMemory()
			var secs float64
			withThreads(threads, func() { t, secs, err = readCSV(path) })
			if err != nil {
				return nil, err
			}
			best = min(best, secs)
			if i == 0 {
				runs = o.runsFor(secs)
			}
		}
		res.Load.Alur = append(res.Load.Alur, LoadRun{Threads: threads, Seconds: best, MBps: float64(st.Size()) / 1e6 / best})
	}
	res.Data.Rows, res.Data.Columns = t.NumRows(), len(t.Columns)

	trainRows, testRows, other, err := splitRows(t, o.label, o.splitColumn)
	if err != nil {
		return nil, err
	}
	if other > 0 {
		res.note("%d labelled rows have a %q value other than train/test and were left out on both sides", other, o.splitColumn)
	}
	opts := &prepv1.PrepareOptions{
		Label:         o.label,
		Task:          datav1.Task_TASK_CLASSIFICATION,
		SplitColumn:   o.splitColumn,
		Seed:          int64(o.seed),
		NumericImpute: prepv1.NumericImpute_NUMERIC_IMPUTE_MEDIAN,
	}
	var d *benchData
	best := math.Inf(1)
	for i, runs := 0, o.repeat; i < runs; i++ {
		lg.logf("alur: preparing (impute + scale, fitted on %d train rows), run %d", len(trainRows), i+1)
		d = nil
		freeMemory()
		start := time.Now()
		d, err = prepare(t, trainRows, testRows, opts)
		if err != nil {
			return nil, err
		}
		secs := time.Since(start).Seconds()
		best = min(best, secs)
		if i == 0 {
			runs = o.runsFor(secs)
		}
	}
	res.Prepare.AlurSeconds = best
	res.Data.TrainRows, res.Data.TestRows = len(trainRows), len(testRows)
	res.Data.Features = len(d.transform.GetFeatureNames())
	res.Data.Classes = d.transform.GetClassNames()
	return d, nil
}

// readCSV parses the file with csvio.Read and returns the wall time.
func readCSV(path string) (*table.Table, float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	start := time.Now()
	t, err := csvio.Read(f, csvio.Options{})
	secs := time.Since(start).Seconds()
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return t, secs, nil
}

// splitRows returns the labelled rows marked train and test. The values
// are compared like the scikit-learn side does: trimmed, case-insensitive.
func splitRows(t *table.Table, label, split string) (train, test []int, other int, err error) {
	lc, _ := t.Column(label)
	if lc == nil {
		return nil, nil, 0, fmt.Errorf("the CSV has no label column %q (set --label)", label)
	}
	sc, _ := t.Column(split)
	if sc == nil {
		return nil, nil, 0, fmt.Errorf("the CSV has no split column %q (set --split-column)", split)
	}
	for r := range t.NumRows() {
		if lc.IsMissing(r) {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(sc.Text(r))) {
		case synth.TrainValue:
			train = append(train, r)
		case synth.TestValue:
			test = append(test, r)
		default:
			other++
		}
	}
	if len(train) == 0 || len(test) == 0 {
		return nil, nil, 0, fmt.Errorf("column %q marks %d labelled rows train and %d test; both need rows", split, len(train), len(test))
	}
	return train, test, other, nil
}

// prepare fits the transform on the train rows and applies it to both
// sets, exactly as PrepService does.
func prepare(t *table.Table, trainRows, testRows []int, opts *prepv1.PrepareOptions) (*benchData, error) {
	tr, err := dataprep.Fit(t, trainRows, opts)
	if err != nil {
		return nil, fmt.Errorf("preparing: %w", err)
	}
	d := &benchData{transform: tr}
	if d.xTrain, d.yTrain, err = dataprep.ApplyWithLabel(tr, t.Take(trainRows)); err != nil {
		return nil, fmt.Errorf("preparing the train rows: %w", err)
	}
	if d.xTest, d.yTest, err = dataprep.ApplyWithLabel(tr, t.Take(testRows)); err != nil {
		return nil, fmt.Errorf("preparing the test rows: %w", err)
	}
	d.yTestClass = make([]int, len(d.yTest))
	for i, y := range d.yTest {
		d.yTestClass[i] = int(y)
	}
	return d, nil
}
