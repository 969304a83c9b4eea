package dashboard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// Bounds of the analyses the dashboard computes from artifacts.
const (
	// maxCorrColumns caps the correlation heatmap; wider tables show the
	// first columns and say how many were left out.
	maxCorrColumns = 30
	// maxCorrRows caps the rows the correlations are computed on.
	maxCorrRows = 100_000
	// maxEvalRows caps the test rows predicted for the ROC, PR and
	// predicted-vs-actual charts.
	maxEvalRows = 50_000
	// maxScatterPoints caps the points drawn in a scatter plot, so that
	// the SVG stays small.
	maxScatterPoints = 1_000
	// maxCurvePoints caps the points of one ROC or PR curve.
	maxCurvePoints = 300
	// maxCurveClasses caps the classes that get a curve of their own.
	maxCurveClasses = 10
	// maxAnalysisBytes caps an artifact the dashboard decodes (dataset,
	// prepared test rows, model).
	maxAnalysisBytes = 256 << 20
	// cacheBytes bounds the cache of decoded artifacts and analyses.
	cacheBytes = 128 << 20
)

// analyzer turns a run's artifacts into what the charts draw, caching
// every result under the digests it was made from: artifacts are
// content-addressed, so a cached result never goes stale, and a run that
// reused another's artifacts reuses its analyses too.
type analyzer struct {
	src   Source
	cache *lru
	// heavy bounds concurrent decoding and prediction, so that a burst of
	// page views cannot take every core from the running pipelines.
	heavy chan struct{}
}

func newAnalyzer(src Source) *analyzer {
	return &analyzer{src: src, cache: newLRU(cacheBytes), heavy: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
}

// runData is everything the pages show about one run. Each part that
// could not be loaded carries the reason instead, shown in its place.
type runData struct {
	Run       *orchestratorv1.Run
	Artifacts map[string]*orchestratorv1.Artifact // by digest
	ArtErr    error

	Profile    *datav1.DataProfile
	ProfileErr error
	Transform  *datav1.FittedTransform
	TransErr   error
	Model      *datav1.Model
	ModelErr   error
	Eval       *evalResult
	EvalErr    error
	Corr       *corrResult
	CorrErr    error
}

// notAvailable is the reason shown for a part of a run that does not
// exist (yet).
type notAvailable string

func (n notAvailable) Error() string { return string(n) }

// load gathers a run's data. Only a failure to get the run itself is an
// error; every other problem is recorded on the part it affects.
func (a *analyzer) load(ctx context.Context, id string) (*runData, error) {
	run, err := a.src.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &runData{Run: run, Artifacts: map[string]*orchestratorv1.Artifact{}}
	arts, err := a.src.ListArtifacts(ctx, id)
	if err != nil {
		d.ArtErr = err
	}
	for _, art := range arts {
		d.Artifacts[art.GetDigest()] = art
	}
	ended := terminal(run.GetState())
	missing := func(what string) error {
		if ended {
			return notAvailable("this run ended before it made " + what)
		}
		return notAvailable("not available yet: the run has not made " + what)
	}

	if pd := run.GetProfileDigest(); pd == "" {
		d.ProfileErr = missing("a data profile")
	} else {
		d.Profile, d.ProfileErr = a.profile(ctx, pd)
	}
	if td := run.GetTransformDigest(); td == "" {
		d.TransErr = missing("its preparation")
	} else {
		d.Transform, d.TransErr = a.transform(ctx, td)
	}
	if md := run.GetModelDigest(); md == "" {
		d.ModelErr = missing("a final model")
	} else {
		d.Model, d.ModelErr = a.model(ctx, d, md)
	}
	switch {
	case d.ModelErr != nil:
		d.EvalErr = d.ModelErr
	case d.TransErr != nil:
		d.EvalErr = d.TransErr
	default:
		if test := testDigest(d); test == "" {
			d.EvalErr = missing("a test split")
		} else {
			d.Eval, d.EvalErr = a.evaluate(ctx, d, run.GetModelDigest(), test)
		}
	}
	if c := corrFromProfile(d.Profile); c != nil {
		// The profile brings its matrix: no need to read the dataset.
		d.Corr = c
	} else if dd := run.GetDatasetDigest(); dd == "" {
		d.CorrErr = missing("a dataset")
	} else {
		d.Corr, d.CorrErr = a.correlations(ctx, d, dd)
	}
	return d, nil
}

// datasetName names an uploaded run's dataset for the runs list (see
// uploadName), listing the run's artifacts once per dataset version.
func (a *analyzer) datasetName(ctx context.Context, run *orchestratorv1.Run) string {
	dd := run.GetDatasetDigest()
	if run.GetSpec().GetSource().GetUpload() == "" || dd == "" {
		return ""
	}
	name, err := cached(a, "name:"+dd, func() (string, int64, error) {
		arts, err := a.src.ListArtifacts(ctx, run.GetId())
		if err != nil {
			return "", 0, err
		}
		m := map[string]*orchestratorv1.Artifact{}
		for _, art := range arts {
			m[art.GetDigest()] = art
		}
		n := uploadName(run, m)
		return n, int64(len(n)) + 64, nil
	})
	if err != nil {
		return ""
	}
	return name
}

// testDigest finds the run's prepared test rows: the fourth output of the
// prepare step (transform, train, validation, test), or else the prepared
// artifact named "test".
func testDigest(d *runData) string {
	for _, st := range d.Run.GetSteps() {
		if st.GetName() == "prepare" && len(st.GetOutputDigests()) == 4 {
			return st.GetOutputDigests()[3]
		}
	}
	for dg, art := range d.Artifacts {
		if art.GetKind() == "prepared" && art.GetName() == "test" {
			return dg
		}
	}
	return ""
}

// acquire takes a slot for heavy work, or gives up when ctx ends.
func (a *analyzer) acquire(ctx context.Context) error {
	select {
	case a.heavy <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *analyzer) release() { <-a.heavy }

// cached returns the value under key, computing and storing it on a miss.
// Errors are not cached (a missing artifact may appear, a timeout may not
// recur).
func cached[T any](a *analyzer, key string, compute func() (T, int64, error)) (T, error) {
	if v, ok := a.cache.get(key); ok {
		return v.(T), nil
	}
	v, size, err := compute()
	if err != nil {
		var zero T
		return zero, err
	}
	a.cache.add(key, v, size)
	return v, nil
}

// readChecked reads an artifact, refusing one the run's artifact list says
// is larger than limit before downloading it.
func (a *analyzer) readChecked(ctx context.Context, d *runData, digest string, limit int64) ([]byte, error) {
	if art := d.Artifacts[digest]; art != nil && art.GetSize() > limit {
		return nil, fmt.Errorf("the artifact is %s, more than the dashboard analyses (%s)", fmtBytes(art.GetSize()), fmtBytes(limit))
	}
	b, err := a.src.ReadArtifact(ctx, digest)
	if err != nil {
		if isNotFound(err) {
			return nil, notAvailable("artifact " + shortDigest(digest) + " is missing from the store")
		}
		return nil, fmt.Errorf("read artifact %s: %w", shortDigest(digest), err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("the artifact is %s, more than the dashboard analyses (%s)", fmtBytes(int64(len(b))), fmtBytes(limit))
	}
	return b, nil
}

func (a *analyzer) profile(ctx context.Context, digest string) (*datav1.DataProfile, error) {
	return cached(a, "profile:"+digest, func() (*datav1.DataProfile, int64, error) {
		b, err := a.readChecked(ctx, &runData{}, digest, maxAnalysisBytes)
		if err != nil {
			return nil, 0, err
		}
		p := &datav1.DataProfile{}
		if err := proto.Unmarshal(b, p); err != nil {
			return nil, 0, fmt.Errorf("decode data profile: %w", err)
		}
		return p, int64(len(b)) * 2, nil
	})
}

func (a *analyzer) transform(ctx context.Context, digest string) (*datav1.FittedTransform, error) {
	return cached(a, "transform:"+digest, func() (*datav1.FittedTransform, int64, error) {
		b, err := a.readChecked(ctx, &runData{}, digest, maxAnalysisBytes)
		if err != nil {
			return nil, 0, err
		}
		t := &datav1.FittedTransform{}
		if err := proto.Unmarshal(b, t); err != nil {
			return nil, 0, fmt.Errorf("decode fitted transform: %w", err)
		}
		return t, int64(len(b)) * 2, nil
	})
}

func (a *analyzer) model(ctx context.Context, d *runData, digest string) (*datav1.Model, error) {
	return cached(a, "model:"+digest, func() (*datav1.Model, int64, error) {
		if err := a.acquire(ctx); err != nil {
			return nil, 0, err
		}
		defer a.release()
		b, err := a.readChecked(ctx, d, digest, maxAnalysisBytes)
		if err != nil {
			return nil, 0, err
		}
		m := &datav1.Model{}
		if err := proto.Unmarshal(b, m); err != nil {
			return nil, 0, fmt.Errorf("decode model: %w", err)
		}
		return m, int64(len(b)) * 2, nil
	})
}

// classCurve is the one-vs-rest ROC and PR curves of one class.
type classCurve struct {
	Class   string
	Support int // test rows of this class
	*binaryCurves
}

// evalResult is the final model's predictions on the test rows, reduced
// to what the charts draw.
type evalResult struct {
	Task    datav1.Task
	Rows    int  // test rows predicted
	Sampled bool // Rows is a sample of the test rows
	// Classification: one curve per class (the positive class only for
	// two classes), largest classes first when there are too many.
	Curves       []*classCurve
	OmittedClass int
	// Regression: actual and predicted values of at most
	// maxScatterPoints rows.
	Actual, Predicted []float64
	Label             string
	// PermImportance is the permutation importance of each feature
	// (PermFeatures), as the drop of PermMetric on PermRows test rows,
	// for models that do not measure importance themselves; PermErr says
	// why it is missing.
	PermImportance []float64
	PermFeatures   []string
	PermMetric     string
	PermRows       int
	PermErr        string
}

func (e *evalResult) size() int64 {
	n := int64(len(e.Actual)+len(e.Predicted)+len(e.PermImportance)) * 8
	for _, f := range e.PermFeatures {
		n += int64(len(f)) + 16
	}
	for _, c := range e.Curves {
		n += int64(len(c.ROC)+len(c.PR))*16 + 64
	}
	return n + 256
}

// evaluate predicts the test rows with the final model, the way the test
// step scored them: the prepared test table goes to eval (the source's
// Predictor), so the curves agree with the reported metrics.
func (a *analyzer) evaluate(ctx context.Context, d *runData, modelDigest, testDigest string) (*evalResult, error) {
	pred, ok := a.src.(Predictor)
	if !ok {
		return nil, notAvailable("the charts of the model's predictions are drawn where the orchestrator runs (its dashboard, or the report it stores with the run)")
	}
	key := "eval:" + modelDigest + ":" + testDigest + ":" + d.Run.GetTransformDigest()
	return cached(a, key, func() (*evalResult, int64, error) {
		if err := a.acquire(ctx); err != nil {
			return nil, 0, err
		}
		defer a.release()
		b, err := a.readChecked(ctx, d, testDigest, maxAnalysisBytes)
		if err != nil {
			return nil, 0, err
		}
		t, err := tablepb.UnmarshalDelimited(b)
		if err != nil {
			return nil, 0, fmt.Errorf("decode the test rows: %w", err)
		}
		predict := func(t *table.Table) (*mat.Dense, error) {
			return pred.Outputs(ctx, modelDigest, t, d.Transform.GetLabel(), outputWidth(d.Model))
		}
		res, err := evaluateTable(d.Model, t, d.Transform.GetLabel(), predict)
		if err != nil {
			return nil, 0, err
		}
		return res, res.size(), nil
	})
}

// outputWidth is the outputs per row of the model: its classes, or 1.
func outputWidth(m *datav1.Model) int {
	if m.GetTask() == datav1.Task_TASK_CLASSIFICATION {
		return len(m.GetClassNames())
	}
	return 1
}

// predictFunc runs the model on prepared rows (see Predictor.Outputs).
type predictFunc func(t *table.Table) (*mat.Dense, error)

// evaluateTable is evaluate after the artifacts are read.
func evaluateTable(model *datav1.Model, t *table.Table, label string, predict predictFunc) (*evalResult, error) {
	res := &evalResult{Task: model.GetTask(), Label: label}
	if n := t.NumRows(); n > maxEvalRows {
		t = takeRows(t, sampleRows(n, maxEvalRows))
		res.Sampled = true
	}
	pd, err := dataprep.FromPrepared(t, label)
	if err != nil {
		return nil, fmt.Errorf("read the test rows: %w", err)
	}
	out, err := predict(t)
	if err != nil {
		return nil, fmt.Errorf("predict the test rows: %w", err)
	}
	rows, cols := out.Dims()
	res.Rows = rows
	if pd.Task == datav1.Task_TASK_REGRESSION {
		res.Task = datav1.Task_TASK_REGRESSION
		for _, i := range sampleRows(rows, maxScatterPoints) {
			res.Actual = append(res.Actual, pd.Y[i])
			res.Predicted = append(res.Predicted, out.At(i, 0))
		}
		res.permutation(model, t, label, pd.Y, "r2", r2Score, predict)
		return res, nil
	}
	res.Task = datav1.Task_TASK_CLASSIFICATION
	classes := model.GetClassNames()
	if len(classes) == 0 {
		classes = pd.ClassNames
	}
	if cols != len(classes) {
		return nil, fmt.Errorf("the model gives %d probabilities per row for %d classes", cols, len(classes))
	}
	y, support, err := modelClasses(classes, pd.ClassNames, pd.Y)
	if err != nil {
		return nil, err
	}
	res.classCurves(out, y, support, classes)
	if len(res.Curves) == 0 {
		return nil, notAvailable("the test rows hold a single class, so no ROC or precision–recall curve is defined")
	}
	yModel := make([]float64, rows)
	for i, k := range y {
		yModel[i] = float64(k)
	}
	res.permutation(model, t, label, yModel, "accuracy", accuracyScore, predict)
	return res, nil
}

// modelClasses maps the test rows' targets (indexes into the test table's
// dictionary, names) to the model's class positions, and counts each
// class's rows. The test table's dictionary and the model's classes may
// order the classes differently; they are matched by name.
func modelClasses(classes, names []string, targets []float64) (y, support []int, err error) {
	pos := make(map[string]int, len(classes))
	for k, c := range classes {
		pos[c] = k
	}
	y = make([]int, len(targets))
	support = make([]int, len(classes))
	for i, v := range targets {
		k, ok := pos[names[int(v)]]
		if !ok {
			return nil, nil, fmt.Errorf("test row %d has class %q, which the model does not know", i, names[int(v)])
		}
		y[i] = k
		support[k]++
	}
	return y, support, nil
}

// classCurves adds the one-vs-rest ROC and PR curves of the classes worth
// drawing: the positive class of two, else the largest maxCurveClasses.
func (res *evalResult) classCurves(out *mat.Dense, y, support []int, classes []string) {
	want := make([]int, 0, len(classes))
	if len(classes) == 2 {
		want = append(want, 1) // the positive class tells the whole story
	} else {
		for k := range classes {
			want = append(want, k)
		}
		if len(want) > maxCurveClasses {
			sortByDesc(want, support)
			res.OmittedClass = len(want) - maxCurveClasses
			want = want[:maxCurveClasses]
		}
	}
	rows := len(y)
	scores := make([]float64, rows)
	positive := make([]bool, rows)
	for _, k := range want {
		for i := range rows {
			scores[i] = out.At(i, k)
			positive[i] = y[i] == k
		}
		c, err := rocPR(scores, positive)
		if err != nil {
			continue // a class absent from the test rows has no curve
		}
		c.ROC = thinCurve(c.ROC, maxCurvePoints)
		c.PR = thinCurve(c.PR, maxCurvePoints)
		res.Curves = append(res.Curves, &classCurve{Class: classes[k], Support: support[k], binaryCurves: c})
	}
}

// permutation measures the permutation importance of a model that did
// not measure feature importance itself, on a sample of the test rows t
// (y their targets as the score functions read them).
func (res *evalResult) permutation(model *datav1.Model, t *table.Table, label string, y []float64, metric string, score scoreFunc, predict predictFunc) {
	if hasImportances(model) {
		return
	}
	var features []int
	for j, c := range t.Columns {
		if c.Name != label {
			features = append(features, j)
		}
	}
	cols := len(features)
	if cols > permMaxFeatures {
		res.PermErr = fmt.Sprintf("not available: the %s model does not measure feature importance, and its %d features are more than the dashboard shuffles (%d)", model.GetAlgorithm(), cols, permMaxFeatures)
		return
	}
	idx := sampleRows(t.NumRows(), permRows)
	ys := make([]float64, len(idx))
	for k, i := range idx {
		ys[k] = y[i]
	}
	imp, err := permutationImportance(t.Take(idx), features, ys, predict, score, permRepeats, 1, permBudget)
	switch {
	case errors.Is(err, errPermBudget):
		res.PermErr = fmt.Sprintf("not available: the %s model does not measure feature importance, and shuffling its features to measure it would take too long on this data", model.GetAlgorithm())
		return
	case err != nil:
		res.PermErr = fmt.Sprintf("not available: the %s model does not measure feature importance, and shuffling its features failed: %v", model.GetAlgorithm(), err)
		return
	}
	res.PermImportance, res.PermMetric, res.PermRows = imp, metric, len(idx)
	res.PermFeatures = model.GetFeatureNames()
	if len(res.PermFeatures) != cols {
		res.PermFeatures = make([]string, cols)
		for j := range cols {
			res.PermFeatures[j] = t.Columns[features[j]].Name
		}
	}
}

// sortByDesc orders idx by descending key[idx], ties by index.
func sortByDesc(idx, key []int) {
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && (key[idx[j]] > key[idx[j-1]] || key[idx[j]] == key[idx[j-1]] && idx[j] < idx[j-1]); j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
}

// takeRows returns the given rows of t.
func takeRows(t *table.Table, rows []int) *table.Table {
	out := &table.Table{Columns: make([]*table.Column, len(t.Columns))}
	for i, c := range t.Columns {
		out.Columns[i] = c.Take(rows)
	}
	return out
}

// corrResult is the Pearson correlation matrix of the numeric columns.
type corrResult struct {
	Names   []string
	R       [][]float64 // R[i][j], NaN where undefined
	Rows    int         // rows the correlations were computed on
	Total   int         // rows in the dataset
	Omitted int         // numeric columns beyond maxCorrColumns
}

// correlations computes the correlation matrix of the dataset's numeric
// and boolean columns (booleans as 0 and 1, which makes their
// correlation the point-biserial one) on at most maxCorrRows rows.
func (a *analyzer) correlations(ctx context.Context, d *runData, digest string) (*corrResult, error) {
	return cached(a, "corr:"+digest, func() (*corrResult, int64, error) {
		if err := a.acquire(ctx); err != nil {
			return nil, 0, err
		}
		defer a.release()
		b, err := a.readChecked(ctx, d, digest, maxAnalysisBytes)
		if err != nil {
			return nil, 0, err
		}
		t, err := tablepb.UnmarshalDelimited(b)
		if err != nil {
			return nil, 0, fmt.Errorf("decode the dataset: %w", err)
		}
		res, err := correlationMatrix(t)
		if err != nil {
			return nil, 0, err
		}
		return res, int64(len(res.Names)*len(res.Names))*8 + 256, nil
	})
}

// corrFromProfile takes the correlation matrix the profile computed
// (pairwise-complete Pearson), keeping its first maxCorrColumns columns for
// the heatmap. It returns nil for a profile without one (profiles made
// before the matrix existed), so the dashboard computes it from the
// dataset instead.
func corrFromProfile(p *datav1.DataProfile) *corrResult {
	m := p.GetCorrelation()
	n := len(m.GetColumns())
	if n < 2 || len(m.GetValues()) != n*n {
		return nil
	}
	show := min(n, maxCorrColumns)
	res := &corrResult{
		Names:   append([]string(nil), m.GetColumns()[:show]...),
		R:       make([][]float64, show),
		Rows:    int(m.GetRows()),
		Total:   int(p.GetRowCount()),
		Omitted: n - show + int(m.GetOmittedColumns()),
	}
	for i := range show {
		res.R[i] = append([]float64(nil), m.GetValues()[i*n:i*n+show]...)
	}
	return res
}

// correlationMatrix is correlations after the dataset is decoded.
func correlationMatrix(t *table.Table) (*corrResult, error) {
	var cols []*table.Column
	res := &corrResult{Total: t.NumRows()}
	for _, c := range t.Columns {
		if c.IsCategorical() {
			continue
		}
		if len(cols) == maxCorrColumns {
			res.Omitted++
			continue
		}
		cols = append(cols, c)
	}
	if len(cols) < 2 {
		return nil, notAvailable("the dataset has fewer than two numeric columns, so there is nothing to correlate")
	}
	rows := sampleRows(t.NumRows(), maxCorrRows)
	res.Rows = len(rows)
	vals := make([][]float64, len(cols))
	for i, c := range cols {
		res.Names = append(res.Names, c.Name)
		v := make([]float64, len(rows))
		for j, r := range rows {
			v[j] = c.Nums[r]
			if math.IsInf(v[j], 0) {
				v[j] = math.NaN()
			}
		}
		vals[i] = v
	}
	res.R = make([][]float64, len(cols))
	for i := range cols {
		res.R[i] = make([]float64, len(cols))
	}
	for i := range cols {
		for j := i; j < len(cols); j++ {
			r := pearson(vals[i], vals[j])
			if i == j && !math.IsNaN(r) {
				r = 1
			}
			res.R[i][j], res.R[j][i] = r, r
		}
	}
	return res, nil
}

// errText is the reason shown for a missing part.
func errText(err error) string {
	var na notAvailable
	switch {
	case err == nil:
		return ""
	case errors.As(err, &na):
		return string(na)
	case errors.Is(err, context.DeadlineExceeded):
		return "not available: reading the artifacts took too long; reload the page to try again"
	}
	return "not available: " + err.Error()
}
