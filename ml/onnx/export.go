// Package onnx exports a fitted transform and its model as one ONNX model,
// so a pipeline trained by alur runs in any ONNX runtime.
//
// The graph takes one input per raw column the transform reads, each of
// shape [N, 1]: DOUBLE for numeric and boolean columns, STRING for
// categorical ones; missing numbers are NaN, missing categories any of the
// texts alur reads as missing ("", "NA", ...). It answers, for a
// classifier, "label" (STRING [N]) and "probabilities" (DOUBLE [N,
// classes]); for a regressor, "prediction" (DOUBLE [N, 1]).
//
// Numbers are prepared in double precision with standard operators (IsNaN
// and Where impute, Add and Log for log1p, Clip, Sub and Div scale) so the
// features match alur's to the last bit; categories go through the
// ai.onnx.ml LabelEncoder (imputation, rare grouping) and OneHotEncoder,
// and Concat joins the features. Linear models and Gaussian naive Bayes
// run in double with standard operators (MatMul, Add, Softmax, Sigmoid);
// trees, forests and gradient boosting run in the ai.onnx.ml
// TreeEnsembleRegressor, one target per class, with double thresholds (its
// output is single precision, as the operator defines); k-nearest
// neighbours is an exact search with standard operators (Sub, Mul, Add,
// TopK, Gather). An ensemble (k-fold bagging, ensemble selection) is one
// graph with the same outputs: every member on the shared features, its
// probabilities or prediction multiplied by its weight, then summed, its
// forests and trees merged into one TreeEnsembleRegressor whose leaf
// values carry their member's weight. Distance-weighted k-NN (alone or as
// an ensemble member) and categorical columns read as numbers are refused.
package onnx

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/alur-ml/alur/ml/algo/tree"
	"github.com/alur-ml/alur/ml/dataprep"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Versions written: the IR and the operator sets the graph uses.
const (
	irVersion = 8
	opsetONNX = 13
	opsetML   = 3
)

// Output names.
const (
	OutputLabel         = "label"
	OutputProbabilities = "probabilities"
	OutputPrediction    = "prediction"
)

// missingTexts are the category texts alur reads as missing (see
// tablepb.IsMissing).
var missingTexts = []string{"", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?"}

// ErrUnsupported reports a pipeline part ONNX export does not cover. It is
// wrapped with the reason; check with errors.Is.
var ErrUnsupported = errors.New("not exportable to ONNX")

// Input describes one graph input.
type Input struct {
	// Name is the raw column's name.
	Name string
	// Categorical says the input is STRING; otherwise DOUBLE.
	Categorical bool
}

// Export builds the ONNX model of tr followed by m. name becomes the
// graph's name. It returns the serialized ModelProto and its inputs.
func Export(tr *datav1.FittedTransform, m *datav1.Model, name string) ([]byte, []Input, error) {
	if err := dataprep.ValidateTransform(tr); err != nil {
		return nil, nil, fmt.Errorf("export: transform: %w", err)
	}
	if got, want := len(tr.GetFeatureNames()), len(m.GetFeatureNames()); got != want {
		return nil, nil, fmt.Errorf("export: the transform makes %d features, the model expects %d", got, want)
	}
	g := &graph{}
	features, inputs, err := transform(g, tr)
	if err != nil {
		return nil, nil, err
	}
	classify := m.GetTask() == datav1.Task_TASK_CLASSIFICATION
	out, err := predictor(g, m, features)
	if err != nil {
		return nil, nil, err
	}
	if classify {
		classes := m.GetClassNames()
		keys := make([]int64, len(classes))
		for i := range keys {
			keys[i] = int64(i)
		}
		idx := g.op("ArgMax", []string{out}, iattr("axis", 1), iattr("keepdims", 0))
		g.add(domainML(withAttrs(newNode("LabelEncoder", []string{idx}, []string{OutputLabel}),
			isattr("keys_int64s", keys), ssattr("values_strings", classes), sattr("default_string", ""))))
		g.add(newNode("Identity", []string{out}, []string{OutputProbabilities}))
		g.outputs = []valueInfo{{OutputLabel, typeString, []int64{0}}, {OutputProbabilities, typeDouble, []int64{0, int64(len(classes))}}}
	} else {
		g.add(newNode("Identity", []string{out}, []string{OutputPrediction}))
		g.outputs = []valueInfo{{OutputPrediction, typeDouble, []int64{0, 1}}}
	}
	doc := fmt.Sprintf("alur %s model predicting %q, with its fitted transform", m.GetAlgorithm(), tr.GetLabel())
	return model(g, name, doc), inputs, nil
}

// transform adds the graph inputs and the preparation, returning the
// features as a DOUBLE [N, F] value.
func transform(g *graph, tr *datav1.FittedTransform) (string, []Input, error) {
	var parts []string
	var inputs []Input
	for _, ct := range tr.GetColumns() {
		if ct.GetAction() == datav1.ColumnAction_COLUMN_ACTION_DROP || ct.GetName() == tr.GetLabel() {
			continue
		}
		name := ct.GetName()
		switch ct.GetAction() {
		case datav1.ColumnAction_COLUMN_ACTION_NUMERIC:
			if ct.GetParseNumeric() {
				return "", nil, fmt.Errorf("column %q is categorical text read as numbers: %w", name, ErrUnsupported)
			}
			g.inputs = append(g.inputs, valueInfo{name, typeDouble, []int64{0, 1}})
			inputs = append(inputs, Input{Name: name})
			x := g.op("Where", []string{g.op("IsNaN", []string{name}), g.constDouble("impute", nil, []float64{ct.GetImputeNumber()}), name})
			if ct.GetLog1P() {
				x = g.op("Log", []string{g.op("Add", []string{x, g.constDouble("one", nil, []float64{1})})})
			}
			if ct.GetClipped() {
				x = g.op("Clip", []string{x, g.constDouble("low", nil, []float64{ct.GetClipLow()}), g.constDouble("high", nil, []float64{ct.GetClipHigh()})})
			}
			if ct.GetScaled() {
				x = g.op("Div", []string{g.op("Sub", []string{x, g.constDouble("mean", nil, []float64{ct.GetMean()})}), g.constDouble("scale", nil, []float64{ct.GetScale()})})
			}
			parts = append(parts, x)
		case datav1.ColumnAction_COLUMN_ACTION_ONE_HOT:
			g.inputs = append(g.inputs, valueInfo{name, typeString, []int64{0, 1}})
			inputs = append(inputs, Input{Name: name, Categorical: true})
			cats := ct.GetCategories()
			in := map[string]bool{}
			for _, c := range cats {
				in[c] = true
			}
			// Unknown texts become rare_label, or a text outside the
			// vocabulary (all zeros); missing ones the imputed category,
			// itself grouped if it is not in the vocabulary.
			other := ct.GetRareLabel()
			if other == "" {
				other = "\x00unknown"
			}
			imputed := ct.GetImputeCategory()
			if !in[imputed] {
				imputed = other
			}
			keys := append([]string(nil), cats...)
			vals := append([]string(nil), cats...)
			for _, mt := range missingTexts {
				if !in[mt] {
					keys, vals = append(keys, mt), append(vals, imputed)
				}
			}
			enc := g.mlop("LabelEncoder", []string{name}, ssattr("keys_strings", keys), ssattr("values_strings", vals), sattr("default_string", other))
			oh := g.mlop("OneHotEncoder", []string{enc}, ssattr("cats_strings", cats), iattr("zeros", 1))
			flat := g.op("Reshape", []string{oh, g.constInt64("shape", []int64{2}, []int64{-1, int64(len(cats))})})
			parts = append(parts, g.op("Cast", []string{flat}, iattr("to", typeDouble)))
		}
	}
	if len(parts) == 0 {
		return "", nil, fmt.Errorf("the transform makes no features: %w", ErrUnsupported)
	}
	return g.op("Concat", parts, iattr("axis", 1)), inputs, nil
}

// predictor adds the model: probabilities (DOUBLE [N, classes]) or
// predictions (DOUBLE [N, 1]).
func predictor(g *graph, m *datav1.Model, x string) (string, error) {
	f := int64(len(m.GetFeatureNames()))
	classify := m.GetTask() == datav1.Task_TASK_CLASSIFICATION
	switch p := m.GetParameters().(type) {
	case *datav1.Model_Linear:
		lm := p.Linear
		k := int64(lm.GetNumOutputs())
		if int64(lm.GetNumFeatures()) != f || int64(len(lm.GetWeights())) != k*f || int64(len(lm.GetIntercepts())) != k {
			return "", errors.New("export: the linear model's shapes do not agree")
		}
		// W is k × F row-major; MatMul wants F × k.
		wt := make([]float64, 0, k*f)
		for j := range f {
			for r := range k {
				wt = append(wt, lm.GetWeights()[r*f+j])
			}
		}
		s := g.op("Add", []string{g.op("MatMul", []string{x, g.constDouble("weights", []int64{f, k}, wt)}), g.constDouble("intercepts", []int64{k}, lm.GetIntercepts())})
		if !classify {
			return s, nil
		}
		return probabilities(g, s, k), nil
	case *datav1.Model_GaussianNb:
		nb := p.GaussianNb
		k := int64(len(m.GetClassNames()))
		if int64(len(nb.GetMeans())) != k*f || int64(len(nb.GetVariances())) != k*f || int64(len(nb.GetClassLogPrior())) != k {
			return "", errors.New("export: the naive Bayes model's shapes do not agree")
		}
		half := make([]float64, k*f)
		bias := make([]float64, k)
		for c := range k {
			bias[c] = nb.GetClassLogPrior()[c]
			for j := range f {
				v := nb.GetVariances()[c*f+j]
				half[c*f+j] = -0.5 / v
				bias[c] -= 0.5 * math.Log(2*math.Pi*v)
			}
		}
		x3 := g.op("Unsqueeze", []string{x, g.constInt64("axes", []int64{1}, []int64{1})})
		d := g.op("Sub", []string{x3, g.constDouble("means", []int64{k, f}, nb.GetMeans())})
		q := g.op("Mul", []string{g.op("Mul", []string{d, d}), g.constDouble("half_precision", []int64{k, f}, half)})
		jll := g.op("Add", []string{g.op("ReduceSum", []string{q, g.constInt64("axes", []int64{1}, []int64{2})}, iattr("keepdims", 0)), g.constDouble("bias", []int64{k}, bias)})
		return g.op("Softmax", []string{jll}, iattr("axis", 1)), nil
	case *datav1.Model_Tree, *datav1.Model_Forest:
		return trees(g, m, x, treeMembers(m, 1), nil)
	case *datav1.Model_Boosting:
		bm := p.Boosting
		s, err := trees(g, m, x, treeMembers(m, 1), bm)
		if err != nil || !classify {
			return s, err
		}
		return probabilities(g, s, int64(bm.GetNumOutputs())), nil
	case *datav1.Model_Knn:
		return knn(g, m, p.Knn, x, f)
	case *datav1.Model_Ensemble:
		return weightedAverage(g, m, p.Ensemble, x)
	}
	return "", fmt.Errorf("algorithm %q: %w", m.GetAlgorithm(), ErrUnsupported)
}

// probabilities turns raw scores [N, k] into class probabilities: softmax,
// or for one score s the pair (σ(−s), σ(s)), as alur computes them.
func probabilities(g *graph, s string, k int64) string {
	if k == 1 {
		return g.op("Concat", []string{g.op("Sigmoid", []string{g.op("Neg", []string{s})}), g.op("Sigmoid", []string{s})}, iattr("axis", 1))
	}
	return g.op("Softmax", []string{s}, iattr("axis", 1))
}

// weightedTree is one tree of a TreeEnsembleRegressor: its leaf values
// are divided by div (the number of trees of a forest, for its mean), then
// multiplied by weight (an ensemble member's weight).
type weightedTree struct {
	tree        *datav1.TreeModel
	div, weight float64
}

// treeMembers lists the trees of a tree, forest or boosting model with
// the ensemble weight w; nil for other models.
func treeMembers(m *datav1.Model, w float64) []weightedTree {
	var ts []*datav1.TreeModel
	div := 1.0
	switch p := m.GetParameters().(type) {
	case *datav1.Model_Tree:
		ts = []*datav1.TreeModel{p.Tree}
	case *datav1.Model_Forest:
		ts, div = p.Forest.GetTrees(), float64(len(p.Forest.GetTrees()))
	case *datav1.Model_Boosting:
		ts = p.Boosting.GetTrees()
	}
	out := make([]weightedTree, len(ts))
	for i, t := range ts {
		out[i] = weightedTree{t, div, w}
	}
	return out
}

// trees adds a TreeEnsembleRegressor summing the trees' leaf values, each
// divided by its div and multiplied by its weight. For boosting (bm set),
// tree t adds to output t mod num_outputs, on top of the base scores;
// otherwise every tree adds its whole value vector. Thresholds, weights
// and base scores are double tensors and the input stays double, so every
// row takes the branch it takes in alur; the operator's output is single
// precision, cast back to DOUBLE.
func trees(g *graph, m *datav1.Model, x string, ts []weightedTree, bm *datav1.BoostingModel) (string, error) {
	nf := len(m.GetFeatureNames())
	targets := int64(1)
	if m.GetTask() == datav1.Task_TASK_CLASSIFICATION {
		targets = int64(len(m.GetClassNames()))
	}
	if bm != nil {
		targets = int64(bm.GetNumOutputs())
	}
	var (
		treeIDs, nodeIDs, featIDs, trueIDs, falseIDs, missTrue []int64
		values                                                 []float64
		modes                                                  []string
		tTree, tNode, tID                                      []int64
		tWeight                                                []float64
	)
	for ti, wt := range ts {
		et, err := tree.Expand(wt.tree, nf)
		if err != nil {
			return "", fmt.Errorf("export: tree %d: %w", ti, err)
		}
		width := int(et.GetNumOutputs())
		for n := range et.GetFeature() {
			treeIDs = append(treeIDs, int64(ti))
			nodeIDs = append(nodeIDs, int64(n))
			if f := et.GetFeature()[n]; f >= 0 {
				featIDs = append(featIDs, int64(f))
				values = append(values, et.GetThreshold()[n])
				modes = append(modes, "BRANCH_LEQ")
				trueIDs = append(trueIDs, int64(et.GetLeft()[n]))
				falseIDs = append(falseIDs, int64(et.GetRight()[n]))
				missTrue = append(missTrue, 1)
				continue
			}
			featIDs, values, modes = append(featIDs, 0), append(values, 0), append(modes, "LEAF")
			trueIDs, falseIDs, missTrue = append(trueIDs, 0), append(falseIDs, 0), append(missTrue, 0)
			v := et.GetValue()[n*width : (n+1)*width]
			if bm != nil {
				tTree, tNode, tID = append(tTree, int64(ti)), append(tNode, int64(n)), append(tID, int64(ti)%targets)
				tWeight = append(tWeight, v[0])
				continue
			}
			for j, w := range v {
				if w == 0 {
					continue
				}
				tTree, tNode, tID = append(tTree, int64(ti)), append(tNode, int64(n)), append(tID, int64(j))
				w /= wt.div
				if wt.weight != 1 {
					w *= wt.weight
				}
				tWeight = append(tWeight, w)
			}
		}
	}
	as := []attr{
		isattr("nodes_treeids", treeIDs), isattr("nodes_nodeids", nodeIDs), isattr("nodes_featureids", featIDs),
		tattr("nodes_values_as_tensor", values), ssattr("nodes_modes", modes),
		isattr("nodes_truenodeids", trueIDs), isattr("nodes_falsenodeids", falseIDs),
		isattr("nodes_missing_value_tracks_true", missTrue),
		isattr("target_treeids", tTree), isattr("target_nodeids", tNode), isattr("target_ids", tID), tattr("target_weights_as_tensor", tWeight),
		iattr("n_targets", targets), sattr("aggregate_function", "SUM"), sattr("post_transform", "NONE"),
	}
	if bm != nil {
		as = append(as, tattr("base_values_as_tensor", bm.GetBaseScore()))
	}
	out := g.mlop("TreeEnsembleRegressor", []string{x}, as...)
	return g.op("Cast", []string{out}, iattr("to", typeDouble)), nil
}

// knn adds an exact k-nearest-neighbours search with standard operators:
// the squared distance to every training row summed feature by feature in
// feature order (as alur sums it, so equal distances stay equal), TopK of
// the smallest (ties to the lower training index, as alur breaks them),
// then the neighbours' class shares or mean target. Distance weighting is
// refused.
func knn(g *graph, m *datav1.Model, km *datav1.KnnModel, x string, f int64) (string, error) {
	if km.GetDistanceWeighted() {
		return "", fmt.Errorf("distance-weighted k-nearest neighbours: %w", ErrUnsupported)
	}
	n := int64(len(km.GetTargets()))
	if int64(km.GetNumFeatures()) != f || int64(len(km.GetPoints())) != n*f || n == 0 {
		return "", errors.New("export: the k-NN model's shapes do not agree")
	}
	k := min(int64(km.GetK()), n)
	var d string
	for j := range f {
		col := make([]float64, n)
		for i := range n {
			col[i] = km.GetPoints()[i*f+j]
		}
		xj := g.op("Gather", []string{x, g.constInt64("feature", []int64{1}, []int64{j})}, iattr("axis", 1))
		diff := g.op("Sub", []string{xj, g.constDouble("points", []int64{1, n}, col)})
		sq := g.op("Mul", []string{diff, diff})
		if d == "" {
			d = sq
		} else {
			d = g.op("Add", []string{d, sq})
		}
	}
	dist, idx := g.tmp("knn_dist"), g.tmp("knn_idx")
	g.add(withAttrs(newNode("TopK", []string{d, g.constInt64("k", []int64{1}, []int64{k})}, []string{dist, idx}),
		iattr("axis", 1), iattr("largest", 0), iattr("sorted", 1)))
	if m.GetTask() != datav1.Task_TASK_CLASSIFICATION {
		near := g.op("Gather", []string{g.constDouble("targets", []int64{n}, km.GetTargets()), idx}, iattr("axis", 0))
		return g.op("ReduceMean", []string{near}, isattr("axes", []int64{1}), iattr("keepdims", 1)), nil
	}
	c := int64(len(m.GetClassNames()))
	onehot := make([]float64, n*c)
	for i, t := range km.GetTargets() {
		onehot[int64(i)*c+int64(t)] = 1
	}
	near := g.op("Gather", []string{g.constDouble("classes", []int64{n, c}, onehot), idx}, iattr("axis", 0))
	votes := g.op("ReduceSum", []string{near, g.constInt64("axes", []int64{1}, []int64{1})}, iattr("keepdims", 0))
	return g.op("Div", []string{votes, g.constDouble("k", nil, []float64{float64(k)})}), nil
}

// weightedAverage adds an ensemble's weighted average: each member's
// probabilities (or prediction) on the shared features, multiplied by its
// weight, then summed, as alur averages them. Forest and tree members go
// together into one TreeEnsembleRegressor whose leaf values carry their
// member's weight, which is smaller and faster than one operator per
// member (k-fold bagging averages k forests). Members of weight 0 add
// nothing and are left out. A member that cannot be exported, or an
// ensemble nested in an ensemble, is refused, naming the member.
func weightedAverage(g *graph, m *datav1.Model, e *datav1.EnsembleModel, x string) (string, error) {
	members, weights := e.GetMembers(), e.GetWeights()
	if len(members) == 0 || len(weights) != len(members) {
		return "", fmt.Errorf("export: the ensemble has %d members and %d weights", len(members), len(weights))
	}
	classify := m.GetTask() == datav1.Task_TASK_CLASSIFICATION
	var (
		terms []string
		ts    []weightedTree
	)
	defer func() { g.prefix = "" }()
	for i, mm := range members {
		w := weights[i]
		switch {
		case mm.GetEnsemble() != nil:
			return "", fmt.Errorf("ensemble member %d (%s) is itself an ensemble: %w", i, mm.GetAlgorithm(), ErrUnsupported)
		case !(w >= 0) || math.IsInf(w, 0):
			return "", fmt.Errorf("export: ensemble member %d (%s) has weight %g", i, mm.GetAlgorithm(), w)
		case mm.GetTask() != m.GetTask():
			return "", fmt.Errorf("export: ensemble member %d (%s) solves %v, the ensemble %v", i, mm.GetAlgorithm(), mm.GetTask(), m.GetTask())
		case len(mm.GetFeatureNames()) != len(m.GetFeatureNames()):
			return "", fmt.Errorf("export: ensemble member %d (%s) reads %d features, the ensemble %d", i, mm.GetAlgorithm(), len(mm.GetFeatureNames()), len(m.GetFeatureNames()))
		case classify && !slices.Equal(mm.GetClassNames(), m.GetClassNames()):
			return "", fmt.Errorf("export: ensemble member %d (%s) has classes %v, the ensemble %v", i, mm.GetAlgorithm(), mm.GetClassNames(), m.GetClassNames())
		case w == 0:
			continue
		}
		switch mm.GetParameters().(type) {
		case *datav1.Model_Tree, *datav1.Model_Forest:
			ts = append(ts, treeMembers(mm, w)...)
			continue
		}
		g.prefix = fmt.Sprintf("m%d_", i)
		p, err := predictor(g, mm, x)
		if err != nil {
			return "", fmt.Errorf("ensemble member %d (%s): %w", i, mm.GetAlgorithm(), err)
		}
		terms = append(terms, g.op("Mul", []string{p, g.constDouble("weight", nil, []float64{w})}))
	}
	if len(ts) > 0 {
		g.prefix = "trees_"
		p, err := trees(g, m, x, ts, nil)
		if err != nil {
			return "", fmt.Errorf("ensemble trees: %w", err)
		}
		terms = append(terms, p)
	}
	g.prefix = ""
	switch len(terms) {
	case 0:
		return "", errors.New("export: every ensemble weight is 0")
	case 1:
		return terms[0], nil
	}
	return g.op("Sum", terms), nil
}
