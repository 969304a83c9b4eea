package eval_test

import (
	"context"
	"fmt"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	evalv1 "github.com/alur-ml/alur/proto/alur/eval/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/eval"
)

// newClient starts an eval server with cfg in process.
func newClient(t testing.TB, cfg eval.Config) evalv1.EvalServiceClient {
	t.Helper()
	conn, stop := serverkit.NewInProcess(func(s *grpc.Server) { evalv1.RegisterEvalServiceServer(s, eval.NewServer(cfg)) })
	t.Cleanup(stop)
	return evalv1.NewEvalServiceClient(conn)
}

// blobs returns a prepared classification table: nFeat NUMERIC features of
// Gaussian blobs around class centres 4 apart and the CATEGORICAL label
// "species" last.
func blobs(n, nFeat, nClass int, seed uint64) *table.Table {
	r := rand.New(rand.NewPCG(seed, 1))
	cols := make([][]float64, nFeat)
	for j := range cols {
		cols[j] = make([]float64, n)
	}
	codes := make([]int32, n)
	for i := 0; i < n; i++ {
		c := i % nClass
		codes[i] = int32(c)
		for j := range cols {
			centre := 0.0
			if j%nClass == c {
				centre = 4
			}
			cols[j][i] = centre + r.NormFloat64()
		}
	}
	t := &table.Table{}
	for j := range cols {
		t.Columns = append(t.Columns, table.NewNumeric(fmt.Sprintf("f%d", j), cols[j]))
	}
	dict := make([]string, nClass)
	for c := range dict {
		dict[c] = fmt.Sprintf("class_%c", 'a'+c)
	}
	t.Columns = append(t.Columns, table.NewCategorical("species", codes, dict))
	return t
}

// linear returns a prepared regression table, y = 3 f0 - 2 f1 + 1 plus
// small noise, label "y" last.
func linear(n int, seed uint64) *table.Table {
	r := rand.New(rand.NewPCG(seed, 2))
	f0, f1, y := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range y {
		f0[i], f1[i] = r.NormFloat64(), r.NormFloat64()
		y[i] = 3*f0[i] - 2*f1[i] + 1 + 0.05*r.NormFloat64()
	}
	return &table.Table{Columns: []*table.Column{
		table.NewNumeric("f0", f0), table.NewNumeric("f1", f1), table.NewNumeric("y", y),
	}}
}

// fitModel trains algorithm on a prepared table through the library, as
// the train service would, and returns the model and its bytes.
func fitModel(t testing.TB, algorithm string, tab *table.Table, label string, params map[string]float64) (*datav1.Model, []byte) {
	t.Helper()
	pd, err := dataprep.FromPrepared(tab, label)
	if err != nil {
		t.Fatal(err)
	}
	return fitMatrix(t, algorithm, &algo.Dataset{
		X: pd.X, Y: pd.Y, Task: pd.Task, NumClasses: len(pd.ClassNames),
		FeatureNames: pd.FeatureNames, ClassNames: pd.ClassNames,
	}, params)
}

func fitMatrix(t testing.TB, algorithm string, ds *algo.Dataset, params map[string]float64) (*datav1.Model, []byte) {
	t.Helper()
	m, err := algo.Fit(context.Background(), algorithm, ds, params, 1, nil)
	if err != nil {
		t.Fatalf("fit %s: %v", algorithm, err)
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return m, raw
}

// split cuts raw into parts of at most size bytes.
func split(raw []byte, size int) [][]byte {
	var parts [][]byte
	for off := 0; off < len(raw); off += size {
		parts = append(parts, raw[off:min(off+size, len(raw))])
	}
	return parts
}

// evalRequests builds an evaluate stream: the model in parts of partSize,
// the table's schema and batches; label goes on the first message.
func evalRequests(t testing.TB, raw []byte, partSize int, tab *table.Table, label string) []*evalv1.EvaluateRequest {
	t.Helper()
	var reqs []*evalv1.EvaluateRequest
	for _, p := range split(raw, partSize) {
		reqs = append(reqs, &evalv1.EvaluateRequest{Part: &evalv1.EvaluateRequest_ModelPart{ModelPart: p}})
	}
	reqs = append(reqs, tableParts(t, tab)...)
	if label != "" && len(reqs) > 0 {
		reqs[0].Label = label
	}
	return reqs
}

func tableParts(t testing.TB, tab *table.Table) []*evalv1.EvaluateRequest {
	t.Helper()
	var reqs []*evalv1.EvaluateRequest
	err := tablepb.Send(tab, 0,
		func(s *datav1.Schema) error {
			reqs = append(reqs, &evalv1.EvaluateRequest{Part: &evalv1.EvaluateRequest_Schema{Schema: s}})
			return nil
		},
		func(b *datav1.TableBatch) error {
			reqs = append(reqs, &evalv1.EvaluateRequest{Part: &evalv1.EvaluateRequest_Batch{Batch: b}})
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return reqs
}

// runEvaluate sends reqs and returns the answer. Send errors are ignored:
// a server that fails early ends the stream and CloseAndRecv reports why.
func runEvaluate(t testing.TB, c evalv1.EvalServiceClient, reqs []*evalv1.EvaluateRequest) (*evalv1.EvaluateResponse, error) {
	t.Helper()
	stream, err := c.Evaluate(context.Background())
	if err != nil {
		return nil, err
	}
	for _, r := range reqs {
		if stream.Send(r) != nil {
			break
		}
	}
	return stream.CloseAndRecv()
}

func runPredict(t testing.TB, c evalv1.EvalServiceClient, reqs []*evalv1.PredictRequest) (*evalv1.PredictResponse, error) {
	t.Helper()
	stream, err := c.Predict(context.Background())
	if err != nil {
		return nil, err
	}
	for _, r := range reqs {
		if stream.Send(r) != nil {
			break
		}
	}
	return stream.CloseAndRecv()
}

// wantStatus checks err's code and, when field is not empty, that the
// BadRequest details name exactly that field.
func wantStatus(t *testing.T, err error, code codes.Code, field string) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Fatalf("code %v (%v), want %v", got, err, code)
	}
	if field == "" {
		return
	}
	if f := serverkit.FieldViolations(err); len(f) != 1 || f[0] != field {
		t.Fatalf("fields %q (%v), want [%q]", f, err, field)
	}
}

func argmax(v []float64) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

func TestEvaluateClassification(t *testing.T) {
	c := newClient(t, eval.Config{})
	train := blobs(300, 3, 3, 1)
	test := blobs(150, 3, 3, 2)
	cases := []struct {
		algorithm string
		params    map[string]float64
		label     string // "" leaves the label to default to the last column
		partSize  int
	}{
		{"logistic_regression", nil, "species", 1000},
		{"random_forest", map[string]float64{"n_estimators": 20}, "", 4096},
		{"naive_bayes", nil, "", 64},
		{"knn", nil, "species", 512 << 10},
		{"decision_tree", nil, "", 100},
	}
	for _, tc := range cases {
		t.Run(tc.algorithm, func(t *testing.T) {
			m, raw := fitModel(t, tc.algorithm, train, "species", tc.params)
			resp, err := runEvaluate(t, c, evalRequests(t, raw, tc.partSize, test, tc.label))
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetMetrics().GetNumSamples() != 150 {
				t.Fatalf("num_samples %d, want 150", resp.GetMetrics().GetNumSamples())
			}
			cm := resp.GetMetrics().GetClassification()
			if cm == nil {
				t.Fatalf("no classification metrics: %v", resp.GetMetrics())
			}
			if cm.GetAccuracy() < 0.9 {
				t.Fatalf("accuracy %.3f < 0.9", cm.GetAccuracy())
			}
			// The predictions are the argmax classes of the library's own
			// prediction, and the accuracy agrees with them.
			pd, err := dataprep.FromPrepared(test, "species")
			if err != nil {
				t.Fatal(err)
			}
			proba, err := algo.Predict(m, pd.X)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetPredictions()) != 150 {
				t.Fatalf("%d predictions, want 150", len(resp.GetPredictions()))
			}
			right := 0
			for i, p := range resp.GetPredictions() {
				want := m.GetClassNames()[argmax(mat.Row(nil, i, proba))]
				if p != want {
					t.Fatalf("prediction %d is %q, want %q", i, p, want)
				}
				if p == test.Columns[3].Dict[test.Columns[3].Codes[i]] {
					right++
				}
			}
			if acc := float64(right) / 150; math.Abs(acc-cm.GetAccuracy()) > 1e-12 {
				t.Fatalf("accuracy %v, predictions say %v", cm.GetAccuracy(), acc)
			}
		})
	}
}

func TestEvaluateRegression(t *testing.T) {
	c := newClient(t, eval.Config{})
	m, raw := fitModel(t, "linear_regression", linear(200, 1), "y", nil)
	test := linear(100, 2)
	resp, err := runEvaluate(t, c, evalRequests(t, raw, 50, test, ""))
	if err != nil {
		t.Fatal(err)
	}
	rm := resp.GetMetrics().GetRegression()
	if rm == nil || rm.GetR2() < 0.99 || rm.GetRmse() > 0.1 {
		t.Fatalf("regression metrics %v: want R² >= 0.99 and RMSE <= 0.1", rm)
	}
	pd, err := dataprep.FromPrepared(test, "y")
	if err != nil {
		t.Fatal(err)
	}
	want, err := algo.Predict(m, pd.X)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range resp.GetPredictions() {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			t.Fatalf("prediction %d %q: %v", i, p, err)
		}
		if v != want.At(i, 0) {
			t.Fatalf("prediction %d is %v, want %v (text must round-trip)", i, v, want.At(i, 0))
		}
	}
}

// TestEvaluatePredictionsOmitted checks that predictions are left out above
// MaxPredictionRows rows, and when their text would not fit in one message
// well under 1 MiB, while the metrics still arrive.
func TestEvaluatePredictionsOmitted(t *testing.T) {
	c := newClient(t, eval.Config{})
	cases := []struct {
		name      string
		algorithm string
		train     *table.Table
		test      *table.Table
		label     string
	}{
		{"above the row limit", "naive_bayes", blobs(200, 1, 2, 1), blobs(eval.MaxPredictionRows+1, 1, 2, 2), "species"},
		// About 20 bytes per number: 45000 rows pass the byte budget.
		{"above the byte budget", "linear_regression", linear(200, 1), linear(45000, 2), "y"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, raw := fitModel(t, tc.algorithm, tc.train, tc.label, nil)
			resp, err := runEvaluate(t, c, evalRequests(t, raw, 1<<20, tc.test, ""))
			if err != nil {
				t.Fatal(err)
			}
			if n := resp.GetMetrics().GetNumSamples(); n != int64(tc.test.NumRows()) {
				t.Fatalf("num_samples %d, want %d", n, tc.test.NumRows())
			}
			if len(resp.GetPredictions()) != 0 {
				t.Fatalf("%d predictions, want none", len(resp.GetPredictions()))
			}
			if size := proto.Size(resp); size > eval.MaxResponseBytes {
				t.Fatalf("answer of %d bytes", size)
			}
		})
	}
}

// TestEvaluateLabelAndClassOrder puts the label first, names it on a later
// message, and codes it with a dictionary in another order than the
// model's classes: the scores must not change.
func TestEvaluateLabelAndClassOrder(t *testing.T) {
	c := newClient(t, eval.Config{})
	_, raw := fitModel(t, "logistic_regression", blobs(300, 2, 3, 1), "species", nil)
	test := blobs(90, 2, 3, 2)
	base, err := runEvaluate(t, c, evalRequests(t, raw, 1<<20, test, ""))
	if err != nil {
		t.Fatal(err)
	}

	lab := test.Columns[2]
	// Reverse the dictionary and recode the rows.
	n := int32(len(lab.Dict))
	dict := make([]string, n)
	codes := make([]int32, len(lab.Codes))
	for i, d := range lab.Dict {
		dict[n-1-int32(i)] = d
	}
	for i, code := range lab.Codes {
		codes[i] = n - 1 - code
	}
	moved := &table.Table{Columns: []*table.Column{table.NewCategorical("species", codes, dict), test.Columns[0], test.Columns[1]}}
	reqs := evalRequests(t, raw, 1<<20, moved, "")
	reqs[1].Label = "species" // the schema message names it; the first does not
	got, err := runEvaluate(t, c, reqs)
	if err != nil {
		t.Fatal(err)
	}
	a, b := base.GetMetrics().GetClassification(), got.GetMetrics().GetClassification()
	if !proto.Equal(a, b) {
		t.Fatalf("metrics changed with label position and class order:\n%v\n%v", a, b)
	}
}

func TestEvaluateErrors(t *testing.T) {
	cls := blobs(60, 2, 2, 1)
	_, raw := fitModel(t, "logistic_regression", cls, "species", nil)
	_, regRaw := fitModel(t, "linear_regression", linear(50, 1), "y", nil)
	renamed := &table.Table{Columns: []*table.Column{cls.Columns[0], table.NewNumeric("g1", cls.Columns[1].Nums), cls.Columns[2]}}
	swapped := &table.Table{Columns: []*table.Column{cls.Columns[1], cls.Columns[0], cls.Columns[2]}}
	extra := &table.Table{Columns: []*table.Column{cls.Columns[0], cls.Columns[1], table.NewNumeric("f2", cls.Columns[0].Nums), cls.Columns[2]}}
	unknownClass := &table.Table{Columns: []*table.Column{cls.Columns[0], cls.Columns[1],
		table.NewCategorical("species", cls.Columns[2].Codes, []string{"class_a", "class_z"})}}
	missingLabel := &table.Table{Columns: []*table.Column{cls.Columns[0], cls.Columns[1],
		table.NewCategorical("species", append([]int32{-1}, cls.Columns[2].Codes[1:]...), cls.Columns[2].Dict)}}
	unknownAlgo, _ := proto.Marshal(&datav1.Model{Algorithm: "oracle", Task: datav1.Task_TASK_CLASSIFICATION,
		FeatureNames: []string{"f0", "f1"}, ClassNames: []string{"class_a", "class_b"}})
	corruptParams, _ := proto.Marshal(&datav1.Model{Algorithm: "logistic_regression", Task: datav1.Task_TASK_CLASSIFICATION,
		FeatureNames: []string{"f0", "f1"}, ClassNames: []string{"class_a", "class_b"},
		Parameters: &datav1.Model_Linear{Linear: &datav1.LinearModel{NumOutputs: 2, NumFeatures: 2, Weights: []float64{1}}}})

	modelOnly := func(b []byte) []*evalv1.EvaluateRequest {
		return []*evalv1.EvaluateRequest{{Part: &evalv1.EvaluateRequest_ModelPart{ModelPart: b}}}
	}
	cases := []struct {
		name  string
		cfg   eval.Config
		reqs  func(t *testing.T) []*evalv1.EvaluateRequest
		code  codes.Code
		field string
	}{
		{"corrupt model bytes", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return evalRequests(t, []byte("\xff\xff\xff not a model"), 8, cls, "")
		}, codes.InvalidArgument, "model_part"},
		{"truncated model", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return evalRequests(t, raw[:len(raw)-3], 1<<20, cls, "")
		}, codes.InvalidArgument, "model_part"},
		{"no model", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return tableParts(t, cls)
		}, codes.InvalidArgument, "model_part"},
		{"unknown algorithm", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return evalRequests(t, unknownAlgo, 1<<20, cls, "")
		}, codes.InvalidArgument, "model_part"},
		{"inconsistent parameters", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return evalRequests(t, corruptParams, 1<<20, cls, "")
		}, codes.InvalidArgument, "model_part"},
		{"model too large", eval.Config{MaxModelBytes: 100}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return evalRequests(t, raw, 60, cls, "")
		}, codes.ResourceExhausted, ""},
		{"model part after the schema", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			r := evalRequests(t, raw, 1<<20, cls, "")
			return append(r[:2], append(modelOnly(raw[:1]), r[2:]...)...)
		}, codes.InvalidArgument, "model_part"},
		{"renamed feature", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return evalRequests(t, raw, 1<<20, renamed, "")
		}, codes.InvalidArgument, "schema"},
		{"features in another order", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return evalRequests(t, raw, 1<<20, swapped, "")
		}, codes.InvalidArgument, "schema"},
		{"extra feature", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return evalRequests(t, raw, 1<<20, extra, "")
		}, codes.InvalidArgument, "schema"},
		{"label not in the schema", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return evalRequests(t, raw, 1<<20, cls, "colour")
		}, codes.InvalidArgument, "label"},
		{"regression model on classes", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			renamedCls := &table.Table{Columns: []*table.Column{cls.Columns[0], cls.Columns[1], table.NewCategorical("y", cls.Columns[2].Codes, cls.Columns[2].Dict)}}
			return evalRequests(t, regRaw, 1<<20, renamedCls, "")
		}, codes.InvalidArgument, "label"},
		{"class the model does not know", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return evalRequests(t, raw, 1<<20, unknownClass, "")
		}, codes.InvalidArgument, "batch"},
		{"missing label value", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return evalRequests(t, raw, 1<<20, missingLabel, "")
		}, codes.FailedPrecondition, ""},
		{"no rows", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return evalRequests(t, raw, 1<<20, cls.Take(nil), "")
		}, codes.InvalidArgument, "batch"},
		{"no schema", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return modelOnly(raw)
		}, codes.InvalidArgument, "schema"},
		{"batch before the schema", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			r := evalRequests(t, raw, 1<<20, cls, "")
			return append(r[:1], r[2:]...)
		}, codes.InvalidArgument, "batch"},
		{"too many rows", eval.Config{MaxRows: 10}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return evalRequests(t, raw, 1<<20, cls, "")
		}, codes.ResourceExhausted, ""},
		{"empty message", eval.Config{}, func(t *testing.T) []*evalv1.EvaluateRequest {
			return append(modelOnly(raw), &evalv1.EvaluateRequest{})
		}, codes.InvalidArgument, "part"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.cfg)
			resp, err := runEvaluate(t, c, tc.reqs(t))
			if err == nil {
				t.Fatalf("no error; answer %v", resp)
			}
			wantStatus(t, err, tc.code, tc.field)
		})
	}
}

// The predict fixture: raw columns x1, x2 (NUMERIC), colour (CATEGORICAL),
// id (dropped) and the label "band". The transform standardises x1 with
// mean 1 and scale 2 (missing -> 1), imputes x2 with 5 without scaling and
// one-hot encodes colour over red, blue (missing -> red, unseen -> zeros).
func predictTransform() *datav1.FittedTransform {
	num := datav1.ColumnType_COLUMN_TYPE_NUMERIC
	cat := datav1.ColumnType_COLUMN_TYPE_CATEGORICAL
	return &datav1.FittedTransform{
		InputSchema: &datav1.Schema{Fields: []*datav1.Field{
			{Name: "x1", Type: num}, {Name: "x2", Type: num}, {Name: "colour", Type: cat},
			{Name: "id", Type: cat}, {Name: "band", Type: cat},
		}},
		Label:      "band",
		Task:       datav1.Task_TASK_CLASSIFICATION,
		ClassNames: []string{"high", "low"},
		Columns: []*datav1.ColumnTransform{
			{Name: "x1", Type: num, Action: datav1.ColumnAction_COLUMN_ACTION_NUMERIC, ImputeNumber: 1, Scaled: true, Mean: 1, Scale: 2},
			{Name: "x2", Type: num, Action: datav1.ColumnAction_COLUMN_ACTION_NUMERIC, ImputeNumber: 5},
			{Name: "colour", Type: cat, Action: datav1.ColumnAction_COLUMN_ACTION_ONE_HOT, ImputeCategory: "red", Categories: []string{"red", "blue"}},
			{Name: "id", Type: cat, Action: datav1.ColumnAction_COLUMN_ACTION_DROP, DropReason: "id-like"},
		},
		FeatureNames: []string{"x1", "x2", "colour=red", "colour=blue"},
	}
}

// rawRow is one predict fixture row as text, with its features computed by
// hand the way the transform defines them.
type rawRow struct {
	text []string // x1, x2, colour, id
	x    []float64
}

// predictRows generates n rows, some with missing and unseen values.
func predictRows(n int, seed uint64) []rawRow {
	r := rand.New(rand.NewPCG(seed, 3))
	colours := []string{"red", "blue", "", "green"}
	rows := make([]rawRow, n)
	for i := range rows {
		x1 := r.NormFloat64()*2 + 1
		x2 := r.NormFloat64()
		colour := colours[r.IntN(len(colours))]
		t1, t2 := strconv.FormatFloat(x1, 'g', -1, 64), strconv.FormatFloat(x2, 'g', -1, 64)
		f1, f2 := (x1-1)/2, x2
		if i%7 == 3 {
			t1, f1 = "NA", 0 // imputed 1, standardised to 0
		}
		if i%11 == 5 {
			t2, f2 = "", 5
		}
		red, blue := 0.0, 0.0
		switch colour {
		case "red", "":
			red = 1
		case "blue":
			blue = 1
		}
		rows[i] = rawRow{text: []string{t1, t2, colour, fmt.Sprintf("id-%d", i)}, x: []float64{f1, f2, red, blue}}
	}
	return rows
}

// predictModel fits a model in the fixture's feature space: "high" when the
// standardised x1 plus a bonus for blue is large.
func predictModel(t testing.TB, algorithm string) (*datav1.Model, []byte) {
	t.Helper()
	rows := predictRows(400, 1)
	X := mat.NewDense(len(rows), 4, nil)
	y := make([]float64, len(rows))
	for i, r := range rows {
		X.SetRow(i, r.x)
		if r.x[0]+2*r.x[3] < 0.3 {
			y[i] = 1 // low
		}
	}
	tr := predictTransform()
	return fitMatrix(t, algorithm, &algo.Dataset{X: X, Y: y, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 2,
		FeatureNames: tr.GetFeatureNames(), ClassNames: tr.GetClassNames()}, nil)
}

// rowsMessages packs rows in messages of at most per rows, with the columns
// in the given order (a permutation of x1, x2, colour, id).
func rowsMessages(rows []rawRow, per int, order []int) []*evalv1.PredictRequest {
	names := []string{"x1", "x2", "colour", "id"}
	cols := make([]string, len(order))
	for i, j := range order {
		cols[i] = names[j]
	}
	var reqs []*evalv1.PredictRequest
	for off := 0; off < len(rows); off += per {
		rr := &datav1.RawRows{Columns: cols}
		for _, r := range rows[off:min(off+per, len(rows))] {
			vals := make([]string, len(order))
			for i, j := range order {
				vals[i] = r.text[j]
			}
			rr.Rows = append(rr.Rows, &datav1.RawRow{Values: vals})
		}
		reqs = append(reqs, &evalv1.PredictRequest{Part: &evalv1.PredictRequest_Rows{Rows: rr}})
	}
	return reqs
}

func modelReqs(raw []byte, size int) []*evalv1.PredictRequest {
	var reqs []*evalv1.PredictRequest
	for _, p := range split(raw, size) {
		reqs = append(reqs, &evalv1.PredictRequest{Part: &evalv1.PredictRequest_ModelPart{ModelPart: p}})
	}
	return reqs
}

func transformReq(tr *datav1.FittedTransform) *evalv1.PredictRequest {
	return &evalv1.PredictRequest{Part: &evalv1.PredictRequest_Transform{Transform: tr}}
}

func concat(parts ...[]*evalv1.PredictRequest) []*evalv1.PredictRequest {
	var out []*evalv1.PredictRequest
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestPredictClassification(t *testing.T) {
	c := newClient(t, eval.Config{})
	for _, algorithm := range []string{"logistic_regression", "random_forest", "knn"} {
		t.Run(algorithm, func(t *testing.T) {
			m, raw := predictModel(t, algorithm)
			rows := predictRows(60, 2)
			// Columns in another order than the schema, spread over three
			// messages, and without the label.
			reqs := concat(modelReqs(raw, 700), []*evalv1.PredictRequest{transformReq(predictTransform())},
				rowsMessages(rows, 25, []int{2, 0, 3, 1}))
			resp, err := runPredict(t, c, reqs)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(resp.GetClassNames()) != "[high low]" {
				t.Fatalf("class names %q", resp.GetClassNames())
			}
			if len(resp.GetPredictions()) != len(rows) {
				t.Fatalf("%d predictions for %d rows", len(resp.GetPredictions()), len(rows))
			}
			X := mat.NewDense(len(rows), 4, nil)
			for i, r := range rows {
				X.SetRow(i, r.x)
			}
			want, err := algo.Predict(m, X)
			if err != nil {
				t.Fatal(err)
			}
			right := 0
			for i, p := range resp.GetPredictions() {
				wantRow := mat.Row(nil, i, want)
				k := argmax(wantRow)
				if p.GetLabel() != resp.GetClassNames()[k] || p.GetValue() != float64(k) {
					t.Fatalf("row %d: label %q value %v, want %q %d", i, p.GetLabel(), p.GetValue(), resp.GetClassNames()[k], k)
				}
				if len(p.GetProbabilities()) != 2 {
					t.Fatalf("row %d: %d probabilities", i, len(p.GetProbabilities()))
				}
				sum := 0.0
				for j, v := range p.GetProbabilities() {
					if math.Abs(v-wantRow[j]) > 1e-12 {
						t.Fatalf("row %d: probabilities %v, want %v", i, p.GetProbabilities(), wantRow)
					}
					sum += v
				}
				if math.Abs(sum-1) > 1e-9 {
					t.Fatalf("row %d: probabilities sum to %v", i, sum)
				}
				truth := "high"
				if rows[i].x[0]+2*rows[i].x[3] < 0.3 {
					truth = "low"
				}
				if p.GetLabel() == truth {
					right++
				}
			}
			if acc := float64(right) / float64(len(rows)); acc < 0.85 {
				t.Fatalf("accuracy %.3f < 0.85 on the fixture rule", acc)
			}
		})
	}
}

func TestPredictRegression(t *testing.T) {
	c := newClient(t, eval.Config{})
	num := datav1.ColumnType_COLUMN_TYPE_NUMERIC
	tr := &datav1.FittedTransform{
		InputSchema: &datav1.Schema{Fields: []*datav1.Field{{Name: "f0", Type: num}, {Name: "f1", Type: num}, {Name: "y", Type: num}}},
		Label:       "y",
		Task:        datav1.Task_TASK_REGRESSION,
		Columns: []*datav1.ColumnTransform{
			{Name: "f0", Type: num, Action: datav1.ColumnAction_COLUMN_ACTION_NUMERIC},
			{Name: "f1", Type: num, Action: datav1.ColumnAction_COLUMN_ACTION_NUMERIC, ImputeNumber: 0.5},
		},
		FeatureNames: []string{"f0", "f1"},
	}
	_, raw := fitModel(t, "linear_regression", linear(200, 1), "y", nil)
	rr := &datav1.RawRows{Columns: []string{"f0", "f1"}, Rows: []*datav1.RawRow{
		{Values: []string{"0", "0"}}, {Values: []string{"1", "?"}}, {Values: []string{" -2 ", "3"}},
	}}
	resp, err := runPredict(t, c, concat(modelReqs(raw, 1<<20), []*evalv1.PredictRequest{transformReq(tr),
		{Part: &evalv1.PredictRequest_Rows{Rows: rr}}}))
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1, 3 - 1 + 1, -6 - 6 + 1} // y = 3 f0 - 2 f1 + 1
	if len(resp.GetPredictions()) != 3 || len(resp.GetClassNames()) != 0 {
		t.Fatalf("answer %v", resp)
	}
	for i, p := range resp.GetPredictions() {
		if math.Abs(p.GetValue()-want[i]) > 0.05 || p.GetLabel() != "" || len(p.GetProbabilities()) != 0 {
			t.Fatalf("row %d: %v, want value %v ± 0.05", i, p, want[i])
		}
	}
}

func TestPredictErrors(t *testing.T) {
	_, raw := predictModel(t, "logistic_regression")
	tr := predictTransform()
	rows := rowsMessages(predictRows(10, 4), 10, []int{0, 1, 2, 3})
	head := concat(modelReqs(raw, 1<<20), []*evalv1.PredictRequest{transformReq(tr)})
	rowsReq := func(cols []string, vals ...[]string) *evalv1.PredictRequest {
		rr := &datav1.RawRows{Columns: cols}
		for _, v := range vals {
			rr.Rows = append(rr.Rows, &datav1.RawRow{Values: v})
		}
		return &evalv1.PredictRequest{Part: &evalv1.PredictRequest_Rows{Rows: rr}}
	}
	badScale := proto.Clone(tr).(*datav1.FittedTransform)
	badScale.Columns[0].Scale = 0
	otherFeatures := proto.Clone(tr).(*datav1.FittedTransform)
	otherFeatures.Columns[2].Categories = []string{"red", "green"}
	otherFeatures.FeatureNames = []string{"x1", "x2", "colour=red", "colour=green"}
	notInSchema := proto.Clone(tr).(*datav1.FittedTransform)
	notInSchema.InputSchema.Fields = notInSchema.InputSchema.Fields[1:]
	noSchema := proto.Clone(tr).(*datav1.FittedTransform)
	noSchema.InputSchema = nil

	cases := []struct {
		name  string
		cfg   eval.Config
		reqs  []*evalv1.PredictRequest
		code  codes.Code
		field string
	}{
		{"no rows message", eval.Config{}, head, codes.InvalidArgument, "rows"},
		{"empty rows", eval.Config{}, concat(head, []*evalv1.PredictRequest{rowsReq([]string{"x1"})}), codes.InvalidArgument, "rows"},
		{"columns differ between messages", eval.Config{}, concat(head, rows,
			[]*evalv1.PredictRequest{rowsReq([]string{"x1", "colour", "x2", "id"}, []string{"1", "red", "2", "a"})}),
			codes.InvalidArgument, "rows.columns[1]"},
		{"column count differs between messages", eval.Config{}, concat(head, rows,
			[]*evalv1.PredictRequest{rowsReq([]string{"x1"}, []string{"1"})}),
			codes.InvalidArgument, "rows.columns"},
		{"not a number", eval.Config{}, concat(head, []*evalv1.PredictRequest{rowsReq([]string{"x1", "x2"},
			[]string{"1", "2"}, []string{"1", "two"})}), codes.InvalidArgument, "rows.rows[1].values[1]"},
		{"unknown column", eval.Config{}, concat(head, []*evalv1.PredictRequest{rowsReq([]string{"x1", "x9"},
			[]string{"1", "2"})}), codes.InvalidArgument, "rows.columns[1]"},
		{"no transform", eval.Config{}, modelReqs(raw, 1<<20), codes.InvalidArgument, "transform"},
		{"rows before the transform", eval.Config{}, concat(modelReqs(raw, 1<<20), rows), codes.InvalidArgument, "transform"},
		{"transform twice", eval.Config{}, concat(head, []*evalv1.PredictRequest{transformReq(tr)}, rows), codes.InvalidArgument, "transform"},
		{"invalid transform", eval.Config{}, concat(modelReqs(raw, 1<<20), []*evalv1.PredictRequest{transformReq(badScale)}, rows),
			codes.InvalidArgument, "transform.columns[0].scale"},
		{"transform without input schema", eval.Config{}, concat(modelReqs(raw, 1<<20), []*evalv1.PredictRequest{transformReq(noSchema)}, rows),
			codes.InvalidArgument, "transform.input_schema"},
		{"transform column not in its schema", eval.Config{}, concat(modelReqs(raw, 1<<20), []*evalv1.PredictRequest{transformReq(notInSchema)}, rows),
			codes.InvalidArgument, "transform.columns[0].name"},
		{"transform features differ from the model's", eval.Config{}, concat(modelReqs(raw, 1<<20), []*evalv1.PredictRequest{transformReq(otherFeatures)}, rows),
			codes.InvalidArgument, "transform.feature_names[3]"},
		{"corrupt model", eval.Config{}, concat(modelReqs([]byte{0x0a, 0xff, 0x01}, 1), []*evalv1.PredictRequest{transformReq(tr)}, rows),
			codes.InvalidArgument, "model_part"},
		{"no model", eval.Config{}, concat([]*evalv1.PredictRequest{transformReq(tr)}, rows), codes.InvalidArgument, "model_part"},
		{"model part after the transform", eval.Config{}, concat(head, modelReqs(raw[:1], 1), rows), codes.InvalidArgument, "model_part"},
		{"model too large", eval.Config{MaxModelBytes: 10}, concat(head, rows), codes.ResourceExhausted, ""},
		{"too many rows", eval.Config{MaxRows: 5}, concat(head, rows), codes.ResourceExhausted, ""},
		{"empty message", eval.Config{}, concat(head, []*evalv1.PredictRequest{{}}), codes.InvalidArgument, "part"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.cfg)
			resp, err := runPredict(t, c, tc.reqs)
			if err == nil {
				t.Fatalf("no error; answer %v", resp)
			}
			wantStatus(t, err, tc.code, tc.field)
		})
	}
}

// TestPredictAnswerTooLarge asks for more predictions than fit in one
// response message well under 1 MiB.
func TestPredictAnswerTooLarge(t *testing.T) {
	c := newClient(t, eval.Config{})
	_, raw := predictModel(t, "naive_bayes")
	reqs := concat(modelReqs(raw, 1<<20), []*evalv1.PredictRequest{transformReq(predictTransform())},
		rowsMessages(predictRows(40000, 5), 10000, []int{0, 1, 2, 3}))
	_, err := runPredict(t, c, reqs)
	wantStatus(t, err, codes.ResourceExhausted, "")
}

// FuzzPredict feeds arbitrary model bytes and cell texts through Predict:
// whatever arrives, the handler must answer with a precise status and
// never fail with Internal or Unknown (a panic or an unmapped error).
func FuzzPredict(f *testing.F) {
	for _, a := range []string{"logistic_regression", "random_forest", "knn", "naive_bayes", "decision_tree"} {
		_, raw := predictModel(f, a)
		f.Add(raw, "1.5", "blue", uint8(3))
		f.Add(raw[:len(raw)/2], "NA", "", uint8(1))
	}
	f.Add([]byte{}, "", "red", uint8(0))
	f.Add([]byte("\x0a\x03knn\x10\x01"), "1e308", "x", uint8(2))
	conn, stop := serverkit.NewInProcess(func(s *grpc.Server) {
		evalv1.RegisterEvalServiceServer(s, eval.NewServer(eval.Config{MaxModelBytes: 1 << 20, MaxRows: 1000}))
	})
	defer stop()
	c := evalv1.NewEvalServiceClient(conn)
	tr := predictTransform()
	f.Fuzz(func(t *testing.T, model []byte, num, colour string, nrows uint8) {
		// A proto3 string is valid UTF-8 on the wire: the client could not
		// send anything else.
		num, colour = strings.ToValidUTF8(num, "?"), strings.ToValidUTF8(colour, "?")
		rr := &datav1.RawRows{Columns: []string{"x1", "x2", "colour", "id"}}
		for i := 0; i < int(nrows%8); i++ {
			rr.Rows = append(rr.Rows, &datav1.RawRow{Values: []string{num, strconv.Itoa(i), colour, num}})
		}
		reqs := concat(modelReqs(model, max(1, len(model)/2)), []*evalv1.PredictRequest{transformReq(tr),
			{Part: &evalv1.PredictRequest_Rows{Rows: rr}}})
		resp, err := runPredict(t, c, reqs)
		switch code := status.Code(err); code {
		case codes.Internal, codes.Unknown:
			t.Fatalf("model %x rows %v: %v", model, rr, err)
		case codes.OK:
			if len(resp.GetPredictions()) != len(rr.GetRows()) {
				t.Fatalf("%d predictions for %d rows", len(resp.GetPredictions()), len(rr.GetRows()))
			}
		}
	})
}

// TestEvaluateOutputs asks for the raw outputs: they are the model's own,
// row by row, and an answer that would hold too many is refused naming
// return_outputs.
func TestEvaluateOutputs(t *testing.T) {
	c := newClient(t, eval.Config{})
	for _, tc := range []struct {
		name      string
		algorithm string
		train     *table.Table
		test      *table.Table
		label     string
		width     int
	}{
		{"classification", "logistic_regression", blobs(300, 3, 3, 1), blobs(150, 3, 3, 2), "species", 3},
		{"regression", "linear_regression", linear(200, 1), linear(100, 2), "y", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, raw := fitModel(t, tc.algorithm, tc.train, tc.label, nil)
			reqs := evalRequests(t, raw, 1<<20, tc.test, tc.label)
			reqs[len(reqs)-1].ReturnOutputs = true
			resp, err := runEvaluate(t, c, reqs)
			if err != nil {
				t.Fatal(err)
			}
			pd, err := dataprep.FromPrepared(tc.test, tc.label)
			if err != nil {
				t.Fatal(err)
			}
			want, err := algo.Predict(m, pd.X)
			if err != nil {
				t.Fatal(err)
			}
			rows := tc.test.NumRows()
			if int(resp.GetOutputWidth()) != tc.width || len(resp.GetOutputs()) != rows*tc.width {
				t.Fatalf("width %d, %d outputs; want %d and %d", resp.GetOutputWidth(), len(resp.GetOutputs()), tc.width, rows*tc.width)
			}
			for i := range rows {
				for k := range tc.width {
					if got := resp.GetOutputs()[i*tc.width+k]; got != want.At(i, k) {
						t.Fatalf("output (%d, %d) = %v, want %v", i, k, got, want.At(i, k))
					}
				}
			}
		})
	}
	// Too many rows for one answer.
	_, raw := fitModel(t, "linear_regression", linear(200, 1), "y", nil)
	reqs := evalRequests(t, raw, 1<<20, linear(eval.MaxOutputValues+1, 3), "y")
	reqs[0].ReturnOutputs = true
	_, err := runEvaluate(t, c, reqs)
	wantStatus(t, err, codes.ResourceExhausted, "")
	st, _ := status.FromError(err)
	named := false
	for _, d := range st.Details() {
		if q, ok := d.(*errdetails.QuotaFailure); ok && len(q.GetViolations()) == 1 {
			named = q.GetViolations()[0].GetSubject() == "return_outputs"
		}
	}
	if !named {
		t.Errorf("%v does not name return_outputs", err)
	}
}
