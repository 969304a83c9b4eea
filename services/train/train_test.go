package train_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/algo/ensemble" // registered for prediction only: not listed
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/train"
)

// newClient starts srv in process and returns a client for it.
func newClient(t testing.TB, srv trainv1.TrainServiceServer) trainv1.TrainServiceClient {
	t.Helper()
	conn, stop := serverkit.NewInProcess(func(s *grpc.Server) { trainv1.RegisterTrainServiceServer(s, srv) })
	t.Cleanup(stop)
	return trainv1.NewTrainServiceClient(conn)
}

// blobs returns a prepared classification table: nFeat NUMERIC features of
// Gaussian blobs around class centres 4 apart, and a CATEGORICAL label
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

// linear returns a prepared regression table: y = 3 f0 - 2 f1 + 0.5 f2 + 1
// plus small noise, label "y" last.
func linear(n int, seed uint64) *table.Table {
	r := rand.New(rand.NewPCG(seed, 2))
	f := [3][]float64{make([]float64, n), make([]float64, n), make([]float64, n)}
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		for j := range f {
			f[j][i] = r.NormFloat64()
		}
		y[i] = 3*f[0][i] - 2*f[1][i] + 0.5*f[2][i] + 1 + 0.05*r.NormFloat64()
	}
	return &table.Table{Columns: []*table.Column{
		table.NewNumeric("f0", f[0]), table.NewNumeric("f1", f[1]), table.NewNumeric("f2", f[2]),
		table.NewNumeric("y", y),
	}}
}

// tableRequests encodes t as schema and batch requests.
func tableRequests(t testing.TB, tab *table.Table) []*trainv1.TrainRequest {
	t.Helper()
	var reqs []*trainv1.TrainRequest
	err := tablepb.Send(tab, 0,
		func(s *datav1.Schema) error {
			reqs = append(reqs, &trainv1.TrainRequest{Part: &trainv1.TrainRequest_Schema{Schema: s}})
			return nil
		},
		func(b *datav1.TableBatch) error {
			reqs = append(reqs, &trainv1.TrainRequest{Part: &trainv1.TrainRequest_Batch{Batch: b}})
			return nil
		})
	if err != nil {
		t.Fatalf("encoding the table: %v", err)
	}
	return reqs
}

func configReq(c *trainv1.TrainConfig) *trainv1.TrainRequest {
	return &trainv1.TrainRequest{Part: &trainv1.TrainRequest_Config{Config: c}}
}

// trainOutcome is everything a Train stream answered.
type trainOutcome struct {
	progress []*trainv1.TrainProgress
	parts    [][]byte
	result   *trainv1.TrainResult
	err      error
	// order records the kinds in arrival order: 'p', 'm', 'r'.
	order []byte
}

// runTrain sends reqs, closes the send side and collects the answer. Send
// errors are ignored: a server that fails early ends the stream, and the
// status then comes from Recv.
func runTrain(ctx context.Context, t testing.TB, c trainv1.TrainServiceClient, reqs []*trainv1.TrainRequest) *trainOutcome {
	t.Helper()
	stream, err := c.Train(ctx)
	if err != nil {
		return &trainOutcome{err: err}
	}
	for _, r := range reqs {
		if stream.Send(r) != nil {
			break
		}
	}
	_ = stream.CloseSend()
	out := &trainOutcome{}
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			return out
		}
		if err != nil {
			out.err = err
			return out
		}
		switch p := resp.GetPart().(type) {
		case *trainv1.TrainResponse_Progress:
			out.progress = append(out.progress, p.Progress)
			out.order = append(out.order, 'p')
		case *trainv1.TrainResponse_ModelPart:
			out.parts = append(out.parts, p.ModelPart)
			out.order = append(out.order, 'm')
		case *trainv1.TrainResponse_Result:
			out.result = p.Result
			out.order = append(out.order, 'r')
		}
	}
}

// model checks the outcome's framing (progress, then parts, then result
// last; part sizes; size and digest) and returns the decoded model.
func (o *trainOutcome) model(t *testing.T) *datav1.Model {
	t.Helper()
	if o.err != nil {
		t.Fatalf("Train: %v", o.err)
	}
	if o.result == nil {
		t.Fatal("no result")
	}
	if last := o.order[len(o.order)-1]; last != 'r' {
		t.Fatalf("last message is %q, want the result", last)
	}
	seenPart := false
	for _, k := range o.order {
		switch {
		case k == 'm':
			seenPart = true
		case k == 'p' && seenPart:
			t.Fatal("progress after a model part")
		}
	}
	var raw []byte
	for i, p := range o.parts {
		if len(p) == 0 || len(p) > train.ModelPartBytes {
			t.Fatalf("part %d has %d bytes, want 1..%d", i, len(p), train.ModelPartBytes)
		}
		raw = append(raw, p...)
	}
	if int64(len(raw)) != o.result.GetModelBytes() {
		t.Fatalf("reassembled %d bytes, result says %d", len(raw), o.result.GetModelBytes())
	}
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); got != o.result.GetModelDigest() {
		t.Fatalf("digest %s, result says %s", got, o.result.GetModelDigest())
	}
	m := &datav1.Model{}
	if err := proto.Unmarshal(raw, m); err != nil {
		t.Fatalf("unmarshal model: %v", err)
	}
	return m
}

// features returns the feature matrix (all columns but the last) of tab.
func features(tab *table.Table) *mat.Dense {
	n, p := tab.NumRows(), len(tab.Columns)-1
	X := mat.NewDense(n, p, nil)
	for j := 0; j < p; j++ {
		X.SetCol(j, tab.Columns[j].Nums)
	}
	return X
}

func TestTrainEveryAlgorithm(t *testing.T) {
	c := newClient(t, train.NewServer(train.Config{}))
	cls := blobs(150, 3, 3, 7)
	reg := linear(150, 7)
	specs := algo.All()
	if len(specs) == 0 {
		t.Fatal("no algorithms registered")
	}
	for _, spec := range specs {
		for _, task := range spec.Tasks {
			t.Run(spec.Name+"/"+task.String(), func(t *testing.T) {
				tab, label := cls, "species"
				if task == datav1.Task_TASK_REGRESSION {
					tab, label = reg, "y"
				}
				reqs := append([]*trainv1.TrainRequest{configReq(&trainv1.TrainConfig{
					Algorithm: spec.Name, Label: label, Task: task, Seed: 3,
				})}, tableRequests(t, tab)...)
				out := runTrain(t.Context(), t, c, reqs)
				m := out.model(t)
				if m.GetAlgorithm() != spec.Name || m.GetTask() != task || m.GetSeed() != 3 {
					t.Fatalf("model header: algorithm %q task %v seed %d", m.GetAlgorithm(), m.GetTask(), m.GetSeed())
				}
				if len(m.GetFeatureNames()) != 3 || m.GetFeatureNames()[0] != "f0" {
					t.Fatalf("feature names %q", m.GetFeatureNames())
				}
				res := out.result
				if res.GetAlgorithm() != spec.Name || res.GetTrainRows() != 150 || res.GetFitSeconds() < 0 {
					t.Fatalf("result %v", res)
				}
				for _, p := range spec.Params {
					if v, ok := res.GetParams()[p.Name]; !ok || v != p.Default {
						t.Fatalf("result param %s = %v (present %v), want default %v", p.Name, v, ok, p.Default)
					}
				}
				if len(out.progress) == 0 || out.progress[len(out.progress)-1].GetStage() != "done" {
					t.Fatalf("progress %v: want a final \"done\"", out.progress)
				}
				// The model must work: fitted on easy data, it should score
				// well on its own training rows.
				pred, err := algo.Predict(m, features(tab))
				if err != nil {
					t.Fatalf("predict: %v", err)
				}
				if task == datav1.Task_TASK_CLASSIFICATION {
					right := 0
					for i := 0; i < tab.NumRows(); i++ {
						if argmax(mat.Row(nil, i, pred)) == int(tab.Columns[3].Codes[i]) {
							right++
						}
					}
					if acc := float64(right) / float64(tab.NumRows()); acc < 0.85 {
						t.Fatalf("training accuracy %.3f < 0.85", acc)
					}
				} else {
					y := tab.Columns[3].Nums
					var ssRes, ssTot, mean float64
					for _, v := range y {
						mean += v / float64(len(y))
					}
					for i, v := range y {
						ssRes += (v - pred.At(i, 0)) * (v - pred.At(i, 0))
						ssTot += (v - mean) * (v - mean)
					}
					if r2 := 1 - ssRes/ssTot; r2 < 0.7 {
						t.Fatalf("training R² %.3f < 0.7", r2)
					}
				}
			})
		}
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

// TestTrainModelInParts trains a k-NN model, which stores its training rows,
// on enough rows that the model needs several parts.
func TestTrainModelInParts(t *testing.T) {
	c := newClient(t, train.NewServer(train.Config{}))
	tab := blobs(30000, 4, 2, 11)
	reqs := append([]*trainv1.TrainRequest{configReq(&trainv1.TrainConfig{Algorithm: "knn", Label: "species"})},
		tableRequests(t, tab)...)
	out := runTrain(t.Context(), t, c, reqs)
	m := out.model(t)
	if len(out.parts) < 2 {
		t.Fatalf("%d model parts for %d bytes, want several", len(out.parts), out.result.GetModelBytes())
	}
	if got := len(m.GetKnn().GetTargets()); got != 30000 {
		t.Fatalf("knn model holds %d targets, want 30000", got)
	}
}

func TestTrainProgressRandomForest(t *testing.T) {
	c := newClient(t, train.NewServer(train.Config{}))
	reqs := append([]*trainv1.TrainRequest{configReq(&trainv1.TrainConfig{
		Algorithm: "random_forest", Label: "species", Params: map[string]float64{"n_estimators": 30},
	})}, tableRequests(t, blobs(300, 4, 3, 5))...)
	out := runTrain(t.Context(), t, c, reqs)
	m := out.model(t)
	if got := len(m.GetForest().GetTrees()); got != 30 {
		t.Fatalf("%d trees, want 30", got)
	}
	var fitting []*trainv1.TrainProgress
	for _, p := range out.progress {
		if p.GetStage() == "fitting" {
			fitting = append(fitting, p)
		}
	}
	if len(fitting) == 0 {
		t.Fatalf("no fitting progress among %v", out.progress)
	}
	last := fitting[len(fitting)-1]
	if last.GetTotal() != 30 || last.GetDone() != 30 {
		t.Fatalf("last fitting progress %d/%d, want 30/30", last.GetDone(), last.GetTotal())
	}
	for i := 1; i < len(fitting); i++ {
		if fitting[i].GetDone() < fitting[i-1].GetDone() {
			t.Fatalf("progress went backwards: %v", fitting)
		}
	}
}

// statusOf returns err's code and BadRequest field names.
func statusOf(err error) (codes.Code, []string) {
	return status.Code(err), serverkit.FieldViolations(err)
}

func TestTrainBadRequests(t *testing.T) {
	cls := blobs(40, 2, 2, 1)
	reg := linear(40, 1)
	clsReqs := func(t *testing.T) []*trainv1.TrainRequest { return tableRequests(t, cls) }
	withConfig := func(c *trainv1.TrainConfig, rest []*trainv1.TrainRequest) []*trainv1.TrainRequest {
		return append([]*trainv1.TrainRequest{configReq(c)}, rest...)
	}
	catFeature := &table.Table{Columns: []*table.Column{
		table.NewCategorical("colour", []int32{0, 1, 0, 1}, []string{"red", "blue"}),
		table.NewCategorical("species", []int32{0, 1, 1, 0}, []string{"a", "b"}),
	}}
	oneClass := &table.Table{Columns: []*table.Column{
		table.NewNumeric("f0", []float64{1, 2, 3}),
		table.NewCategorical("species", []int32{0, 0, 0}, []string{"a"}),
	}}
	cases := []struct {
		name   string
		cfg    train.Config
		reqs   func(t *testing.T) []*trainv1.TrainRequest
		code   codes.Code
		fields []string
	}{
		{"empty stream", train.Config{},
			func(*testing.T) []*trainv1.TrainRequest { return nil },
			codes.InvalidArgument, []string{"config"}},
		{"schema before config", train.Config{},
			clsReqs, codes.InvalidArgument, []string{"config"}},
		{"no algorithm", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Label: "species"}, clsReqs(t))
			}, codes.InvalidArgument, []string{"config.algorithm"}},
		{"unknown algorithm", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "deep_magic", Label: "species"}, clsReqs(t))
			}, codes.InvalidArgument, []string{"config.algorithm"}},
		{"naive bayes on regression", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "naive_bayes", Label: "y", Task: datav1.Task_TASK_REGRESSION}, tableRequests(t, reg))
			}, codes.InvalidArgument, []string{"config.task"}},
		{"naive bayes on a numeric label, task inferred", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "naive_bayes", Label: "y"}, tableRequests(t, reg))
			}, codes.InvalidArgument, []string{"config.algorithm"}},
		{"unknown task value", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "knn", Label: "species", Task: 9}, clsReqs(t))
			}, codes.InvalidArgument, []string{"config.task"}},
		{"task disagrees with the label", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "knn", Label: "species", Task: datav1.Task_TASK_REGRESSION}, clsReqs(t))
			}, codes.InvalidArgument, []string{"config.task"}},
		{"negative param", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "random_forest", Label: "species",
					Params: map[string]float64{"n_estimators": -1}}, clsReqs(t))
			}, codes.InvalidArgument, []string{`config.params["n_estimators"]`}},
		{"fractional integer param", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "knn", Label: "species",
					Params: map[string]float64{"k": 2.5}}, clsReqs(t))
			}, codes.InvalidArgument, []string{`config.params["k"]`}},
		{"boosting beyond the leaf budget", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "gradient_boosting", Label: "species",
					Params: map[string]float64{"max_iter": 100000, "max_leaf_nodes": 65536}}, clsReqs(t))
			}, codes.InvalidArgument, []string{`config.params["max_iter"]`}},
		{"k-NN with k above the rows", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "knn", Label: "species",
					Params: map[string]float64{"k": 10000}}, clsReqs(t))
			}, codes.InvalidArgument, []string{`config.params["k"]`}},
		{"unknown param", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "logistic_regression", Label: "species",
					Params: map[string]float64{"gamma": 1}}, clsReqs(t))
			}, codes.InvalidArgument, []string{`config.params["gamma"]`}},
		{"missing label", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "knn"}, clsReqs(t))
			}, codes.InvalidArgument, []string{"config.label"}},
		{"label not in schema", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "knn", Label: "colour"}, clsReqs(t))
			}, codes.InvalidArgument, []string{"config.label"}},
		{"config twice", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				c := &trainv1.TrainConfig{Algorithm: "knn", Label: "species"}
				return withConfig(c, append([]*trainv1.TrainRequest{configReq(c)}, clsReqs(t)...))
			}, codes.InvalidArgument, []string{"config"}},
		{"batch before schema", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "knn", Label: "species"}, clsReqs(t)[1:])
			}, codes.InvalidArgument, []string{"batch"}},
		{"no schema", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "knn", Label: "species"}, nil)
			}, codes.InvalidArgument, []string{"schema"}},
		{"non-numeric feature", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "knn", Label: "species"}, tableRequests(t, catFeature))
			}, codes.InvalidArgument, []string{"schema.fields[0].type"}},
		{"empty message", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "knn", Label: "species"}, []*trainv1.TrainRequest{{}})
			}, codes.InvalidArgument, []string{"part"}},
		{"no rows", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "knn", Label: "species"}, tableRequests(t, cls.Take(nil)))
			}, codes.FailedPrecondition, nil},
		{"one class only", train.Config{},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "knn", Label: "species"}, tableRequests(t, oneClass))
			}, codes.FailedPrecondition, nil},
		{"too many rows", train.Config{MaxRows: 10},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "knn", Label: "species"}, clsReqs(t))
			}, codes.ResourceExhausted, nil},
		{"too many columns", train.Config{MaxColumns: 2},
			func(t *testing.T) []*trainv1.TrainRequest {
				return withConfig(&trainv1.TrainConfig{Algorithm: "knn", Label: "species"}, clsReqs(t))
			}, codes.ResourceExhausted, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, train.NewServer(tc.cfg))
			out := runTrain(t.Context(), t, c, tc.reqs(t))
			code, fields := statusOf(out.err)
			if code != tc.code {
				t.Fatalf("code %v (%v), want %v", code, out.err, tc.code)
			}
			if tc.fields != nil && fmt.Sprint(fields) != fmt.Sprint(tc.fields) {
				t.Fatalf("fields %q (%v), want %q", fields, out.err, tc.fields)
			}
			if len(out.parts) != 0 || out.result != nil {
				t.Fatal("a failed stream sent a model")
			}
		})
	}
}

// watched wraps a Server to report when its Train handler returns.
type watched struct {
	*train.Server
	returned chan error
}

func (w *watched) Train(stream grpc.BidiStreamingServer[trainv1.TrainRequest, trainv1.TrainResponse]) error {
	err := w.Server.Train(stream)
	w.returned <- err
	return err
}

// waitReturn waits for the handler to return. The bound only guards
// against a hang; it is not a timing assertion.
func waitReturn(t *testing.T, w *watched) error {
	t.Helper()
	select {
	case err := <-w.returned:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("the handler did not return after the client cancelled")
		return nil
	}
}

func TestTrainCancel(t *testing.T) {
	t.Run("while receiving", func(t *testing.T) {
		w := &watched{Server: train.NewServer(train.Config{}), returned: make(chan error, 1)}
		c := newClient(t, w)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		stream, err := c.Train(ctx)
		if err != nil {
			t.Fatal(err)
		}
		reqs := append([]*trainv1.TrainRequest{configReq(&trainv1.TrainConfig{Algorithm: "knn", Label: "species"})},
			tableRequests(t, blobs(50, 2, 2, 1))[:1]...)
		for _, r := range reqs {
			if err := stream.Send(r); err != nil {
				t.Fatal(err)
			}
		}
		// The "loading" progress shows the handler is waiting for rows.
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := waitReturn(t, w); status.Code(err) != codes.Canceled {
			t.Fatalf("handler returned %v, want Canceled", err)
		}
	})
	t.Run("while fitting", func(t *testing.T) {
		w := &watched{Server: train.NewServer(train.Config{}), returned: make(chan error, 1)}
		c := newClient(t, w)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		stream, err := c.Train(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Far more trees than the test will wait for.
		reqs := append([]*trainv1.TrainRequest{configReq(&trainv1.TrainConfig{
			Algorithm: "random_forest", Label: "species", Params: map[string]float64{"n_estimators": 10000},
		})}, tableRequests(t, blobs(2000, 4, 3, 2))...)
		for _, r := range reqs {
			if err := stream.Send(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		for {
			resp, err := stream.Recv()
			if err != nil {
				t.Fatalf("stream ended before fitting began: %v", err)
			}
			if resp.GetProgress().GetStage() == "fitting" {
				break
			}
		}
		cancel()
		err = waitReturn(t, w)
		if status.Code(err) != codes.Canceled {
			t.Fatalf("handler returned %v, want Canceled", err)
		}
		if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
			t.Fatalf("client sees %v, want Canceled", err)
		}
	})
}

// TestListAlgorithms: train lists every algorithm it can fit, with its
// parameters, and leaves out one registered for prediction alone (the
// ensemble, which a binary may link beside train).
func TestListAlgorithms(t *testing.T) {
	c := newClient(t, train.NewServer(train.Config{}))
	resp, err := c.ListAlgorithms(t.Context(), &trainv1.ListAlgorithmsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := algo.Lookup(ensemble.Name); !ok {
		t.Fatalf("%s is not registered", ensemble.Name)
	}
	var specs []*algo.Spec
	for _, s := range algo.All() {
		if len(s.Tasks) > 0 {
			specs = append(specs, s)
		}
	}
	if len(resp.GetAlgorithms()) != len(specs) {
		t.Fatalf("%d algorithms, want %d", len(resp.GetAlgorithms()), len(specs))
	}
	want := map[string]bool{}
	for _, s := range specs {
		want[s.Name] = true
	}
	for _, name := range []string{"logistic_regression", "linear_regression", "ridge", "knn", "naive_bayes", "decision_tree", "random_forest"} {
		if !want[name] {
			t.Errorf("algorithm %s is not registered", name)
		}
	}
	for i, info := range resp.GetAlgorithms() {
		s := specs[i]
		if info.GetName() != s.Name || info.GetDescription() != s.Description || len(info.GetTasks()) != len(s.Tasks) {
			t.Fatalf("algorithm %d: %v, want %s", i, info, s.Name)
		}
		if len(info.GetParams()) != len(s.Params) {
			t.Fatalf("%s: %d params, want %d", s.Name, len(info.GetParams()), len(s.Params))
		}
		for j, p := range info.GetParams() {
			sp := s.Params[j]
			if p.GetName() != sp.Name || p.GetDefaultValue() != sp.Default || p.GetMin() != sp.Min ||
				p.GetMax() != sp.Max || p.GetInteger() != sp.Whole() || p.GetDescription() != sp.Description ||
				p.GetType().String() != "PARAM_TYPE_"+strings.ToUpper(sp.Type.String()) || !slices.Equal(p.GetTasks(), sp.Tasks) {
				t.Fatalf("%s param %d: %v, want %+v", s.Name, j, p, sp)
			}
		}
	}
}

// TestTrainDeterministic checks that the same seed gives the same model
// bytes, which the orchestrator's cache relies on.
func TestTrainDeterministic(t *testing.T) {
	c := newClient(t, train.NewServer(train.Config{}))
	reqs := func() []*trainv1.TrainRequest {
		return append([]*trainv1.TrainRequest{configReq(&trainv1.TrainConfig{
			Algorithm: "random_forest", Label: "species", Seed: 42, Params: map[string]float64{"n_estimators": 10},
		})}, tableRequests(t, blobs(200, 3, 3, 9))...)
	}
	a := runTrain(t.Context(), t, c, reqs())
	b := runTrain(t.Context(), t, c, reqs())
	a.model(t)
	b.model(t)
	if a.result.GetModelDigest() != b.result.GetModelDigest() {
		t.Fatalf("digests differ: %s vs %s", a.result.GetModelDigest(), b.result.GetModelDigest())
	}
}

// FuzzTrainConfig sends arbitrary configs ahead of a small valid table: the
// handler must answer with a precise status, never Internal or Unknown.
func FuzzTrainConfig(f *testing.F) {
	f.Add("knn", "species", int32(0), "k", 3.0, int64(1))
	f.Add("random_forest", "species", int32(1), "n_estimators", -4.0, int64(0))
	f.Add("ridge", "f0", int32(2), "alpha", math.Inf(1), int64(7))
	f.Add("", "", int32(99), "", math.NaN(), int64(-1))
	conn, stop := serverkit.NewInProcess(func(s *grpc.Server) {
		trainv1.RegisterTrainServiceServer(s, train.NewServer(train.Config{}))
	})
	defer stop()
	c := trainv1.NewTrainServiceClient(conn)
	rest := tableRequests(f, blobs(30, 2, 2, 4))
	f.Fuzz(func(t *testing.T, algorithm, label string, task int32, param string, value float64, seed int64) {
		// A proto3 string is valid UTF-8 on the wire: the client could not
		// send anything else.
		algorithm, label, param = strings.ToValidUTF8(algorithm, "?"), strings.ToValidUTF8(label, "?"), strings.ToValidUTF8(param, "?")
		cfg := &trainv1.TrainConfig{Algorithm: algorithm, Label: label, Task: datav1.Task(task), Seed: seed}
		if param != "" {
			cfg.Params = map[string]float64{param: value}
		}
		if algorithm == "random_forest" || algorithm == "extra_trees" || algorithm == "decision_tree" {
			// Keep each case fast: cap the work a fuzzed config can ask for.
			if v, ok := cfg.Params["n_estimators"]; ok && v > 20 {
				cfg.Params["n_estimators"] = 20
			}
		}
		out := runTrain(t.Context(), t, c, append([]*trainv1.TrainRequest{configReq(cfg)}, rest...))
		switch code := status.Code(out.err); code {
		case codes.Internal, codes.Unknown:
			t.Fatalf("config %v: %v", cfg, out.err)
		case codes.OK:
			if out.result == nil {
				t.Fatalf("config %v: OK without a result", cfg)
			}
		}
	})
}
