package algo

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/gonum/mat"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// CheckFinite returns an error naming the first entry of ds.X that is NaN or
// infinite. The prepared data must be complete: the linear, distance and
// Gaussian models have no notion of a missing value, and a single NaN would
// silently poison every coefficient.
func CheckFinite(ds *Dataset) error {
	r, c := ds.X.Dims()
	for i := 0; i < r; i++ {
		row := ds.X.RawRowView(i)
		for j := 0; j < c; j++ {
			if v := row[j]; math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("row %d, %s: not a finite number", i, featureLabel(ds.FeatureNames, j))
			}
		}
	}
	return nil
}

// featureLabel names feature j for an error message: by name when the
// dataset has names, by index otherwise.
func featureLabel(names []string, j int) string {
	if j < len(names) {
		return "feature " + strconv.Quote(names[j])
	}
	return "feature " + strconv.Itoa(j)
}

// AllFinite reports whether every value of v is finite; predictors use it
// to reject corrupt model messages.
func AllFinite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// CheckInput checks the prediction matrix against a model: it must have
// rows, the model's width and only finite values (none of the models in this
// file has a notion of a missing value; a NaN would come out as a NaN
// prediction that fails far from its cause).
func CheckInput(m *datav1.Model, X *mat.Dense, numFeatures int) error {
	if X == nil || X.IsEmpty() {
		return errors.New("no rows to predict")
	}
	r, c := X.Dims()
	if c != numFeatures {
		return fmt.Errorf("model expects %d features, got %d", numFeatures, c)
	}
	for i := 0; i < r; i++ {
		for j, v := range X.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("row %d, %s: not a finite number", i, featureLabel(m.GetFeatureNames(), j))
			}
		}
	}
	return nil
}

// NumClasses is the number of classes a classification model predicts:
// the length of its class names when it has them, otherwise fallback.
func NumClasses(m *datav1.Model, fallback int) int {
	if n := len(m.GetClassNames()); n > 0 {
		return n
	}
	return fallback
}
