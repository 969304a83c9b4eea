package algo

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/mat"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Predictor predicts with a model prepared once by Prepare: rows ×
// classes probabilities for classification, rows × 1 values for
// regression, exactly as Predict answers.
type Predictor func(X *mat.Dense) (*mat.Dense, error)

// Prepare checks m for rows of numFeatures features and does once the
// work Predict repeats on every call: a tree, forest or boosting model is
// decoded and laid out for prediction here, so a server answering a row at
// a time pays only for the walk. Other algorithms predict as Predict does.
// The Predictor does not modify m; m must not change while it is in use.
func Prepare(m *datav1.Model, numFeatures int) (Predictor, error) {
	s, ok := Lookup(m.GetAlgorithm())
	if !ok {
		return nil, fmt.Errorf("model has unknown algorithm %q", m.GetAlgorithm())
	}
	if n := len(m.GetFeatureNames()); n != 0 && n != numFeatures {
		return nil, fmt.Errorf("model expects %d features, got %d", n, numFeatures)
	}
	check := func(X *mat.Dense) error {
		if X == nil || X.IsEmpty() {
			return errors.New("no rows to predict")
		}
		if _, c := X.Dims(); c != numFeatures {
			return fmt.Errorf("prepared for %d features, got %d", numFeatures, c)
		}
		return nil
	}
	var trees []*datav1.TreeModel
	switch p := m.GetParameters().(type) {
	case *datav1.Model_Tree:
		trees = []*datav1.TreeModel{p.Tree}
	case *datav1.Model_Forest:
		trees = p.Forest.GetTrees()
	case *datav1.Model_Boosting:
		gp, err := gbPrepare(m, numFeatures)
		if err != nil {
			return nil, err
		}
		return func(X *mat.Dense) (*mat.Dense, error) {
			if err := check(X); err != nil {
				return nil, err
			}
			return gp.predict(m, X)
		}, nil
	}
	if trees != nil && (s.Name == "decision_tree" || s.Name == "random_forest") {
		e, err := layoutTreeEnsemble(m, trees, numFeatures)
		if err != nil {
			return nil, err
		}
		return func(X *mat.Dense) (*mat.Dense, error) {
			if err := check(X); err != nil {
				return nil, err
			}
			return e.predict(X), nil
		}, nil
	}
	return func(X *mat.Dense) (*mat.Dense, error) {
		if err := check(X); err != nil {
			return nil, err
		}
		return s.Predict(m, X)
	}, nil
}
