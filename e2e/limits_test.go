package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	evalv1 "github.com/alur-ml/alur/proto/alur/eval/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
)

// quotaSubjects returns the limits a ResourceExhausted status names in
// its google.rpc.QuotaFailure detail.
func quotaSubjects(err error) []string {
	var out []string
	for _, d := range status.Convert(err).Details() {
		if q, ok := d.(*errdetails.QuotaFailure); ok {
			for _, v := range q.GetViolations() {
				out = append(out, v.GetSubject())
			}
		}
	}
	return out
}

// limitFlags are the size limits every service takes on its command line,
// by service.
var limitFlags = map[string][]string{
	"ingest":       {"max-upload-bytes"},
	"prep":         {"max-rows", "max-columns", "max-categories", "max-feature-cells"},
	"train":        {"max-rows", "max-columns"},
	"eval":         {"max-rows", "max-columns", "max-model-bytes"},
	"orchestrator": {"max-upload-bytes", "max-concurrent-runs", "max-queued-runs"},
}

// wideTable is a numeric table of rows × cols with a categorical label of
// two classes, for prepared-table requests that break a limit.
func wideTable(rows, cols int) *table.Table {
	tb := &table.Table{}
	for j := range cols - 1 {
		v := make([]float64, rows)
		for i := range v {
			v[i] = float64((i*(j+3))%11) / 10
		}
		tb.Columns = append(tb.Columns, table.NewNumeric(fmt.Sprintf("f%d", j), v))
	}
	codes := make([]int32, rows)
	for i := range codes {
		codes[i] = int32(i % 2)
	}
	tb.Columns = append(tb.Columns, table.NewCategorical("label", codes, []string{"no", "yes"}))
	return tb
}

// TestLimits starts the services with small limits and breaks each one:
// every refusal is ResourceExhausted, names the limit in its message and
// in a QuotaFailure detail, and a run whose data break a stage's limit
// fails saying which.
func TestLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the five services")
	}
	// Every limit is a flag with a sane (positive) default.
	defaultRe := regexp.MustCompile(`\(default (\d+)\)`)
	for name, flags := range limitFlags {
		out, _ := exec.Command(filepath.Join(build(t), name), "-h").CombinedOutput()
		for _, f := range flags {
			i := bytes.Index(out, []byte("-"+f+" "))
			if i < 0 {
				t.Errorf("%s has no --%s flag:\n%s", name, f, out)
				continue
			}
			m := defaultRe.FindSubmatch(out[i:])
			if n, err := strconv.ParseInt(string(m[1]), 10, 64); m == nil || err != nil || n <= 0 {
				t.Errorf("%s --%s has no positive default", name, f)
			}
		}
	}

	c := startCluster(t, map[string][]string{
		"ingest":       {"--max-upload-bytes", "6000"},
		"prep":         {"--max-rows", "200", "--max-columns", "6", "--max-categories", "8"},
		"train":        {"--max-rows", "150", "--max-columns", "6"},
		"eval":         {"--max-rows", "100", "--max-columns", "6"},
		"orchestrator": {"--max-upload-bytes", "8192"},
	})
	fx := makeFixtures(t, c) // iris fits every limit
	big := synthCSV(120, 4)  // about 7 KB
	if len(big) <= 6000 || len(big) > 8192 {
		t.Fatalf("synthetic file is %d bytes; the cases need 6000 < size <= 8192", len(big))
	}
	if err := os.WriteFile(filepath.Join(c.dataRoot, "big.csv"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	ing := ingestv1.NewIngestServiceClient(c.stageConn(t, "ingest"))
	prp := prepv1.NewPrepServiceClient(c.stageConn(t, "prep"))
	trn := trainv1.NewTrainServiceClient(c.stageConn(t, "train"))
	evl := evalv1.NewEvalServiceClient(c.stageConn(t, "eval"))

	profile := func(tb *table.Table) func(context.Context) error {
		return func(ctx context.Context) error {
			sc, bs := tableParts(t, tb)
			msgs := []*prepv1.ProfileRequest{{Part: &prepv1.ProfileRequest_Schema{Schema: sc}}}
			for _, b := range bs {
				msgs = append(msgs, &prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Batch{Batch: b}})
			}
			s, err := prp.Profile(ctx)
			return clientStream(s, err, msgs...)
		}
	}
	train := func(tb *table.Table) func(context.Context) error {
		return func(ctx context.Context) error {
			sc, bs := tableParts(t, tb)
			msgs := []*trainv1.TrainRequest{
				{Part: &trainv1.TrainRequest_Config{Config: &trainv1.TrainConfig{Algorithm: "naive_bayes", Label: "label"}}},
				{Part: &trainv1.TrainRequest_Schema{Schema: sc}},
			}
			for _, b := range bs {
				msgs = append(msgs, &trainv1.TrainRequest{Part: &trainv1.TrainRequest_Batch{Batch: b}})
			}
			s, err := trn.Train(ctx)
			return bidiStream(s, err, msgs...)
		}
	}
	evaluate := func(tb *table.Table) func(context.Context) error {
		return func(ctx context.Context) error {
			sc, bs := tableParts(t, tb)
			msgs := []*evalv1.EvaluateRequest{
				{Part: &evalv1.EvaluateRequest_ModelPart{ModelPart: fx.model}, Label: fx.label},
				{Part: &evalv1.EvaluateRequest_Schema{Schema: sc}},
			}
			for _, b := range bs {
				msgs = append(msgs, &evalv1.EvaluateRequest{Part: &evalv1.EvaluateRequest_Batch{Batch: b}})
			}
			s, err := evl.Evaluate(ctx)
			return clientStream(s, err, msgs...)
		}
	}
	many := func(n int) []int {
		rows := make([]int, n)
		for i := range rows {
			rows[i] = i % fx.prepared.NumRows()
		}
		return rows
	}
	manyCategories := rawTable(40)
	manyCategories.Columns[2].Codes = make([]int32, 40)
	for i := range 40 {
		manyCategories.Columns[2].Codes[i] = int32(i % 9)
	}
	manyCategories.Columns[2].Dict = []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"}
	predictRows := &datav1.RawRows{Columns: []string{"sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"}}
	for range 101 {
		predictRows.Rows = append(predictRows.Rows, &datav1.RawRow{Values: []string{"5.1", "3.5", "1.4", "0.2"}})
	}

	artifactsBefore := countArtifacts(t, c.client)
	cases := []struct {
		service, name, limit string
		call                 func(ctx context.Context) error
	}{
		{"orchestrator", "upload above --max-upload-bytes", "max_upload_bytes", func(context.Context) error {
			_, err := uploadBytes(c.client, "big.csv", append(big, big...))
			return err
		}},
		{"ingest", "upload above --max-upload-bytes", "max_upload_bytes", func(ctx context.Context) error {
			s, err := ing.Upload(ctx)
			return bidiStream(s, err, &ingestv1.UploadRequest{Part: &ingestv1.UploadRequest_Chunk{Chunk: big}})
		}},
		{"ingest", "read a file above --max-upload-bytes", "max_upload_bytes", func(ctx context.Context) error {
			s, err := ing.Read(ctx, &ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Path{Path: "big.csv"}})
			return serverStream(s, err)
		}},
		{"prep", "profile above --max-rows", "max_rows", profile(rawTable(201))},
		{"prep", "profile above --max-columns", "max_columns", profile(wideTable(10, 7))},
		{"prep", "profile above --max-categories", "max_categories", profile(manyCategories)},
		{"prep", "one-hot cap above --max-categories", "max_categories", func(ctx context.Context) error {
			s, err := prp.Prepare(ctx)
			return bidiStream(s, err, &prepv1.PrepareRequest{Part: &prepv1.PrepareRequest_Options{Options: &prepv1.PrepareOptions{Label: "label", MaxCategories: 9}}})
		}},
		{"train", "train above --max-rows", "max_rows", train(wideTable(151, 3))},
		{"train", "train above --max-columns", "max_columns", train(wideTable(20, 7))},
		{"eval", "evaluate above --max-rows", "max_rows", evaluate(fx.prepared.Take(many(101)))},
		{"eval", "evaluate above --max-columns", "max_columns", evaluate(wideTable(10, 7))},
		{"eval", "predict above --max-rows", "max_rows", func(ctx context.Context) error {
			s, err := evl.Predict(ctx)
			return clientStream(s, err,
				&evalv1.PredictRequest{Part: &evalv1.PredictRequest_ModelPart{ModelPart: fx.model}},
				&evalv1.PredictRequest{Part: &evalv1.PredictRequest_Transform{Transform: fx.transform}},
				&evalv1.PredictRequest{Part: &evalv1.PredictRequest_Rows{Rows: predictRows}})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.service+"/"+tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := tc.call(ctx)
			if status.Code(err) != codes.ResourceExhausted || !strings.HasPrefix(status.Convert(err).Message(), tc.limit+": ") {
				t.Fatalf("got %v; want ResourceExhausted, the message starting with %s", err, tc.limit)
			}
			if q := quotaSubjects(err); !slices.Contains(q, tc.limit) {
				t.Errorf("QuotaFailure subjects %v, want %s (%v)", q, tc.limit, err)
			}
			t.Logf("%v", status.Convert(err).Message())
		})
	}
	if got := countArtifacts(t, c.client); got != artifactsBefore {
		t.Errorf("the refused requests left %d artifacts behind", got-artifactsBefore)
	}

	// A run whose data break prep's row limit fails naming it.
	rows := []byte("x,label\n")
	for i := range 250 {
		rows = append(rows, fmt.Sprintf("%d,%c\n", i%10, 'a'+byte(i%2))...)
	}
	run := waitRun(t, c.client, startRun(t, c.client, &orchestratorv1.PipelineSpec{Source: uploadSource(upload(t, c.client, "rows.csv", rows)), Label: "label"}))
	if run.GetState() != orchestratorv1.RunState_RUN_STATE_FAILED || !strings.Contains(run.GetError(), "ResourceExhausted") || !strings.Contains(run.GetError(), "max_rows") {
		t.Errorf("run on 250 rows with prep --max-rows 200: %s %q; want failed naming ResourceExhausted and max_rows", run.GetState(), run.GetError())
	}
	t.Logf("%d limits broken, each refused with ResourceExhausted naming it; the run over prep's row limit: %s", len(cases), run.GetError())
}

func countArtifacts(t *testing.T, client orchestratorv1.OrchestratorServiceClient) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := client.ListArtifacts(ctx, &orchestratorv1.ListArtifactsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.GetArtifacts())
}
