package train

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// smallTable returns n rows of p NUMERIC features and a label column
// "y" at position labelAt, CATEGORICAL with 3 classes.
func smallTable(n, p, labelAt int, seed uint64) *table.Table {
	r := rand.New(rand.NewPCG(seed, 3))
	t := &table.Table{}
	codes := make([]int32, n)
	for i := range codes {
		codes[i] = int32(r.IntN(3))
	}
	for f := range p {
		if f == labelAt {
			t.Columns = append(t.Columns, table.NewCategorical("y", codes, []string{"a", "b", "c"}))
		}
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = float64(codes[i]) + r.NormFloat64()
		}
		t.Columns = append(t.Columns, table.NewNumeric("f"+string(rune('a'+f)), vals))
	}
	if labelAt >= p {
		t.Columns = append(t.Columns, table.NewCategorical("y", codes, []string{"a", "b", "c"}))
	}
	return t
}

// receive runs tab through a receiver in batches of about maxBytes.
func receive(t *testing.T, tab *table.Table, maxBytes int) *receiver {
	t.Helper()
	r := &receiver{label: "y"}
	err := tablepb.Send(tab, maxBytes, r.schema, r.batch)
	if err != nil {
		t.Fatalf("receiving: %v", err)
	}
	return r
}

func TestReceiverLayouts(t *testing.T) {
	// Whatever the batch size and the label's position, the training set
	// must hold the table's values: as columns for tree learners, as rows
	// for the others.
	for _, tc := range []struct {
		name     string
		n        int
		maxBytes int
		labelAt  int
	}{
		{"one batch", 500, 0, 4},
		{"many small batches", 3000, 2000, 0},
		{"label in the middle", 2000, 10000, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := smallTable(tc.n, 4, tc.labelAt, 7)
			var feats []*table.Column
			var label *table.Column
			for _, c := range tab.Columns {
				if c.Name == "y" {
					label = c
				} else {
					feats = append(feats, c)
				}
			}
			for _, name := range []string{"random_forest", "logistic_regression"} {
				spec, _ := algo.Lookup(name)
				vc := &validConfig{spec: spec, label: "y"}
				ds, err := receive(t, tab, tc.maxBytes).dataset(vc)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if (ds.Cols != nil) != spec.Columns || (ds.X != nil) == spec.Columns {
					t.Fatalf("%s: columns %v, matrix %v; spec reads columns: %v", name, ds.Cols != nil, ds.X != nil, spec.Columns)
				}
				for f, c := range feats {
					for i, v := range c.Nums {
						got := 0.0
						if ds.Cols != nil {
							got = ds.Cols[f][i]
						} else {
							got = ds.X.At(i, f)
						}
						if got != v {
							t.Fatalf("%s: feature %d row %d is %v, want %v", name, f, i, got, v)
						}
					}
					if ds.FeatureNames[f] != c.Name {
						t.Errorf("%s: feature %d named %q, want %q", name, f, ds.FeatureNames[f], c.Name)
					}
				}
				for i, code := range label.Codes {
					if ds.Y[i] != float64(code) {
						t.Fatalf("%s: label row %d is %v, want %d", name, i, ds.Y[i], code)
					}
				}
				if ds.Task != datav1.Task_TASK_CLASSIFICATION || ds.NumClasses != 3 {
					t.Errorf("%s: task %v with %d classes", name, ds.Task, ds.NumClasses)
				}
			}
		})
	}
}

func TestReceiverRejectsUnpreparedValues(t *testing.T) {
	spec, _ := algo.Lookup("random_forest")
	vc := &validConfig{spec: spec, label: "y"}
	for _, tc := range []struct {
		name  string
		spoil func(*table.Table)
		want  string
	}{
		{"missing feature", func(tab *table.Table) { tab.Columns[1].Nums[7] = math.NaN() }, `row 7 of feature column "fb"`},
		{"infinite feature", func(tab *table.Table) { tab.Columns[0].Nums[2] = math.Inf(1) }, `row 2 of feature column "fa"`},
		{"missing label", func(tab *table.Table) { tab.Columns[2].Codes[5] = -1 }, `row 5: label "y" is missing`},
	} {
		tab := smallTable(50, 2, 2, 1)
		tc.spoil(tab)
		_, err := receive(t, tab, 0).dataset(vc)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestAppendBlock(t *testing.T) {
	// Blocks fill up before a new one starts, and hold every value once.
	var blocks [][]float64
	received := 0
	for b := range 200 {
		vals := make([]float64, 1+b%7)
		for i := range vals {
			vals[i] = float64(received + i)
		}
		blocks = appendBlock(blocks, vals, received)
		received += len(vals)
	}
	next := 0
	for bi, blk := range blocks {
		if bi < len(blocks)-1 && len(blk) != cap(blk) {
			t.Errorf("block %d holds %d of %d values but is not the last", bi, len(blk), cap(blk))
		}
		for _, v := range blk {
			if v != float64(next) {
				t.Fatalf("value %v, want %d", v, next)
			}
			next++
		}
	}
	if next != received {
		t.Fatalf("%d values in blocks, want %d", next, received)
	}
	if len(blocks) > int(8*math.Log(float64(received)))+2 {
		t.Errorf("%d blocks for %d values: too fragmented", len(blocks), received)
	}
}

func TestWriteModelMatchesMarshal(t *testing.T) {
	// Streaming a forest tree by tree must give exactly the bytes of
	// proto.Marshal, cut into parts of at most ModelPartBytes.
	tab := smallTable(12000, 4, 4, 2)
	spec, _ := algo.Lookup("random_forest")
	ds, err := receive(t, tab, 0).dataset(&validConfig{spec: spec, label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	forest, err := algo.Fit(context.Background(), "random_forest", ds, map[string]float64{"n_estimators": 60}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	linear, err := algo.Fit(context.Background(), "logistic_regression", &algo.Dataset{
		X: mat.NewDense(4, 1, []float64{0, 1, 2, 3}), Y: []float64{0, 0, 1, 1},
		Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 2, ClassNames: []string{"n", "y"},
	}, nil, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	empty := &datav1.Model{Algorithm: "random_forest", Parameters: &datav1.Model_Forest{Forest: &datav1.ForestModel{}}}
	knnSpec, _ := algo.Lookup("knn")
	knnDS, err := receive(t, smallTable(30000, 4, 4, 2), 0).dataset(&validConfig{spec: knnSpec, label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	knn, err := algo.Fit(context.Background(), "knn", knnDS, map[string]float64{"k": 3, "distance_weighted": 1}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	knnEmpty := &datav1.Model{Algorithm: "knn", Parameters: &datav1.Model_Knn{Knn: &datav1.KnnModel{K: 1}}}
	for _, tc := range []struct {
		name string
		m    *datav1.Model
	}{
		{"forest", forest},
		{"linear", linear},
		{"forest without trees", empty},
		{"knn", knn},
		{"knn without rows", knnEmpty},
	} {
		want, err := modelMarshal.Marshal(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		var parts [][]byte
		w := &partWriter{send: func(p []byte) error { parts = append(parts, p); return nil }, hash: sha256.New()}
		if err := writeModel(w, tc.m); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := bytes.Join(parts, nil)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: streamed %d bytes differ from the %d marshalled", tc.name, len(got), len(want))
		}
		for i, p := range parts {
			if len(p) == 0 || len(p) > ModelPartBytes {
				t.Errorf("%s: part %d has %d bytes", tc.name, i, len(p))
			}
		}
		if wantParts := (len(want) + ModelPartBytes - 1) / ModelPartBytes; len(parts) != wantParts {
			t.Errorf("%s: %d parts for %d bytes, want %d", tc.name, len(parts), len(want), wantParts)
		}
		if (tc.name == "forest" || tc.name == "knn") && len(want) <= ModelPartBytes {
			t.Errorf("the forest has %d bytes, too few to test several parts", len(want))
		}
		sum := sha256.Sum256(want)
		if w.total != int64(len(want)) || hex.EncodeToString(w.hash.Sum(nil)) != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: counted %d bytes, digest mismatch", tc.name, w.total)
		}
	}
}
