package prep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/dataprep"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	prepv1 "github.com/alur-ml/alur/proto/alur/prep/v1"
	"github.com/alur-ml/alur/serverkit"
)

// client starts an in-process PrepService with cfg and returns a client.
func client(t *testing.T, cfg Config) prepv1.PrepServiceClient {
	t.Helper()
	conn, stop := serverkit.NewInProcess(func(s *grpc.Server) {
		prepv1.RegisterPrepServiceServer(s, NewServer(cfg))
	})
	t.Cleanup(stop)
	return prepv1.NewPrepServiceClient(conn)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawTable is a 300-row table with every column kind, missing values, an
// identifier column and a three-class label.
func rawTable() *table.Table {
	const n = 300
	x := make([]float64, n)
	flag := make([]float64, n)
	colorCodes := make([]int32, n)
	idDict := make([]string, n)
	idCodes := make([]int32, n)
	labelCodes := make([]int32, n)
	for i := range n {
		x[i] = float64((i*37)%101) / 10
		if i%17 == 0 {
			x[i] = math.NaN()
		}
		flag[i] = float64(i % 2)
		colorCodes[i] = int32(i % 3)
		if i%23 == 0 {
			colorCodes[i] = -1
		}
		idDict[i] = fmt.Sprintf("row-%03d", i)
		idCodes[i] = int32(i)
		labelCodes[i] = int32((i / 7) % 3)
		if i%50 == 49 {
			labelCodes[i] = -1
		}
	}
	return &table.Table{Columns: []*table.Column{
		table.NewNumeric("x", x),
		{Name: "flag", Type: datav1.ColumnType_COLUMN_TYPE_BOOLEAN, Nums: flag},
		table.NewCategorical("color", colorCodes, []string{"red", "green", "blue"}),
		table.NewCategorical("id", idCodes, idDict),
		table.NewCategorical("species", labelCodes, []string{"setosa", "versicolor", "virginica"}),
	}}
}

// sendTable streams t as schema and batches through wrap; it stops quietly
// when the server has already answered (io.EOF).
func sendTable(t *testing.T, tb *table.Table, send func(sc *datav1.Schema, b *datav1.TableBatch) error) {
	t.Helper()
	err := tablepb.Send(tb, 4<<10,
		func(sc *datav1.Schema) error { return send(sc, nil) },
		func(b *datav1.TableBatch) error { return send(nil, b) })
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("sending the table: %v", err)
	}
}

type prepareResult struct {
	transform *datav1.FittedTransform
	splits    map[prepv1.Split]*table.Table
	summary   *prepv1.PrepareSummary
	order     []string // "transform", "batch", "summary" as received
}

// prepare runs one Prepare call: head (the options), then the table.
func prepare(t *testing.T, c prepv1.PrepServiceClient, head []*prepv1.PrepareRequest, tb *table.Table) (*prepareResult, error) {
	t.Helper()
	stream, err := c.Prepare(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range head {
		if err := stream.Send(m); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
	}
	if tb != nil {
		sendTable(t, tb, func(sc *datav1.Schema, b *datav1.TableBatch) error {
			if sc != nil {
				return stream.Send(&prepv1.PrepareRequest{Part: &prepv1.PrepareRequest_Schema{Schema: sc}})
			}
			return stream.Send(&prepv1.PrepareRequest{Part: &prepv1.PrepareRequest_Batch{Batch: b}})
		})
	}
	_ = stream.CloseSend()
	res := &prepareResult{splits: map[prepv1.Split]*table.Table{}}
	collectors := map[prepv1.Split]*tablepb.Collector{}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if size := proto.Size(m); size > 1<<20 {
			t.Fatalf("a %d-byte message", size)
		}
		switch p := m.Part.(type) {
		case *prepv1.PrepareResponse_Transform:
			res.transform = p.Transform
			res.order = append(res.order, "transform")
		case *prepv1.PrepareResponse_Batch:
			res.order = append(res.order, "batch")
			sb := p.Batch
			col := collectors[sb.Split]
			if col == nil {
				if sb.Schema == nil {
					t.Fatalf("first batch of %v has no schema", sb.Split)
				}
				col = &tablepb.Collector{}
				collectors[sb.Split] = col
			}
			if sb.Schema != nil {
				if err := col.Schema(sb.Schema); err != nil {
					t.Fatal(err)
				}
			}
			if sb.Batch != nil {
				if err := col.Batch(sb.Batch); err != nil {
					t.Fatal(err)
				}
			}
		case *prepv1.PrepareResponse_Summary:
			res.summary = p.Summary
			res.order = append(res.order, "summary")
		}
	}
	for sp, col := range collectors {
		tb, err := col.Table()
		if err != nil {
			t.Fatal(err)
		}
		res.splits[sp] = tb
	}
	return res, nil
}

func optionsMsg(o *prepv1.PrepareOptions) *prepv1.PrepareRequest {
	return &prepv1.PrepareRequest{Part: &prepv1.PrepareRequest_Options{Options: o}}
}

func TestPrepare(t *testing.T) {
	c := client(t, Config{})
	opts := &prepv1.PrepareOptions{Label: "species", Seed: 11}
	res, err := prepare(t, c, []*prepv1.PrepareRequest{optionsMsg(opts)}, rawTable())
	if err != nil {
		t.Fatal(err)
	}
	if res.order[0] != "transform" || res.order[len(res.order)-1] != "summary" {
		t.Errorf("response order %v", res.order)
	}
	tr := res.transform
	if tr.GetLabelMissingDropped() != 6 || tr.GetTask() != datav1.Task_TASK_CLASSIFICATION {
		t.Errorf("transform: dropped %d, task %v", tr.GetLabelMissingDropped(), tr.GetTask())
	}
	if want := []string{"x", "flag", "color=blue", "color=green", "color=red"}; !slices.Equal(tr.GetFeatureNames(), want) {
		t.Errorf("features %v, want %v (id dropped as id-like)", tr.GetFeatureNames(), want)
	}

	// The service must agree with the library run in process.
	raw := rawTable()
	splits, err := dataprep.Split(raw, opts)
	if err != nil {
		t.Fatal(err)
	}
	want, err := dataprep.Fit(raw, splits.Train, opts)
	if err != nil {
		t.Fatal(err)
	}
	want.LabelMissingDropped = int64(splits.LabelMissing)
	if !proto.Equal(tr, want) {
		t.Errorf("transform differs from the library's:\n got %v\nwant %v", tr, want)
	}
	sum := res.summary
	for _, tc := range []struct {
		split  prepv1.Split
		rows   []int
		n      int64
		digest string
	}{
		{prepv1.Split_SPLIT_TRAIN, splits.Train, sum.GetTrainRows(), sum.GetTrainDigest()},
		{prepv1.Split_SPLIT_VALIDATION, splits.Validation, sum.GetValidationRows(), sum.GetValidationDigest()},
		{prepv1.Split_SPLIT_TEST, splits.Test, sum.GetTestRows(), sum.GetTestDigest()},
	} {
		got := res.splits[tc.split]
		if got == nil {
			t.Fatalf("no %v rows", tc.split)
		}
		if int64(got.NumRows()) != tc.n || len(tc.rows) != got.NumRows() {
			t.Errorf("%v: %d rows, summary %d, library %d", tc.split, got.NumRows(), tc.n, len(tc.rows))
		}
		if d := tablepb.Digest(got); d != tc.digest {
			t.Errorf("%v: digest %s, summary %s", tc.split, d, tc.digest)
		}
		X, y, err := dataprep.ApplyWithLabel(want, raw.Take(tc.rows))
		if err != nil {
			t.Fatal(err)
		}
		if d := tablepb.Digest(dataprep.PreparedTable(want, X, y)); d != tc.digest {
			t.Errorf("%v: digest %s, library %s", tc.split, tc.digest, d)
		}
		pd, err := dataprep.FromPrepared(got, "species")
		if err != nil {
			t.Fatalf("%v: %v", tc.split, err)
		}
		if !slices.Equal(pd.ClassNames, []string{"setosa", "versicolor", "virginica"}) {
			t.Errorf("%v: classes %v", tc.split, pd.ClassNames)
		}
	}
	if n := sum.GetTrainRows() + sum.GetValidationRows() + sum.GetTestRows(); n != 294 {
		t.Errorf("%d prepared rows, want 294 labelled rows", n)
	}
}

// apply runs one Apply call and returns the prepared table.
func apply(t *testing.T, c prepv1.PrepServiceClient, tr *datav1.FittedTransform, tb *table.Table) (*table.Table, error) {
	t.Helper()
	stream, err := c.Apply(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if tr != nil {
		if err := stream.Send(&prepv1.ApplyRequest{Part: &prepv1.ApplyRequest_Transform{Transform: tr}}); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
	}
	if tb != nil {
		sendTable(t, tb, func(sc *datav1.Schema, b *datav1.TableBatch) error {
			if sc != nil {
				return stream.Send(&prepv1.ApplyRequest{Part: &prepv1.ApplyRequest_Schema{Schema: sc}})
			}
			return stream.Send(&prepv1.ApplyRequest{Part: &prepv1.ApplyRequest_Batch{Batch: b}})
		})
	}
	_ = stream.CloseSend()
	var col tablepb.Collector
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch p := m.Part.(type) {
		case *prepv1.ApplyResponse_Schema:
			if err := col.Schema(p.Schema); err != nil {
				t.Fatal(err)
			}
		case *prepv1.ApplyResponse_Batch:
			if err := col.Batch(p.Batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	return col.Table()
}

func fittedTransform(t *testing.T) *datav1.FittedTransform {
	t.Helper()
	tr, err := dataprep.Fit(rawTable(), nil, &prepv1.PrepareOptions{Label: "species"})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestApply(t *testing.T) {
	c := client(t, Config{})
	tr := fittedTransform(t)
	t.Run("with label", func(t *testing.T) {
		rows := &table.Table{Columns: []*table.Column{
			table.NewCategorical("color", []int32{0, 1, -1}, []string{"red", "purple"}),
			table.NewNumeric("x", []float64{1, math.NaN(), 3}),
			{Name: "flag", Type: datav1.ColumnType_COLUMN_TYPE_BOOLEAN, Nums: []float64{1, 0, 1}},
			table.NewCategorical("species", []int32{0, 1, -1}, []string{"virginica", "dodo"}),
		}}
		got, err := apply(t, c, tr, rows)
		if err != nil {
			t.Fatal(err)
		}
		X, _ := dataprep.ApplyFeatures(tr, rows)
		y, _ := dataprep.Targets(tr, rows, true)
		if want := dataprep.PreparedTable(tr, X, y); tablepb.Digest(got) != tablepb.Digest(want) {
			t.Errorf("prepared rows differ from the library's")
		}
		lc, _ := got.Column("species")
		if lc == nil || !slices.Equal(lc.Codes, []int32{2, -1, -1}) {
			t.Errorf("label column %v: want virginica, then missing for an unknown class and a missing label", lc)
		}
	})
	t.Run("without label", func(t *testing.T) {
		rows := &table.Table{Columns: []*table.Column{
			table.NewNumeric("x", []float64{2}),
			{Name: "flag", Type: datav1.ColumnType_COLUMN_TYPE_BOOLEAN, Nums: []float64{0}},
			table.NewCategorical("color", []int32{0}, []string{"blue"}),
		}}
		got, err := apply(t, c, tr, rows)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Columns) != len(tr.GetFeatureNames()) || got.NumRows() != 1 {
			t.Errorf("got %d columns × %d rows", len(got.Columns), got.NumRows())
		}
	})
	t.Run("no rows", func(t *testing.T) {
		rows := &table.Table{Columns: []*table.Column{
			table.NewNumeric("x", nil),
			{Name: "flag", Type: datav1.ColumnType_COLUMN_TYPE_BOOLEAN},
			table.NewCategorical("color", nil, nil),
		}}
		got, err := apply(t, c, tr, rows)
		if err != nil {
			t.Fatal(err)
		}
		if got.NumRows() != 0 || len(got.Columns) != len(tr.GetFeatureNames()) {
			t.Errorf("got %d columns × %d rows", len(got.Columns), got.NumRows())
		}
	})
}

func TestProfile(t *testing.T) {
	c := client(t, Config{})
	run := func(opts *prepv1.ProfileOptions, tb *table.Table) (*datav1.DataProfile, error) {
		stream, err := c.Profile(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if opts != nil {
			if err := stream.Send(&prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Options{Options: opts}}); err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
		}
		if tb != nil {
			sendTable(t, tb, func(sc *datav1.Schema, b *datav1.TableBatch) error {
				if sc != nil {
					return stream.Send(&prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Schema{Schema: sc}})
				}
				return stream.Send(&prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Batch{Batch: b}})
			})
		}
		resp, err := stream.CloseAndRecv()
		return resp.GetProfile(), err
	}
	p, err := run(&prepv1.ProfileOptions{Label: "species", HistogramBins: 5}, rawTable())
	if err != nil {
		t.Fatal(err)
	}
	if p.GetRowCount() != 300 || len(p.GetColumns()) != 5 || p.GetLabel() != "species" || len(p.GetColumns()[0].GetHistogram().GetCounts()) != 5 {
		t.Errorf("profile: %d rows, %d columns, label %q", p.GetRowCount(), len(p.GetColumns()), p.GetLabel())
	}
	seen := map[string]bool{}
	for _, f := range p.GetFindings() {
		seen[f.GetCode()+"/"+f.GetColumn()] = true
	}
	for _, want := range []string{"id_like_column/id", "missing_values/x", "missing_values/species"} {
		if !seen[want] {
			t.Errorf("no finding %s in %v", want, seen)
		}
	}
	p, err = run(nil, rawTable())
	if err != nil || p.GetRowCount() != 300 {
		t.Errorf("without options: %v, %v", p.GetRowCount(), err)
	}

	_, err = run(&prepv1.ProfileOptions{HistogramBins: -3}, rawTable())
	wantStatus(t, err, codes.InvalidArgument, "options.histogram_bins")
	_, err = run(&prepv1.ProfileOptions{}, nil)
	wantStatus(t, err, codes.InvalidArgument, "schema")
	bad := &table.Table{Columns: []*table.Column{table.NewNumeric("x", []float64{1})}}
	stream, _ := c.Profile(testCtx(t))
	_ = stream.Send(&prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Schema{Schema: bad.Schema()}})
	_ = stream.Send(&prepv1.ProfileRequest{Part: &prepv1.ProfileRequest_Options{Options: &prepv1.ProfileOptions{}}})
	_, err = stream.CloseAndRecv()
	wantStatus(t, err, codes.InvalidArgument, "options")
}

// wantStatus checks the code and, for InvalidArgument, the field named in
// the BadRequest details.
func wantStatus(t *testing.T, err error, code codes.Code, field string) {
	t.Helper()
	st := status.Convert(err)
	t.Logf("status: %v", err)
	if err == nil || st.Code() != code {
		t.Fatalf("status %v (%v), want %v", st.Code(), err, code)
	}
	if field != "" {
		if got := serverkit.FieldViolations(err); !slices.Contains(got, field) {
			t.Fatalf("field violations %v (%v), want %q", got, err, field)
		}
	}
}

func TestPrepareBadInput(t *testing.T) {
	c := client(t, Config{})
	small := client(t, Config{MaxRows: 100, MaxColumns: 4, MaxFeatureCells: 10_000})
	cells := client(t, Config{MaxFeatureCells: 500})
	few := client(t, Config{MaxCategories: 4})
	ok := &prepv1.PrepareOptions{Label: "species"}
	schemaMsg := &prepv1.PrepareRequest{Part: &prepv1.PrepareRequest_Schema{Schema: rawTable().Schema()}}
	tests := []struct {
		name   string
		c      prepv1.PrepServiceClient
		head   []*prepv1.PrepareRequest
		tb     *table.Table
		code   codes.Code
		field  string
		substr string
	}{
		{"empty stream", c, nil, nil, codes.InvalidArgument, "options", ""},
		{"schema first", c, []*prepv1.PrepareRequest{schemaMsg}, nil, codes.InvalidArgument, "options", ""},
		{"options twice", c, []*prepv1.PrepareRequest{optionsMsg(ok), optionsMsg(ok)}, nil, codes.InvalidArgument, "options", ""},
		{"batch before schema", c, []*prepv1.PrepareRequest{optionsMsg(ok), {Part: &prepv1.PrepareRequest_Batch{Batch: &datav1.TableBatch{NumRows: 1}}}}, nil, codes.InvalidArgument, "schema", ""},
		{"no label", c, []*prepv1.PrepareRequest{optionsMsg(&prepv1.PrepareOptions{})}, rawTable(), codes.InvalidArgument, "options.label", ""},
		{"bad fraction", c, []*prepv1.PrepareRequest{optionsMsg(&prepv1.PrepareOptions{Label: "species", TestFraction: 0.95})}, rawTable(), codes.InvalidArgument, "options.test_fraction", ""},
		{"unknown label", c, []*prepv1.PrepareRequest{optionsMsg(&prepv1.PrepareOptions{Label: "kind"})}, rawTable(), codes.InvalidArgument, "options.label", `"species"`},
		{"unknown drop column", c, []*prepv1.PrepareRequest{optionsMsg(&prepv1.PrepareOptions{Label: "species", DropColumns: []string{"x", "nope"}})}, rawTable(), codes.InvalidArgument, "options.drop_columns[1]", ""},
		{"constant label", c, []*prepv1.PrepareRequest{optionsMsg(&prepv1.PrepareOptions{Label: "flag2"})}, withColumn(rawTable(), &table.Column{Name: "flag2", Type: datav1.ColumnType_COLUMN_TYPE_BOOLEAN, Nums: make([]float64, 300)}), codes.InvalidArgument, "options.label", "constant"},
		{"regression on categories", c, []*prepv1.PrepareRequest{optionsMsg(&prepv1.PrepareOptions{Label: "species", Task: datav1.Task_TASK_REGRESSION})}, rawTable(), codes.InvalidArgument, "options.task", ""},
		{"too few rows", c, []*prepv1.PrepareRequest{optionsMsg(ok)}, rawTable().Take([]int{0, 7}), codes.FailedPrecondition, "", "too few"},
		{"too many rows", small, []*prepv1.PrepareRequest{optionsMsg(ok)}, withoutID(rawTable()), codes.ResourceExhausted, "", "max_rows"},
		{"too many columns", small, []*prepv1.PrepareRequest{optionsMsg(ok)}, rawTable(), codes.ResourceExhausted, "", "max_columns"},
		{"too many cells", cells, []*prepv1.PrepareRequest{optionsMsg(ok)}, rawTable(), codes.ResourceExhausted, "", "max_feature_cells"},
		{"too many categories", few, []*prepv1.PrepareRequest{optionsMsg(ok)}, rawTable(), codes.ResourceExhausted, "", "max_categories"},
		{"one-hot cap above the server's", few, []*prepv1.PrepareRequest{optionsMsg(&prepv1.PrepareOptions{Label: "species", MaxCategories: 5})}, nil, codes.ResourceExhausted, "", "max_categories"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := prepare(t, tc.c, tc.head, tc.tb)
			wantStatus(t, err, tc.code, tc.field)
			if !strings.Contains(status.Convert(err).Message(), tc.substr) {
				t.Errorf("message %q does not mention %q", status.Convert(err).Message(), tc.substr)
			}
		})
	}
}

func withColumn(tb *table.Table, c *table.Column) *table.Table {
	tb.Columns = append(tb.Columns, c)
	return tb
}

func withoutID(tb *table.Table) *table.Table {
	tb.Columns = slices.DeleteFunc(tb.Columns, func(c *table.Column) bool { return c.Name == "id" })
	return tb
}

func TestApplyBadInput(t *testing.T) {
	c := client(t, Config{})
	tr := fittedTransform(t)
	corrupt := proto.Clone(tr).(*datav1.FittedTransform)
	corrupt.Columns[0].Scale = -1
	noFlag := withoutID(rawTable())
	noFlag.Columns = slices.DeleteFunc(noFlag.Columns, func(c *table.Column) bool { return c.Name == "flag" })
	catX := rawTable()
	catX.Columns[0] = table.NewCategorical("x", make([]int32, 300), []string{"a"})
	tests := []struct {
		name  string
		tr    *datav1.FittedTransform
		tb    *table.Table
		code  codes.Code
		field string
	}{
		{"no transform", nil, rawTable(), codes.InvalidArgument, "transform"},
		{"corrupt transform", corrupt, rawTable(), codes.InvalidArgument, "transform.columns[0].scale"},
		{"missing column", tr, noFlag, codes.InvalidArgument, "schema"},
		{"type mismatch", tr, catX, codes.InvalidArgument, "schema"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := apply(t, c, tc.tr, tc.tb)
			wantStatus(t, err, tc.code, tc.field)
		})
	}
	stream, _ := c.Apply(testCtx(t))
	_ = stream.CloseSend()
	_, err := stream.Recv()
	wantStatus(t, err, codes.InvalidArgument, "transform")
}
