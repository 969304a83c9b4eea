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
// work Predict repeats on every call, through the algorithm's
// Spec.Prepare: the tree, forest and boosting packages decode their trees
// and lay them out for prediction there, so a server answering a row at a
// time pays only for the walk (a 100-tree forest row drops from
// milliseconds to a fraction of one). Algorithms without a Spec.Prepare
// predict as Predict does. The Predictor refuses rows of another width; it
// does not modify m, and m must not change while it is in use.
func Prepare(m *datav1.Model, numFeatures int) (Predictor, error) {
	s, ok := Lookup(m.GetAlgorithm())
	if !ok {
		return nil, fmt.Errorf("model has unknown algorithm %q", m.GetAlgorithm())
	}
	if numFeatures < 1 {
		return nil, fmt.Errorf("cannot prepare for %d features", numFeatures)
	}
	if n := len(m.GetFeatureNames()); n != 0 && n != numFeatures {
		return nil, fmt.Errorf("model expects %d features, got %d", n, numFeatures)
	}
	predict := func(X *mat.Dense) (*mat.Dense, error) { return s.Predict(m, X) }
	if s.Prepare != nil {
		p, err := s.Prepare(m, numFeatures)
		if err != nil {
			return nil, err
		}
		predict = p
	}
	return func(X *mat.Dense) (*mat.Dense, error) {
		if X == nil || X.IsEmpty() {
			return nil, errors.New("no rows to predict")
		}
		if _, c := X.Dims(); c != numFeatures {
			return nil, fmt.Errorf("prepared for %d features, got %d", numFeatures, c)
		}
		return predict(X)
	}, nil
}
