package boosting

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/algo/tree"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// gbMakeClassification generates a classification problem the way
// scikit-learn's make_classification does (after Guyon, "Design of
// experiments for the NIPS 2003 variable selection benchmark"): normal
// clusters, clustersPerClass per class, centred on distinct vertices of a
// hypercube of side 2·classSep in the informative dimensions and each given
// a random linear covariance; redundant features are random linear
// combinations of the informative ones, the rest are noise; a share flip of
// the labels is redrawn at random. Rows come in random order.
func gbMakeClassification(seed uint64, n, informative, redundant, noise, classes, clustersPerClass int, classSep, flip float64) *algo.Dataset {
	rng := rand.New(rand.NewPCG(seed, 0x6d616b65))
	p := informative + redundant + noise
	clusters := classes * clustersPerClass
	seen := map[uint64]bool{}
	centroids := make([][]float64, clusters)
	for c := range centroids {
		var v uint64
		for {
			v = rng.Uint64() & (1<<informative - 1)
			if !seen[v] {
				break
			}
		}
		seen[v] = true
		centroids[c] = make([]float64, informative)
		for j := range informative {
			centroids[c][j] = classSep * float64(2*int(v>>j&1)-1)
		}
	}
	uniform := func(r, c int) [][]float64 {
		m := make([][]float64, r)
		for i := range m {
			m[i] = make([]float64, c)
			for j := range m[i] {
				m[i][j] = 2*rng.Float64() - 1
			}
		}
		return m
	}
	covs := make([][][]float64, clusters)
	for c := range covs {
		covs[c] = uniform(informative, informative)
	}
	mix := uniform(informative, redundant)
	order := rng.Perm(n)
	X := mat.NewDense(n, p, nil)
	y := make([]float64, n)
	z := make([]float64, informative)
	for r := range n {
		c := r % clusters
		row := X.RawRowView(order[r])
		for j := range z {
			z[j] = rng.NormFloat64()
		}
		for j := range informative {
			s := centroids[c][j]
			for i, zi := range z {
				s += zi * covs[c][i][j]
			}
			row[j] = s
		}
		for j := range redundant {
			var s float64
			for i := range informative {
				s += row[i] * mix[i][j]
			}
			row[informative+j] = s
		}
		for j := range noise {
			row[informative+redundant+j] = rng.NormFloat64()
		}
		label := c % classes
		if rng.Float64() < flip {
			label = rng.IntN(classes)
		}
		y[order[r]] = float64(label)
	}
	ds := &algo.Dataset{X: X, Y: y, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: classes}
	for j := range p {
		ds.FeatureNames = append(ds.FeatureNames, "x"+strconv.Itoa(j))
	}
	for c := range classes {
		ds.ClassNames = append(ds.ClassNames, "c"+strconv.Itoa(c))
	}
	return ds
}

// gbAccuracy is the share of rows whose most probable class is the label.
func gbAccuracy(proba *mat.Dense, y []float64) float64 {
	n, k := proba.Dims()
	correct := 0
	for i := range n {
		row := proba.RawRowView(i)
		best := 0
		for c := 1; c < k; c++ {
			if row[c] > row[best] {
				best = c
			}
		}
		if float64(best) == y[i] {
			correct++
		}
	}
	return float64(correct) / float64(n)
}

// gbSplitRows returns the first n rows of ds and the rest.
func gbSplitRows(ds *algo.Dataset, n int) (head, tail *algo.Dataset) {
	r, c := ds.X.Dims()
	h, t := *ds, *ds
	h.X = mat.DenseCopyOf(ds.X.Slice(0, n, 0, c))
	h.Y = ds.Y[:n]
	t.X = mat.DenseCopyOf(ds.X.Slice(n, r, 0, c))
	t.Y = ds.Y[n:]
	return &h, &t
}

var (
	gbBenchOnce               sync.Once
	gbBenchTrain, gbBenchTest *algo.Dataset
)

// gbBenchData is 200,000 training and 50,000 test rows of a 3-class
// problem with 20 features (10 informative, 5 redundant, 5 noise).
func gbBenchData() (train, test *algo.Dataset) {
	gbBenchOnce.Do(func() {
		ds := gbMakeClassification(42, 250000, 10, 5, 5, 3, 2, 1, 0.01)
		gbBenchTrain, gbBenchTest = gbSplitRows(ds, 200000)
	})
	return gbBenchTrain, gbBenchTest
}

// BenchmarkGradientBoostingFit fits the default model (100 rounds, early
// stopping on, as scikit-learn's default at this size) on 200,000 rows ×
// 20 features of 3 classes, and reports the held-out accuracy.
func BenchmarkGradientBoostingFit(b *testing.B) {
	train, test := gbBenchData()
	var m *datav1.Model
	b.ResetTimer()
	for range b.N {
		var err error
		m, err = algo.Fit(context.Background(), "gradient_boosting", train, nil, 0, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	p, err := algo.Predict(m, test.X)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(100*gbAccuracy(p, test.Y), "accuracy%")
	b.ReportMetric(float64(len(m.GetBoosting().Trees)/3), "rounds")
}

// BenchmarkGradientBoostingPredict predicts 50,000 rows with the model of
// BenchmarkGradientBoostingFit.
func BenchmarkGradientBoostingPredict(b *testing.B) {
	train, test := gbBenchData()
	m, err := algo.Fit(context.Background(), "gradient_boosting", train, map[string]float64{"early_stopping": 0}, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := algo.Predict(m, test.X); err != nil {
			b.Fatal(err)
		}
	}
}

// gbDataset builds n rows of p features with gen filling a row and
// returning its target.
func gbDataset(n, p int, task datav1.Task, classes int, seed uint64, gen func(rng *rand.Rand, x []float64) float64) *algo.Dataset {
	rng := rand.New(rand.NewPCG(seed, 11))
	X := mat.NewDense(n, p, nil)
	y := make([]float64, n)
	for i := range n {
		y[i] = gen(rng, X.RawRowView(i))
	}
	ds := &algo.Dataset{X: X, Y: y, Task: task, NumClasses: classes}
	for j := range p {
		ds.FeatureNames = append(ds.FeatureNames, "f"+strconv.Itoa(j))
	}
	for c := range classes {
		ds.ClassNames = append(ds.ClassNames, "c"+strconv.Itoa(c))
	}
	return ds
}

// gbQuadratic is y = x0² + 0.1·N(0,1) with x0 and a distractor x1 uniform
// on [-2, 2].
func gbQuadratic(rng *rand.Rand, x []float64) float64 {
	x[0] = 4*rng.Float64() - 2
	x[1] = 4*rng.Float64() - 2
	return x[0]*x[0] + 0.1*rng.NormFloat64()
}

// gbBlobs returns a generator of k unit-variance Gaussian blobs in p
// dimensions whose centres sit sep apart along successive axes.
func gbBlobs(k int, sep float64) func(rng *rand.Rand, x []float64) float64 {
	return func(rng *rand.Rand, x []float64) float64 {
		c := rng.IntN(k)
		for j := range x {
			x[j] = rng.NormFloat64()
		}
		x[c%len(x)] += sep * float64(1+c/len(x))
		return float64(c)
	}
}

// gbFit fits gradient boosting, failing the test on error.
func gbFit(t testing.TB, ds *algo.Dataset, params map[string]float64, seed int64) *datav1.Model {
	t.Helper()
	m, err := algo.Fit(context.Background(), "gradient_boosting", ds, params, seed, nil)
	if err != nil {
		t.Fatalf("Fit: %v", err)
	}
	return m
}

// gbPredict predicts, failing the test on error.
func gbPredict(t testing.TB, m *datav1.Model, X *mat.Dense) *mat.Dense {
	t.Helper()
	p, err := algo.Predict(m, X)
	if err != nil {
		t.Fatalf("Predict: %v", err)
	}
	return p
}

// gbR2 is the coefficient of determination of predictions for y.
func gbR2(pred *mat.Dense, y []float64) float64 {
	var mean float64
	for _, v := range y {
		mean += v
	}
	mean /= float64(len(y))
	var ssRes, ssTot float64
	for i, v := range y {
		d := pred.At(i, 0) - v
		ssRes += d * d
		ssTot += (v - mean) * (v - mean)
	}
	return 1 - ssRes/ssTot
}

// gbMSE is the mean squared error of predictions for y.
func gbMSE(pred *mat.Dense, y []float64) float64 {
	var s float64
	for i, v := range y {
		d := pred.At(i, 0) - v
		s += d * d
	}
	return s / float64(len(y))
}

// gbTreeDepth is the depth of a tree, the root being depth 0.
func gbTreeDepth(t *datav1.TreeModel, node int32) int {
	if t.Feature[node] < 0 {
		return 0
	}
	return 1 + max(gbTreeDepth(t, t.Left[node]), gbTreeDepth(t, t.Right[node]))
}

func TestGradientBoostingAccuracy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ds      *algo.Dataset
		params  map[string]float64
		metric  string
		atLeast float64
	}{
		{"regression x0²", gbDataset(3000, 2, datav1.Task_TASK_REGRESSION, 0, 1, gbQuadratic), nil, "r2", 0.97},
		{"regression x0² few leaves", gbDataset(3000, 2, datav1.Task_TASK_REGRESSION, 0, 2, gbQuadratic),
			map[string]float64{"max_leaf_nodes": 4, "max_iter": 200}, "r2", 0.95},
		{"binary blobs", gbDataset(3000, 4, datav1.Task_TASK_CLASSIFICATION, 2, 3, gbBlobs(2, 3)), nil, "accuracy", 0.95},
		{"four blobs", gbDataset(4000, 3, datav1.Task_TASK_CLASSIFICATION, 4, 4, gbBlobs(4, 4)), nil, "accuracy", 0.95},
		{"make_classification", gbMakeClassification(5, 5000, 6, 2, 2, 3, 2, 1.5, 0.01), nil, "accuracy", 0.9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, _ := tc.ds.X.Dims()
			train, test := gbSplitRows(tc.ds, n*4/5)
			m := gbFit(t, train, tc.params, 1)
			p := gbPredict(t, m, test.X)
			var got float64
			if tc.metric == "r2" {
				got = gbR2(p, test.Y)
			} else {
				got = gbAccuracy(p, test.Y)
				for i := range p.RawMatrix().Rows {
					var s float64
					for _, v := range p.RawRowView(i) {
						if !(v >= 0 && v <= 1) {
							t.Fatalf("row %d: probability %g", i, v)
						}
						s += v
					}
					if math.Abs(s-1) > 1e-12 {
						t.Fatalf("row %d: probabilities sum to %g", i, s)
					}
				}
				if _, c := p.Dims(); c != tc.ds.NumClasses {
					t.Fatalf("%d probability columns for %d classes", c, tc.ds.NumClasses)
				}
			}
			t.Logf("%s %.4f", tc.metric, got)
			if got < tc.atLeast {
				t.Errorf("%s %.4f < %.4f", tc.metric, got, tc.atLeast)
			}
			bm := m.GetBoosting()
			wantOut := 1
			if tc.ds.NumClasses > 2 {
				wantOut = tc.ds.NumClasses
			}
			if int(bm.NumOutputs) != wantOut || len(bm.BaseScore) != wantOut || len(bm.Trees)%wantOut != 0 {
				t.Errorf("num_outputs %d, %d base scores, %d trees; want %d outputs", bm.NumOutputs, len(bm.BaseScore), len(bm.Trees), wantOut)
			}
			if want := tc.params["learning_rate"]; want == 0 && bm.LearningRate != 0.3 || want != 0 && bm.LearningRate != want {
				t.Errorf("learning_rate %g, want the default 0.3 or the one given", bm.LearningRate)
			}
			var s float64
			for _, v := range m.FeatureImportances {
				s += v
			}
			if math.Abs(s-1) > 1e-12 {
				t.Errorf("importances sum to %g", s)
			}
		})
	}
}

func TestGradientBoostingBaseScores(t *testing.T) {
	for _, tc := range []struct {
		name string
		y    []float64
		task datav1.Task
		k    int
		want []float64
	}{
		{"regression mean", []float64{1, 2, 3, 6}, datav1.Task_TASK_REGRESSION, 0, []float64{3}},
		{"binary log-odds", []float64{0, 1, 1, 1}, datav1.Task_TASK_CLASSIFICATION, 2, []float64{math.Log(3)}},
		{"softmax log priors", []float64{0, 1, 1, 2, 2, 2, 2, 2}, datav1.Task_TASK_CLASSIFICATION, 3,
			[]float64{math.Log(1.0 / 8), math.Log(2.0 / 8), math.Log(5.0 / 8)}},
		{"absent class clipped", []float64{0, 0, 1, 1}, datav1.Task_TASK_CLASSIFICATION, 3,
			[]float64{math.Log(0.5), math.Log(0.5), math.Log(gbProbEps)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			X := mat.NewDense(len(tc.y), 1, nil)
			ds := &algo.Dataset{X: X, Y: tc.y, Task: tc.task, NumClasses: tc.k}
			// One round of a zero learning rate is not allowed, so check
			// the base score directly and through a model whose only tree
			// cannot split.
			got := newGbObjective(ds).baseScore(tc.y)
			m := gbFit(t, ds, map[string]float64{"max_iter": 1, "min_samples_leaf": 100}, 0)
			for j, w := range tc.want {
				if math.Abs(got[j]-w) > 1e-12 || math.Abs(m.GetBoosting().BaseScore[j]-w) > 1e-12 {
					t.Errorf("base score %d = %g (model %g), want %g", j, got[j], m.GetBoosting().BaseScore[j], w)
				}
			}
		})
	}
}

func TestGradientBoostingLearningRateAndL2(t *testing.T) {
	ds := gbDataset(1500, 2, datav1.Task_TASK_REGRESSION, 0, 7, gbQuadratic)
	fit := func(params map[string]float64) (*datav1.Model, float64) {
		params["max_iter"] = 20
		m := gbFit(t, ds, params, 0)
		return m, gbMSE(gbPredict(t, m, ds.X), ds.Y)
	}
	// Slower learning leaves more training error after the same rounds.
	var prev float64
	for i, lr := range []float64{1, 0.3, 0.1, 0.03} {
		_, mse := fit(map[string]float64{"learning_rate": lr})
		if i > 0 && !(mse > prev) {
			t.Errorf("learning_rate %g: training MSE %g not above %g of the faster rate", lr, mse, prev)
		}
		prev = mse
	}
	// The L2 penalty shrinks every leaf value: the first tree's largest
	// leaf shrinks as λ grows, by the factor H/(H+λ) at most.
	prevMax := math.Inf(1)
	for _, l2 := range []float64{0, 10, 100, 1000} {
		m, _ := fit(map[string]float64{"l2_regularization": l2, "max_iter": 1})
		tr := m.GetBoosting().Trees[0]
		var mx float64
		for i, f := range tr.Feature {
			if f < 0 {
				mx = max(mx, math.Abs(tr.Value[i]))
			}
		}
		if !(mx < prevMax) {
			t.Errorf("l2 %g: largest leaf %g not below %g", l2, mx, prevMax)
		}
		prevMax = mx
	}
}

// TestGradientBoostingLeafValues checks a tree against sums over its rows:
// each leaf's sample count and Newton value −G/(H+λ)·rate computed
// directly from the gradients, which verifies partitioning and the
// histogram subtraction, and that every row's bin codes route it to the
// leaf that holds it.
func TestGradientBoostingLeafValues(t *testing.T) {
	ds := gbMakeClassification(9, 3000, 4, 2, 2, 2, 2, 1, 0.05)
	for i := 0; i < 3000; i += 7 {
		ds.X.Set(i, 1, math.NaN()) // some missing values
	}
	for _, tc := range []struct {
		name   string
		params map[string]float64
		procs  int
	}{
		{"defaults", map[string]float64{}, 2},
		{"serial", map[string]float64{}, 1},
		{"l2 and small leaves", map[string]float64{"l2_regularization": 3, "min_samples_leaf": 1, "max_leaf_nodes": 64}, 2},
		{"depth 3", map[string]float64{"max_depth": 3, "max_bins": 16}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := map[string]float64{}
			for _, p := range gbMust(algo.Lookup("gradient_boosting")).Params {
				params[p.Name] = p.Default
			}
			for k, v := range tc.params {
				params[k] = v
			}
			cfg, err := gbConfigFromParams(params)
			if err != nil {
				t.Fatal(err)
			}
			mapper := fitBinMapper(ds.X, nil, cfg.maxBins, gbBinSubsample, 0, tc.procs)
			d := mapper.transform(ds.X, nil, tc.procs)
			obj := newGbObjective(ds)
			raw := gbFillScores(d.n, []float64{0.3})
			gh := [][]gbGH{make([]gbGH, d.n)}
			_, sums := obj.gradientPass(raw, ds.Y, gh, false, tc.procs)
			gr := newGbGrower(cfg, d, mapper, obj, tc.procs)
			tm := gr.grow(gh[0], sums[0], sums[1])
			if err := tree.Validate(tm, d.p); err != nil {
				t.Fatal(err)
			}
			leaves := 0
			for i := range tm.Feature {
				if tm.Feature[i] < 0 {
					leaves++
				}
			}
			if leaves != len(gr.final) || leaves > cfg.maxLeaves || leaves < 2 {
				t.Fatalf("%d leaves, %d final, max %d", leaves, len(gr.final), cfg.maxLeaves)
			}
			if cfg.maxDepth > 0 && gbTreeDepth(tm, 0) > cfg.maxDepth {
				t.Errorf("depth %d > max_depth %d", gbTreeDepth(tm, 0), cfg.maxDepth)
			}
			covered := 0
			for _, l := range gr.final {
				rows := gr.rows[l.start:l.end]
				covered += len(rows)
				var g, h float64
				for _, i := range rows {
					g += float64(gh[0][i].g)
					h += float64(gh[0][i].h)
					node := int32(0)
					for tm.Feature[node] >= 0 {
						if d.codes[int(tm.Feature[node])*d.n+int(i)] <= gr.binThr[node] {
							node = tm.Left[node]
						} else {
							node = tm.Right[node]
						}
					}
					if node != l.id {
						t.Fatalf("row %d is in leaf %d but routes to %d", i, l.id, node)
					}
				}
				if got := tm.Samples[l.id]; got != int64(len(rows)) || len(rows) < cfg.minSamplesLeaf {
					t.Errorf("leaf %d: %d samples recorded, %d rows, min %d", l.id, got, len(rows), cfg.minSamplesLeaf)
				}
				want := -g / (h + cfg.l2) * cfg.learningRate
				if math.Abs(tm.Value[l.id]-want) > 1e-9*max(1, math.Abs(want)) {
					t.Errorf("leaf %d: value %.15g, direct sums give %.15g", l.id, tm.Value[l.id], want)
				}
			}
			if covered != d.n {
				t.Errorf("leaves cover %d of %d rows", covered, d.n)
			}
		})
	}
}

// gbMust returns v, panicking when ok is false (a registry lookup that
// cannot fail in these tests).
func gbMust[T any](v T, ok bool) T {
	if !ok {
		panic("gbMust: not found")
	}
	return v
}

// TestGradientBoostingTrainingScoresMatchPredict checks that thresholds in
// raw units route every training row as the bins did: the raw scores
// accumulated during training equal those Predict computes, exactly, with
// missing values, infinities, signed zeros and ties in the data.
func TestGradientBoostingTrainingScoresMatchPredict(t *testing.T) {
	specials := []float64{math.NaN(), math.Inf(-1), math.Inf(1), 0, math.Copysign(0, -1), 1e308, -1e308}
	for _, tc := range []struct {
		name    string
		task    datav1.Task
		classes int
		bins    float64
	}{
		{"regression", datav1.Task_TASK_REGRESSION, 0, 255},
		{"binary", datav1.Task_TASK_CLASSIFICATION, 2, 255},
		{"softmax few bins", datav1.Task_TASK_CLASSIFICATION, 3, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := gbDataset(1200, 4, tc.task, tc.classes, 21, func(rng *rand.Rand, x []float64) float64 {
				x[0] = rng.NormFloat64()
				x[1] = math.Round(rng.NormFloat64() * 2) // ties
				x[2] = specials[rng.IntN(len(specials))]
				if rng.IntN(3) == 0 {
					x[2] = rng.NormFloat64()
				}
				x[3] = rng.Float64()
				if rng.IntN(5) == 0 {
					x[3] = math.NaN()
				}
				s := x[0] + x[1]
				if math.IsNaN(x[3]) {
					s += 2
				}
				if math.IsInf(x[2], 1) {
					s -= 2
				}
				if tc.classes > 0 {
					return float64(int(math.Abs(s)) % tc.classes)
				}
				return s
			})
			params := map[string]float64{"max_iter": 15, "min_samples_leaf": 3, "max_bins": tc.bins}
			resolved, err := gbMust(algo.Lookup("gradient_boosting")).ResolveParams(params)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := gbConfigFromParams(resolved)
			if err != nil {
				t.Fatal(err)
			}
			res, err := gbTrain(context.Background(), ds, cfg, 3, nil)
			if err != nil {
				t.Fatal(err)
			}
			m := res.model
			m.Task = ds.Task
			m.ClassNames = ds.ClassNames
			raw, err := gbRawScoresForTest(m, ds.X)
			if err != nil {
				t.Fatal(err)
			}
			k := int(m.GetBoosting().NumOutputs)
			n := len(ds.Y)
			for i := range n {
				for j := range k {
					if got, want := raw[i*k+j], res.raw[j*n+i]; got != want {
						t.Fatalf("row %d output %d: predicted raw %v, training raw %v", i, j, got, want)
					}
				}
			}
		})
	}
}

// gbRawScoresForTest returns the raw scores of a boosting model, row-major,
// by predicting with a regression view of each output.
func gbRawScoresForTest(m *datav1.Model, X *mat.Dense) ([]float64, error) {
	bm := m.GetBoosting()
	k := int(bm.NumOutputs)
	rows, _ := X.Dims()
	out := make([]float64, rows*k)
	for j := range k {
		view := &datav1.Model{Task: datav1.Task_TASK_REGRESSION, Parameters: &datav1.Model_Boosting{Boosting: &datav1.BoostingModel{
			NumOutputs: 1, BaseScore: []float64{bm.BaseScore[j]}, LearningRate: bm.LearningRate,
		}}}
		for r := j; r < len(bm.Trees); r += k {
			view.GetBoosting().Trees = append(view.GetBoosting().Trees, bm.Trees[r])
		}
		p, err := predictGradientBoosting(view, X)
		if err != nil {
			return nil, err
		}
		for i := range rows {
			out[i*k+j] = p.At(i, 0)
		}
	}
	return out, nil
}

func TestGradientBoostingEarlyStopping(t *testing.T) {
	t.Run("noise", func(t *testing.T) {
		// Labels independent of the features: the validation loss stops
		// improving after a few rounds.
		ds := gbDataset(2000, 5, datav1.Task_TASK_CLASSIFICATION, 2, 5, func(rng *rand.Rand, x []float64) float64 {
			for j := range x {
				x[j] = rng.NormFloat64()
			}
			return float64(rng.IntN(2))
		})
		var reports []int64
		var last string
		progress := func(done, total int64, loss float64, msg string) {
			reports = append(reports, done)
			last = msg
			if total != 300 || math.IsNaN(loss) {
				t.Errorf("report %d/%d loss %g", done, total, loss)
			}
		}
		m, err := algo.Fit(context.Background(), "gradient_boosting", ds,
			map[string]float64{"early_stopping": 1, "max_iter": 300, "n_iter_no_change": 5}, 0, progress)
		if err != nil {
			t.Fatal(err)
		}
		kept := len(m.GetBoosting().Trees)
		ran := reports[len(reports)-1]
		t.Logf("ran %d rounds, kept %d", ran, kept)
		if ran >= 300 || kept > int(ran) || ran-int64(kept) < 5 {
			t.Errorf("ran %d rounds, kept %d: expected an early stop 5+ rounds after the best", ran, kept)
		}
		if !strings.Contains(last, "keeping "+strconv.Itoa(kept)+" rounds") {
			t.Errorf("last progress message %q", last)
		}
		if !slices.IsSorted(reports) || len(slices.Compact(slices.Clone(reports))) != len(reports) {
			t.Errorf("progress not monotone: %v", reports)
		}
	})
	t.Run("signal runs longer", func(t *testing.T) {
		ds := gbDataset(2000, 2, datav1.Task_TASK_REGRESSION, 0, 6, gbQuadratic)
		res := gbTrainForTest(t, ds, map[string]float64{"early_stopping": 1, "max_iter": 60, "learning_rate": 0.05})
		t.Logf("ran %d rounds, kept %d", res.rounds, res.kept)
		if res.kept < 50 {
			t.Errorf("kept %d of %d rounds on a learnable target", res.kept, res.rounds)
		}
		if len(res.trainRows) != 1800 {
			t.Errorf("%d training rows, want 1800 (10%% held out)", len(res.trainRows))
		}
	})
	t.Run("auto", func(t *testing.T) {
		small := gbDataset(500, 2, datav1.Task_TASK_REGRESSION, 0, 6, gbQuadratic)
		if res := gbTrainForTest(t, small, map[string]float64{"max_iter": 3}); res.trainRows != nil {
			t.Error("auto early stopping held rows out of a small data set")
		}
	})
}

// gbTrainForTest runs gbTrain with resolved params.
func gbTrainForTest(t *testing.T, ds *algo.Dataset, params map[string]float64) *gbResult {
	t.Helper()
	resolved, err := gbMust(algo.Lookup("gradient_boosting")).ResolveParams(params)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := gbConfigFromParams(resolved)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gbTrain(context.Background(), ds, cfg, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestGradientBoostingHoldOut(t *testing.T) {
	ds := gbDataset(1000, 1, datav1.Task_TASK_CLASSIFICATION, 3, 8, func(rng *rand.Rand, x []float64) float64 {
		x[0] = rng.Float64()
		switch v := rng.Float64(); {
		case v < 0.6:
			return 0
		case v < 0.9:
			return 1
		}
		return 2
	})
	for _, frac := range []float64{0.1, 0.25, 0.5} {
		train, val, err := gbHoldOut(ds, frac, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(val) != int(math.Round(frac*1000)) || len(train)+len(val) != 1000 {
			t.Fatalf("frac %g: %d validation, %d training rows", frac, len(val), len(train))
		}
		all := append(slices.Clone(train), val...)
		slices.Sort(all)
		for i, r := range all {
			if int(r) != i {
				t.Fatalf("frac %g: rows are not a partition", frac)
			}
		}
		var total, held [3]float64
		for _, y := range ds.Y {
			total[int(y)]++
		}
		for _, r := range val {
			held[int(ds.Y[r])]++
		}
		for c := range 3 {
			if math.Abs(held[c]-frac*total[c]) > 1 {
				t.Errorf("frac %g class %d: %g of %g held out", frac, c, held[c], total[c])
			}
		}
		again, _, _ := gbHoldOut(ds, frac, 4)
		other, _, _ := gbHoldOut(ds, frac, 5)
		if !slices.Equal(train, again) || slices.Equal(train, other) {
			t.Errorf("frac %g: split is not a function of the seed", frac)
		}
	}
	if _, _, err := gbHoldOut(&algo.Dataset{Y: []float64{1}}, 0.5, 0); err == nil {
		t.Error("held out from a single row")
	}
}

func TestGradientBoostingDeterminism(t *testing.T) {
	ds := gbMakeClassification(13, 3000, 5, 2, 3, 3, 2, 1, 0.02)
	for i := 0; i < 3000; i += 11 {
		ds.X.Set(i, 2, math.NaN())
	}
	params := map[string]float64{"max_iter": 12, "early_stopping": 1}
	fitWith := func(procs int, seed int64) *datav1.Model {
		prev := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(prev)
		return gbFit(t, ds, params, seed)
	}
	one, two, four := fitWith(1, 3), fitWith(2, 3), fitWith(4, 3)
	if !proto.Equal(one, two) || !proto.Equal(one, four) {
		t.Error("the model depends on GOMAXPROCS")
	}
	if again := fitWith(2, 3); !proto.Equal(two, again) {
		t.Error("same seed gave different models")
	}
	if other := fitWith(2, 4); proto.Equal(one.GetBoosting(), other.GetBoosting()) {
		t.Error("a different seed gave the same validation split and model")
	}

	b, err := proto.Marshal(one)
	if err != nil {
		t.Fatal(err)
	}
	var back datav1.Model
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	want := gbPredict(t, one, ds.X)
	if got := gbPredict(t, &back, ds.X); !mat.Equal(want, got) {
		t.Error("predictions differ after marshal/unmarshal")
	}
	serial := func() *mat.Dense {
		prev := runtime.GOMAXPROCS(1)
		defer runtime.GOMAXPROCS(prev)
		return gbPredict(t, &back, ds.X)
	}()
	if !mat.Equal(want, serial) {
		t.Error("serial and parallel predictions differ")
	}
	for i := range 3 {
		row := gbPredict(t, one, mat.NewDense(1, 10, ds.X.RawRowView(i)))
		if !mat.Equal(row, want.Slice(i, i+1, 0, 3)) {
			t.Errorf("row %d predicted alone differs from the batch", i)
		}
	}
	if len(b) > 1<<20 {
		t.Errorf("model message is %d bytes", len(b))
	}
}

// TestGradientBoostingLargeNodesParallel covers the paths only large
// nodes take (chunked partitioning and gathering): the model must not
// depend on GOMAXPROCS there either.
func TestGradientBoostingLargeNodesParallel(t *testing.T) {
	ds := gbDataset(3*gbChunk, 3, datav1.Task_TASK_REGRESSION, 0, 15, func(rng *rand.Rand, x []float64) float64 {
		x[0], x[1], x[2] = rng.NormFloat64(), rng.Float64(), math.Round(rng.NormFloat64())
		return x[0]*x[1] + x[2] + 0.1*rng.NormFloat64()
	})
	params := map[string]float64{"max_iter": 3, "early_stopping": 0, "max_leaf_nodes": 8}
	fitWith := func(procs int) *datav1.Model {
		prev := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(prev)
		return gbFit(t, ds, params, 0)
	}
	if one, three := fitWith(1), fitWith(3); !proto.Equal(one, three) {
		t.Error("the model depends on GOMAXPROCS for large nodes")
	}
}

func TestGradientBoostingImportances(t *testing.T) {
	ds := gbDataset(2000, 4, datav1.Task_TASK_REGRESSION, 0, 9, func(rng *rand.Rand, x []float64) float64 {
		for j := range x {
			x[j] = rng.NormFloat64()
		}
		return 3*x[2] + 0.01*rng.NormFloat64()
	})
	m := gbFit(t, ds, map[string]float64{"max_iter": 30}, 0)
	imp := m.FeatureImportances
	if len(imp) != 4 || imp[2] < 0.95 {
		t.Errorf("importances %v: feature 2 should carry nearly all the gain", imp)
	}
}

func TestGradientBoostingProgressAndCancel(t *testing.T) {
	ds := gbDataset(800, 2, datav1.Task_TASK_REGRESSION, 0, 10, gbQuadratic)
	t.Run("progress", func(t *testing.T) {
		var done []int64
		var losses []float64
		_, err := algo.Fit(context.Background(), "gradient_boosting", ds, map[string]float64{"max_iter": 25}, 0,
			func(d, total int64, loss float64, msg string) {
				if total != 25 || !strings.Contains(msg, "training loss") {
					t.Errorf("report %d/%d %q", d, total, msg)
				}
				done = append(done, d)
				losses = append(losses, loss)
			})
		if err != nil {
			t.Fatal(err)
		}
		if len(done) != 25 || done[0] != 1 || done[24] != 25 || !slices.IsSorted(done) {
			t.Errorf("rounds reported: %v", done)
		}
		// Boosting with squared error never increases the training loss
		// (each tree is a least-squares step on the residuals).
		for i := 1; i < len(losses); i++ {
			if losses[i] > losses[i-1]*(1+1e-12) {
				t.Errorf("training loss rose from %g to %g at round %d", losses[i-1], losses[i], i+1)
			}
		}
	})
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := algo.Fit(ctx, "gradient_boosting", ds, nil, 0, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
	t.Run("during", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var last int64
		_, err := algo.Fit(ctx, "gradient_boosting", ds, map[string]float64{"max_iter": 100000}, 0,
			func(d, _ int64, _ float64, _ string) {
				last = d
				if d == 3 {
					cancel()
				}
			})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
		if last > 4 {
			t.Errorf("kept going to round %d after cancelling at 3", last)
		}
	})
}

func TestGradientBoostingParams(t *testing.T) {
	ds := gbDataset(100, 2, datav1.Task_TASK_REGRESSION, 0, 12, gbQuadratic)
	for _, tc := range []struct {
		params map[string]float64
		param  string
	}{
		{map[string]float64{"learning_rate": 0}, "learning_rate"},
		{map[string]float64{"max_bins": 256}, "max_bins"},
		{map[string]float64{"max_leaf_nodes": 1}, "max_leaf_nodes"},
		{map[string]float64{"early_stopping": 1, "validation_fraction": 0}, "validation_fraction"},
		{map[string]float64{"early_stopping": 1, "validation_fraction": 1}, "validation_fraction"},
		{map[string]float64{"max_iter": 2.5}, "max_iter"},
		{map[string]float64{"subsample": 0.5}, "subsample"},
	} {
		_, err := algo.Fit(context.Background(), "gradient_boosting", ds, tc.params, 0, nil)
		var pe *algo.ParamError
		if !errors.As(err, &pe) || pe.Param != tc.param {
			t.Errorf("%v: error %v, want a ParamError for %s", tc.params, err, tc.param)
		}
	}
	// A fraction of 0 is fine when early stopping is off, or auto on few
	// rows.
	gbFit(t, ds, map[string]float64{"early_stopping": 0, "validation_fraction": 0, "max_iter": 2}, 0)
	gbFit(t, ds, map[string]float64{"validation_fraction": 0, "max_iter": 2}, 0)
}

func TestGradientBoostingEdgeData(t *testing.T) {
	for _, tc := range []struct {
		name string
		ds   *algo.Dataset
	}{
		{"single row", gbDataset(1, 2, datav1.Task_TASK_REGRESSION, 0, 1, gbQuadratic)},
		{"constant features", gbDataset(200, 3, datav1.Task_TASK_CLASSIFICATION, 2, 1, func(rng *rand.Rand, x []float64) float64 {
			x[0], x[1], x[2] = 1, 1, 1
			return float64(rng.IntN(2))
		})},
		{"all missing", gbDataset(200, 2, datav1.Task_TASK_REGRESSION, 0, 1, func(rng *rand.Rand, x []float64) float64 {
			x[0], x[1] = math.NaN(), math.NaN()
			return rng.NormFloat64()
		})},
		{"huge targets", gbDataset(300, 1, datav1.Task_TASK_REGRESSION, 0, 1, func(rng *rand.Rand, x []float64) float64 {
			x[0] = rng.Float64()
			return math.Copysign(1e300, x[0]-0.5) * (1 + x[0])
		})},
		{"one class present", gbDataset(100, 1, datav1.Task_TASK_CLASSIFICATION, 3, 1, func(rng *rand.Rand, x []float64) float64 {
			x[0] = rng.Float64()
			return 1
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := gbFit(t, tc.ds, map[string]float64{"max_iter": 10}, 0)
			p := gbPredict(t, m, tc.ds.X)
			for _, v := range p.RawMatrix().Data {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("non-finite prediction %g", v)
				}
			}
			if tc.name == "huge targets" {
				if r2 := gbR2(p, tc.ds.Y); r2 < 0.9 {
					t.Errorf("R² %g on targets near 1e300", r2)
				}
			}
		})
	}
}

// gbSmallModel is a valid boosting model for corruption tests: 3 classes,
// two rounds, on 2 features.
func gbSmallModel(t testing.TB) (*datav1.Model, *mat.Dense) {
	ds := gbDataset(300, 2, datav1.Task_TASK_CLASSIFICATION, 3, 14, gbBlobs(3, 3))
	m, err := algo.Fit(context.Background(), "gradient_boosting", ds, map[string]float64{"max_iter": 2, "max_leaf_nodes": 4}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, ds.X
}

func TestGradientBoostingPredictRejectsCorruptModels(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(m *datav1.Model)
		want    string
	}{
		{"no parameters", func(m *datav1.Model) { m.Parameters = nil }, "no boosting parameters"},
		{"zero outputs", func(m *datav1.Model) { m.GetBoosting().NumOutputs = 0 }, "num_outputs"},
		{"base score count", func(m *datav1.Model) { m.GetBoosting().BaseScore = m.GetBoosting().BaseScore[:2] }, "base scores"},
		{"NaN base score", func(m *datav1.Model) { m.GetBoosting().BaseScore[1] = math.NaN() }, "base score 1"},
		{"partial round", func(m *datav1.Model) { m.GetBoosting().Trees = m.GetBoosting().Trees[:5] }, "whole number of rounds"},
		{"class mismatch", func(m *datav1.Model) { m.ClassNames = m.ClassNames[:2] }, "3 outputs for 2 classes"},
		{"regression with 3 outputs", func(m *datav1.Model) { m.Task = datav1.Task_TASK_REGRESSION }, "1 output"},
		{"unknown task", func(m *datav1.Model) { m.Task = datav1.Task_TASK_UNSPECIFIED }, "task"},
		{"tree with 2 outputs", func(m *datav1.Model) {
			tr := m.GetBoosting().Trees[1]
			tr.NumOutputs = 2
			tr.Value = append(tr.Value, tr.Value...)
		}, "tree 1 has 2 outputs"},
		{"feature out of range", func(m *datav1.Model) { m.GetBoosting().Trees[2].Feature[0] = 5 }, "tree 2"},
		{"cycle", func(m *datav1.Model) { m.GetBoosting().Trees[0].Left[0] = 0 }, "tree 0"},
		{"infinite leaf", func(m *datav1.Model) {
			tr := m.GetBoosting().Trees[3]
			tr.Value[len(tr.Value)-1] = math.Inf(1)
		}, "non-finite"},
		{"overflowing leaves", func(m *datav1.Model) {
			for _, tr := range m.GetBoosting().Trees {
				for i := range tr.Value {
					tr.Value[i] = math.MaxFloat64
				}
			}
		}, "non-finite raw score"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, X := gbSmallModel(t)
			tc.corrupt(m)
			_, err := algo.Predict(m, X)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	m, _ := gbSmallModel(t)
	if _, err := algo.Predict(m, mat.NewDense(1, 1, nil)); err == nil {
		t.Error("predicted 1 feature with a 2-feature model")
	}
	// A model of base scores alone (early stopping kept no round) is valid.
	m.GetBoosting().Trees = nil
	p, err := algo.Predict(m, mat.NewDense(1, 2, nil))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(mat.Sum(p)-1) > 1e-12 {
		t.Errorf("probabilities %v", p.RawMatrix().Data)
	}
}

// FuzzBoostingPredict feeds arbitrary model messages (seeded with a real
// one) to Predict, which must return an error or finite probabilities and
// never panic.
func FuzzBoostingPredict(f *testing.F) {
	m, _ := gbSmallModel(f)
	seed, err := proto.Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	m.Task = datav1.Task_TASK_REGRESSION
	m.GetBoosting().NumOutputs = 1
	m.GetBoosting().BaseScore = m.GetBoosting().BaseScore[:1]
	reg, _ := proto.Marshal(m)
	f.Add(reg)
	f.Add([]byte{})
	X := mat.NewDense(4, 2, []float64{0, 0, math.NaN(), 1, -1e300, math.Inf(1), 3, -2})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m datav1.Model
		if proto.Unmarshal(data, &m) != nil {
			return
		}
		m.Algorithm = "gradient_boosting"
		p, err := algo.Predict(&m, X)
		if err != nil {
			return
		}
		r, c := p.Dims()
		if r != 4 {
			t.Fatalf("%d rows predicted for 4", r)
		}
		for i := range r {
			var s float64
			for _, v := range p.RawRowView(i) {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("non-finite output %g", v)
				}
				s += v
			}
			if m.Task == datav1.Task_TASK_CLASSIFICATION && (c < 2 || math.Abs(s-1) > 1e-9) {
				t.Fatalf("row %d: %d probabilities summing to %g", i, c, s)
			}
		}
	})
}

func TestGbExpNeg(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	check := func(x float64) {
		got, want := gbExpNeg(x), math.Exp(x)
		if got != want && math.Abs(got-want) > 4e-16*want {
			t.Fatalf("gbExpNeg(%g) = %.17g, math.Exp %.17g", x, got, want)
		}
	}
	for _, x := range []float64{0, math.Copysign(0, -1), -1e-300, -math.Ln2 / 128, -math.Ln2, -1, -20, -700, -708, -708.5, -745, -746, -1e10, math.Inf(-1)} {
		check(x)
	}
	for range 200000 {
		check(-rng.ExpFloat64() * 50)
		check(-rng.Float64() * 745)
	}
	if !math.IsNaN(gbExpNeg(math.NaN())) {
		t.Error("gbExpNeg(NaN) is not NaN")
	}
}

func TestGradientBoostingOwnedDataset(t *testing.T) {
	// A Dataset handed over for one fit may lose its matrix once binned;
	// the model must be the one a kept Dataset gives, early stopping
	// (which bins held-out rows) included.
	for _, params := range []map[string]float64{
		{"max_iter": 5},
		{"max_iter": 5, "early_stopping": 1},
	} {
		ds := gbMakeClassification(3, 600, 3, 1, 2, 3, 1, 1, 0.01)
		want := gbFit(t, ds, params, 2)
		owned := *ds
		owned.X = mat.DenseCopyOf(ds.X)
		owned.Owned = true
		got, err := algo.Fit(context.Background(), "gradient_boosting", &owned, params, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if owned.X != nil {
			t.Errorf("%v: the owned matrix was kept", params)
		}
		if !proto.Equal(got, want) {
			t.Errorf("%v: an owned dataset gave a different model", params)
		}
	}
}
