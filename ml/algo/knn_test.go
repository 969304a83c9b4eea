package algo

import (
	"math"
	"sort"
	"testing"

	"gonum.org/v1/gonum/mat"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// linTiny is a one-feature dataset for hand-checked neighbour votes.
func linTiny(task datav1.Task, xs, ys []float64) *Dataset {
	ds := &Dataset{X: mat.NewDense(len(xs), 1, append([]float64(nil), xs...)), Y: ys, Task: task}
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
			m := linFit(t, "knn", linTiny(tc.task, xs, tc.ys), tc.params)
			p := linPredict(t, m, mat.NewDense(1, 1, []float64{tc.query}))
			for c, want := range tc.want {
				if !linClose(p.At(0, c), want, 1e-12) {
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
		m := linFit(t, "knn", linTiny(datav1.Task_TASK_CLASSIFICATION, tc.xs, tc.ys), map[string]float64{"k": 1})
		p := linPredict(t, m, mat.NewDense(1, 1, []float64{2}))
		if p.At(0, tc.want) != 1 {
			t.Errorf("xs %v ys %v: proba %v, want class %d", tc.xs, tc.ys, p.RawRowView(0), tc.want)
		}
	}
}

// linNaiveKNN is the textbook O(n) scan per query with exact distances and
// a stable sort, the reference the blocked search must agree with.
func linNaiveKNN(points *mat.Dense, targets []float64, q []float64, k, classes int, weighted bool) []float64 {
	n, _ := points.Dims()
	idx := make([]int, n)
	dist := make([]float64, n)
	for i := range idx {
		idx[i] = i
		var s float64
		for j, v := range q {
			d := v - points.At(i, j)
			s += d * d
		}
		dist[i] = math.Sqrt(s)
	}
	sort.SliceStable(idx, func(a, b int) bool { return dist[idx[a]] < dist[idx[b]] })
	out := make([]float64, max(classes, 1))
	var total float64
	for _, i := range idx[:min(k, n)] {
		w := 1.0
		if weighted {
			w = 1 / dist[i]
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

func TestKNNMatchesNaiveSearch(t *testing.T) {
	// Sizes cross the query and training block boundaries.
	cls := linBlobs(8, 1300, 4, 3, 1)
	train, test := linSplit(cls, 1150)
	reg := linLinearData(8, 1300, []float64{1, 2, -1, 0.5}, 0, 1)
	rtrain, rtest := linSplit(reg, 1150)
	for _, tc := range []struct {
		name        string
		train, test *Dataset
		k           float64
		weighted    float64
	}{
		{"classification k=7", train, test, 7, 0},
		{"classification weighted k=15", train, test, 15, 1},
		{"regression k=1", rtrain, rtest, 1, 0},
		{"regression weighted k=9", rtrain, rtest, 9, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := linFit(t, "knn", tc.train, map[string]float64{"k": tc.k, "distance_weighted": tc.weighted})
			got := linPredict(t, m, tc.test.X)
			r, _ := tc.test.X.Dims()
			for i := 0; i < r; i++ {
				want := linNaiveKNN(tc.train.X, tc.train.Y, tc.test.X.RawRowView(i), int(tc.k), tc.train.NumClasses, tc.weighted == 1)
				for c, w := range want {
					if !linClose(got.At(i, c), w, 1e-9) {
						t.Fatalf("row %d output %d: got %g, want %g", i, c, got.At(i, c), w)
					}
				}
			}
		})
	}
}

func TestKNNBlobsAccuracy(t *testing.T) {
	ds := linBlobs(21, 1000, 3, 3, 4)
	train, test := linSplit(ds, 800)
	m := linFit(t, "knn", train, nil)
	if acc := linAccuracy(linPredict(t, m, test.X), test.Y); acc < 0.9 {
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
			if _, err := Predict(m, mat.NewDense(1, 2, nil)); err != nil {
				t.Fatalf("good model: %v", err)
			}
			tc.mutate(m)
			if _, err := Predict(m, mat.NewDense(1, 2, nil)); err == nil {
				t.Error("no error")
			}
		})
	}
}

func BenchmarkKNNPredict(b *testing.B) {
	ds := linBlobs(1, 22000, 10, 3, 2)
	train, test := linSplit(ds, 20000)
	m, err := Fit(b.Context(), "knn", train, map[string]float64{"k": 5}, 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Predict(m, test.X); err != nil {
			b.Fatal(err)
		}
	}
}
