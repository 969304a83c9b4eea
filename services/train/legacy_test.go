package train_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/algo"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// legacyRows rebuilds the 300 × 4 feature matrix the models in
// testdata/legacy were trained and scored on.
func legacyRows() *mat.Dense {
	X := mat.NewDense(300, 4, nil)
	for i := range 300 {
		for j := range 4 {
			X.Set(i, j, math.Sin(float64(i*(j+3))*0.37+float64(j)))
		}
	}
	return X
}

// TestLegacyModelsStillLoad reads models saved before forests were stored
// in the compact form (every tree in parallel node arrays) and checks that
// they still decode and predict exactly what they predicted when saved.
func TestLegacyModelsStillLoad(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "legacy", "predictions.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string][]float64
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) < 5 {
		t.Fatalf("%d saved models, want 5", len(want))
	}
	X := legacyRows()
	for name, probs := range want {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "legacy", name+".binpb"))
			if err != nil {
				t.Fatal(err)
			}
			m := &datav1.Model{}
			if err := proto.Unmarshal(data, m); err != nil {
				t.Fatal(err)
			}
			for i, tr := range m.GetForest().GetTrees() {
				if len(tr.GetNodes()) != 0 || len(tr.GetFeature()) == 0 {
					t.Fatalf("tree %d is not in the legacy form", i)
				}
			}
			got, err := algo.Predict(m, X)
			if err != nil {
				t.Fatal(err)
			}
			data2 := got.RawMatrix().Data
			if len(data2) != len(probs) {
				t.Fatalf("%d outputs, want %d", len(data2), len(probs))
			}
			for i, v := range data2 {
				if math.Abs(v-probs[i]) > 1e-12 {
					t.Fatalf("output %d is %v, saved %v", i, v, probs[i])
				}
			}
		})
	}
}
