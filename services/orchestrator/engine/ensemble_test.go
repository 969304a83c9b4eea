package engine

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	"github.com/alur-ml/alur/services/orchestrator/search"
)

// TestEnsembleModel: the refit assembles the EnsembleModel message that
// eval predicts, leaving out members of weight 0 and weighting the
// members' feature importances, without running a model.
func TestEnsembleModel(t *testing.T) {
	member := func(alg string, imp ...float64) *datav1.Model {
		return &datav1.Model{Algorithm: alg, Task: datav1.Task_TASK_CLASSIFICATION, FeatureNames: []string{"a", "b"}, ClassNames: []string{"x", "y"}, FeatureImportances: imp}
	}
	cases := []struct {
		name    string
		members []*datav1.Model
		weights []float64
		wantErr bool
		kept    []string
		imp     []float64
	}{
		{"two members", []*datav1.Model{member("knn", 1, 0), member("decision_tree", 0, 1)}, []float64{0.75, 0.25}, false, []string{"knn", "decision_tree"}, []float64{0.75, 0.25}},
		{"weight 0 left out", []*datav1.Model{member("knn", 1, 0), member("decision_tree", 0, 1)}, []float64{1, 0}, false, []string{"knn"}, []float64{1, 0}},
		{"a member without importances", []*datav1.Model{member("knn"), member("decision_tree", 0, 1)}, []float64{0.5, 0.5}, false, []string{"knn", "decision_tree"}, nil},
		{"every weight 0", []*datav1.Model{member("knn")}, []float64{0}, true, nil, nil},
		{"weights and members differ", []*datav1.Model{member("knn")}, []float64{0.5, 0.5}, true, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ensembleModel(c.members, c.weights, search.EnsembleMethod, 0.9)
			if c.wantErr {
				if err == nil {
					t.Fatalf("got %v, want an error", m)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e := m.GetEnsemble()
			var kept []string
			for _, mm := range e.GetMembers() {
				kept = append(kept, mm.GetAlgorithm())
			}
			if m.GetAlgorithm() != search.EnsembleAlgorithm || e.GetMethod() != search.EnsembleMethod || e.GetSelectionScore() != 0.9 ||
				!slices.Equal(kept, c.kept) || len(e.GetWeights()) != len(kept) || !slices.Equal(m.GetFeatureImportances(), c.imp) ||
				!slices.Equal(m.GetClassNames(), []string{"x", "y"}) || m.GetTask() != datav1.Task_TASK_CLASSIFICATION {
				t.Errorf("got %v", m)
			}
		})
	}
}

// TestEnsembleEncodingIsDeterministic: the refitted ensemble's bytes, and
// so its digest, do not depend on the order Go ranges over the members'
// params maps; an orchestrator that took a run over refits the same model.
func TestEnsembleEncodingIsDeterministic(t *testing.T) {
	member := func(alg string) *datav1.Model {
		params := map[string]float64{}
		for i := range 8 {
			params[fmt.Sprintf("p%d", i)] = float64(i)
		}
		return &datav1.Model{Algorithm: alg, Task: datav1.Task_TASK_CLASSIFICATION, Params: params, ClassNames: []string{"x", "y"}}
	}
	members := []*datav1.Model{member("knn"), member("decision_tree"), member("random_forest")}
	want, err := encodeEnsemble(members, []float64{0.5, 0.25, 0.25}, search.EnsembleMethod, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		got, err := encodeEnsemble(members, []float64{0.5, 0.25, 0.25}, search.EnsembleMethod, 0.9)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("encoding %d differs from the first", i+1)
		}
	}
}

// TestBagKeep: the bagged model keeps every fold model within the byte
// limit, else the first repetition's, else none (the winner is refitted).
func TestBagKeep(t *testing.T) {
	two := [][]int{{10, 10, 10, 10}, {5, 5, 5, 5}} // two members, two folds, two repetitions
	for _, tc := range []struct {
		name  string
		limit int
		keep  []int
		ok    bool
	}{
		{"everything fits", 60, []int{4, 4}, true},
		{"first repetition", 59, []int{2, 2}, true},
		{"first repetition at the limit", 30, []int{2, 2}, true},
		{"refit", 29, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep, ok := bagKeep(two, []int{2, 2}, tc.limit)
			if ok != tc.ok || !slices.Equal(keep, tc.keep) {
				t.Fatalf("bagKeep = %v, %v; want %v, %v", keep, ok, tc.keep, tc.ok)
			}
		})
	}
}
