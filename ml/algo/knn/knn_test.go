package knn

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/algo/internal/algotest"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// linTiny is a one-feature dataset for hand-checked neighbour votes.
func linTiny(task datav1.Task, xs, ys []float64) *algo.Dataset {
	ds := &algo.Dataset{X: mat.NewDense(len(xs), 1, append([]float64(nil), xs...)), Y: ys, Task: task}
	if task == datav1.Task_TASK_CLASSIFICATION {
		ds.NumClasses = 2
		ds.ClassNames = []string{"a", "b"}
	}
	return ds
}

func TestKNNHandChecked(t *testing.T) {
	cls := datav1.Task_TASK_CLASSIFICATION
	reg := datav1.Task_TASK_REGRESSION
	xs := []float64{0, 1, 2, 10, 11}
	// Query 0.9: neighbours by distance are x=1 (0.1), x=0 (0.9), x=2 (1.1),
	// x=10 (9.1), x=11 (10.1).
	w1, w0, w2 := 1/0.1, 1/0.9, 1/1.1
	tests := []struct {
		name   string
		task   datav1.Task
		ys     []float64
		params map[string]float64
		query  float64
		want   []float64
	}{
		{"k=1", cls, []float64{0, 0, 1, 1, 1}, map[string]float64{"k": 1}, 0.9, []float64{1, 0}},
		{"k=3 votes", cls, []float64{0, 0, 1, 1, 1}, map[string]float64{"k": 3}, 0.9, []float64{2.0 / 3, 1.0 / 3}},
		{"k=3 weighted", cls, []float64{0, 0, 1, 1, 1}, map[string]float64{"k": 3, "distance_weighted": 1}, 0.9,
			[]float64{(w1 + w0) / (w1 + w0 + w2), w2 / (w1 + w0 + w2)}},
		{"k beyond rows", cls, []float64{0, 0, 1, 1, 1}, map[string]float64{"k": 100}, 0.9, []float64{0.4, 0.6}},
		{"exact match takes all weight", cls, []float64{0, 0, 1, 1, 1}, map[string]float64{"k": 4, "distance_weighted": 1}, 2, []float64{0, 1}},
		{"regression mean", reg, []float64{5, 1, 3, 100, 200}, map[string]float64{"k": 3}, 0.9, []float64{3}},
		{"regression weighted", reg, []float64{5, 1, 3, 100, 200}, map[string]float64{"k": 3, "distance_weighted": 1}, 0.9,
			[]float64{(w1*1 + w0*5 + w2*3) / (w1 + w0 + w2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := algotest.Fit(t, "knn", linTiny(tc.task, xs, tc.ys), tc.params)
			p := algotest.Predict(t, m, mat.NewDense(1, 1, []float64{tc.query}))
			for c, want := range tc.want {
				if !algotest.Close(p.At(0, c), want, 1e-12) {
					t.Errorf("output %d = %g, want %g", c, p.At(0, c), want)
				}
			}
		})
	}
}

func TestKNNTiesGoToEarlierRow(t *testing.T) {
	// Query 2 is at distance 1 from both x=1 and x=3; with k=1 the earlier
	// training row wins, whichever class it has.
	for _, tc := range []struct {
		xs, ys []float64
		want   int
	}{
		{[]float64{1, 3}, []float64{0, 1}, 0},
		{[]float64{3, 1}, []float64{0, 1}, 0},
		{[]float64{1, 3}, []float64{1, 0}, 1},
	} {
		m := algotest.Fit(t, "knn", linTiny(datav1.Task_TASK_CLASSIFICATION, tc.xs, tc.ys), map[string]float64{"k": 1})
		p := algotest.Predict(t, m, mat.NewDense(1, 1, []float64{2}))
		if p.At(0, tc.want) != 1 {
			t.Errorf("xs %v ys %v: proba %v, want class %d", tc.xs, tc.ys, p.RawRowView(0), tc.want)
		}
	}
}

// linNaiveKNN is the textbook O(n) scan per query with exact squared
// distances and a stable sort, the reference the blocked search must agree
// with.
func linNaiveKNN(points *mat.Dense, targets []float64, q []float64, k, classes int, weighted bool) []float64 {
	idx, dist := knnNaiveNeighbours(points, q, k)
	out := make([]float64, max(classes, 1))
	var total float64
	for _, i := range idx {
		w := 1.0
		if weighted {
			w = 1 / math.Sqrt(dist[i])
		}
		total += w
		if classes > 0 {
			out[int(targets[i])] += w
		} else {
			out[0] += w * targets[i]
		}
	}
	for c := range out {
		out[c] /= total
	}
	return out
}

// knnNaiveNeighbours returns the k nearest rows of points to q by squared
// distance summed in feature order with rounded products, ties to the
// earlier row, and every row's squared distance.
func knnNaiveNeighbours(points *mat.Dense, q []float64, k int) ([]int, []float64) {
	n, _ := points.Dims()
	idx := make([]int, n)
	dist := make([]float64, n)
	for i := range idx {
		idx[i] = i
		var s float64
		for j, v := range q {
			d := v - points.At(i, j)
			s += float64(d * d)
		}
		dist[i] = s
	}
	sort.SliceStable(idx, func(a, b int) bool { return dist[idx[a]] < dist[idx[b]] })
	return idx[:min(k, n)], dist
}

func TestKNNMatchesNaiveSearch(t *testing.T) {
	// Sizes cross the query and training block boundaries.
	cls := algotest.Blobs(8, 1300, 4, 3, 1)
	train, test := algotest.Split(cls, 1150)
	reg := algotest.LinearData(8, 1300, []float64{1, 2, -1, 0.5}, 0, 1)
	rtrain, rtest := algotest.Split(reg, 1150)
	for _, tc := range []struct {
		name        string
		train, test *algo.Dataset
		k           float64
		weighted    float64
	}{
		{"classification k=7", train, test, 7, 0},
		{"classification weighted k=15", train, test, 15, 1},
		{"regression k=1", rtrain, rtest, 1, 0},
		{"regression weighted k=9", rtrain, rtest, 9, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := algotest.Fit(t, "knn", tc.train, map[string]float64{"k": tc.k, "distance_weighted": tc.weighted})
			got := algotest.Predict(t, m, tc.test.X)
			r, _ := tc.test.X.Dims()
			for i := 0; i < r; i++ {
				want := linNaiveKNN(tc.train.X, tc.train.Y, tc.test.X.RawRowView(i), int(tc.k), tc.train.NumClasses, tc.weighted == 1)
				for c, w := range want {
					if !algotest.Close(got.At(i, c), w, 1e-9) {
						t.Fatalf("row %d output %d: got %g, want %g", i, c, got.At(i, c), w)
					}
				}
			}
		})
	}
}

func TestKNNBlobsAccuracy(t *testing.T) {
	ds := algotest.Blobs(21, 1000, 3, 3, 4)
	train, test := algotest.Split(ds, 800)
	m := algotest.Fit(t, "knn", train, nil)
	if acc := algotest.Accuracy(algotest.Predict(t, m, test.X), test.Y); acc < 0.9 {
		t.Errorf("accuracy %g < 0.9", acc)
	}
}

func TestKNNPredictRejectsCorruptModels(t *testing.T) {
	good := func() *datav1.Model {
		return &datav1.Model{
			Algorithm: "knn", Task: datav1.Task_TASK_CLASSIFICATION, ClassNames: []string{"a", "b"},
			Parameters: &datav1.Model_Knn{Knn: &datav1.KnnModel{
				K: 1, NumFeatures: 2, Points: []float64{0, 0, 1, 1}, Targets: []float64{0, 1},
			}},
		}
	}
	tests := []struct {
		name   string
		mutate func(m *datav1.Model)
	}{
		{"no parameters", func(m *datav1.Model) { m.Parameters = nil }},
		{"k zero", func(m *datav1.Model) { m.GetKnn().K = 0 }},
		{"zero features", func(m *datav1.Model) { m.GetKnn().NumFeatures = 0 }},
		{"no rows", func(m *datav1.Model) { m.GetKnn().Targets, m.GetKnn().Points = nil, nil }},
		{"points length", func(m *datav1.Model) { m.GetKnn().Points = m.GetKnn().Points[:3] }},
		{"NaN point", func(m *datav1.Model) { m.GetKnn().Points[0] = math.NaN() }},
		{"fractional class", func(m *datav1.Model) { m.GetKnn().Targets[1] = 0.5 }},
		{"negative class", func(m *datav1.Model) { m.GetKnn().Targets[1] = -1 }},
		{"class beyond names", func(m *datav1.Model) { m.GetKnn().Targets[1] = 2 }},
		{"huge class", func(m *datav1.Model) { m.GetKnn().Targets[1] = 1e300 }},
		{"no task", func(m *datav1.Model) { m.Task = datav1.Task_TASK_UNSPECIFIED }},
		{"wide class without names", func(m *datav1.Model) { m.ClassNames, m.GetKnn().Targets[1] = nil, 1e9 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			if _, err := algo.Predict(m, mat.NewDense(1, 2, nil)); err != nil {
				t.Fatalf("good model: %v", err)
			}
			tc.mutate(m)
			if _, err := algo.Predict(m, mat.NewDense(1, 2, nil)); err == nil {
				t.Error("no error")
			}
		})
	}
}

// knnExactCase is a search problem for TestKNNSearchIsExact.
type knnExactCase struct {
	name   string
	train  *mat.Dense
	test   *mat.Dense
	ks     []int
	screen bool // whether the search should screen (not scan exactly)
}

// knnExactCases builds data that stresses the screening bound: ties and
// duplicates, near-ties one ulp apart, a large offset that makes the
// expansion ‖p‖² − 2q·p lose most digits, tiny and huge magnitudes, and
// sizes crossing every block boundary.
func knnExactCases() []knnExactCase {
	rng := rand.New(rand.NewPCG(11, 12))
	gen := func(n, d int, f func(i, j int) float64) *mat.Dense {
		m := mat.NewDense(n, d, nil)
		for i := 0; i < n; i++ {
			for j := 0; j < d; j++ {
				m.Set(i, j, f(i, j))
			}
		}
		return m
	}
	gauss := func(scale, offset float64) func(i, j int) float64 {
		return func(int, int) float64 { return offset + scale*rng.NormFloat64() }
	}
	grid := func(int, int) float64 { return float64(rng.IntN(3)) }
	// Near-ties: rows copied from a few bases and nudged by a few ulps.
	bases := gen(8, 5, gauss(1, 0))
	nudged := func(i, j int) float64 {
		v := bases.At(i%8, j)
		for range rng.IntN(3) {
			v = math.Nextafter(v, math.Inf(1))
		}
		return v
	}
	// Two clusters 1e9 apart on feature 0 with spread 1e-3: the bound
	// cannot separate rows inside a cluster, so queries fall back to the
	// exact scan.
	farTiny := func(i, j int) float64 {
		if j == 0 {
			return 1e9*float64(i%2) + 1e-3*rng.NormFloat64()
		}
		return 1e-3 * rng.NormFloat64()
	}
	dup := gen(300, 6, gauss(1, 0))
	dups := func(i, j int) float64 { return dup.At(i%300, j) }
	return []knnExactCase{
		{"gaussian d=7 across blocks", gen(2300, 7, gauss(1, 0)), gen(300, 7, gauss(1, 0)), []int{1, 5, 40}, true},
		{"gaussian d=20", gen(1100, 20, gauss(1, 0)), gen(140, 20, gauss(1, 0)), []int{5}, true},
		{"d=1", gen(700, 1, gauss(1, 0)), gen(130, 1, gauss(1, 0)), []int{1, 3, 9}, true},
		{"d=33 odd sizes", gen(517, 33, gauss(1, 0)), gen(37, 33, gauss(1, 0)), []int{2, 7}, true},
		{"integer grid ties", gen(1500, 3, grid), gen(200, 3, grid), []int{1, 5, 30}, true},
		{"duplicate rows", gen(1200, 6, dups), gen(150, 6, dups), []int{1, 4, 9}, true},
		{"near ties one ulp apart", gen(900, 5, nudged), gen(100, 5, nudged), []int{1, 5, 120}, true},
		{"offset 1e6", gen(1000, 4, gauss(1, 1e6)), gen(100, 4, gauss(1, 1e6)), []int{1, 5}, true},
		{"offset 1e9 few digits left", gen(600, 3, gauss(1e-3, 1e9)), gen(60, 3, gauss(1e-3, 1e9)), []int{3}, true},
		{"tiny 1e-160", gen(500, 4, gauss(1e-160, 0)), gen(60, 4, gauss(1e-160, 0)), []int{5}, true},
		{"subnormal", gen(300, 2, gauss(1e-310, 0)), gen(40, 2, gauss(1e-310, 0)), []int{5}, true},
		{"huge 1e200 scans exactly", gen(300, 3, gauss(1e200, 0)), gen(40, 3, gauss(1e200, 0)), []int{1, 5}, false},
		{"far clusters of tiny spread", gen(9000, 2, farTiny), gen(20, 2, farTiny), []int{3}, true},
		{"far clusters of tiny spread", gen(20000, 2, farTiny), gen(12, 2, farTiny), []int{3}, true},
		{"huge queries scan exactly", gen(400, 3, gauss(1, 0)), gen(30, 3, gauss(1e151, 0)), []int{2}, true},
		{"k beyond rows", gen(6, 2, gauss(1, 0)), gen(20, 2, gauss(1, 0)), []int{10}, true},
	}
}

func TestKNNSearchIsExact(t *testing.T) {
	for _, tc := range knnExactCases() {
		n, d := tc.train.Dims()
		q, _ := tc.test.Dims()
		for _, kern := range knnKernels {
			ix := newKNNIndex(tc.train.RawMatrix().Data, n, d, kern)
			if ix.direct == tc.screen {
				t.Errorf("%s/%s: direct scan %v, want %v", tc.name, kern.name, ix.direct, !tc.screen)
			}
			for _, k := range tc.ks {
				got := make([][]knnNeighbour, q)
				ix.search(tc.test, k, 2, func(_, i int, nb []knnNeighbour) {
					got[i] = append([]knnNeighbour(nil), nb...)
				})
				for i := 0; i < q; i++ {
					want, dist := knnNaiveNeighbours(tc.train, tc.test.RawRowView(i), k)
					if len(got[i]) != len(want) {
						t.Fatalf("%s/%s k=%d query %d: %d neighbours, want %d", tc.name, kern.name, k, i, len(got[i]), len(want))
					}
					for r, j := range want {
						if g := got[i][r]; int(g.idx) != j || g.dist != dist[j] {
							t.Fatalf("%s/%s k=%d query %d rank %d: row %d at %g, want row %d at %g",
								tc.name, kern.name, k, i, r, g.idx, g.dist, j, dist[j])
						}
					}
				}
			}
		}
	}
}

func TestKNNKernelsAgree(t *testing.T) {
	// The screening values of the assembly kernels must match the portable
	// kernel's within the error bound, and their masks must follow a <= thr.
	rng := rand.New(rand.NewPCG(3, 4))
	for _, kern := range knnKernels {
		for _, d := range []int{1, 3, 20} {
			mr, nr, np := kern.mr, kern.nr, 5
			qpack := make([]float64, d*mr)
			panels := make([]float64, np*d*nr)
			pn := make([]float64, np*nr)
			for i := range qpack {
				qpack[i] = rng.NormFloat64()
			}
			for i := range panels {
				panels[i] = rng.NormFloat64()
			}
			for p := 0; p < np; p++ {
				for l := 0; l < nr; l++ {
					for f := 0; f < d; f++ {
						v := panels[(p*d+f)*nr+l]
						pn[p*nr+l] += v * v
					}
				}
			}
			pn[len(pn)-1] = math.NaN() // a padding lane
			want := func(i, p, l int) float64 {
				var dot float64
				for f := 0; f < d; f++ {
					dot += qpack[f*mr+i] * panels[(p*d+f)*nr+l]
				}
				return pn[p*nr+l] - 2*dot
			}
			thr := make([]float64, mr)
			out := make([]float64, mr*nr)
			masks := make([]uint32, mr)
			for trial := 0; trial < 20; trial++ {
				for i := range thr {
					thr[i] = 2*rng.NormFloat64() - float64(d)
				}
				thr[mr-1] = math.NaN() // a padding query
				p0 := rng.IntN(np)
				hit := kern.screen(qpack, panels[p0*d*nr:], pn[p0*nr:], np-p0, d, thr, out, masks)
				// Every panel before the hit must have no value under its threshold.
				for p := p0; p < p0+min(hit, np-p0); p++ {
					for i := 0; i < mr; i++ {
						for l := 0; l < nr; l++ {
							if a := want(i, p, l); a < thr[i]-1e-9 {
								t.Fatalf("%s d=%d: panel %d query %d lane %d: a=%g under threshold %g was not reported", kern.name, d, p, i, l, a, thr[i])
							}
						}
					}
				}
				if hit == np-p0 {
					continue
				}
				p := p0 + hit
				for i := 0; i < mr; i++ {
					for l := 0; l < nr; l++ {
						a, w := out[i*nr+l], want(i, p, l)
						if math.IsNaN(w) {
							if masks[i]&(1<<l) != 0 {
								t.Fatalf("%s: padding lane reported", kern.name)
							}
							continue
						}
						if math.Abs(a-w) > 1e-12*(1+math.Abs(w)) {
							t.Fatalf("%s d=%d: query %d lane %d: a=%g, want %g", kern.name, d, i, l, a, w)
						}
						if got := masks[i]&(1<<l) != 0; got != (a <= thr[i]) {
							t.Fatalf("%s d=%d: query %d lane %d: mask %v for a=%g thr=%g", kern.name, d, i, l, got, a, thr[i])
						}
					}
				}
			}
		}
	}
}

func TestKNNFitRejectsNonFinite(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		ds := algotest.Blobs(5, 50, 3, 2, 2)
		ds.X.Set(17, 2, v)
		if _, err := algo.Fit(t.Context(), "knn", ds, nil, 1, nil); err == nil {
			t.Errorf("%g: no error", v)
		}
	}
}

func TestKNNFitStridedRows(t *testing.T) {
	// A column slice of a wider matrix has a stride larger than its width:
	// fit must copy its rows and predict like a fit on the compact copy.
	ds := algotest.Blobs(9, 300, 5, 3, 2)
	view := *ds
	view.X = ds.X.Slice(0, 300, 1, 4).(*mat.Dense)
	view.FeatureNames = ds.FeatureNames[1:4]
	compact := view
	compact.X = mat.DenseCopyOf(view.X)
	queries := mat.DenseCopyOf(algotest.Blobs(10, 40, 5, 3, 2).X.Slice(0, 40, 1, 4))
	a := algotest.Predict(t, algotest.Fit(t, "knn", &view, map[string]float64{"k": 3}), queries)
	b := algotest.Predict(t, algotest.Fit(t, "knn", &compact, map[string]float64{"k": 3}), queries)
	if !mat.Equal(a, b) {
		t.Error("predictions differ between a strided and a compact training matrix")
	}
	if pts := algotest.Fit(t, "knn", &view, nil).GetKnn().GetPoints(); pts[3] != ds.X.At(1, 1) {
		t.Errorf("points[3] = %g, want row 1 feature 1 = %g", pts[3], ds.X.At(1, 1))
	}
}

func BenchmarkKNNPredict(b *testing.B) {
	ds := algotest.Blobs(1, 22000, 20, 3, 2)
	train, test := algotest.Split(ds, 20000)
	m, err := algo.Fit(b.Context(), "knn", train, map[string]float64{"k": 5}, 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	km, classes, err := knnCheckModel(m)
	if err != nil {
		b.Fatal(err)
	}
	for _, kern := range knnKernels {
		b.Run(kern.name, func(b *testing.B) {
			for b.Loop() {
				knnPredictWith(kern, km, classes, test.X)
			}
		})
	}
}

func BenchmarkKNNFit(b *testing.B) {
	train := algotest.Blobs(1, 160000, 20, 3, 2)
	for b.Loop() {
		if _, err := algo.Fit(b.Context(), "knn", train, map[string]float64{"k": 5}, 1, nil); err != nil {
			b.Fatal(err)
		}
	}
}
