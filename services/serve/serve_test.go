package serve

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	"github.com/alur-ml/alur/proto/inference"
	"github.com/alur-ml/alur/serverkit"
)

// trainingTable is a small deterministic table: a number, a category, a
// boolean, and a label that depends on all three.
func trainingTable() *table.Table {
	const n = 60
	x := make([]float64, n)
	flag := make([]float64, n)
	color := make([]int32, n)
	label := make([]int32, n)
	for i := range n {
		x[i] = float64(i%17) - 8
		flag[i] = float64(i % 2)
		color[i] = int32(i % 3)
		if x[i]+4*flag[i]-3*float64(color[i]) > -2 {
			label[i] = 1
		}
	}
	return &table.Table{Columns: []*table.Column{
		table.NewNumeric("x", x),
		table.NewCategorical("color", color, []string{"red", "green", "blue"}),
		{Name: "flag", Type: datav1.ColumnType_COLUMN_TYPE_BOOLEAN, Nums: flag},
		table.NewCategorical("y", label, []string{"no", "yes"}),
	}}
}

// fitVersion fits the transform and the named algorithm on trainingTable.
func fitVersion(t testing.TB, algorithm string) (*datav1.FittedTransform, *datav1.Model) {
	t.Helper()
	tab := trainingTable()
	tr, err := dataprep.Fit(tab, nil, &prepv1.PrepareOptions{Label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	X, y, err := dataprep.ApplyWithLabel(tr, tab)
	if err != nil {
		t.Fatal(err)
	}
	m, err := algo.Fit(context.Background(), algorithm, &algo.Dataset{
		X: X, Y: y, Task: datav1.Task_TASK_CLASSIFICATION, NumClasses: 2, FeatureNames: tr.GetFeatureNames(), ClassNames: tr.GetClassNames(),
	}, nil, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr, m
}

// pair is a fitted transform and its model.
type pair struct {
	tr *datav1.FittedTransform
	m  *datav1.Model
}

func must(tr *datav1.FittedTransform, m *datav1.Model) pair { return pair{tr, m} }

// fakeRegistry is the orchestrator's registry as serve sees it: GetModel
// and GetArtifact over versions held in memory.
type fakeRegistry struct {
	orchestratorv1.UnimplementedOrchestratorServiceServer
	mu        sync.Mutex
	artifacts map[string][]byte
	versions  map[int64]*orchestratorv1.ModelVersion
	aliases   map[string]int64
	getModels int
	// down makes every call answer UNAVAILABLE, as an unreachable
	// orchestrator does.
	down bool
}

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{artifacts: map[string][]byte{}, versions: map[int64]*orchestratorv1.ModelVersion{}, aliases: map[string]int64{}}
}

func (f *fakeRegistry) put(b []byte) string {
	sum := sha256.Sum256(b)
	d := hex.EncodeToString(sum[:])
	f.artifacts[d] = b
	return d
}

// add registers a version of model "churn".
func (f *fakeRegistry) add(t *testing.T, v pair) int64 {
	t.Helper()
	tr, m := v.tr, v.m
	mb, _ := proto.Marshal(m)
	tb, _ := proto.Marshal(tr)
	f.mu.Lock()
	defer f.mu.Unlock()
	n := int64(len(f.versions) + 1)
	f.versions[n] = &orchestratorv1.ModelVersion{Name: "churn", Version: n, ModelDigest: f.put(mb), TransformDigest: f.put(tb), ModelSize: int64(len(mb)), Algorithm: m.GetAlgorithm()}
	return n
}

func (f *fakeRegistry) alias(name string, v int64) {
	f.mu.Lock()
	f.aliases[name] = v
	f.mu.Unlock()
}

func (f *fakeRegistry) GetModel(_ context.Context, req *orchestratorv1.GetModelRequest) (*orchestratorv1.GetModelResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.getModels++
	if f.down {
		return nil, status.Error(codes.Unavailable, "connection refused")
	}
	name, sel, _ := strings.Cut(req.GetRef(), "@")
	if name != "churn" {
		return nil, status.Errorf(codes.NotFound, "model %q not found", name)
	}
	var v int64
	switch {
	case sel == "":
		v = int64(len(f.versions))
	case sel[0] >= '0' && sel[0] <= '9':
		fmt.Sscan(sel, &v)
	default:
		if v = f.aliases[sel]; v == 0 {
			return nil, status.Errorf(codes.NotFound, "model %q has no alias %q", name, sel)
		}
	}
	mv, ok := f.versions[v]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "model %q has no version %d", name, v)
	}
	return &orchestratorv1.GetModelResponse{Version: mv}, nil
}

func (f *fakeRegistry) GetArtifact(req *orchestratorv1.GetArtifactRequest, stream grpc.ServerStreamingServer[orchestratorv1.GetArtifactResponse]) error {
	f.mu.Lock()
	b, ok := f.artifacts[req.GetDigest()]
	f.mu.Unlock()
	if !ok {
		return status.Errorf(codes.NotFound, "artifact %s", req.GetDigest())
	}
	if err := stream.Send(&orchestratorv1.GetArtifactResponse{Part: &orchestratorv1.GetArtifactResponse_Artifact{Artifact: &orchestratorv1.Artifact{Digest: req.GetDigest(), Size: int64(len(b))}}}); err != nil {
		return err
	}
	for len(b) > 0 {
		n := min(len(b), 1000)
		if err := stream.Send(&orchestratorv1.GetArtifactResponse{Part: &orchestratorv1.GetArtifactResponse_Chunk{Chunk: b[:n]}}); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// setup serves a fake registry holding a logistic regression (version 1)
// and a decision tree (version 2), with "production" on version 1, and a
// serving stage reading it, both over bufconn.
func setup(t *testing.T, cfg Config) (*fakeRegistry, *Server, inference.GRPCInferenceServiceClient) {
	t.Helper()
	reg := newFakeRegistry()
	reg.add(t, must(fitVersion(t, "logistic_regression")))
	reg.add(t, must(fitVersion(t, "decision_tree")))
	reg.alias("production", 1)
	rconn, stopReg := serverkit.NewInProcess(func(g *grpc.Server) { orchestratorv1.RegisterOrchestratorServiceServer(g, reg) })
	t.Cleanup(stopReg)
	cfg.Registry = orchestratorv1.NewOrchestratorServiceClient(rconn)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn, stop := serverkit.NewInProcess(srv.Register)
	t.Cleanup(stop)
	return reg, srv, inference.NewGRPCInferenceServiceClient(conn)
}

// rows is a request for three rows.
func rows(name, version string) *inference.ModelInferRequest {
	return &inference.ModelInferRequest{ModelName: name, ModelVersion: version, Id: "req-1", Inputs: []*inference.ModelInferRequest_InferInputTensor{
		{Name: "x", Datatype: "FP64", Shape: []int64{3}, Contents: &inference.InferTensorContents{Fp64Contents: []float64{-7, 0, 6}}},
		{Name: "color", Datatype: "BYTES", Shape: []int64{3, 1}, Contents: &inference.InferTensorContents{BytesContents: [][]byte{[]byte("blue"), []byte("red"), []byte("purple")}}},
		{Name: "flag", Datatype: "BOOL", Shape: []int64{3}, Contents: &inference.InferTensorContents{BoolContents: []bool{false, true, true}}},
	}}
}

// expected predicts the same three rows in process.
func expected(t *testing.T, algorithm string) ([]string, []float64) {
	t.Helper()
	tr, m := fitVersion(t, algorithm)
	tab := &table.Table{Columns: []*table.Column{
		table.NewNumeric("x", []float64{-7, 0, 6}),
		table.NewCategorical("color", []int32{0, 1, 2}, []string{"blue", "red", "purple"}),
		{Name: "flag", Type: datav1.ColumnType_COLUMN_TYPE_BOOLEAN, Nums: []float64{0, 1, 1}},
	}}
	X, err := dataprep.ApplyFeatures(tr, tab)
	if err != nil {
		t.Fatal(err)
	}
	out, err := algo.Predict(m, X)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	var probs []float64
	for i := range 3 {
		row := out.RawRowView(i)
		best := 0
		for j := range row {
			if row[j] > row[best] {
				best = j
			}
		}
		labels = append(labels, m.GetClassNames()[best])
		probs = append(probs, row...)
	}
	return labels, probs
}

func labelsOf(resp *inference.ModelInferResponse) []string {
	var out []string
	for _, b := range resp.GetOutputs()[0].GetContents().GetBytesContents() {
		out = append(out, string(b))
	}
	return out
}

func TestInferByNameVersionAlias(t *testing.T) {
	_, _, client := setup(t, Config{})
	ctx := context.Background()
	lrLabels, lrProbs := expected(t, "logistic_regression")
	treeLabels, treeProbs := expected(t, "decision_tree")
	tests := []struct {
		name, version string
		wantVersion   string
		wantLabels    []string
		wantProbs     []float64
	}{
		{"churn", "", "2", treeLabels, treeProbs},
		{"churn", "1", "1", lrLabels, lrProbs},
		{"churn", "production", "1", lrLabels, lrProbs},
		{"churn@production", "", "1", lrLabels, lrProbs},
		{"churn@2", "2", "2", treeLabels, treeProbs},
		{"churn", "latest", "2", treeLabels, treeProbs},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/"+tc.version, func(t *testing.T) {
			resp, err := client.ModelInfer(ctx, rows(tc.name, tc.version))
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetModelName() != "churn" || resp.GetModelVersion() != tc.wantVersion || resp.GetId() != "req-1" {
				t.Fatalf("answered by %s@%s id %q, want churn@%s req-1", resp.GetModelName(), resp.GetModelVersion(), resp.GetId(), tc.wantVersion)
			}
			if got := labelsOf(resp); fmt.Sprint(got) != fmt.Sprint(tc.wantLabels) {
				t.Fatalf("labels %v, want %v", got, tc.wantLabels)
			}
			p := resp.GetOutputs()[1]
			if p.GetName() != "probabilities" || fmt.Sprint(p.GetShape()) != "[3 2]" || fmt.Sprint(p.GetContents().GetFp64Contents()) != fmt.Sprint(tc.wantProbs) {
				t.Fatalf("probabilities %v %v, want [3 2] %v", p.GetShape(), p.GetContents().GetFp64Contents(), tc.wantProbs)
			}
		})
	}
	meta, err := client.ModelMetadata(ctx, &inference.ModelMetadataRequest{Name: "churn", Version: "production"})
	if err != nil {
		t.Fatal(err)
	}
	var ins []string
	for _, in := range meta.GetInputs() {
		ins = append(ins, in.GetName()+":"+in.GetDatatype())
	}
	if fmt.Sprint(ins) != "[x:FP64 color:BYTES flag:BOOL]" || meta.GetVersions()[0] != "1" || len(meta.GetOutputs()) != 2 {
		t.Fatalf("metadata: %v", meta)
	}
	if r, err := client.ModelReady(ctx, &inference.ModelReadyRequest{Name: "churn"}); err != nil || !r.GetReady() {
		t.Fatalf("ModelReady: %v %v", r, err)
	}
	if r, err := client.ServerReady(ctx, &inference.ServerReadyRequest{}); err != nil || !r.GetReady() {
		t.Fatalf("ServerReady: %v %v", r, err)
	}
	if r, err := client.ServerLive(ctx, &inference.ServerLiveRequest{}); err != nil || !r.GetLive() {
		t.Fatalf("ServerLive: %v %v", r, err)
	}
	if r, err := client.ServerMetadata(ctx, &inference.ServerMetadataRequest{}); err != nil || r.GetName() != ServerName {
		t.Fatalf("ServerMetadata: %v %v", r, err)
	}
}

func TestInferOutputsAndRawContents(t *testing.T) {
	_, _, client := setup(t, Config{})
	ctx := context.Background()
	req := rows("churn", "1")
	req.Outputs = []*inference.ModelInferRequest_InferRequestedOutputTensor{{Name: "label"}}
	resp, err := client.ModelInfer(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	wantLabels, wantProbs := expected(t, "logistic_regression")
	if len(resp.GetOutputs()) != 1 || fmt.Sprint(labelsOf(resp)) != fmt.Sprint(wantLabels) {
		t.Fatalf("only label asked for: %v", resp.GetOutputs())
	}

	// The same rows as raw little-endian bytes; the answer comes raw too.
	raw := rows("churn", "1")
	var x, color, flag []byte
	for i, in := range raw.GetInputs() {
		c := in.GetContents()
		switch i {
		case 0:
			for _, v := range c.GetFp64Contents() {
				x = binary.LittleEndian.AppendUint64(x, math.Float64bits(v))
			}
		case 1:
			for _, v := range c.GetBytesContents() {
				color = binary.LittleEndian.AppendUint32(color, uint32(len(v)))
				color = append(color, v...)
			}
		case 2:
			for _, v := range c.GetBoolContents() {
				flag = append(flag, map[bool]byte{false: 0, true: 1}[v])
			}
		}
		in.Contents = nil
	}
	raw.RawInputContents = [][]byte{x, color, flag}
	resp, err = client.ModelInfer(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetRawOutputContents()) != 2 {
		t.Fatalf("%d raw outputs, want 2", len(resp.GetRawOutputContents()))
	}
	labels, err := splitRawBytes(resp.GetRawOutputContents()[0])
	if err != nil || len(labels) != 3 || string(labels[0]) != wantLabels[0] {
		t.Fatalf("raw labels %q: %v", labels, err)
	}
	pb := resp.GetRawOutputContents()[1]
	for i, want := range wantProbs {
		if got := math.Float64frombits(binary.LittleEndian.Uint64(pb[8*i:])); got != want {
			t.Fatalf("raw probability %d = %g, want %g", i, got, want)
		}
	}
}

func TestInferRefusesBadInput(t *testing.T) {
	_, _, client := setup(t, Config{MaxRows: 10})
	ctx := context.Background()
	tests := []struct {
		name    string
		edit    func(r *inference.ModelInferRequest)
		code    codes.Code
		mention string
	}{
		{"missing column", func(r *inference.ModelInferRequest) { r.Inputs = r.Inputs[:2] }, codes.InvalidArgument, `"flag"`},
		{"unknown column", func(r *inference.ModelInferRequest) { r.Inputs[2].Name = "flags" }, codes.InvalidArgument, `"flags"`},
		{"repeated column", func(r *inference.ModelInferRequest) { r.Inputs[2] = r.Inputs[0] }, codes.InvalidArgument, `"x"`},
		{"number as bytes", func(r *inference.ModelInferRequest) {
			r.Inputs[0].Datatype = "BYTES"
		}, codes.InvalidArgument, `"x"`},
		{"category as number", func(r *inference.ModelInferRequest) { r.Inputs[1].Datatype = "FP64" }, codes.InvalidArgument, `"color"`},
		{"matrix shape", func(r *inference.ModelInferRequest) { r.Inputs[0].Shape = []int64{1, 3} }, codes.InvalidArgument, `"x"`},
		{"no shape", func(r *inference.ModelInferRequest) { r.Inputs[0].Shape = nil }, codes.InvalidArgument, `"x"`},
		{"rows differ", func(r *inference.ModelInferRequest) { r.Inputs[2].Shape = []int64{2} }, codes.InvalidArgument, `"flag"`},
		{"count differs from shape", func(r *inference.ModelInferRequest) {
			r.Inputs[0].Contents.Fp64Contents = r.Inputs[0].Contents.Fp64Contents[:2]
		}, codes.InvalidArgument, `"x"`},
		{"infinite value", func(r *inference.ModelInferRequest) { r.Inputs[0].Contents.Fp64Contents[1] = math.Inf(1) }, codes.InvalidArgument, `"x"`},
		{"boolean out of range", func(r *inference.ModelInferRequest) {
			r.Inputs[2] = &inference.ModelInferRequest_InferInputTensor{Name: "flag", Datatype: "INT64", Shape: []int64{3}, Contents: &inference.InferTensorContents{Int64Contents: []int64{0, 2, 1}}}
		}, codes.InvalidArgument, `"flag"`},
		{"too many rows", func(r *inference.ModelInferRequest) { r.Inputs[0].Shape = []int64{11} }, codes.ResourceExhausted, "max_rows"},
		{"unknown output", func(r *inference.ModelInferRequest) {
			r.Outputs = []*inference.ModelInferRequest_InferRequestedOutputTensor{{Name: "prediction"}}
		}, codes.InvalidArgument, `"prediction"`},
		{"raw count", func(r *inference.ModelInferRequest) { r.RawInputContents = [][]byte{{1}} }, codes.InvalidArgument, "raw_input_contents"},
		{"unknown model", func(r *inference.ModelInferRequest) { r.ModelName = "nope" }, codes.NotFound, "nope"},
		{"unknown version", func(r *inference.ModelInferRequest) { r.ModelVersion = "9" }, codes.NotFound, "9"},
		{"unknown alias", func(r *inference.ModelInferRequest) { r.ModelVersion = "staging" }, codes.NotFound, "staging"},
		{"bad version", func(r *inference.ModelInferRequest) { r.ModelVersion = "0" }, codes.InvalidArgument, "model_version"},
		{"no model", func(r *inference.ModelInferRequest) { r.ModelName = "" }, codes.InvalidArgument, "model_name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := rows("churn", "1")
			tc.edit(req)
			_, err := client.ModelInfer(ctx, req)
			if status.Code(err) != tc.code {
				t.Fatalf("%v, want %v", err, tc.code)
			}
			if msg := status.Convert(err).Message(); !strings.Contains(msg, tc.mention) {
				t.Fatalf("message %q does not name %s", msg, tc.mention)
			}
		})
	}
}

func TestMaxModelBytesRefusedAtLoad(t *testing.T) {
	_, _, client := setup(t, Config{MaxModelBytes: 100})
	_, err := client.ModelInfer(context.Background(), rows("churn", "1"))
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), "max-model-bytes limit of 100") {
		t.Fatalf("%v, want ResourceExhausted naming the 100-byte limit", err)
	}
}

// TestAliasMovePickedUp moves the alias between calls and while calls are
// in flight: every answer comes from one of the two versions, and once the
// move is done the alias's new version answers.
func TestAliasMovePickedUp(t *testing.T) {
	// A TTL of a nanosecond re-resolves the alias on every call.
	reg, srv, client := setup(t, Config{AliasTTL: time.Nanosecond})
	ctx := context.Background()
	resp, err := client.ModelInfer(ctx, rows("churn", "production"))
	if err != nil || resp.GetModelVersion() != "1" {
		t.Fatalf("before the move: %v %v", resp.GetModelVersion(), err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				if w == 0 {
					reg.alias("production", int64(1+i%2))
				}
				resp, err := client.ModelInfer(ctx, rows("churn", "production"))
				if err != nil {
					errs <- err
					return
				}
				if v := resp.GetModelVersion(); v != "1" && v != "2" {
					errs <- fmt.Errorf("answered by version %q", v)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	reg.alias("production", 2)
	resp, err = client.ModelInfer(ctx, rows("churn", "production"))
	if err != nil || resp.GetModelVersion() != "2" {
		t.Fatalf("after the move: %v %v", resp.GetModelVersion(), err)
	}
	// Each version was loaded once, whatever the number of calls.
	if got := srv.Loaded(); len(got) != 2 {
		t.Fatalf("loaded %v, want both versions once", got)
	}
}

// TestAliasCachedWithinTTL checks a long TTL keeps answering from memory.
func TestAliasCachedWithinTTL(t *testing.T) {
	reg, _, client := setup(t, Config{AliasTTL: time.Hour})
	ctx := context.Background()
	for range 5 {
		if _, err := client.ModelInfer(ctx, rows("churn", "production")); err != nil {
			t.Fatal(err)
		}
	}
	reg.mu.Lock()
	calls := reg.getModels
	reg.mu.Unlock()
	// One resolution of the alias, one read of version 1's record.
	if calls != 2 {
		t.Fatalf("%d registry GetModel calls for 5 requests, want 2", calls)
	}
}

// flakyHealth answers UNAVAILABLE until up is closed.
type flakyHealth struct {
	healthpb.HealthClient
	up chan struct{}
}

func (f *flakyHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest, _ ...grpc.CallOption) (*healthpb.HealthCheckResponse, error) {
	select {
	case <-f.up:
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	default:
		return nil, status.Error(codes.Unavailable, "connection refused")
	}
}

func TestNotServingUntilRegistryAnswers(t *testing.T) {
	h := &flakyHealth{up: make(chan struct{})}
	_, srv, client := setup(t, Config{Health: h})
	ctx := context.Background()
	if r, err := client.ServerReady(ctx, &inference.ServerReadyRequest{}); err != nil || r.GetReady() {
		t.Fatalf("ServerReady before the registry answers: %v %v", r, err)
	}
	if _, err := client.ModelInfer(ctx, rows("churn", "1")); status.Code(err) != codes.Unavailable {
		t.Fatalf("ModelInfer before ready: %v, want Unavailable", err)
	}
	ready := make(chan struct{})
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go srv.WaitReady(wctx, time.Millisecond, func() { close(ready) })
	close(h.up)
	<-ready
	if _, err := client.ModelInfer(ctx, rows("churn", "1")); err != nil {
		t.Fatalf("ModelInfer once ready: %v", err)
	}
}

func TestHTTPJSON(t *testing.T) {
	_, srv, _ := setup(t, Config{})
	hs := httptest.NewServer(RequireToken(srv.Handler(), "s3cret"))
	defer hs.Close()
	do := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp.StatusCode, out
	}
	body := `{"id":"r1","inputs":[
		{"name":"x","datatype":"FP64","shape":[3],"data":[-7,0,6]},
		{"name":"color","datatype":"BYTES","shape":[3,1],"data":[["blue"],["red"],["purple"]]},
		{"name":"flag","datatype":"BOOL","shape":[3],"data":[false,true,true]}]}`
	code, out := do("POST", "/v2/models/churn@production/infer", "s3cret", body)
	wantLabels, _ := expected(t, "logistic_regression")
	if code != http.StatusOK || out["model_version"] != "1" || out["id"] != "r1" {
		t.Fatalf("infer: %d %v", code, out)
	}
	labels := out["outputs"].([]any)[0].(map[string]any)["data"]
	if fmt.Sprint(labels) != fmt.Sprint(wantLabels) {
		t.Fatalf("labels %v, want %v", labels, wantLabels)
	}
	tests := []struct {
		method, path, token, body string
		want                      int
		mention                   string
	}{
		{"POST", "/v2/models/churn/versions/2/infer", "s3cret", body, http.StatusOK, ""},
		{"POST", "/v2/models/churn/infer", "", body, http.StatusUnauthorized, "token"},
		{"POST", "/v2/models/nope/infer", "s3cret", body, http.StatusNotFound, "nope"},
		{"POST", "/v2/models/churn/infer", "s3cret", `{"inputs":[{"name":"x","datatype":"FP64","shape":[1],"data":[1]}]}`, http.StatusBadRequest, "color"},
		{"POST", "/v2/models/churn/infer", "s3cret", `{"inputs":[{"name":"x","datatype":"FP64","shape":[1],"data":["a"]}]}`, http.StatusBadRequest, `"x"`},
		{"POST", "/v2/models/churn/infer", "s3cret", `not json`, http.StatusBadRequest, "not an inference request"},
		{"GET", "/v2/models/churn", "s3cret", "", http.StatusOK, ""},
		{"GET", "/v2/models/churn/versions/1/ready", "s3cret", "", http.StatusOK, ""},
		{"GET", "/v2/health/ready", "", "", http.StatusOK, ""},
		{"GET", "/v2/health/live", "", "", http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, out := do(tc.method, tc.path, tc.token, tc.body)
			if code != tc.want {
				t.Fatalf("%d %v, want %d", code, out, tc.want)
			}
			if tc.mention != "" && !strings.Contains(fmt.Sprint(out["error"]), tc.mention) {
				t.Fatalf("error %v does not name %s", out["error"], tc.mention)
			}
		})
	}
}

// TestRegistryDownKeepsServingResolvedAliases stops the registry: an alias
// resolved before keeps answering with the version it named.
func TestRegistryDownKeepsServingResolvedAliases(t *testing.T) {
	reg := newFakeRegistry()
	reg.add(t, must(fitVersion(t, "logistic_regression")))
	reg.alias("production", 1)
	rconn, stopReg := serverkit.NewInProcess(func(g *grpc.Server) { orchestratorv1.RegisterOrchestratorServiceServer(g, reg) })
	defer stopReg()
	srv, err := New(Config{Registry: orchestratorv1.NewOrchestratorServiceClient(rconn), AliasTTL: time.Nanosecond, Logger: slog.New(slog.DiscardHandler), RegistryTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := srv.ModelInfer(ctx, rows("churn", "production")); err != nil {
		t.Fatal(err)
	}
	reg.mu.Lock()
	reg.down = true
	reg.mu.Unlock()
	resp, err := srv.ModelInfer(ctx, rows("churn", "production"))
	if err != nil || resp.GetModelVersion() != "1" {
		t.Fatalf("with the registry down: %v %v", resp.GetModelVersion(), err)
	}
	if _, err := srv.ModelInfer(ctx, rows("churn", "staging")); status.Code(err) != codes.Unavailable {
		t.Fatalf("an alias never resolved, with the registry down: %v, want Unavailable", err)
	}
}

func TestSplitRawBytes(t *testing.T) {
	tests := []struct {
		in      []byte
		want    int
		wantErr bool
	}{
		{nil, 0, false},
		{[]byte{1, 0, 0, 0, 'a'}, 1, false},
		{[]byte{1, 0, 0}, 0, true},
		{[]byte{9, 0, 0, 0, 'a'}, 0, true},
	}
	for _, tc := range tests {
		got, err := splitRawBytes(tc.in)
		if (err != nil) != tc.wantErr || len(got) != tc.want {
			t.Errorf("splitRawBytes(%v) = %q, %v", tc.in, got, err)
		}
	}
}

// TestLeastRecentlyUsedEvicted keeps one version in memory: asking for the
// other drops the first, and asking for the first again loads it again.
func TestLeastRecentlyUsedEvicted(t *testing.T) {
	reg, srv, client := setup(t, Config{MaxModels: 1})
	ctx := context.Background()
	for i, v := range []string{"1", "2", "1"} {
		resp, err := client.ModelInfer(ctx, rows("churn", v))
		if err != nil || resp.GetModelVersion() != v {
			t.Fatalf("call %d: %v %v", i, resp.GetModelVersion(), err)
		}
		if got := srv.Loaded(); len(got) != 1 || !strings.HasPrefix(got[0], "churn@"+v+" ") {
			t.Fatalf("call %d: loaded %v, want only churn@%s", i, got, v)
		}
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.getModels != 3 {
		t.Fatalf("%d version loads, want 3 (version 1 twice)", reg.getModels)
	}
}
