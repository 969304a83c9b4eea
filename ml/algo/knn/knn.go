package knn

import (
	"context"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/algo"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

func init() {
	algo.Register(&algo.Spec{
		Name: "knn",
		Description: "k-nearest neighbours by Euclidean distance, brute force like " +
			"scikit-learn's KNeighborsClassifier/Regressor(algorithm=\"brute\"): classification " +
			"returns the (optionally inverse-distance weighted) vote shares of the k nearest " +
			"training rows, regression their (weighted) mean. Ties in distance go to the " +
			"earlier training row.",
		Tasks: []datav1.Task{datav1.Task_TASK_CLASSIFICATION, datav1.Task_TASK_REGRESSION},
		Params: []algo.Param{
			{Name: "k", Default: 5, Min: 1, Max: 10000, Type: algo.Integer,
				Description: "Number of neighbours; clamped to the number of training rows. Default 5."},
			{Name: "distance_weighted", Default: 0, Min: 0, Max: 1, Type: algo.Flag,
				Description: "1 weights each neighbour by 1/distance (neighbours at distance 0 " +
					"take all the weight), 0 weights them equally. Default 0."},
		},
		Fit:     fitKNN,
		Predict: predictKNN,
	})
}

// fitKNN stores the training rows: k-NN is a lazy learner. Like
// scikit-learn, which keeps a reference to a C-contiguous float64 X, it
// keeps the dataset's own row-major storage when its rows are contiguous
// (Fit never modifies a dataset, and neither may its caller afterwards),
// and copies the rows otherwise; either way one pass checks they are
// finite, so fitting costs about one read of the data.
func fitKNN(ctx context.Context, ds *algo.Dataset, params map[string]float64, _ int64, progress algo.Progress) (*datav1.Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k := params["k"]
	if k < 1 || k > math.MaxInt32 || k != math.Trunc(k) {
		return nil, fmt.Errorf("k must be a whole number >= 1, got %g", k)
	}
	n, d := ds.X.Dims()
	var points []float64
	if raw := ds.X.RawMatrix(); raw.Stride == d {
		points = raw.Data[: n*d : n*d]
	} else {
		points = make([]float64, n*d)
		for i := 0; i < n; i++ {
			copy(points[i*d:(i+1)*d], ds.X.RawRowView(i))
		}
	}
	if !knnFinite(points) {
		return nil, algo.CheckFinite(ds) // names the offending row and feature
	}
	progress.Report(1, 1, math.NaN(), "stored training rows")
	return &datav1.Model{
		Parameters: &datav1.Model_Knn{Knn: &datav1.KnnModel{
			K:                int32(k),
			DistanceWeighted: params["distance_weighted"] != 0,
			NumFeatures:      int32(d),
			Points:           points,
			Targets:          append([]float64(nil), ds.Y...),
		}},
	}, nil
}

// knnFinite reports whether every value of v is finite: v − v is 0 for a
// finite v and NaN for ±Inf or NaN, and NaN survives the sums.
func knnFinite(v []float64) bool {
	var s0, s1 float64
	i := 0
	for ; i+1 < len(v); i += 2 {
		s0 += v[i] - v[i]
		s1 += v[i+1] - v[i+1]
	}
	for ; i < len(v); i++ {
		s0 += v[i] - v[i]
	}
	return s0+s1 == 0
}

// knnCheckModel validates a k-NN model for prediction and returns the
// number of classes (0 for regression).
func knnCheckModel(m *datav1.Model) (*datav1.KnnModel, int, error) {
	km := m.GetKnn()
	if km == nil {
		return nil, 0, errors.New("model has no k-NN parameters")
	}
	n, d := int64(len(km.GetTargets())), int64(km.GetNumFeatures())
	switch {
	case km.GetK() < 1:
		return nil, 0, fmt.Errorf("knn model: k %d < 1", km.GetK())
	case d < 1:
		return nil, 0, fmt.Errorf("knn model: num_features %d < 1", d)
	case n < 1:
		return nil, 0, errors.New("knn model: no training rows")
	case int64(len(km.GetPoints())) != n*d:
		return nil, 0, fmt.Errorf("knn model: %d point values for %d rows × %d features", len(km.GetPoints()), n, d)
	case !algo.AllFinite(km.GetPoints()) || !algo.AllFinite(km.GetTargets()):
		return nil, 0, errors.New("knn model: points and targets must be finite")
	}
	switch m.GetTask() {
	case datav1.Task_TASK_REGRESSION:
		return km, 0, nil
	case datav1.Task_TASK_CLASSIFICATION:
		maxT := 0.0
		for _, t := range km.GetTargets() {
			if t < 0 || t != math.Trunc(t) || t > math.MaxInt32 {
				return nil, 0, fmt.Errorf("knn model: target %g is not a class index", t)
			}
			maxT = math.Max(maxT, t)
		}
		if len(m.GetClassNames()) == 0 && maxT >= float64(max(n, 2)) {
			// Without class names the class count comes from the targets;
			// bound it by the row count so a corrupt target cannot make
			// prediction allocate an absurdly wide output.
			return nil, 0, fmt.Errorf("knn model: class index %g with only %d training rows and no class names", maxT, n)
		}
		classes := algo.NumClasses(m, max(int(maxT)+1, 2))
		if int(maxT) >= classes {
			return nil, 0, fmt.Errorf("knn model: class index %g outside [0, %d)", maxT, classes)
		}
		return km, classes, nil
	default:
		return nil, 0, fmt.Errorf("knn model: task %v is neither classification nor regression", m.GetTask())
	}
}

// knnHeap is a bounded max-heap of the best (smallest) squared distances
// seen so far for one query, ordered by (distance, training index) so equal
// distances keep the earlier training row.
type knnHeap struct {
	dist []float64
	idx  []int32
}

func (h *knnHeap) less(i, j int) bool { // "i is farther than j" for a max-heap
	if h.dist[i] != h.dist[j] {
		return h.dist[i] > h.dist[j]
	}
	return h.idx[i] > h.idx[j]
}

func (h *knnHeap) swap(i, j int) {
	h.dist[i], h.dist[j] = h.dist[j], h.dist[i]
	h.idx[i], h.idx[j] = h.idx[j], h.idx[i]
}

func (h *knnHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *knnHeap) down(i int) {
	n := len(h.dist)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && h.less(r, l) {
			c = r
		}
		if !h.less(c, i) {
			return
		}
		h.swap(i, c)
		i = c
	}
}

// offer considers training row idx at squared distance d. Rows are offered
// in increasing index order, so a full heap only admits strictly closer rows.
func (h *knnHeap) offer(d float64, idx int32, k int) {
	if len(h.dist) < k {
		h.dist = append(h.dist, d)
		h.idx = append(h.idx, idx)
		h.up(len(h.dist) - 1)
		return
	}
	if d < h.dist[0] {
		h.dist[0], h.idx[0] = d, idx
		h.down(0)
	}
}

// predictKNN finds the k nearest training rows of every query row by
// exact brute force (see knnIndex.search for the screen-and-verify
// technique) and turns them into votes or a mean.
func predictKNN(m *datav1.Model, X *mat.Dense) (*mat.Dense, error) {
	km, classes, err := knnCheckModel(m)
	if err != nil {
		return nil, err
	}
	d := int(km.GetNumFeatures())
	if err := algo.CheckInput(m, X, d); err != nil {
		return nil, err
	}
	return knnPredictWith(knnKernels[0], km, classes, X), nil
}

// knnPredictWith predicts with a validated model, screening with kern.
func knnPredictWith(kern *knnKernel, km *datav1.KnnModel, classes int, X *mat.Dense) *mat.Dense {
	targets := km.GetTargets()
	n, d := len(targets), int(km.GetNumFeatures())
	weighted := km.GetDistanceWeighted()
	ix := newKNNIndex(km.GetPoints(), n, d, kern)
	q, _ := X.Dims()
	width := max(classes, 1)
	out := mat.NewDense(q, width, nil)
	workers := knnWorkers()
	weights := make([][]float64, workers)
	ix.search(X, int(km.GetK()), workers, func(w, i int, nb []knnNeighbour) {
		if weights[w] == nil {
			weights[w] = make([]float64, len(nb))
		}
		knnAggregate(nb, targets, classes, weighted, weights[w][:len(nb)], out.RawRowView(i))
	})
	return out
}

// knnAggregate turns one query's neighbours, sorted by distance, into its
// prediction in votes: class shares for classification, the mean target in
// votes[0] for regression. With weighting, a neighbour counts 1/distance;
// if any neighbour coincides with the query, the coinciding ones share all
// the weight equally (scikit-learn's rule), which avoids dividing by zero.
// weights is scratch of len(nb).
func knnAggregate(nb []knnNeighbour, targets []float64, classes int, weighted bool, weights, votes []float64) {
	for i := range votes {
		votes[i] = 0
	}
	if weighted {
		exact := nb[0].dist == 0 // sorted: a zero distance comes first
		for i, n := range nb {
			switch {
			case exact && n.dist == 0:
				weights[i] = 1
			case exact:
				weights[i] = 0
			default:
				weights[i] = 1 / math.Sqrt(n.dist)
			}
		}
	} else {
		for i := range weights {
			weights[i] = 1
		}
	}
	var total float64
	for i, n := range nb {
		w := weights[i]
		total += w
		if classes > 0 {
			votes[int(targets[n.idx])] += w
		} else {
			votes[0] += w * targets[n.idx]
		}
	}
	if total > 0 && !math.IsInf(total, 0) {
		for i := range votes {
			votes[i] /= total
		}
		return
	}
	// Overflowing 1/distance (denormal distances) cannot be normalised; fall
	// back to equal weights, which is what such tiny distances amount to.
	for i := range votes {
		votes[i] = 0
	}
	for _, n := range nb {
		if classes > 0 {
			votes[int(targets[n.idx])]++
		} else {
			votes[0] += targets[n.idx]
		}
	}
	for i := range votes {
		votes[i] /= float64(len(nb))
	}
}
