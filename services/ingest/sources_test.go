package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/ml/csvio"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
)

// colText renders a column as comparable text: numbers with %g, missing
// as "-".
func colText(c *table.Column) string {
	var parts []string
	for i := range c.Len() {
		switch {
		case c.IsMissing(i):
			parts = append(parts, "-")
		case c.IsCategorical():
			parts = append(parts, c.Dict[c.Codes[i]])
		default:
			parts = append(parts, fmt.Sprintf("%g", c.Nums[i]))
		}
	}
	return strings.Join(parts, "|")
}

// wantColumns checks a table's columns as name, type and text.
func wantColumns(t *testing.T, tb *table.Table, want ...string) {
	t.Helper()
	var got []string
	for _, c := range tb.Columns {
		got = append(got, fmt.Sprintf("%s:%s:%s", c.Name, strings.TrimPrefix(c.Type.String(), "COLUMN_TYPE_"), colText(c)))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("columns\n got %v\nwant %v", got, want)
	}
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// parquetRow is the row type of the Parquet test files: an optional
// integer, a dictionary-coded string with nulls, a double, a boolean and
// an unsigned integer.
type parquetRow struct {
	ID    *int64   `parquet:"id,optional"`
	Color *string  `parquet:"color,optional,dict"`
	Score float64  `parquet:"score"`
	OK    bool     `parquet:"ok"`
	Count uint32   `parquet:"count"`
	Ratio *float32 `parquet:"ratio,optional"`
}

// parquetBytes writes rows as a Parquet file with small row groups, so a
// test crosses row-group boundaries.
func parquetBytes(t *testing.T, rows []parquetRow, rowGroup int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[parquetRow](&buf, parquet.MaxRowsPerRowGroup(rowGroup))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ptr[T any](v T) *T { return &v }

func sampleParquet(t *testing.T) []byte {
	return parquetBytes(t, []parquetRow{
		{ID: ptr(int64(1)), Color: ptr("red"), Score: 0.5, OK: true, Count: 4000000000, Ratio: ptr(float32(0.25))},
		{ID: nil, Color: ptr("blue"), Score: -2, OK: false, Count: 1},
		{ID: ptr(int64(3)), Color: nil, Score: 1e3, OK: true, Count: 0, Ratio: ptr(float32(1.5))},
		{ID: ptr(int64(4)), Color: ptr("red"), Score: 7, OK: false, Count: 2},
	}, 2)
}

var sampleParquetColumns = []string{
	"id:NUMERIC:1|-|3|4",
	"color:CATEGORICAL:red|blue|-|red",
	"score:NUMERIC:0.5|-2|1000|7",
	"ok:BOOLEAN:1|0|1|0",
	"count:NUMERIC:4e+09|1|0|2",
	"ratio:NUMERIC:0.25|-|1.5|-",
}

// sourceFiles are the same small table in every format the service
// reads, with the table they must give.
func sourceFiles(t *testing.T) map[string]struct {
	data   []byte
	opts   *ingestv1.CsvOptions
	format string
	want   []string
} {
	csvWant := []string{"a:NUMERIC:1|2|3", "b:CATEGORICAL:x|y,z|-"}
	jsonl := []byte("\n\n  \n" + `{"a": 1, "b": "x"}` + "\n" + `{"a": 2, "b": "y,z"}` + "\n\n" + `{"a": 3, "b": null}` + "\n")
	return map[string]struct {
		data   []byte
		opts   *ingestv1.CsvOptions
		format string
		want   []string
	}{
		"comma.csv":      {[]byte("a,b\n1,x\n2,\"y,z\"\n3,NA\n"), nil, "csv", csvWant},
		"semicolon.csv":  {[]byte("a;b\n1;x\n2;y,z\n3;\n"), nil, "csv", csvWant},
		"tab.tsv":        {[]byte("a\tb\n1\tx\n2\ty,z\n3\t?\n"), &ingestv1.CsvOptions{Format: "tsv"}, "csv", csvWant},
		"comments.csv":   {[]byte("# exported by a tool\n# second comment\na;b\n1;x\n2;y,z\n3;\n"), nil, "csv", csvWant},
		"data.jsonl":     {jsonl, nil, "jsonl", csvWant},
		"data.jsonl.gz":  {gzipBytes(t, jsonl), nil, "jsonl", csvWant},
		"comma.csv.gz":   {gzipBytes(t, []byte("a,b\n1,x\n2,\"y,z\"\n3,NA\n")), nil, "csv", csvWant},
		"data.parquet":   {sampleParquet(t), nil, "parquet", sampleParquetColumns},
		"data.parquet.z": {gzipBytes(t, sampleParquet(t)), nil, "parquet", sampleParquetColumns},
		"forced.jsonl":   {jsonl, &ingestv1.CsvOptions{Format: "jsonl", CategoricalColumns: []string{"a"}}, "jsonl", []string{"a:CATEGORICAL:1|2|3", "b:CATEGORICAL:x|y,z|-"}},
	}
}

func TestSourcesByPathAndUpload(t *testing.T) {
	root := t.TempDir()
	files := sourceFiles(t)
	for name, f := range files {
		if err := os.WriteFile(filepath.Join(root, name), f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spool := t.TempDir()
	client := newClient(t, Config{DataRoot: root, SpoolDir: spool})
	for name, f := range files {
		t.Run(name, func(t *testing.T) {
			check := func(got *received, err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				wantColumns(t, got.table, f.want...)
				if got.report.Format != f.format || got.report.Rows != int64(got.table.NumRows()) {
					t.Errorf("report %v", got.report)
				}
				if gz := strings.Contains(name, ".gz") || strings.HasSuffix(name, ".z"); gz != (got.report.Compression == "gzip") {
					t.Errorf("compression %q", got.report.Compression)
				}
			}
			check(read(t, client, &ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Path{Path: name}, Options: f.opts}))
			msgs := chunks(f.data, 7)
			if f.opts != nil {
				msgs = append([]*ingestv1.UploadRequest{optionsMsg(f.opts)}, msgs...)
			}
			check(upload(t, client, msgs...))
		})
	}
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Errorf("spool directory not cleaned: %v", left)
	}
}

func TestCSVDialectReport(t *testing.T) {
	client := newClient(t, Config{})
	got, err := upload(t, client, chunks([]byte("# note\nx;y\n1;2\n"), 100)...)
	if err != nil {
		t.Fatal(err)
	}
	if d := got.report.Dialect; !strings.Contains(d, ";") {
		t.Errorf("dialect %q does not name the delimiter", d)
	}
	// Comments off: the '#' line is the header.
	got, err = upload(t, client, append([]*ingestv1.UploadRequest{optionsMsg(&ingestv1.CsvOptions{NoComments: true, Delimiter: ";"})}, chunks([]byte("#x;y\n1;2\n"), 100)...)...)
	if err != nil {
		t.Fatal(err)
	}
	if got.table.Columns[0].Name != "#x" {
		t.Errorf("no_comments: first column %q", got.table.Columns[0].Name)
	}
}

func TestFormatOptionErrors(t *testing.T) {
	client := newClient(t, Config{})
	tests := []struct {
		opts  *ingestv1.CsvOptions
		field string
	}{
		{&ingestv1.CsvOptions{Format: "xlsx"}, "options.format"},
		{&ingestv1.CsvOptions{MaxBadRows: -1}, "options.max_bad_rows"},
		{&ingestv1.CsvOptions{Quote: "ab"}, "options.quote"},
		{&ingestv1.CsvOptions{Quote: "é"}, "options.quote"},
		{&ingestv1.CsvOptions{Format: "tsv", Delimiter: ";"}, "options.delimiter"},
	}
	for _, tc := range tests {
		_, err := upload(t, client, optionsMsg(tc.opts), chunks([]byte("a\n1\n"), 10)[0])
		wantStatus(t, err, codes.InvalidArgument, tc.field, "")
	}
	// An explicit format that does not match the content is a parse error
	// of the content.
	_, err := upload(t, client, optionsMsg(&ingestv1.CsvOptions{Format: "parquet"}), chunks([]byte("a\n1\n"), 10)[0])
	wantStatus(t, err, codes.InvalidArgument, "chunk", "Parquet")
	_, err = upload(t, client, chunks([]byte{0x1f, 0x8b, 0, 1, 2, 3}, 10)...)
	wantStatus(t, err, codes.InvalidArgument, "chunk", "gzip")
}

func TestGzipBombBounded(t *testing.T) {
	client := newClient(t, Config{MaxUploadBytes: 10 << 10})
	data := gzipBytes(t, []byte("a\n"+strings.Repeat("1\n", 100<<10)))
	if len(data) > 10<<10 {
		t.Fatalf("compressed test file has %d bytes", len(data))
	}
	_, err := upload(t, client, chunks(data, 1<<10)...)
	wantStatus(t, err, codes.ResourceExhausted, "", "decompression")
}

// bomb returns a gzip file that expands to n bytes of "1\n" rows under a
// header, as a gzip bomb does (about 1000 times).
func bomb(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write([]byte("a\n"))
	line := bytes.Repeat([]byte("1\n"), 32<<10)
	for w := 2; w < n; w += len(line) {
		zw.Write(line)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGzipBombStopsAtRatio: with the default 1 GiB size limit, a bomb is
// refused by its expansion ratio after at most GzipRatioGraceBytes (plus
// one read) of output, not after the size limit's worth.
func TestGzipBombStopsAtRatio(t *testing.T) {
	data := bomb(t, 128<<20)
	t.Logf("bomb: %d bytes expanding to 128 MiB", len(data))
	cr := &countingReader{r: bytes.NewReader(data)}
	zr, err := gzip.NewReader(cr)
	if err != nil {
		t.Fatal(err)
	}
	g := &gzipReadCloser{zr: zr, in: cr, limit: DefaultMaxUploadBytes, ratio: DefaultMaxGzipRatio}
	n, err := io.Copy(io.Discard, g)
	var le *tablepb.LimitError
	if !errors.As(err, &le) || le.Limit != "max_gzip_ratio" {
		t.Fatalf("after %d bytes: got %v, want the max_gzip_ratio limit", n, err)
	}
	if g.n > GzipRatioGraceBytes+64<<10 {
		t.Fatalf("decompressed %d bytes before refusing; want at most %d", g.n, GzipRatioGraceBytes+64<<10)
	}
	t.Logf("refused after %d decompressed bytes (%d compressed)", g.n, cr.n)

	// Through the RPC: ResourceExhausted naming the limit; a file of
	// ordinary ratio and a bomb with the check turned off still pass.
	client := newClient(t, Config{})
	_, err = upload(t, client, chunks(data, 64<<10)...)
	wantStatus(t, err, codes.ResourceExhausted, "", "max_gzip_ratio: the file expands")
	small := bomb(t, 1<<20)
	if _, err := upload(t, client, chunks(small, 64<<10)...); err != nil {
		t.Fatalf("a 1 MiB repetitive file within the grace: %v", err)
	}
}

func TestBadRowPolicyThroughRPC(t *testing.T) {
	csvData := []byte("a,b\n1,2\n3\n4,5\n6,7,8\n9,10\n")
	jsonData := []byte("{\"a\": 1}\n{\"a\": \n{\"a\": 2}\n")
	client := newClient(t, Config{})
	send := func(data []byte, maxBad int64) (*received, error) {
		return upload(t, client, append([]*ingestv1.UploadRequest{optionsMsg(&ingestv1.CsvOptions{MaxBadRows: maxBad})}, chunks(data, 5)...)...)
	}
	_, err := send(csvData, 0)
	wantStatus(t, err, codes.InvalidArgument, "chunk", "line 3")
	_, err = send(csvData, 1)
	wantStatus(t, err, codes.InvalidArgument, "chunk", "line 5")
	got, err := send(csvData, 2)
	if err != nil {
		t.Fatal(err)
	}
	wantColumns(t, got.table, "a:NUMERIC:1|4|9", "b:NUMERIC:2|5|10")
	if r := got.report; r.SkippedRows != 2 || len(r.BadRows) != 2 || r.BadRows[0].Line != 3 || r.BadRows[1].Line != 5 || r.BadRows[0].Reason == "" || r.BadRows[1].Excerpt == "" {
		t.Fatalf("report %v", r)
	}
	_, err = send(jsonData, 0)
	wantStatus(t, err, codes.InvalidArgument, "chunk", "line 2")
	got, err = send(jsonData, 5)
	if err != nil {
		t.Fatal(err)
	}
	if r := got.report; r.SkippedRows != 1 || r.BadRows[0].Line != 2 || got.table.NumRows() != 2 {
		t.Fatalf("report %v", r)
	}
}

func TestURLSource(t *testing.T) {
	csvData := "a,b\n1,x\n2,y\n"
	var hits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, csvData)
	}))
	defer other.Close()
	otherURL, _ := url.Parse(other.URL)
	// Reach the second server as "localhost", a host outside the
	// allow-list, which only holds 127.0.0.1.
	otherLocal := "http://localhost:" + otherURL.Port() + "/data.csv"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/data.csv":
			io.WriteString(w, csvData)
		case "/data.jsonl.gz":
			w.Write(gzipBytes(t, []byte(`{"a":1,"b":"x"}`+"\n"+`{"a":2,"b":"y"}`)))
		case "/moved.csv":
			http.Redirect(w, r, "/data.csv", http.StatusFound)
		case "/away.csv":
			http.Redirect(w, r, otherLocal, http.StatusFound)
		case "/big.csv":
			io.WriteString(w, "a\n"+strings.Repeat("1\n", 2000))
		case "/slow.csv":
			time.Sleep(2 * time.Second)
			io.WriteString(w, csvData)
		case "/boom":
			http.Error(w, "boom", http.StatusInternalServerError)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	client := newClient(t, Config{AllowURLHosts: []string{" 127.0.0.1 ,example.org"}, MaxUploadBytes: 1000, URLTimeout: 500 * time.Millisecond})
	urlReq := func(u string) *ingestv1.ReadRequest {
		return &ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Url{Url: u}}
	}
	for _, p := range []string{"/data.csv", "/moved.csv", "/data.jsonl.gz"} {
		got, err := read(t, client, urlReq(srv.URL+p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		wantColumns(t, got.table, "a:NUMERIC:1|2", "b:CATEGORICAL:x|y")
		if p == "/data.csv" && got.summary.Name != "data.csv" {
			t.Errorf("name %q", got.summary.Name)
		}
	}
	tests := []struct {
		url   string
		code  codes.Code
		field string
		text  string
	}{
		{otherLocal, codes.PermissionDenied, "url", "allow-list"},
		{srv.URL + "/away.csv", codes.PermissionDenied, "url", "redirect"},
		{"file:///etc/passwd", codes.PermissionDenied, "url", "scheme"},
		{"ftp://127.0.0.1/x", codes.PermissionDenied, "url", "scheme"},
		{"not a url", codes.InvalidArgument, "url", "URL"},
		{"", codes.InvalidArgument, "url", "empty"},
		{srv.URL + "/missing.csv", codes.NotFound, "", "404"},
		{srv.URL + "/boom", codes.Unavailable, "", "500"},
		{srv.URL + "/big.csv", codes.ResourceExhausted, "", "max_upload_bytes"},
		{srv.URL + "/slow.csv", codes.DeadlineExceeded, "", "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			_, err := read(t, client, urlReq(tc.url))
			wantStatus(t, err, tc.code, tc.field, tc.text)
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the disallowed host was contacted %d times", n)
	}
	off := newClient(t, Config{})
	_, err := read(t, off, urlReq(srv.URL+"/data.csv"))
	wantStatus(t, err, codes.PermissionDenied, "url", "disabled")
}

// bigCSV writes a CSV of about size bytes with numeric, boolean and
// categorical columns, some missing values, and a column that turns
// categorical only on its last row.
func bigCSV(t *testing.T, path string, size int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	buf.WriteString("id,x,flag,city,late\n")
	cities := []string{"Oslo", "Lima", "Pune", "Kyiv", "Oaxaca"}
	for i := 0; buf.Len() < size; i++ {
		late := fmt.Sprint(i % 10)
		if buf.Len() > size-100 {
			late = "tail"
		}
		x := fmt.Sprintf("%.4f", math.Sin(float64(i))*100)
		if i%17 == 0 {
			x = "NA"
		}
		fmt.Fprintf(&buf, "%d,%s,%v,%s%d,%s\n", i, x, i%3 == 0, cities[i%5], i%200, late)
		if buf.Len() > 1<<20 {
			f.Write(buf.Bytes())
			size -= buf.Len()
			buf.Reset()
		}
	}
	f.Write(buf.Bytes())
}

func TestStreamingEqualsInMemory(t *testing.T) {
	root := t.TempDir()
	bigCSV(t, filepath.Join(root, "big.csv"), 12<<20)
	data, err := os.ReadFile(filepath.Join(root, "big.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := csvio.ReadAll(bytes.NewReader(data), csvio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want.NumRows() <= csvio.BlockRows {
		t.Fatalf("only %d rows: the file must span several blocks", want.NumRows())
	}
	if c, _ := want.Column("late"); !c.IsCategorical() {
		t.Fatal("the late column should be categorical")
	}
	if err := os.WriteFile(filepath.Join(root, "big.csv.gz"), gzipBytes(t, data), 0o644); err != nil {
		t.Fatal(err)
	}
	client := newClient(t, Config{DataRoot: root})
	for _, p := range []string{"big.csv", "big.csv.gz"} {
		got, err := read(t, client, &ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Path{Path: p}})
		if err != nil {
			t.Fatal(err)
		}
		if d := tablepb.Digest(want); got.summary.Digest != d {
			t.Fatalf("%s: streamed digest %s, in-memory table %s", p, got.summary.Digest, d)
		}
	}
}

// TestReadHeapBounded reads a 48 MB CSV through the service, discarding
// the batches, and samples the heap: streaming must keep the peak far
// below the table's size (about 50 MB of column values). Measured at
// about 24 MiB for files of 6, 24 and 96 MB alike.
func TestReadHeapBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 56 MB of files")
	}
	// A streaming read holds a block, the dictionaries and what the
	// transport has in flight, whatever the file's size: reading six
	// times as much data must not need more heap, beyond noise.
	smallRows, small := readHeapGrowth(t, 8<<20)
	bigRows, big := readHeapGrowth(t, 48<<20)
	t.Logf("8 MB: %d rows, heap grew by %.1f MiB; 48 MB: %d rows, heap grew by %.1f MiB",
		smallRows, float64(small)/(1<<20), bigRows, float64(big)/(1<<20))
	if bigRows < 1_000_000 {
		t.Fatalf("only %d rows", bigRows)
	}
	if big > small+12<<20 {
		t.Fatalf("heap grew by %.1f MiB reading 48 MB but %.1f MiB reading 8 MB: memory follows the file's size", float64(big)/(1<<20), float64(small)/(1<<20))
	}
	// The 48 MB file's table is about 52 MB in memory (three numeric and
	// two categorical columns of 1.6 million rows).
	if big > 42<<20 {
		t.Fatalf("heap grew by %.1f MiB reading a 48 MB file; streaming should stay well below the table's size", float64(big)/(1<<20))
	}
}

// wideCSV writes a CSV of cols columns (half numeric, half text) and two
// rows.
func wideCSV(t *testing.T, path string, cols int) {
	t.Helper()
	var b bytes.Buffer
	for r := range 3 {
		for j := range cols {
			if j > 0 {
				b.WriteByte(',')
			}
			switch {
			case r == 0:
				fmt.Fprintf(&b, "c%d", j)
			case j%2 == 0:
				fmt.Fprintf(&b, "%d", r)
			default:
				b.WriteString("x")
			}
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWideFileHeapBounded reads CSVs of 2 rows and 1 000 or 10 000
// columns: the memory allocated may grow with the columns only by the
// bookkeeping a column needs (its name, schema field, dictionary, a few
// values, their encoding and decoding), not by reservations per column.
// It compares the bytes allocated (deterministic) and logs the sampled
// peak heap. 250 000 columns × 2 rows once peaked at 2.9 GB; before the
// fix this test measured about 12 KB allocated per column.
func TestWideFileHeapBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("reads a 60 KB-wide file")
	}
	const narrow, wide = 1_000, DefaultMaxColumns
	grow := func(cols int) (alloc, heap int64) {
		root := t.TempDir()
		wideCSV(t, filepath.Join(root, "big.csv"), cols)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rows, heap := readHeapGrowthOf(t, root, Config{DataRoot: root})
		runtime.ReadMemStats(&after)
		if rows != 2 {
			t.Fatalf("%d columns: %d rows", cols, rows)
		}
		return int64(after.TotalAlloc - before.TotalAlloc), heap
	}
	smallAlloc, smallHeap := grow(narrow)
	bigAlloc, bigHeap := grow(wide)
	perColumn := float64(bigAlloc-smallAlloc) / (wide - narrow)
	t.Logf("%d columns: %.1f MiB allocated, peak heap +%.1f MiB; %d columns: %.1f MiB allocated, peak heap +%.1f MiB; %.0f bytes allocated per column",
		narrow, float64(smallAlloc)/(1<<20), float64(smallHeap)/(1<<20), wide, float64(bigAlloc)/(1<<20), float64(bigHeap)/(1<<20), perColumn)
	if perColumn > 6<<10 {
		t.Fatalf("%.0f bytes allocated per column; reservations per column are back", perColumn)
	}
}

// TestMaxColumns: a file wider than the limit is refused naming it, a CSV
// right after its header, JSON Lines once its keys are known.
func TestMaxColumns(t *testing.T) {
	root := t.TempDir()
	wideCSV(t, filepath.Join(root, "wide.csv"), 11)
	var js bytes.Buffer
	js.WriteString("{")
	for j := range 11 {
		if j > 0 {
			js.WriteString(",")
		}
		fmt.Fprintf(&js, `"k%d":%d`, j, j)
	}
	js.WriteString("}\n")
	if err := os.WriteFile(filepath.Join(root, "wide.jsonl"), js.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	client := newClient(t, Config{DataRoot: root, MaxColumns: 10})
	for _, name := range []string{"wide.csv", "wide.jsonl"} {
		_, err := read(t, client, &ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Path{Path: name}})
		wantStatus(t, err, codes.ResourceExhausted, "", "max_columns: the table is wider than the server's limit of 10 columns")
	}
	if NewServer(Config{}).cfg.MaxColumns != DefaultMaxColumns {
		t.Fatal("no default column limit")
	}
}

// readHeapGrowth reads a generated CSV of size bytes through Read, discarding
// the batches, and returns the rows and the peak growth of the heap in use.
func readHeapGrowth(t *testing.T, size int) (int64, int64) {
	root := t.TempDir()
	bigCSV(t, filepath.Join(root, "big.csv"), size)
	return readHeapGrowthOf(t, root, Config{DataRoot: root})
}

// readHeapGrowthOf reads root's big.csv through Read with cfg, discarding
// the batches, and returns the rows and the peak growth of the live heap.
//
// It samples the runtime's /gc/heap/live:bytes, the heap marked live by
// the last collection, rather than the heap in use: the heap in use also
// holds garbage awaiting a collection, which a loaded machine leaves
// longer, and its peak over more samples (a longer read) grows with luck
// rather than with what the reader keeps.
func readHeapGrowthOf(t *testing.T, root string, cfg Config) (int64, int64) {
	client := newClient(t, cfg)
	// Collect often, so that the live figure is recent.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	readLive := func() uint64 {
		metrics.Read(live)
		return live[0].Value.Uint64()
	}
	runtime.GC()
	base := readLive()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if v := readLive(); v > peak.Load() {
				peak.Store(v)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stream, err := client.Read(ctx, &ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Path{Path: "big.csv"}})
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows += int64(msg.GetBatch().GetNumRows())
	}
	close(stop)
	<-done
	// The last collection during the read may have come before its
	// largest moment; one more at the end counts what is still held.
	runtime.GC()
	if v := readLive(); v > peak.Load() {
		peak.Store(v)
	}
	return rows, int64(peak.Load()) - int64(base)
}

func TestCancelStopsReadAndCleansSpool(t *testing.T) {
	root := t.TempDir()
	bigCSV(t, filepath.Join(root, "big.csv"), 8<<20)
	spool := t.TempDir()
	client := newClient(t, Config{DataRoot: root, SpoolDir: spool, BatchBytes: 16 << 10})
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := client.Read(ctx, &ingestv1.ReadRequest{Source: &ingestv1.ReadRequest_Path{Path: "big.csv"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	var err2 error
	for range 1000 {
		if _, err2 = stream.Recv(); err2 != nil {
			break
		}
	}
	if status.Code(err2) != codes.Canceled {
		t.Fatalf("after cancel: %v", err2)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		left, _ := os.ReadDir(spool)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool files left after cancel: %v", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestParquetUnsupported(t *testing.T) {
	type nested struct {
		Tags []string `parquet:"tags,list"`
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[nested](&buf)
	if _, err := w.Write([]nested{{Tags: []string{"a"}}}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	client := newClient(t, Config{})
	_, err := upload(t, client, chunks(buf.Bytes(), 1<<10)...)
	wantStatus(t, err, codes.InvalidArgument, "chunk", "tags")
	_, err = upload(t, client, chunks(append([]byte("PAR1"), bytes.Repeat([]byte{0}, 20)...), 1<<10)...)
	wantStatus(t, err, codes.InvalidArgument, "chunk", "Parquet")
	// A footer length far beyond the file is refused before the library
	// sizes a buffer from it.
	_, err = upload(t, client, chunks([]byte("PAR1\x00\x00\x00\x00\xff\xff\xff\x7fPAR1"), 1<<10)...)
	wantStatus(t, err, codes.InvalidArgument, "chunk", "footer claims")
}

func TestParquetLargeDictionary(t *testing.T) {
	rows := make([]parquetRow, 30000)
	for i := range rows {
		rows[i] = parquetRow{ID: ptr(int64(i)), Color: ptr(fmt.Sprintf("c%d", i%5000)), Score: float64(i) / 3}
		if i%11 == 0 {
			rows[i].Color = nil
		}
	}
	data := parquetBytes(t, rows, 7000)
	client := newClient(t, Config{})
	got, err := upload(t, client, chunks(data, 1<<20)...)
	if err != nil {
		t.Fatal(err)
	}
	color, _ := got.table.Column("color")
	if got.table.NumRows() != len(rows) || len(color.Dict) != 5000 {
		t.Fatalf("%d rows, %d colors", got.table.NumRows(), len(color.Dict))
	}
	for i, r := range rows {
		if (r.Color == nil) != color.IsMissing(i) || (r.Color != nil && color.Dict[color.Codes[i]] != *r.Color) {
			t.Fatalf("row %d: color %q", i, color.Text(i))
		}
	}
}
