package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	evalv1 "github.com/alur-ml/alur/proto/alur/eval/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
)

// clientStream sends every message (stopping quietly when the server has
// already answered) and returns the server's status.
func clientStream[Req, Resp any](s grpc.ClientStreamingClient[Req, Resp], err error, msgs ...*Req) error {
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if s.Send(m) != nil {
			break
		}
	}
	_, err = s.CloseAndRecv()
	return err
}

// bidiStream sends every message, closes its side and reads the answer to
// the end, returning the server's status.
func bidiStream[Req, Resp any](s grpc.BidiStreamingClient[Req, Resp], err error, msgs ...*Req) error {
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if s.Send(m) != nil {
			break
		}
	}
	_ = s.CloseSend()
	for {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// serverStream reads a server stream to the end and returns its status.
func serverStream[Resp any](s grpc.ServerStreamingClient[Resp], err error) error {
	if err != nil {
		return err
	}
	for {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// tableParts encodes a table as its schema and batches.
func tableParts(t *testing.T, tb *table.Table) (*datav1.Schema, []*datav1.TableBatch) {
	t.Helper()
	if err := tb.Validate(); err != nil {
		t.Fatal(err)
	}
	return tb.Schema(), tablepb.Batches(tb, 0)
}

// rawTable is a small raw table: two numeric features, a categorical one
// and a two-class label.
func rawTable(n int) *table.Table {
	x, y := make([]float64, n), make([]float64, n)
	color, label := make([]int32, n), make([]int32, n)
	for i := range n {
		x[i], y[i] = float64(i%7), float64(i%5)
		color[i], label[i] = int32(i%3), int32(i%2)
	}
	return &table.Table{Columns: []*table.Column{
		table.NewNumeric("x", x), table.NewNumeric("y", y),
		table.NewCategorical("color", color, []string{"red", "green", "blue"}),
		table.NewCategorical("label", label, []string{"no", "yes"}),
	}}
}

// fixtures are real artifacts of a succeeded iris run, for requests that
// need a valid model, transform or prepared table.
type fixtures struct {
	model     []byte
	transform *datav1.FittedTransform
	prepared  *table.Table // the run's prepared test rows
	label     string
	runID     string // the succeeded run
	failedRun string // a run that failed
}

func artifactBytes(t *testing.T, client orchestratorv1.OrchestratorServiceClient, digest string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := client.GetArtifact(ctx, &orchestratorv1.GetArtifactRequest{Digest: digest})
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return b
		}
		if err != nil {
			t.Fatalf("artifact %s: %v", digest, err)
		}
		b = append(b, m.GetChunk()...)
	}
}

func makeFixtures(t *testing.T, c *cluster) *fixtures {
	t.Helper()
	run := waitRun(t, c.client, startRun(t, c.client, &orchestratorv1.PipelineSpec{
		Source: irisSource(), Label: "species", Candidates: []*orchestratorv1.Candidate{{Algorithm: "logistic_regression"}},
	}))
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("fixture run: %s: %s", run.GetState(), run.GetError())
	}
	f := &fixtures{runID: run.GetId(), model: artifactBytes(t, c.client, run.GetModelDigest()), transform: &datav1.FittedTransform{}}
	if err := proto.Unmarshal(artifactBytes(t, c.client, run.GetTransformDigest()), f.transform); err != nil {
		t.Fatal(err)
	}
	f.label = f.transform.GetLabel()
	for _, st := range run.GetSteps() {
		if st.GetName() == "prepare" {
			tb, err := tablepb.UnmarshalDelimited(artifactBytes(t, c.client, st.GetOutputDigests()[3]))
			if err != nil {
				t.Fatal(err)
			}
			f.prepared = tb
		}
	}
	if f.prepared == nil {
		t.Fatal("fixture run has no prepare step")
	}
	failed := waitRun(t, c.client, startRun(t, c.client, &orchestratorv1.PipelineSpec{Source: irisSource(), Label: "no_such_column"}))
	if failed.GetState() != orchestratorv1.RunState_RUN_STATE_FAILED {
		t.Fatalf("fixture run with a missing label: %s", failed.GetState())
	}
	f.failedRun = failed.GetId()
	return f
}

// hostileCase is one bad request: which server gets it, how to send it,
// and the exact status code and the words its message must contain.
type hostileCase struct {
	service string
	name    string
	call    func(ctx context.Context) error
	code    codes.Code
	msg     string // a substring of the status message naming the problem
	field   string // the BadRequest field an InvalidArgument must name; "" skips
}

// TestHostile sends a catalogue of bad requests to every service: each
// must get its exact status code and a message naming the problem, no
// server may crash or stop answering, and the orchestrator must store no
// artifact, no run and no orphan chunk because of them. It logs the
// tally: tried, answered precisely, crashed, leaked.
func TestHostile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the five services")
	}
	c := startCluster(t, map[string][]string{"orchestrator": {"--max-upload-bytes", fmt.Sprint(hostileUploadLimit)}})
	fx := makeFixtures(t, c)
	setUpIssueCases(t, c)
	if err := os.Mkdir(filepath.Join(c.dataRoot, "subdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	conns := map[string]*grpc.ClientConn{"orchestrator": c.conn}
	for _, s := range services[:4] {
		conns[s] = c.stageConn(t, s)
	}
	ing := ingestv1.NewIngestServiceClient(conns["ingest"])
	prp := prepv1.NewPrepServiceClient(conns["prep"])
	trn := trainv1.NewTrainServiceClient(conns["train"])
	evl := evalv1.NewEvalServiceClient(conns["eval"])
	orc := c.client

	countRuns := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := orc.ListRuns(ctx, &orchestratorv1.ListRunsRequest{PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.GetRuns())
	}
	artifactsBefore, runsBefore := countArtifacts(t, orc), countRuns()

	cases := slices.Concat(
		ingestCases(ing),
		prepCases(t, prp),
		trainCases(t, trn, fx),
		evalCases(t, evl, fx),
		orchestratorCases(orc, fx),
		issueCases(t, c, conns, fx),
	)
	if len(cases) < 40 {
		t.Errorf("only %d hostile cases; the catalogue should hold at least 40", len(cases))
	}
	perService := map[string]int{}
	var precise, crashed int
	for _, tc := range cases {
		if tc.msg == "" && tc.code != codes.OK {
			t.Errorf("case %s/%s checks no message words", tc.service, tc.name)
		}
		perService[tc.service]++
		t.Run(tc.service+"/"+tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := tc.call(ctx)
			st := status.Convert(err)
			ok := true
			switch {
			case tc.code == codes.OK && err != nil:
				ok = false
				t.Errorf("got %v, want success", err)
			case tc.code == codes.OK:
			case err == nil || st.Code() != tc.code:
				ok = false
				t.Errorf("got %v (%v), want %v", st.Code(), err, tc.code)
			case !strings.Contains(st.Message(), tc.msg):
				ok = false
				t.Errorf("message %q does not contain %q", st.Message(), tc.msg)
			}
			if tc.field != "" {
				if f := serverkit.FieldViolations(err); !slices.Contains(f, tc.field) {
					ok = false
					t.Errorf("field violations %v, want %q (%v)", f, tc.field, err)
				}
			}
			if ok {
				precise++
			}
			if !healthy(conns[tc.service]) || !c.procs[tc.service].running() {
				crashed++
				t.Fatalf("%s is down after the request\n%s", tc.service, c.procs[tc.service].log)
			}
		})
	}
	leaked := 0
	if got := countArtifacts(t, orc); got != artifactsBefore {
		leaked += got - artifactsBefore
		t.Errorf("the bad requests left %d artifacts behind", got-artifactsBefore)
	}
	if got := countRuns(); got != runsBefore {
		leaked += got - runsBefore
		t.Errorf("the bad requests created %d runs", got-runsBefore)
	}
	// The store, read after the orchestrator stops: no chunk of a refused
	// or aborted upload may remain, and its check finds nothing.
	usage, problems := orphanChunks(t, c)
	if usage.OrphanChunks > 0 || len(problems) > 0 {
		leaked += usage.OrphanChunks
		t.Errorf("the store holds %d orphan chunks (%d bytes); check: %q", usage.OrphanChunks, usage.OrphanBytes, problems)
	}
	t.Logf("%d bad requests (%v); artifacts %d and runs %d before", len(cases), perService, artifactsBefore, runsBefore)
	t.Logf("tally: tried %d, answered precisely %d, crashed %d, leaked %d (artifacts, runs and orphan chunks)", len(cases), precise, crashed, leaked)
}

func ingestCases(ing ingestv1.IngestServiceClient) []hostileCase {
	read := func(req *ingestv1.ReadRequest) func(context.Context) error {
		return func(ctx context.Context) error { s, err := ing.Read(ctx, req); return serverStream(s, err) }
	}
	upload := func(msgs ...*ingestv1.UploadRequest) func(context.Context) error {
		return func(ctx context.Context) error { s, err := ing.Upload(ctx); return bidiStream(s, err, msgs...) }
	}
	opts := func(o *ingestv1.CsvOptions) *ingestv1.UploadRequest {
		return &ingestv1.UploadRequest{Part: &ingestv1.UploadRequest_Options{Options: o}}
	}
	chunk := func(s string) *ingestv1.UploadRequest {
		return &ingestv1.UploadRequest{Part: &ingestv1.UploadRequest_Chunk{Chunk: []byte(s)}}
	}
	path := func(p string) *ingestv1.ReadRequest {
		return &ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Path{Path: p}}
	}
	const ia = codes.InvalidArgument
	return []hostileCase{
		{"ingest", "read without a source", read(&ingestv1.ReadRequest{}), ia, "source: is missing", "source"},
		{"ingest", "read an unknown bundled dataset", read(&ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Bundled{Bundled: "nope"}}), codes.NotFound, `no bundled dataset "nope"`, ""},
		{"ingest", "read a path that climbs out", read(path("../../etc/passwd")), ia, "leaves the data root", "path"},
		{"ingest", "read an absolute path", read(path("/etc/passwd")), ia, "is absolute", "path"},
		{"ingest", "read an empty path", read(path("")), ia, "path: is empty", "path"},
		{"ingest", "read a missing file", read(path("missing.csv")), codes.NotFound, `no file "missing.csv"`, ""},
		{"ingest", "read a directory", read(path("subdir")), ia, "not a regular file", "path"},
		{"ingest", "read with a two-character delimiter", read(&ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Bundled{Bundled: "iris"}, Options: &ingestv1.CsvOptions{Delimiter: ";;"}}), ia, "must be one character", "options.delimiter"},
		{"ingest", "upload nothing", upload(), ia, "empty file", "chunk"},
		{"ingest", "upload options only", upload(opts(&ingestv1.CsvOptions{})), ia, "empty file", "chunk"},
		{"ingest", "upload options twice", upload(opts(&ingestv1.CsvOptions{}), opts(&ingestv1.CsvOptions{})), ia, "sent twice", "options"},
		{"ingest", "upload options after a chunk", upload(chunk("a,b\n"), opts(&ingestv1.CsvOptions{})), ia, "must be the first message", "options"},
		{"ingest", "upload an empty message", upload(&ingestv1.UploadRequest{}), ia, "part: is empty", "part"},
		{"ingest", "upload ragged rows", upload(chunk("a,b\n1,2\n3,4,5\n")), ia, "line 3", "chunk"},
		{"ingest", "upload an unclosed quote", upload(chunk("a,b\n1,\"2\n3,4\n")), ia, "quoted field never closed", "chunk"},
		{"ingest", "upload a duplicate header", upload(chunk("a,a\n1,2\n")), ia, "duplicate column name", "chunk"},
		{"ingest", "upload an empty header name", upload(chunk("a,,c\n1,2,3\n")), ia, "header field 2 is empty", "chunk"},
		{"ingest", "upload invalid UTF-8", upload(chunk("a,b\n\xff\xfe,1\n")), ia, "UTF-8", "chunk"},
		{"ingest", "upload with an unknown categorical column", upload(opts(&ingestv1.CsvOptions{CategoricalColumns: []string{"zzz"}}), chunk("a,b\n1,2\n")), ia, `the file has no column "zzz"`, "options.categorical_columns[0]"},
	}
}

func prepCases(t *testing.T, prp prepv1.PrepServiceClient) []hostileCase {
	schema, batches := tableParts(t, rawTable(40))
	profile := func(msgs ...*prepv1.ProfileRequest) func(context.Context) error {
		return func(ctx context.Context) error { s, err := prp.Profile(ctx); return clientStream(s, err, msgs...) }
	}
	prepare := func(msgs ...*prepv1.PrepareRequest) func(context.Context) error {
		return func(ctx context.Context) error { s, err := prp.Prepare(ctx); return bidiStream(s, err, msgs...) }
	}
	apply := func(msgs ...*prepv1.ApplyRequest) func(context.Context) error {
		return func(ctx context.Context) error { s, err := prp.Apply(ctx); return bidiStream(s, err, msgs...) }
	}
	pSchema := func(sc *datav1.Schema) *prepv1.ProfileRequest {
		return &prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Schema{Schema: sc}}
	}
	pBatch := func(b *datav1.TableBatch) *prepv1.ProfileRequest {
		return &prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Batch{Batch: b}}
	}
	options := func(o *prepv1.PrepareOptions) *prepv1.PrepareRequest {
		return &prepv1.PrepareRequest{Part: &prepv1.PrepareRequest_Options{Options: o}}
	}
	withTable := func(head *prepv1.PrepareRequest, tb *table.Table) []*prepv1.PrepareRequest {
		sc, bs := tableParts(t, tb)
		msgs := []*prepv1.PrepareRequest{head, {Part: &prepv1.PrepareRequest_Schema{Schema: sc}}}
		for _, b := range bs {
			msgs = append(msgs, &prepv1.PrepareRequest{Part: &prepv1.PrepareRequest_Batch{Batch: b}})
		}
		return msgs
	}
	// Mutated copies of the first batch.
	batch := func(change func(b *datav1.TableBatch)) *datav1.TableBatch {
		b := proto.Clone(batches[0]).(*datav1.TableBatch)
		change(b)
		return b
	}
	constant := rawTable(40)
	constant.Columns[3].Codes = make([]int32, 40)
	const ia = codes.InvalidArgument
	label := &prepv1.PrepareOptions{Label: "label"}
	return []hostileCase{
		{"prep", "profile: a batch before the schema", profile(pBatch(batches[0])), ia, "required before the first batch", "schema"},
		{"prep", "profile: negative histogram bins", profile(&prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Options{Options: &prepv1.ProfileOptions{HistogramBins: -1}}}), ia, "histogram_bins", "options.histogram_bins"},
		{"prep", "profile: an empty message", profile(pSchema(schema), &prepv1.ProfileRequest{}), ia, "neither a schema nor a batch", "part"},
		{"prep", "profile: duplicate column names", profile(pSchema(&datav1.Schema{Fields: []*datav1.Field{{Name: "a", Type: datav1.ColumnType_COLUMN_TYPE_NUMERIC}, {Name: "a", Type: datav1.ColumnType_COLUMN_TYPE_NUMERIC}}})), ia, "repeats the name", "schema.fields[1].name"},
		{"prep", "profile: a column without a type", profile(pSchema(&datav1.Schema{Fields: []*datav1.Field{{Name: "a"}}})), ia, "must be NUMERIC, CATEGORICAL or BOOLEAN", "schema.fields[0].type"},
		{"prep", "profile: a batch with too few chunks", profile(pSchema(schema), pBatch(batch(func(b *datav1.TableBatch) { b.Columns = b.Columns[:2] }))), ia, "want one per schema field", "batch.columns"},
		{"prep", "profile: fewer values than rows", profile(pSchema(schema), pBatch(batch(func(b *datav1.TableBatch) { b.Columns[0].Doubles = b.Columns[0].Doubles[:3] }))), ia, "want num_rows", "batch.columns[0].doubles"},
		{"prep", "profile: a code outside the dictionary", profile(pSchema(schema), pBatch(batch(func(b *datav1.TableBatch) { b.Columns[2].Codes[0] = 99 }))), ia, "outside [-1, 3)", "batch.columns[2].codes"},
		{"prep", "profile: a batch out of order", profile(pSchema(schema), pBatch(batch(func(b *datav1.TableBatch) { b.RowOffset = 7 }))), ia, "batches must be contiguous", "batch.row_offset"},
		{"prep", "profile: negative row count", profile(pSchema(schema), pBatch(batch(func(b *datav1.TableBatch) { b.NumRows = -5 }))), ia, "is negative", "batch.num_rows"},
		{"prep", "profile: doubles on a categorical column", profile(pSchema(schema), pBatch(batch(func(b *datav1.TableBatch) { b.Columns[2].Doubles = []float64{1} }))), ia, "carries codes", "batch.columns[2].doubles"},
		{"prep", "profile: a repeated dictionary entry", profile(pSchema(schema), pBatch(batch(func(b *datav1.TableBatch) {
			b.Columns[2].DictionaryDelta = append(b.Columns[2].DictionaryDelta, "red")
		}))), ia, `"red" is already in the dictionary`, "batch.columns[2].dictionary_delta[3]"},
		{"prep", "prepare: no options", prepare(), ia, "the stream closed before the options", "options"},
		{"prep", "prepare: the schema first", prepare(&prepv1.PrepareRequest{Part: &prepv1.PrepareRequest_Schema{Schema: schema}}), ia, "required as the first message", "options"},
		{"prep", "prepare: options twice", prepare(options(label), options(label)), ia, "sent twice", "options"},
		{"prep", "prepare: an unknown label", prepare(withTable(options(&prepv1.PrepareOptions{Label: "nope"}), rawTable(40))...), ia, `column "nope" is not in the table`, "options.label"},
		{"prep", "prepare: fractions leave no training rows", prepare(options(&prepv1.PrepareOptions{Label: "label", ValidationFraction: 0.99})), ia, "validation_fraction", "options.validation_fraction"},
		{"prep", "prepare: negative max_categories", prepare(options(&prepv1.PrepareOptions{Label: "label", MaxCategories: -1})), ia, "outside", "options.max_categories"},
		{"prep", "prepare: an unknown column to drop", prepare(withTable(options(&prepv1.PrepareOptions{Label: "label", DropColumns: []string{"ghost"}}), rawTable(40))...), ia, `"ghost" is not in the table`, "options.drop_columns[0]"},
		{"prep", "prepare: a constant label", prepare(withTable(options(label), constant)...), ia, "constant", "options.label"},
		{"prep", "prepare: too few rows", prepare(withTable(options(label), rawTable(40).Take([]int{0, 1, 2}))...), codes.FailedPrecondition, "too few", ""},
		{"prep", "apply: no transform", apply(), ia, "the stream closed before the transform", "transform"},
		{"prep", "apply: an empty transform", apply(&prepv1.ApplyRequest{Part: &prepv1.ApplyRequest_Transform{Transform: &datav1.FittedTransform{}}}), ia, "is empty", "transform.label"},
	}
}

func trainCases(t *testing.T, trn trainv1.TrainServiceClient, fx *fixtures) []hostileCase {
	schema, batches := tableParts(t, fx.prepared)
	train := func(msgs ...*trainv1.TrainRequest) func(context.Context) error {
		return func(ctx context.Context) error { s, err := trn.Train(ctx); return bidiStream(s, err, msgs...) }
	}
	config := func(c *trainv1.TrainConfig) *trainv1.TrainRequest {
		return &trainv1.TrainRequest{Part: &trainv1.TrainRequest_Config{Config: c}}
	}
	withTable := func(head *trainv1.TrainRequest, sc *datav1.Schema, bs []*datav1.TableBatch) []*trainv1.TrainRequest {
		msgs := []*trainv1.TrainRequest{head, {Part: &trainv1.TrainRequest_Schema{Schema: sc}}}
		for _, b := range bs {
			msgs = append(msgs, &trainv1.TrainRequest{Part: &trainv1.TrainRequest_Batch{Batch: b}})
		}
		return msgs
	}
	ok := &trainv1.TrainConfig{Algorithm: "knn", Label: fx.label}
	raw, rawBatches := tableParts(t, rawTable(30))
	nan := fx.prepared.Take(slices.Collect(func(yield func(int) bool) {
		for i := range fx.prepared.NumRows() {
			if !yield(i) {
				return
			}
		}
	}))
	nan.Columns[0] = table.NewNumeric(nan.Columns[0].Name, slices.Repeat([]float64{math.Inf(1)}, nan.NumRows()))
	nanSchema, nanBatches := tableParts(t, nan)
	const ia = codes.InvalidArgument
	return []hostileCase{
		{"train", "no config", train(), ia, "the stream closed before the config", "config"},
		{"train", "the schema first", train(&trainv1.TrainRequest{Part: &trainv1.TrainRequest_Schema{Schema: schema}}), ia, "the first message must be the config", "config"},
		{"train", "no algorithm", train(config(&trainv1.TrainConfig{Label: fx.label})), ia, "required", "config.algorithm"},
		{"train", "an unknown algorithm", train(config(&trainv1.TrainConfig{Algorithm: "deep_magic", Label: fx.label})), ia, `unknown algorithm "deep_magic"`, "config.algorithm"},
		{"train", "a negative k", train(config(&trainv1.TrainConfig{Algorithm: "knn", Label: fx.label, Params: map[string]float64{"k": -1}})), ia, "-1 is outside [1, 10000]", `config.params["k"]`},
		{"train", "an unknown hyperparameter", train(config(&trainv1.TrainConfig{Algorithm: "knn", Label: fx.label, Params: map[string]float64{"depth": 3}})), ia, "unknown for knn", `config.params["depth"]`},
		{"train", "a NaN hyperparameter", train(config(&trainv1.TrainConfig{Algorithm: "ridge", Label: fx.label, Params: map[string]float64{"alpha": math.NaN()}})), ia, "must be a finite number", `config.params["alpha"]`},
		{"train", "an unknown task", train(config(&trainv1.TrainConfig{Algorithm: "knn", Label: fx.label, Task: datav1.Task(7)})), ia, "unknown task 7", "config.task"},
		{"train", "a task the algorithm lacks", train(config(&trainv1.TrainConfig{Algorithm: "logistic_regression", Label: fx.label, Task: datav1.Task_TASK_REGRESSION})), ia, "does not support", "config.task"},
		{"train", "no label", train(config(&trainv1.TrainConfig{Algorithm: "knn"})), ia, "required", "config.label"},
		{"train", "a label not in the table", train(withTable(config(&trainv1.TrainConfig{Algorithm: "knn", Label: "ghost"}), schema, batches)...), ia, `no column "ghost"`, "config.label"},
		{"train", "config twice", train(config(ok), config(ok)), ia, "sent twice", "config"},
		{"train", "a raw (unprepared) table", train(withTable(config(&trainv1.TrainConfig{Algorithm: "knn", Label: "label"}), raw, rawBatches)...), ia, "must be NUMERIC", "schema.fields[2].type"},
		{"train", "an empty message", train(config(ok), &trainv1.TrainRequest{}), ia, "empty message", "part"},
		{"train", "infinite feature values", train(withTable(config(ok), nanSchema, nanBatches)...), codes.FailedPrecondition, "+Inf is not a finite number", ""},
		{"train", "a schema without rows", train(withTable(config(ok), schema, nil)...), codes.FailedPrecondition, "no rows to train on", ""},
	}
}

func evalCases(t *testing.T, evl evalv1.EvalServiceClient, fx *fixtures) []hostileCase {
	schema, _ := tableParts(t, fx.prepared)
	evaluate := func(msgs ...*evalv1.EvaluateRequest) func(context.Context) error {
		return func(ctx context.Context) error { s, err := evl.Evaluate(ctx); return clientStream(s, err, msgs...) }
	}
	predict := func(msgs ...*evalv1.PredictRequest) func(context.Context) error {
		return func(ctx context.Context) error { s, err := evl.Predict(ctx); return clientStream(s, err, msgs...) }
	}
	model := func(b []byte) *evalv1.EvaluateRequest {
		return &evalv1.EvaluateRequest{Part: &evalv1.EvaluateRequest_ModelPart{ModelPart: b}, Label: fx.label}
	}
	eSchema := func(sc *datav1.Schema) *evalv1.EvaluateRequest {
		return &evalv1.EvaluateRequest{Part: &evalv1.EvaluateRequest_Schema{Schema: sc}}
	}
	eBatches := func(bs []*datav1.TableBatch) []*evalv1.EvaluateRequest {
		var out []*evalv1.EvaluateRequest
		for _, b := range bs {
			out = append(out, &evalv1.EvaluateRequest{Part: &evalv1.EvaluateRequest_Batch{Batch: b}})
		}
		return out
	}
	pModel := &evalv1.PredictRequest{Part: &evalv1.PredictRequest_ModelPart{ModelPart: fx.model}}
	pTransform := func(tr *datav1.FittedTransform) *evalv1.PredictRequest {
		return &evalv1.PredictRequest{Part: &evalv1.PredictRequest_Transform{Transform: tr}}
	}
	pRows := func(cols []string, rows ...[]string) *evalv1.PredictRequest {
		rr := &datav1.RawRows{Columns: cols}
		for _, r := range rows {
			rr.Rows = append(rr.Rows, &datav1.RawRow{Values: r})
		}
		return &evalv1.PredictRequest{Part: &evalv1.PredictRequest_Rows{Rows: rr}}
	}
	irisCols := []string{"sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"}
	renamed := proto.Clone(schema).(*datav1.Schema)
	renamed.Fields[0].Name = "renamed"
	wrongFeatures := proto.Clone(fx.transform).(*datav1.FittedTransform)
	wrongFeatures.FeatureNames = wrongFeatures.FeatureNames[:1]
	const ia = codes.InvalidArgument
	return []hostileCase{
		{"eval", "evaluate: nothing", evaluate(), ia, "required", "model_part"},
		{"eval", "evaluate: no model before the schema", evaluate(eSchema(schema)), ia, "no model parts came before the data", "model_part"},
		{"eval", "evaluate: a model that is not one", evaluate(model([]byte("not a protobuf \xff\xff")), eSchema(schema)), ia, "not a valid alur.data.v1.Model", "model_part"},
		{"eval", "evaluate: a model part after the schema", evaluate(model(fx.model), eSchema(schema), model(fx.model)), ia, "must come before the schema", "model_part"},
		{"eval", "evaluate: a label not in the table", evaluate(&evalv1.EvaluateRequest{Part: &evalv1.EvaluateRequest_ModelPart{ModelPart: fx.model}, Label: "ghost"}, eSchema(schema)), ia, `no column "ghost"`, "label"},
		{"eval", "evaluate: features the model does not know", evaluate(model(fx.model), eSchema(renamed)), ia, `the model expects`, "schema"},
		{"eval", "evaluate: no rows", evaluate(model(fx.model), eSchema(schema)), ia, "no rows to evaluate", "batch"},
		{"eval", "evaluate: an empty message", evaluate(model(fx.model), &evalv1.EvaluateRequest{}), ia, "empty message", "part"},
		{"eval", "evaluate: a bad batch", evaluate(slices.Concat([]*evalv1.EvaluateRequest{model(fx.model), eSchema(schema)}, eBatches([]*datav1.TableBatch{{NumRows: 3}}))...), ia, "want one per schema field", "batch.columns"},
		{"eval", "predict: nothing", predict(), ia, "no model parts came before the data", "model_part"},
		{"eval", "predict: rows before the transform", predict(pModel, pRows(irisCols, []string{"1", "2", "3", "4"})), ia, "required before the rows", "transform"},
		{"eval", "predict: no rows", predict(pModel, pTransform(fx.transform)), ia, "no rows to predict", "rows"},
		{"eval", "predict: the transform twice", predict(pModel, pTransform(fx.transform), pTransform(fx.transform)), ia, "sent twice", "transform"},
		{"eval", "predict: a transform for another model", predict(pModel, pTransform(wrongFeatures)), ia, "has 1 names", "transform.feature_names"},
		{"eval", "predict: a column the transform does not know", predict(pModel, pTransform(fx.transform), pRows(append(irisCols, "ghost"), []string{"1", "2", "3", "4", "5"})), ia, `"ghost" is not a column`, "rows.columns[4]"},
		{"eval", "predict: a row of the wrong width", predict(pModel, pTransform(fx.transform), pRows(irisCols, []string{"1", "2"})), ia, "has 2 values, want one per column (4)", "rows.rows[0].values"},
		{"eval", "predict: text in a numeric column", predict(pModel, pTransform(fx.transform), pRows(irisCols, []string{"1", "2", "three", "4"})), ia, `"three" is not a number`, "rows.rows[0].values[2]"},
		{"eval", "predict: rows naming other columns", predict(pModel, pTransform(fx.transform), pRows(irisCols, []string{"1", "2", "3", "4"}), pRows([]string{"a", "b", "c", "d"}, []string{"1", "2", "3", "4"})), ia, "but the first rows message named", "rows.columns[0]"},
	}
}

func orchestratorCases(orc orchestratorv1.OrchestratorServiceClient, fx *fixtures) []hostileCase {
	start := func(spec *orchestratorv1.PipelineSpec) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := orc.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: spec})
			return err
		}
	}
	iris := func(change func(s *orchestratorv1.PipelineSpec)) *orchestratorv1.PipelineSpec {
		s := &orchestratorv1.PipelineSpec{Source: irisSource(), Label: "species"}
		change(s)
		return s
	}
	knn := func(c *orchestratorv1.Candidate) func(s *orchestratorv1.PipelineSpec) {
		return func(s *orchestratorv1.PipelineSpec) {
			c.Algorithm = "knn"
			s.Candidates = []*orchestratorv1.Candidate{c}
		}
	}
	uploadMsgs := func(msgs ...*orchestratorv1.UploadSourceRequest) func(context.Context) error {
		return func(ctx context.Context) error { s, err := orc.UploadSource(ctx); return clientStream(s, err, msgs...) }
	}
	name := &orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Name{Name: "x.csv"}}
	chunk := &orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Chunk{Chunk: []byte("a,b\n1,2\n")}}
	unknownDigest := strings.Repeat("ab", 32)
	manyCandidates := make([]*orchestratorv1.Candidate, 101)
	for i := range manyCandidates {
		manyCandidates[i] = &orchestratorv1.Candidate{Algorithm: "knn"}
	}
	const ia = codes.InvalidArgument
	return []hostileCase{
		{"orchestrator", "start: no spec", start(nil), ia, "is required", "spec"},
		{"orchestrator", "start: no source", start(iris(func(s *orchestratorv1.PipelineSpec) { s.Source = nil })), ia, "is required", "spec.source"},
		{"orchestrator", "start: an empty bundled name", start(iris(func(s *orchestratorv1.PipelineSpec) {
			s.Source = &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{}}
		})), ia, "empty", "spec.source"},
		{"orchestrator", "start: a blank label", start(iris(func(s *orchestratorv1.PipelineSpec) { s.Label = "  " })), ia, "name the column to predict", "spec.label"},
		{"orchestrator", "start: an unknown task", start(iris(func(s *orchestratorv1.PipelineSpec) { s.Task = datav1.Task(9) })), ia, "unknown task 9", "spec.task"},
		{"orchestrator", "start: an unknown algorithm", start(iris(func(s *orchestratorv1.PipelineSpec) {
			s.Candidates = []*orchestratorv1.Candidate{{Algorithm: "deep_magic"}}
		})), ia, `unknown algorithm "deep_magic"`, "spec.candidates[0].algorithm"},
		{"orchestrator", "start: a negative k", start(iris(knn(&orchestratorv1.Candidate{Params: map[string]float64{"k": -3}}))), ia, "-3 is outside [1, 10000]", `spec.candidates[0].params["k"]`},
		{"orchestrator", "start: a grid value out of range", start(iris(knn(&orchestratorv1.Candidate{Grid: map[string]*orchestratorv1.ParamValues{"k": {Values: []float64{3, 0}}}}))), ia, "0 is outside [1, 10000]", `spec.candidates[0].grid["k"]`},
		{"orchestrator", "start: an empty grid", start(iris(knn(&orchestratorv1.Candidate{Grid: map[string]*orchestratorv1.ParamValues{"k": {}}}))), ia, "lists no values", `spec.candidates[0].grid["k"]`},
		{"orchestrator", "start: a range upside down", start(iris(knn(&orchestratorv1.Candidate{Ranges: map[string]*orchestratorv1.ParamRange{"k": {Min: 9, Max: 2}}}))), ia, "greater than max", `spec.candidates[0].ranges["k"]`},
		{"orchestrator", "start: an infinite range", start(iris(knn(&orchestratorv1.Candidate{Ranges: map[string]*orchestratorv1.ParamRange{"k": {Min: 1, Max: math.Inf(1)}}}))), ia, "finite", `spec.candidates[0].ranges["k"]`},
		{"orchestrator", "start: too many samples", start(iris(knn(&orchestratorv1.Candidate{Samples: 5000}))), ia, "outside", "spec.candidates[0].samples"},
		{"orchestrator", "start: 101 candidates", start(iris(func(s *orchestratorv1.PipelineSpec) { s.Candidates = manyCandidates })), ia, "at most 100", "spec.candidates"},
		{"orchestrator", "start: an upload that is not a digest", start(iris(func(s *orchestratorv1.PipelineSpec) { s.Source = uploadSource("xyz") })), ia, "not a sha256 digest", "spec.source.upload"},
		{"orchestrator", "start: an upload never uploaded", start(iris(func(s *orchestratorv1.PipelineSpec) { s.Source = uploadSource(unknownDigest) })), ia, "no uploaded file", "spec.source.upload"},
		{"orchestrator", "start: an unknown metric", start(iris(func(s *orchestratorv1.PipelineSpec) { s.Objective = &orchestratorv1.Objective{Metric: "happiness"} })), ia, `unknown metric "happiness"`, "spec.objective.metric"},
		{"orchestrator", "start: a NaN target", start(iris(func(s *orchestratorv1.PipelineSpec) {
			s.Objective = &orchestratorv1.Objective{Target: proto.Float64(math.NaN())}
		})), ia, "finite", "spec.objective.target"},
		{"orchestrator", "start: 21 folds", start(iris(func(s *orchestratorv1.PipelineSpec) { s.CvFolds = 21 })), ia, "outside [0, 20]", "spec.cv_folds"},
		{"orchestrator", "start: a huge trial budget", start(iris(func(s *orchestratorv1.PipelineSpec) { s.MaxTrials = 5000 })), ia, "outside", "spec.max_trials"},
		{"orchestrator", "start: a validation fraction of 0.95", start(iris(func(s *orchestratorv1.PipelineSpec) { s.Prepare = &prepv1.PrepareOptions{ValidationFraction: 0.95} })), ia, "outside [0, 0.9)", "spec.prepare.validation_fraction"},
		{"orchestrator", "start: fractions that leave no training rows", start(iris(func(s *orchestratorv1.PipelineSpec) {
			s.Prepare = &prepv1.PrepareOptions{ValidationFraction: 0.5, TestFraction: 0.47}
		})), ia, "almost no training rows", "spec.prepare"},
		{"orchestrator", "get run: no id", func(ctx context.Context) error {
			_, err := orc.GetRun(ctx, &orchestratorv1.GetRunRequest{})
			return err
		}, ia, "is required", "run_id"},
		{"orchestrator", "get run: unknown id", func(ctx context.Context) error {
			_, err := orc.GetRun(ctx, &orchestratorv1.GetRunRequest{RunId: "no-such-run"})
			return err
		}, codes.NotFound, `run "no-such-run" not found`, ""},
		{"orchestrator", "list runs: page size 5000", func(ctx context.Context) error {
			_, err := orc.ListRuns(ctx, &orchestratorv1.ListRunsRequest{PageSize: 5000})
			return err
		}, ia, "outside [0, 1000]", "page_size"},
		{"orchestrator", "list runs: a forged page token", func(ctx context.Context) error {
			_, err := orc.ListRuns(ctx, &orchestratorv1.ListRunsRequest{PageToken: "forged!"})
			return err
		}, ia, "not a token", "page_token"},
		{"orchestrator", "watch: unknown run", func(ctx context.Context) error {
			s, err := orc.WatchRun(ctx, &orchestratorv1.WatchRunRequest{RunId: "no-such-run"})
			return serverStream(s, err)
		}, codes.NotFound, "not found", ""},
		{"orchestrator", "cancel: unknown run", func(ctx context.Context) error {
			_, err := orc.CancelRun(ctx, &orchestratorv1.CancelRunRequest{RunId: "no-such-run"})
			return err
		}, codes.NotFound, "not found", ""},
		{"orchestrator", "list artifacts: unknown run", func(ctx context.Context) error {
			_, err := orc.ListArtifacts(ctx, &orchestratorv1.ListArtifactsRequest{RunId: "no-such-run"})
			return err
		}, codes.NotFound, "not found", ""},
		{"orchestrator", "get artifact: not a digest", func(ctx context.Context) error {
			s, err := orc.GetArtifact(ctx, &orchestratorv1.GetArtifactRequest{Digest: "../../etc/passwd"})
			return serverStream(s, err)
		}, ia, "not a sha256 digest", "digest"},
		{"orchestrator", "get artifact: unknown digest", func(ctx context.Context) error {
			s, err := orc.GetArtifact(ctx, &orchestratorv1.GetArtifactRequest{Digest: unknownDigest})
			return serverStream(s, err)
		}, codes.NotFound, "not found", ""},
		{"orchestrator", "predict: unknown run", func(ctx context.Context) error {
			_, err := orc.Predict(ctx, &orchestratorv1.PredictRequest{RunId: "no-such-run"})
			return err
		}, codes.NotFound, "not found", ""},
		{"orchestrator", "predict: a failed run", func(ctx context.Context) error {
			_, err := orc.Predict(ctx, &orchestratorv1.PredictRequest{RunId: fx.failedRun, Rows: &datav1.RawRows{Rows: []*datav1.RawRow{{}}}})
			return err
		}, codes.FailedPrecondition, "only a succeeded run", ""},
		{"orchestrator", "predict: no rows", func(ctx context.Context) error {
			_, err := orc.Predict(ctx, &orchestratorv1.PredictRequest{RunId: fx.runID})
			return err
		}, ia, "no rows", "rows.rows"},
		{"orchestrator", "predict: text where numbers go", func(ctx context.Context) error {
			_, err := orc.Predict(ctx, &orchestratorv1.PredictRequest{RunId: fx.runID, Rows: &datav1.RawRows{
				Columns: []string{"sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"},
				Rows:    []*datav1.RawRow{{Values: []string{"big", "3", "1", "0.2"}}},
			}})
			return err
		}, ia, `"big" is not a number`, "rows.rows[0].values[0]"},
		{"orchestrator", "upload: nothing", uploadMsgs(), ia, "the stream is empty", "name"},
		{"orchestrator", "upload: a chunk before the name", uploadMsgs(chunk), ia, "must carry the file name", "name"},
		{"orchestrator", "upload: the name twice", uploadMsgs(name, chunk, name), ia, "sent twice", "name"},
		{"orchestrator", "upload: an empty file", uploadMsgs(name), ia, "chunk: the uploaded file is empty", "chunk"},
		{"orchestrator", "upload: an empty name", uploadMsgs(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Name{}}, chunk), ia, "must carry the file name", "name"},
	}
}
