package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
	"github.com/alur-ml/alur/serverkit"
)

// newClient starts an in-process server with cfg.
func newClient(t *testing.T, cfg Config) ingestv1.IngestServiceClient {
	t.Helper()
	srv := NewServer(cfg)
	conn, stop := serverkit.NewInProcess(func(s *grpc.Server) { ingestv1.RegisterIngestServiceServer(s, srv) })
	t.Cleanup(stop)
	return ingestv1.NewIngestServiceClient(conn)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// received is a decoded table stream.
type received struct {
	table      *table.Table
	summary    *datav1.TableSummary
	report     *ingestv1.IngestReport
	batchSizes []int
}

// tablePart is what UploadResponse and ReadResponse have in common.
type tablePart interface {
	GetSchema() *datav1.Schema
	GetBatch() *datav1.TableBatch
	GetSummary() *datav1.TableSummary
	GetReport() *ingestv1.IngestReport
}

// collect decodes a table stream, checking the order of its parts.
func collect[R tablePart](recv func() (R, error)) (*received, error) {
	var c tablepb.Collector
	out := &received{}
	for {
		msg, err := recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if out.summary != nil {
			return nil, errors.New("message after the summary")
		}
		switch {
		case msg.GetSchema() != nil:
			err = c.Schema(msg.GetSchema())
		case msg.GetBatch() != nil:
			out.batchSizes = append(out.batchSizes, proto.Size(msg.GetBatch()))
			err = c.Batch(msg.GetBatch())
		case msg.GetReport() != nil:
			if out.report != nil || !c.HasSchema() {
				return nil, errors.New("report out of place")
			}
			out.report = msg.GetReport()
		case msg.GetSummary() != nil:
			if out.report == nil {
				return nil, errors.New("summary without a report before it")
			}
			out.summary = msg.GetSummary()
		default:
			err = errors.New("empty message")
		}
		if err != nil {
			return nil, err
		}
	}
	if out.summary == nil {
		return nil, errors.New("stream ended without a summary")
	}
	t, err := c.Table()
	if err != nil {
		return nil, err
	}
	out.table = t
	if got := tablepb.Digest(t); got != out.summary.Digest {
		return nil, fmt.Errorf("summary digest %s, table digest %s", out.summary.Digest, got)
	}
	if out.summary.RowCount != int64(t.NumRows()) {
		return nil, fmt.Errorf("summary row count %d, table has %d", out.summary.RowCount, t.NumRows())
	}
	return out, nil
}

// upload sends msgs (ignoring send errors, as the server may answer
// early) and collects the answer.
func upload(t *testing.T, client ingestv1.IngestServiceClient, msgs ...*ingestv1.UploadRequest) (*received, error) {
	t.Helper()
	stream, err := client.Upload(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			break
		}
	}
	_ = stream.CloseSend()
	return collect(stream.Recv)
}

func optionsMsg(o *ingestv1.CsvOptions) *ingestv1.UploadRequest {
	return &ingestv1.UploadRequest{Part: &ingestv1.UploadRequest_Options{Options: o}}
}

// chunks splits data into chunk messages of at most size bytes.
func chunks(data []byte, size int) []*ingestv1.UploadRequest {
	var out []*ingestv1.UploadRequest
	for len(data) > 0 {
		n := min(size, len(data))
		out = append(out, &ingestv1.UploadRequest{Part: &ingestv1.UploadRequest_Chunk{Chunk: data[:n]}})
		data = data[n:]
	}
	return out
}

func read(t *testing.T, client ingestv1.IngestServiceClient, req *ingestv1.ReadRequest) (*received, error) {
	t.Helper()
	stream, err := client.Read(testContext(t), req)
	if err != nil {
		t.Fatal(err)
	}
	return collect(stream.Recv)
}

// wantStatus checks err's code, that its message contains text, and, when
// field is set, that a BadRequest detail names it.
func wantStatus(t *testing.T, err error, code codes.Code, field, text string) {
	t.Helper()
	st := status.Convert(err)
	if err == nil || st.Code() != code {
		t.Fatalf("error %v, want code %v", err, code)
	}
	if !strings.Contains(st.Message(), text) {
		t.Fatalf("message %q does not contain %q", st.Message(), text)
	}
	if field != "" {
		fields := serverkit.FieldViolations(err)
		if len(fields) != 1 || fields[0] != field {
			t.Fatalf("field violations %v, want [%s]", fields, field)
		}
	}
}

func TestUploadIris(t *testing.T) {
	client := newClient(t, Config{})
	data, err := os.ReadFile("datasets/iris.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, withOptions := range []bool{true, false} {
		t.Run(fmt.Sprintf("options=%v", withOptions), func(t *testing.T) {
			var msgs []*ingestv1.UploadRequest
			if withOptions {
				msgs = append(msgs, optionsMsg(&ingestv1.CsvOptions{Name: "iris.csv"}))
			}
			got, err := upload(t, client, append(msgs, chunks(data, 500)...)...)
			if err != nil {
				t.Fatal(err)
			}
			if got.table.NumRows() != 150 || len(got.table.Columns) != 5 {
				t.Fatalf("%d rows, %d columns; want 150, 5", got.table.NumRows(), len(got.table.Columns))
			}
			species, _ := got.table.Column("species")
			if species == nil || !species.IsCategorical() || len(species.Dict) != 3 {
				t.Fatalf("species column: %+v", species)
			}
			for _, c := range got.table.Columns[:4] {
				if c.Type != datav1.ColumnType_COLUMN_TYPE_NUMERIC {
					t.Fatalf("column %q is %v", c.Name, c.Type)
				}
			}
			if withOptions && got.summary.Name != "iris.csv" {
				t.Fatalf("summary name %q", got.summary.Name)
			}
			if len(got.summary.Schema.GetFields()) != 5 {
				t.Fatal("summary lacks the schema")
			}
		})
	}
}

func TestUploadHeaderOnly(t *testing.T) {
	client := newClient(t, Config{})
	_, err := upload(t, client, chunks([]byte("a,b\r\n"), 2)...)
	wantStatus(t, err, codes.InvalidArgument, "chunk", "no rows")
}

func TestUploadLargeStreamsInBatches(t *testing.T) {
	client := newClient(t, Config{})
	var sb strings.Builder
	sb.WriteString("id,x,y,label\n")
	const rows = 40000
	for i := range rows {
		fmt.Fprintf(&sb, "%d,%d.%03d,%g,class_%d\n", i, i%1000, i%997, float64(i)/7, i%13)
	}
	data := []byte(sb.String())
	if len(data) <= 1<<20 {
		t.Fatalf("test CSV has only %d bytes", len(data))
	}
	got, err := upload(t, client, chunks(data, 256<<10)...)
	if err != nil {
		t.Fatal(err)
	}
	if got.table.NumRows() != rows {
		t.Fatalf("%d rows, want %d", got.table.NumRows(), rows)
	}
	if len(got.batchSizes) < 2 {
		t.Fatalf("%d batches, want several", len(got.batchSizes))
	}
	for i, n := range got.batchSizes {
		if n >= 1<<20 {
			t.Fatalf("batch %d has %d bytes", i, n)
		}
	}
}

func TestUploadErrors(t *testing.T) {
	client := newClient(t, Config{MaxUploadBytes: 1000})
	chunk := func(s string) *ingestv1.UploadRequest {
		return &ingestv1.UploadRequest{Part: &ingestv1.UploadRequest_Chunk{Chunk: []byte(s)}}
	}
	tests := []struct {
		name  string
		msgs  []*ingestv1.UploadRequest
		code  codes.Code
		field string
		text  string
	}{
		{"no messages", nil, codes.InvalidArgument, "chunk", "empty file"},
		{"options only", []*ingestv1.UploadRequest{optionsMsg(&ingestv1.CsvOptions{})}, codes.InvalidArgument, "chunk", "empty file"},
		{"blank lines only", []*ingestv1.UploadRequest{chunk("\n\n")}, codes.InvalidArgument, "chunk", "empty file"},
		{"ragged row", []*ingestv1.UploadRequest{chunk("a,b\n1,2\n"), chunk("3\n")}, codes.InvalidArgument, "chunk", "line 3"},
		{"bad delimiter", []*ingestv1.UploadRequest{optionsMsg(&ingestv1.CsvOptions{Delimiter: "ab"}), chunk("a\n1\n")}, codes.InvalidArgument, "options.delimiter", "one character"},
		{"unknown categorical column", []*ingestv1.UploadRequest{optionsMsg(&ingestv1.CsvOptions{CategoricalColumns: []string{"zz"}}), chunk("a\n1\n")}, codes.InvalidArgument, "options.categorical_columns[0]", "zz"},
		{"options twice", []*ingestv1.UploadRequest{optionsMsg(nil), optionsMsg(nil)}, codes.InvalidArgument, "options", "twice"},
		{"options after a chunk", []*ingestv1.UploadRequest{chunk("a\n"), optionsMsg(nil)}, codes.InvalidArgument, "options", "first message"},
		{"empty message", []*ingestv1.UploadRequest{{}}, codes.InvalidArgument, "part", "empty"},
		{"too big", chunks([]byte("a,b\n"+strings.Repeat("1,2\n", 400)), 100), codes.ResourceExhausted, "", "max_upload_bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := upload(t, client, tc.msgs...)
			wantStatus(t, err, tc.code, tc.field, tc.text)
		})
	}
}

func TestListAndReadBundled(t *testing.T) {
	client := newClient(t, Config{})
	list, err := client.ListBundled(testContext(t), &ingestv1.ListBundledRequest{})
	if err != nil {
		t.Fatal(err)
	}
	wantRows := map[string]int64{"iris": 150, "wine": 178, "breast_cancer": 569}
	if len(list.Datasets) != len(wantRows) {
		t.Fatalf("%d datasets, want %d", len(list.Datasets), len(wantRows))
	}
	for _, d := range list.Datasets {
		if d.Rows != wantRows[d.Name] || d.Description == "" || d.Task != datav1.Task_TASK_CLASSIFICATION {
			t.Fatalf("dataset %+v", d)
		}
		got, err := read(t, client, &ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Bundled{Bundled: d.Name}})
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		if int64(got.table.NumRows()) != d.Rows || got.summary.Name != d.Name {
			t.Fatalf("%s: %d rows named %q", d.Name, got.table.NumRows(), got.summary.Name)
		}
		label, _ := got.table.Column(d.Label)
		if label == nil || !label.IsCategorical() {
			t.Fatalf("%s: label %q missing or not categorical", d.Name, d.Label)
		}
	}
	// Options apply to bundled data too.
	got, err := read(t, client, &ingestv1.ReadRequest{
		Source:  &ingestv1.ReadRequest_Bundled{Bundled: "wine"},
		Options: &ingestv1.CsvOptions{CategoricalColumns: []string{"magnesium"}, Name: "w"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := got.table.Column("magnesium"); !c.IsCategorical() || got.summary.Name != "w" {
		t.Fatal("options ignored for a bundled dataset")
	}
	_, err = read(t, client, &ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Bundled{Bundled: "titanic"}})
	wantStatus(t, err, codes.NotFound, "", "breast_cancer, iris, wine")
}

func TestReadPath(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	write := func(dir, name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(root, "sub/data.csv", "a,b\n1,x\n2,y\n")
	write(root, "big.csv", "a\n"+strings.Repeat("1\n", 600))
	write(root, "bad.csv", "a,b\n1,2\n\"open\n")
	write(root, "empty.csv", "")
	write(outside, "secret.csv", "s\n1\n")
	if err := os.Symlink(filepath.Join(outside, "secret.csv"), filepath.Join(root, "link.csv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/data.csv", filepath.Join(root, "inside.csv")); err != nil {
		t.Fatal(err)
	}
	client := newClient(t, Config{DataRoot: root, MaxUploadBytes: 1000})
	pathReq := func(p string) *ingestv1.ReadRequest {
		return &ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Path{Path: p}}
	}

	for _, p := range []string{"sub/data.csv", "inside.csv", "sub/../sub/data.csv"} {
		got, err := read(t, client, pathReq(p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got.table.NumRows() != 2 || got.summary.Name != filepath.Base(p) {
			t.Fatalf("%s: %d rows named %q", p, got.table.NumRows(), got.summary.Name)
		}
	}

	tests := []struct {
		path  string
		code  codes.Code
		field string
		text  string
	}{
		{"../x.csv", codes.InvalidArgument, "path", "leaves the data root"},
		{"sub/../../x.csv", codes.InvalidArgument, "path", "leaves the data root"},
		{"/etc/passwd", codes.InvalidArgument, "path", "leaves the data root"},
		{"link.csv", codes.InvalidArgument, "path", "leaves the data root"},
		{"linkdir/secret.csv", codes.InvalidArgument, "path", "leaves the data root"},
		{"", codes.InvalidArgument, "path", "empty"},
		{"missing.csv", codes.NotFound, "", "missing.csv"},
		{"sub", codes.InvalidArgument, "path", "not a regular file"},
		{"big.csv", codes.ResourceExhausted, "", "max_upload_bytes"},
		{"bad.csv", codes.InvalidArgument, "path", "line 3"},
		{"empty.csv", codes.InvalidArgument, "path", "empty file"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			_, err := read(t, client, pathReq(tc.path))
			wantStatus(t, err, tc.code, tc.field, tc.text)
		})
	}

	_, err := read(t, client, &ingestv1.ReadRequest{})
	wantStatus(t, err, codes.InvalidArgument, "source", "missing")
	_, err = read(t, client, &ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Path{Path: "sub/data.csv"}, Options: &ingestv1.CsvOptions{Delimiter: `"`}})
	wantStatus(t, err, codes.InvalidArgument, "options.delimiter", "")

	noRoot := newClient(t, Config{})
	_, err = read(t, noRoot, pathReq("sub/data.csv"))
	wantStatus(t, err, codes.FailedPrecondition, "", "data root")
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		root string
		ok   bool
	}{{"", true}, {dir, true}, {file, false}, {filepath.Join(dir, "nope"), false}} {
		if err := (Config{DataRoot: tc.root}).Check(); (err == nil) != tc.ok {
			t.Errorf("Check(%q) = %v", tc.root, err)
		}
	}
}
