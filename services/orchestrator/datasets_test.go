package orchestrator_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/serverkit"
	"github.com/alur-ml/alur/services/ingest"
	"github.com/alur-ml/alur/services/orchestrator/artifacts"
)

// irisBatches splits the bundled iris CSV into two batches of alternate
// rows, so each holds every species.
func irisBatches(t *testing.T) (header string, odd, even []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "ingest", "datasets", "iris.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, l := range lines[1:] {
		if i%2 == 0 {
			odd = append(odd, l)
		} else {
			even = append(even, l)
		}
	}
	return lines[0], odd, even
}

func upload(t *testing.T, client orchestratorv1.OrchestratorServiceClient, name, content string) string {
	t.Helper()
	up, err := client.UploadSource(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_ = up.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Name{Name: name}})
	_ = up.Send(&orchestratorv1.UploadSourceRequest{Part: &orchestratorv1.UploadSourceRequest_Chunk{Chunk: []byte(content)}})
	resp, err := up.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetArtifact().GetDigest()
}

func appendUpload(t *testing.T, client orchestratorv1.OrchestratorServiceClient, dataset, content string) (*orchestratorv1.DatasetVersion, error) {
	t.Helper()
	d := upload(t, client, dataset+".csv", content)
	resp, err := client.AppendDataset(context.Background(), &orchestratorv1.AppendDatasetRequest{
		Name: dataset, Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Upload{Upload: d}},
	})
	return resp.GetVersion(), err
}

func datasetSpec(name string, version int64) *orchestratorv1.PipelineSpec {
	return &orchestratorv1.PipelineSpec{
		Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Dataset{Dataset: &orchestratorv1.DatasetRef{Name: name, Version: version}}},
		Label:  "species", Seed: 7,
		Candidates: []*orchestratorv1.Candidate{{Algorithm: "logistic_regression"}},
	}
}

// The pipeline: iris in two batches makes versions 1 and 2; a run
// pinned (by "latest") at version 1 stays on it after version 2 exists;
// retraining it runs the same spec on version 2 and links the two runs.
func TestDatasetPipelineAndRetrain(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	srv, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	ctx := context.Background()
	header, odd, even := irisBatches(t)

	v1, err := appendUpload(t, client, "iris", header+"\n"+strings.Join(odd, "\n")+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if v1.GetVersion() != 1 || v1.GetRows() != 75 || v1.GetBatchRows() != 75 || v1.GetDrift() != nil || len(v1.GetBatchDigests()) != 1 {
		t.Fatalf("version 1 = %v", v1)
	}
	start, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: datasetSpec("iris", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if got := start.GetRun().GetSpec().GetSource().GetDataset().GetVersion(); got != 1 {
		t.Fatalf("run pinned version %d, want 1", got)
	}
	first := await(t, client, start.GetRun().GetId())
	if first.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("run on version 1: %v %s", first.GetState(), first.GetError())
	}
	if first.GetDatasetRows() != 75 || first.GetDatasetDigest() != v1.GetArtifactDigest() {
		t.Errorf("run read %d rows from %s, want 75 from version 1's %s", first.GetDatasetRows(), first.GetDatasetDigest(), v1.GetArtifactDigest())
	}

	v2, err := appendUpload(t, client, "iris", header+"\n"+strings.Join(even, "\n")+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if v2.GetVersion() != 2 || v2.GetRows() != 150 || v2.GetBatchRows() != 75 || len(v2.GetBatchDigests()) != 2 || v2.GetBatchDigests()[0] != v1.GetBatchDigests()[0] {
		t.Fatalf("version 2 = %v", v2)
	}
	if d := v2.GetDrift(); d.GetFromVersion() != 1 || d.GetToVersion() != 2 || !d.GetAppendedOnly() || d.GetComparedRows() != 75 || d.GetToRows() != 150 || d.GetFromRows() != 75 ||
		d.GetLevel() != orchestratorv1.DriftLevel_DRIFT_LEVEL_STABLE || len(d.GetColumns()) != 5 {
		t.Errorf("drift of alternate rows = %v, want stable over 5 columns", d)
	}
	// The whole version's table digest is the canonical one.
	b, err := srv.Store().ReadArtifact(v2.GetArtifactDigest())
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := artifacts.DecodeTable(b)
	if err != nil {
		t.Fatal(err)
	}
	if tablepb.Digest(tbl) != v2.GetTableDigest() || tbl.NumRows() != 150 {
		t.Errorf("version 2 table: %d rows, digest %s vs recorded %s", tbl.NumRows(), tablepb.Digest(tbl), v2.GetTableDigest())
	}

	// Rerunning the first run's pinned spec still reads version 1, from
	// the cache.
	again, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: first.GetSpec()})
	if err != nil {
		t.Fatal(err)
	}
	rerun := await(t, client, again.GetRun().GetId())
	if rerun.GetDatasetRows() != 75 || !findStep(rerun.GetSteps(), "collect").GetCacheHit() {
		t.Errorf("rerun of the pinned spec read %d rows (cache hit %v), want version 1's 75 from the cache",
			rerun.GetDatasetRows(), findStep(rerun.GetSteps(), "collect").GetCacheHit())
	}

	rt, err := client.RetrainRun(ctx, &orchestratorv1.RetrainRunRequest{RunId: first.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	link := rt.GetRun().GetRetrain()
	if link.GetRunId() != first.GetId() || link.GetDataset() != "iris" || link.GetFromVersion() != 1 || link.GetToVersion() != 2 ||
		link.GetPreviousMetric() != "accuracy" || link.PreviousTestScore == nil {
		t.Fatalf("retrain link = %v", link)
	}
	prevScore := first.GetTestMetrics().GetClassification().GetAccuracy()
	if math.Abs(link.GetPreviousTestScore()-prevScore) > 1e-12 {
		t.Errorf("previous test score %v, want the first run's accuracy %v", link.GetPreviousTestScore(), prevScore)
	}
	second := await(t, client, rt.GetRun().GetId())
	if second.GetState() != orchestratorv1.RunState_RUN_STATE_SUCCEEDED || second.GetDatasetRows() != 150 ||
		second.GetSpec().GetSource().GetDataset().GetVersion() != 2 || second.GetRetrain().GetRunId() != first.GetId() {
		t.Fatalf("retrained run: %v %s, %d rows, spec %v", second.GetState(), second.GetError(), second.GetDatasetRows(), second.GetSpec().GetSource())
	}
	if second.GetTestMetrics().GetClassification() == nil {
		t.Error("retrained run has no test score")
	}

	got, err := client.GetDataset(ctx, &orchestratorv1.GetDatasetRequest{Name: "iris"})
	if err != nil {
		t.Fatal(err)
	}
	if vs := got.GetDataset().GetVersions(); len(vs) != 2 || vs[0].GetVersion() != 2 || vs[1].GetVersion() != 1 {
		t.Errorf("versions %v, want 2 then 1", vs)
	}
	list, err := client.ListDatasets(ctx, &orchestratorv1.ListDatasetsRequest{})
	if err != nil || len(list.GetDatasets()) != 1 || list.GetDatasets()[0].GetLatestVersion() != 2 {
		t.Errorf("ListDatasets = %v, %v", list, err)
	}
}

// Appending rows whose sepal length is shifted shows up in the version's
// drift report as a major shift of that column only, and CompareVersions
// over the whole versions sees it diluted by the old rows.
func TestDatasetDriftOnShiftedBatch(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	header, odd, even := irisBatches(t)
	if _, err := appendUpload(t, client, "flowers", header+"\n"+strings.Join(odd, "\n")+"\n"); err != nil {
		t.Fatal(err)
	}
	shifted := make([]string, len(even))
	for i, l := range even {
		f := strings.Split(l, ",")
		x, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			t.Fatal(err)
		}
		f[0] = strconv.FormatFloat(x+3, 'f', 1, 64)
		shifted[i] = strings.Join(f, ",")
	}
	v2, err := appendUpload(t, client, "flowers", header+"\n"+strings.Join(shifted, "\n")+"\n")
	if err != nil {
		t.Fatal(err)
	}
	rep := v2.GetDrift()
	if rep.GetLevel() != orchestratorv1.DriftLevel_DRIFT_LEVEL_MAJOR || !strings.Contains(rep.GetSummary(), "sepal_length_cm") {
		t.Fatalf("report %v, want a major shift in sepal_length_cm", rep)
	}
	for _, c := range rep.GetColumns() {
		shiftedCol := c.GetName() == "sepal_length_cm"
		if shiftedCol != (c.GetLevel() == orchestratorv1.DriftLevel_DRIFT_LEVEL_MAJOR) {
			t.Errorf("column %s: level %v (PSI %.3f)", c.GetName(), c.GetLevel(), c.GetPsi())
		}
		if shiftedCol && (c.GetKsStatistic() < 0.5 || c.GetKsPValue() > 1e-6 || c.GetMeanTo()-c.GetMeanFrom() < 2.5) {
			t.Errorf("sepal length: KS %.3f p %.3g, means %.2f → %.2f", c.GetKsStatistic(), c.GetKsPValue(), c.GetMeanFrom(), c.GetMeanTo())
		}
	}
	whole, err := client.CompareVersions(context.Background(), &orchestratorv1.CompareVersionsRequest{Name: "flowers", FromVersion: 1, ToVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	if whole.GetReport().GetAppendedOnly() || whole.GetReport().GetComparedRows() != 150 || whole.GetReport().GetToRows() != 150 {
		t.Errorf("whole-version report %v", whole.GetReport())
	}
	appended, err := client.CompareVersions(context.Background(), &orchestratorv1.CompareVersionsRequest{Name: "flowers", AppendedOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := appended.GetReport(); r.GetFromVersion() != 1 || r.GetToVersion() != 2 || r.GetToRows() != 150 || r.GetComparedRows() != 75 {
		t.Errorf("CompareVersions(appended_only) with default versions: %v", r)
	}
	if appended.GetReport().GetColumns()[0].GetPsi() != rep.GetColumns()[0].GetPsi() {
		t.Errorf("CompareVersions(appended_only) PSI %v, stored report %v", appended.GetReport().GetColumns()[0].GetPsi(), rep.GetColumns()[0].GetPsi())
	}
	if w, a := whole.GetReport().GetColumns()[0].GetKsStatistic(), appended.GetReport().GetColumns()[0].GetKsStatistic(); w >= a {
		t.Errorf("KS over whole versions %.3f, over appended rows %.3f: want the old rows to dilute it", w, a)
	}
}

// Schema changes between batches: a new column, a missing column, a
// boolean turned numeric are merged and reported; numbers turned
// categories are refused naming the column.
func TestDatasetSchemaPolicy(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	if _, err := appendUpload(t, client, "s", "a,b,flag\n1,x,true\n2,y,false\n3,x,true\n"); err != nil {
		t.Fatal(err)
	}
	v2, err := appendUpload(t, client, "s", "a,flag,c\n4,5,u\n5,0,v\n")
	if err != nil {
		t.Fatal(err)
	}
	fields := v2.GetSchema().GetFields()
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.GetName()
	}
	if !slices.Equal(names, []string{"a", "b", "flag", "c"}) || fields[2].GetType() != datav1.ColumnType_COLUMN_TYPE_NUMERIC || v2.GetRows() != 5 {
		t.Fatalf("version 2 schema %v, rows %d", fields, v2.GetRows())
	}
	rep := v2.GetDrift()
	if !slices.Equal(rep.GetAddedColumns(), []string{"c"}) || len(rep.GetRetypedColumns()) != 1 || rep.GetRetypedColumns()[0].GetName() != "flag" {
		t.Errorf("report %v, want c added and flag retyped", rep)
	}
	// b is missing in the batch: filled missing, so its missing rate in
	// the appended rows is 1.
	for _, c := range rep.GetColumns() {
		if c.GetName() == "b" && c.GetMissingRateTo() != 1 {
			t.Errorf("b missing rate in appended rows %v, want 1", c.GetMissingRateTo())
		}
	}
	_, err = appendUpload(t, client, "s", "a,b\nlots,x\nfew,y\n")
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), `"a"`) || !strings.Contains(err.Error(), "categorical_columns") {
		t.Fatalf("numbers turned categories: %v, want FailedPrecondition naming a", err)
	}
	got, err := client.GetDataset(context.Background(), &orchestratorv1.GetDatasetRequest{Name: "s"})
	if err != nil || got.GetDataset().GetLatestVersion() != 2 {
		t.Fatalf("a refused append made a version: %v, %v", got, err)
	}
}

func TestDatasetConcurrentAppends(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	const n = 4
	digests := make([]string, n)
	for i := range digests {
		digests[i] = upload(t, client, "b.csv", fmt.Sprintf("x,y\n%d,a\n%d,b\n", i, i+10))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = client.AppendDataset(context.Background(), &orchestratorv1.AppendDatasetRequest{
				Name: "c", Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Upload{Upload: digests[i]}},
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := client.GetDataset(context.Background(), &orchestratorv1.GetDatasetRequest{Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got.GetDataset().GetVersions() {
		if want := int64(n - i); v.GetVersion() != want || v.GetRows() != 2*want || len(v.GetBatchDigests()) != int(want) {
			t.Errorf("versions[%d] = version %d, %d rows, %d batches; want version %d with %d rows", i, v.GetVersion(), v.GetRows(), len(v.GetBatchDigests()), want, 2*want)
		}
	}
}

// A batch fetched from a URL goes through ingest's Read with the url
// source.
func TestDatasetAppendFromURL(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "x,y\n1,a\n2,b\n3,a\n")
	}))
	defer web.Close()
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	srv := serverkit.NewGRPCServer(slog.New(slog.DiscardHandler))
	ingestv1.RegisterIngestServiceServer(srv.GRPC, ingest.NewServer(ingest.Config{AllowURLHosts: []string{"127.0.0.1"}}))
	lis, err := serverkit.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx, lis); close(done) }()
	defer func() { cancel(); <-done }()
	cfg.IngestAddr = lis.Addr().String()
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	resp, err := client.AppendDataset(context.Background(), &orchestratorv1.AppendDatasetRequest{
		Name: "web", Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Url{Url: web.URL + "/x.csv"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := resp.GetVersion(); v.GetRows() != 3 || v.GetSource() != "url "+web.URL+"/x.csv" {
		t.Errorf("version from a URL = %v", v)
	}
}

func TestDatasetRPCValidation(t *testing.T) {
	cfg := startStages(t)
	cfg.DataDir = t.TempDir()
	_, client, stop := newTestOrchestrator(t, cfg)
	defer stop()
	ctx := context.Background()
	if _, err := appendUpload(t, client, "one", "x,y\n1,a\n2,b\n3,a\n"); err != nil {
		t.Fatal(err)
	}
	bundledRun, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: irisSpec(&orchestratorv1.Candidate{Algorithm: "knn"})})
	if err != nil {
		t.Fatal(err)
	}
	missing := strings.Repeat("0", 64)
	for _, tc := range []struct {
		name  string
		call  func() error
		code  codes.Code
		field string
	}{
		{"append: no name", func() error {
			_, err := client.AppendDataset(ctx, &orchestratorv1.AppendDatasetRequest{Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}})
			return err
		}, codes.InvalidArgument, "name"},
		{"append: bad name", func() error {
			_, err := client.AppendDataset(ctx, &orchestratorv1.AppendDatasetRequest{Name: "Sales Q1", Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}})
			return err
		}, codes.InvalidArgument, "name"},
		{"append: no source", func() error {
			_, err := client.AppendDataset(ctx, &orchestratorv1.AppendDatasetRequest{Name: "x"})
			return err
		}, codes.InvalidArgument, "source"},
		{"append: dataset source", func() error {
			_, err := client.AppendDataset(ctx, &orchestratorv1.AppendDatasetRequest{Name: "x", Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Dataset{Dataset: &orchestratorv1.DatasetRef{Name: "one"}}}})
			return err
		}, codes.InvalidArgument, "source.dataset"},
		{"append: bad upload digest", func() error {
			_, err := client.AppendDataset(ctx, &orchestratorv1.AppendDatasetRequest{Name: "x", Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Upload{Upload: "abc"}}})
			return err
		}, codes.InvalidArgument, "source.upload"},
		{"append: unknown upload", func() error {
			_, err := client.AppendDataset(ctx, &orchestratorv1.AppendDatasetRequest{Name: "x", Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Upload{Upload: missing}}})
			return err
		}, codes.NotFound, ""},
		{"append: not a URL", func() error {
			_, err := client.AppendDataset(ctx, &orchestratorv1.AppendDatasetRequest{Name: "x", Source: &orchestratorv1.Source{Kind: &orchestratorv1.Source_Url{Url: "ftp://host/a.csv"}}})
			return err
		}, codes.InvalidArgument, "source.url"},
		{"get: unknown", func() error {
			_, err := client.GetDataset(ctx, &orchestratorv1.GetDatasetRequest{Name: "nope"})
			return err
		}, codes.NotFound, ""},
		{"get: bad name", func() error {
			_, err := client.GetDataset(ctx, &orchestratorv1.GetDatasetRequest{Name: "-x"})
			return err
		}, codes.InvalidArgument, "name"},
		{"compare: negative from", func() error {
			_, err := client.CompareVersions(ctx, &orchestratorv1.CompareVersionsRequest{Name: "one", FromVersion: -1})
			return err
		}, codes.InvalidArgument, "from_version"},
		{"compare: negative to", func() error {
			_, err := client.CompareVersions(ctx, &orchestratorv1.CompareVersionsRequest{Name: "one", ToVersion: -2})
			return err
		}, codes.InvalidArgument, "to_version"},
		{"compare: unknown dataset", func() error {
			_, err := client.CompareVersions(ctx, &orchestratorv1.CompareVersionsRequest{Name: "nope"})
			return err
		}, codes.NotFound, ""},
		{"compare: unknown version", func() error {
			_, err := client.CompareVersions(ctx, &orchestratorv1.CompareVersionsRequest{Name: "one", ToVersion: 9})
			return err
		}, codes.NotFound, ""},
		{"compare: nothing before version 1", func() error {
			_, err := client.CompareVersions(ctx, &orchestratorv1.CompareVersionsRequest{Name: "one"})
			return err
		}, codes.FailedPrecondition, ""},
		{"compare: from not older", func() error {
			_, err := client.CompareVersions(ctx, &orchestratorv1.CompareVersionsRequest{Name: "one", FromVersion: 1, ToVersion: 1})
			return err
		}, codes.InvalidArgument, "from_version"},
		{"retrain: no run id", func() error {
			_, err := client.RetrainRun(ctx, &orchestratorv1.RetrainRunRequest{})
			return err
		}, codes.InvalidArgument, "run_id"},
		{"retrain: unknown run", func() error {
			_, err := client.RetrainRun(ctx, &orchestratorv1.RetrainRunRequest{RunId: "nope"})
			return err
		}, codes.NotFound, ""},
		{"retrain: not a dataset run", func() error {
			_, err := client.RetrainRun(ctx, &orchestratorv1.RetrainRunRequest{RunId: bundledRun.GetRun().GetId()})
			return err
		}, codes.FailedPrecondition, ""},
		{"run: bad dataset name", func() error {
			_, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: datasetSpec("A", 0)})
			return err
		}, codes.InvalidArgument, "spec.source.dataset.name"},
		{"run: negative version", func() error {
			_, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: datasetSpec("one", -1)})
			return err
		}, codes.InvalidArgument, "spec.source.dataset.version"},
		{"run: unknown dataset", func() error {
			_, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: datasetSpec("nope", 0)})
			return err
		}, codes.NotFound, ""},
		{"run: unknown version", func() error {
			_, err := client.StartRun(ctx, &orchestratorv1.StartRunRequest{Spec: datasetSpec("one", 5)})
			return err
		}, codes.NotFound, ""},
	} {
		err := tc.call()
		if status.Code(err) != tc.code {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.code)
			continue
		}
		if tc.field != "" && !slices.Contains(serverkit.FieldViolations(err), tc.field) {
			t.Errorf("%s: field violations %v, want %q", tc.name, serverkit.FieldViolations(err), tc.field)
		}
	}
	await(t, client, bundledRun.GetRun().GetId())
}

func findStep(steps []*orchestratorv1.Step, name string) *orchestratorv1.Step {
	for _, s := range steps {
		if s.GetName() == name {
			return s
		}
	}
	return nil
}
