// Package ensemble predicts with an alur.data.v1.EnsembleModel: the
// weighted average of its members' predictions, each member predicted by
// the algorithm that made it. It registers the algorithm "ensemble" with
// ml/algo so that algo.Predict, and with it eval, prediction and the report,
// reads an ensemble like any other model: import it for its side effect
// where models are predicted. An ensemble is built from trained models
// (New), never fitted from data, so it supports no task for training and a
// spec cannot name it as a candidate.
package ensemble

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/algo"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Name is the ensemble's algorithm name.
const Name = "ensemble"

// MethodGreedy names ensemble selection's weights in EnsembleModel.method.
const MethodGreedy = "greedy_forward_selection"

// weightTolerance is how far the weights' sum may be from 1.
const weightTolerance = 1e-6

func init() {
	algo.Register(&algo.Spec{
		Name: Name,
		Description: "weighted average of trained models' probabilities or values, weights by ensemble selection " +
			"(Caruana et al., ICML 2004); built from the trials of a run, not trained from data",
		Fit: func(context.Context, *algo.Dataset, map[string]float64, int64, algo.Progress) (*datav1.Model, error) {
			return nil, errors.New("an ensemble is built from trained models (ensemble.New), not fitted")
		},
		Predict: Predict,
	})
}

// New builds an ensemble of members with weights. Members with weight 0 are
// left out; the rest must agree on the task, the features and the classes,
// which the ensemble takes from them. params records the number of members
// kept; feature_importances are the weighted sum of the members' when
// every kept member has them.
func New(members []*datav1.Model, weights []float64, method string, selectionScore float64) (*datav1.Model, error) {
	if len(members) != len(weights) {
		return nil, fmt.Errorf("%d members but %d weights", len(members), len(weights))
	}
	e := &datav1.EnsembleModel{Method: method, SelectionScore: selectionScore}
	for i, m := range members {
		if weights[i] == 0 {
			continue
		}
		e.Members = append(e.Members, m)
		e.Weights = append(e.Weights, weights[i])
	}
	if len(e.Members) == 0 {
		return nil, errors.New("every weight is 0")
	}
	first := e.Members[0]
	out := &datav1.Model{
		Algorithm:    Name,
		Task:         first.GetTask(),
		FeatureNames: slices.Clone(first.GetFeatureNames()),
		ClassNames:   slices.Clone(first.GetClassNames()),
		Params:       map[string]float64{"members": float64(len(e.Members))},
		Parameters:   &datav1.Model_Ensemble{Ensemble: e},
	}
	if err := check(out); err != nil {
		return nil, err
	}
	nf := len(out.GetFeatureNames())
	imp := make([]float64, nf)
	for i, m := range e.Members {
		fi := m.GetFeatureImportances()
		if len(fi) != nf || nf == 0 {
			imp = nil
			break
		}
		for j, v := range fi {
			imp[j] += e.Weights[i] * v
		}
	}
	out.FeatureImportances = imp
	return out, nil
}

// check validates an ensemble model: weights, members and their agreement
// with the ensemble's task, features and classes.
func check(m *datav1.Model) error {
	e := m.GetEnsemble()
	if e == nil {
		return errors.New("model has no ensemble parameters")
	}
	if len(e.GetMembers()) == 0 {
		return errors.New("ensemble has no members")
	}
	if len(e.GetWeights()) != len(e.GetMembers()) {
		return fmt.Errorf("ensemble has %d members but %d weights", len(e.GetMembers()), len(e.GetWeights()))
	}
	sum := 0.0
	for i, w := range e.GetWeights() {
		if !(w >= 0) || math.IsInf(w, 0) {
			return fmt.Errorf("ensemble weight %d is %g, not a finite number >= 0", i, w)
		}
		sum += w
	}
	if math.Abs(sum-1) > weightTolerance {
		return fmt.Errorf("ensemble weights sum to %g, not 1", sum)
	}
	for i, mm := range e.GetMembers() {
		switch {
		case mm.GetAlgorithm() == Name || mm.GetEnsemble() != nil:
			return fmt.Errorf("ensemble member %d is itself an ensemble", i)
		case mm.GetTask() != m.GetTask():
			return fmt.Errorf("ensemble member %d solves %v, the ensemble %v", i, mm.GetTask(), m.GetTask())
		case len(mm.GetFeatureNames()) != 0 && len(m.GetFeatureNames()) != 0 &&
			!slices.Equal(mm.GetFeatureNames(), m.GetFeatureNames()):
			return fmt.Errorf("ensemble member %d (%s) reads other features than the ensemble", i, mm.GetAlgorithm())
		case m.GetTask() == datav1.Task_TASK_CLASSIFICATION && !slices.Equal(mm.GetClassNames(), m.GetClassNames()):
			return fmt.Errorf("ensemble member %d (%s) has classes %v, the ensemble %v", i, mm.GetAlgorithm(), mm.GetClassNames(), m.GetClassNames())
		}
	}
	return nil
}

// Predict returns the weighted average of the members' predictions:
// rows × classes probabilities for classification, rows × 1 values for
// regression. Each member is predicted with algo.Predict.
func Predict(m *datav1.Model, X *mat.Dense) (*mat.Dense, error) {
	if err := check(m); err != nil {
		return nil, err
	}
	e := m.GetEnsemble()
	var out *mat.Dense
	for i, mm := range e.GetMembers() {
		p, err := algo.Predict(mm, X)
		if err != nil {
			return nil, fmt.Errorf("ensemble member %d (%s): %w", i, mm.GetAlgorithm(), err)
		}
		if out == nil {
			r, c := p.Dims()
			out = mat.NewDense(r, c, nil)
		} else if r, c := p.Dims(); r != out.RawMatrix().Rows || c != out.RawMatrix().Cols {
			return nil, fmt.Errorf("ensemble member %d (%s) predicts %d×%d, member 0 %d×%d", i, mm.GetAlgorithm(), r, c, out.RawMatrix().Rows, out.RawMatrix().Cols)
		}
		out.Apply(func(r, c int, v float64) float64 { return v + e.GetWeights()[i]*p.At(r, c) }, out)
	}
	return out, nil
}
