package csvio

import (
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/alur-ml/alur/ml/source"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
)

const (
	num  = datav1.ColumnType_COLUMN_TYPE_NUMERIC
	cat  = datav1.ColumnType_COLUMN_TYPE_CATEGORICAL
	boo  = datav1.ColumnType_COLUMN_TYPE_BOOLEAN
	miss = "<missing>"
)

// want describes an expected column: its name, type and cells as text
// (table.Column.Text), with miss for missing cells.
type want struct {
	name  string
	typ   datav1.ColumnType
	cells []string
	dict  []string // for categorical columns, the exact dictionary
}

func cells(c *table.Column) []string {
	out := make([]string, c.Len())
	for i := range out {
		if c.IsMissing(i) {
			out[i] = miss
		} else {
			out[i] = c.Text(i)
		}
	}
	return out
}

// collect is a sink that joins Stream's blocks into one table, copying
// them since the reader reuses their memory.
func collect() (source.Sink, *table.Table) {
	t := &table.Table{}
	return source.Sink{
		Schema: func(s *datav1.Schema) error {
			for _, f := range s.Fields {
				c := &table.Column{Name: f.Name, Type: f.Type, Nums: []float64{}}
				if f.Type == cat {
					c.Nums, c.Codes = nil, []int32{}
				}
				t.Columns = append(t.Columns, c)
			}
			return nil
		},
		Block: func(b *table.Table) error {
			for j, c := range b.Columns {
				out := t.Columns[j]
				out.Nums = append(out.Nums, c.Nums...)
				out.Codes = append(out.Codes, c.Codes...)
				if c.IsCategorical() {
					out.Dict = append([]string(nil), c.Dict...)
				}
			}
			return nil
		},
	}, t
}

// streamString runs Stream over input with a tiny read size.
func streamString(input string, opts Options, readSize int) (*table.Table, *source.Report, error) {
	open := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(input)), nil }
	sink, t := collect()
	rep, err := stream(open, opts, sink, readSize)
	if err != nil {
		return nil, nil, err
	}
	return t, rep, nil
}

// readAllWays reads input whole, then one byte per read, then in chunks
// of a few bytes parsed in parallel, then with Stream reading a few bytes
// at a time, and checks all give the same table, report and error.
func readAllWays(t *testing.T, input string, opts Options) (*table.Table, *source.Report, error) {
	t.Helper()
	whole, rep, err := ReadAll(strings.NewReader(input), opts)
	same := func(how string, got *table.Table, gotRep *source.Report, err2 error) {
		t.Helper()
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("whole read error %v, %s error %v", err, how, err2)
		}
		if err == nil && tablepb.Digest(whole) != tablepb.Digest(got) {
			t.Fatalf("%s gives a different table", how)
		}
		if err == nil && !reflect.DeepEqual(rep, gotRep) {
			t.Fatalf("%s gives report %+v, want %+v", how, gotRep, rep)
		}
	}
	got, gotRep, err2 := ReadAll(iotest.OneByteReader(strings.NewReader(input)), opts)
	same("one-byte reads", got, gotRep, err2)
	for _, size := range []int{1, 7} {
		got, gotRep, err2 := readAll(strings.NewReader(input), opts, size)
		same(fmt.Sprintf("chunks of %d bytes", size), got, gotRep, err2)
		got, gotRep, err2 = streamString(input, opts, size)
		same(fmt.Sprintf("Stream reading %d bytes", size), got, gotRep, err2)
	}
	return whole, rep, err
}

func TestRead(t *testing.T) {
	tests := []struct {
		name  string
		input string
		opts  Options
		want  []want
	}{
		{
			name:  "numbers with spaces and missing tokens",
			input: "a,b\n1, 2.5 \nNA,-3e2\n\t4\t,?\nnull,None\n",
			want: []want{
				{"a", num, []string{"1", miss, "4", miss}, nil},
				{"b", num, []string{"2.5", "-300", miss, miss}, nil},
			},
		},
		{
			name:  "boolean words, but 0/1 stays numeric",
			input: "ok,bit\nYes,1\nno,0\nTRUE,\nfalse,1\n",
			want: []want{
				{"ok", boo, []string{"true", "false", "true", "false"}, nil},
				{"bit", num, []string{"1", "0", miss, "1"}, nil},
			},
		},
		{
			name:  "categorical in order of first appearance",
			input: "species\nvirginica\nsetosa\nvirginica\nN/A\nversicolor\n",
			want:  []want{{"species", cat, []string{"virginica", "setosa", "virginica", miss, "versicolor"}, []string{"virginica", "setosa", "versicolor"}}},
		},
		{
			name:  "all missing is numeric",
			input: "x,y\n,1\nNA,2\n",
			want:  []want{{"x", num, []string{miss, miss}, nil}, {"y", num, []string{"1", "2"}, nil}},
		},
		{
			name:  "late text keeps the original spelling of earlier numbers",
			input: "code,v\n01,1\n1.0,2\n1,3\nNA,4\n01,5\nx7,6\n",
			want: []want{
				{"code", cat, []string{"01", "1.0", "1", miss, "01", "x7"}, []string{"01", "1.0", "1", "x7"}},
				{"v", num, []string{"1", "2", "3", "4", "5", "6"}, nil},
			},
		},
		{
			name:  "boolean then other words",
			input: "a,b,c\nyes,1,true\nno,2,1\nmaybe,3,x\n",
			want: []want{
				{"a", cat, []string{"yes", "no", "maybe"}, []string{"yes", "no", "maybe"}},
				{"b", num, []string{"1", "2", "3"}, nil},
				{"c", cat, []string{"true", "1", "x"}, []string{"true", "1", "x"}},
			},
		},
		{
			name:  "extra missing values",
			input: "x,y\n-999,a\n5,unknown\n",
			opts:  Options{MissingValues: []string{"-999", "unknown"}},
			want:  []want{{"x", num, []string{miss, "5"}, nil}, {"y", cat, []string{"a", miss}, []string{"a"}}},
		},
		{
			name:  "forced categorical",
			input: "zip,n\n02139,1\n10001,2\n02139,3\n",
			opts:  Options{CategoricalColumns: []string{"zip"}},
			want:  []want{{"zip", cat, []string{"02139", "10001", "02139"}, []string{"02139", "10001"}}, {"n", num, []string{"1", "2", "3"}, nil}},
		},
		{
			name:  "quoted fields",
			input: "name,note\n\"Smith, J\",\"said \"\"hi\"\"\"\n\"two\nlines\",\"\"\nplain,a\"b\n",
			want: []want{
				{"name", cat, []string{"Smith, J", "two\nlines", "plain"}, nil},
				{"note", cat, []string{`said "hi"`, miss, `a"b`}, nil},
			},
		},
		{
			name:  "CRLF, BOM, blank lines, no final newline",
			input: "\xef\xbb\xbfa,b\r\n1,x\r\n\r\n\n2,y",
			want:  []want{{"a", num, []string{"1", "2"}, nil}, {"b", cat, []string{"x", "y"}, nil}},
		},
		{
			name:  "semicolons",
			input: "a;b\n1,5;2\n",
			opts:  Options{Delimiter: ';'},
			want:  []want{{"a", cat, []string{"1,5"}, nil}, {"b", num, []string{"2"}, nil}},
		},
		{
			name:  "tabs and no header",
			input: "1\tx\n2\ty\n",
			opts:  Options{Delimiter: '\t', NoHeader: true},
			want:  []want{{"col_1", num, []string{"1", "2"}, nil}, {"col_2", cat, []string{"x", "y"}, nil}},
		},
		{
			name:  "no header with late text",
			input: "\xef\xbb\xbf\n1\n2\nz\n",
			opts:  Options{NoHeader: true},
			want:  []want{{"col_1", cat, []string{"1", "2", "z"}, []string{"1", "2", "z"}}},
		},
		{
			name:  "special numbers",
			input: "v\n1e400\n-inf\nNAN\n.5\n",
			want:  []want{{"v", num, []string{"+Inf", "-Inf", miss, "0.5"}, nil}},
		},
		{
			name:  "unicode text",
			input: "city\nZürich\n東京\n",
			want:  []want{{"city", cat, []string{"Zürich", "東京"}, nil}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab, _, err := readAllWays(t, tc.input, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := tab.Validate(); err != nil {
				t.Fatal(err)
			}
			if len(tab.Columns) != len(tc.want) {
				t.Fatalf("%d columns, want %d", len(tab.Columns), len(tc.want))
			}
			for i, w := range tc.want {
				c := tab.Columns[i]
				if c.Name != w.name || c.Type != w.typ {
					t.Fatalf("column %d is %q %v, want %q %v", i, c.Name, c.Type, w.name, w.typ)
				}
				if got := cells(c); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", w.cells) {
					t.Errorf("column %q = %q, want %q", c.Name, got, w.cells)
				}
				if w.dict != nil && fmt.Sprintf("%q", c.Dict) != fmt.Sprintf("%q", w.dict) {
					t.Errorf("column %q dictionary = %q, want %q", c.Name, c.Dict, w.dict)
				}
			}
		})
	}
}

func TestReadNumbersExact(t *testing.T) {
	// Values must be the correctly rounded float64 of the text.
	tab, err := Read(strings.NewReader("v\n0.1\n-0\n123456789012345678901234567890\n4.9e-324\n2.2250738585072011e-308\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.1, math.Copysign(0, -1), 1.2345678901234568e29, 5e-324, 2.225073858507201e-308}
	for i, w := range want {
		if got := tab.Columns[0].Nums[i]; math.Float64bits(got) != math.Float64bits(w) {
			t.Errorf("row %d = %v, want %v", i, got, w)
		}
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		opts   Options
		line   int    // expected ParseError line, or 0
		column string // expected ParseError column
		field  string // expected FieldError field
		limit  string // expected LimitError limit
		empty  bool   // expected ErrEmpty
	}{
		{name: "empty", input: "", empty: true},
		{name: "only BOM and blank lines", input: "\xef\xbb\xbf\r\n\n", empty: true},
		{name: "ragged short row", input: "a,b,c\n1,2,3\n4,5\n", line: 3, column: "c"},
		{name: "ragged long row", input: "a,b\n1,2\n3,4,5\n", line: 3},
		{name: "ragged after blank lines and CRLF", input: "a,b\r\n\r\n1,2\r\n\r\n3\r\n", line: 5, column: "b"},
		{name: "ragged after quoted newlines", input: "a,b\n\"x\ny\nz\",1\n2\n", line: 5, column: "b"},
		{name: "duplicate header", input: "a,b,a\n1,2,3\n", line: 1, column: "a"},
		{name: "empty header name", input: "a,,c\n1,2,3\n", line: 1},
		{name: "invalid UTF-8 header", input: "a,\xff\n1,2\n", line: 1},
		{name: "invalid UTF-8 value", input: "a,b\n1,x\n2,\xc3\x28\n", line: 3, column: "b"},
		{name: "invalid UTF-8 after numbers", input: "a\n1\n2\n\xff\n", line: 4, column: "a"},
		{name: "unterminated quote", input: "a,b\n1,\"open\n2,3\n", line: 2},
		{name: "text after closing quote", input: "a,b\n1,\"x\"y\n", line: 2},
		{name: "too big", input: "a,b\n1,2\n3,4\n", opts: Options{MaxBytes: 10}, limit: "max_bytes"},
		{name: "unknown categorical column", input: "a\n1\n", opts: Options{CategoricalColumns: []string{"a", "zz"}}, field: "categorical_columns[1]"},
		{name: "bad delimiter", input: "a\n1\n", opts: Options{Delimiter: '"'}, field: "delimiter"},
		{name: "non-ASCII delimiter", input: "a\n1\n", opts: Options{Delimiter: '§'}, field: "delimiter"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readAllWays(t, tc.input, tc.opts)
			var pe *ParseError
			var fe *tablepb.FieldError
			var le *tablepb.LimitError
			switch {
			case tc.empty:
				if !errors.Is(err, ErrEmpty) {
					t.Fatalf("error %v, want ErrEmpty", err)
				}
			case tc.field != "":
				if !errors.As(err, &fe) || fe.Field != tc.field {
					t.Fatalf("error %v, want FieldError on %q", err, tc.field)
				}
			case tc.limit != "":
				if !errors.As(err, &le) || le.Limit != tc.limit {
					t.Fatalf("error %v, want LimitError %q", err, tc.limit)
				}
			default:
				if !errors.As(err, &pe) || pe.Line != tc.line || pe.Column != tc.column {
					t.Fatalf("error %v, want ParseError at line %d column %q", err, tc.line, tc.column)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("line %d", tc.line)) {
					t.Fatalf("message %q does not name the line", err)
				}
			}
		})
	}
}

func TestMaxBytesExact(t *testing.T) {
	input := "a,b\n1,2\n"
	if _, err := Read(strings.NewReader(input), Options{MaxBytes: int64(len(input))}); err != nil {
		t.Fatalf("input of exactly MaxBytes refused: %v", err)
	}
	var le *tablepb.LimitError
	if _, err := Read(strings.NewReader(input), Options{MaxBytes: int64(len(input) - 1)}); !errors.As(err, &le) {
		t.Fatalf("input one byte over MaxBytes: %v", err)
	}
}

func TestReaderError(t *testing.T) {
	boom := errors.New("boom")
	r := iotest.TimeoutReader(strings.NewReader("a,b\n1,2\n")) // second read fails
	if _, err := Read(iotest.OneByteReader(r), Options{}); err == nil {
		t.Fatal("reader error ignored")
	}
	if _, err := Read(iotest.ErrReader(boom), Options{}); !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
}

func TestOptionsFromProto(t *testing.T) {
	tests := []struct {
		name  string
		in    *ingestv1.CsvOptions
		delim rune
		field string
	}{
		{name: "nil", in: nil},
		{name: "default", in: &ingestv1.CsvOptions{}},
		{name: "semicolon", in: &ingestv1.CsvOptions{Delimiter: ";"}, delim: ';'},
		{name: "tab", in: &ingestv1.CsvOptions{Delimiter: "\t"}, delim: '\t'},
		{name: "escaped tab", in: &ingestv1.CsvOptions{Delimiter: `\t`}, delim: '\t'},
		{name: "two characters", in: &ingestv1.CsvOptions{Delimiter: ";;"}, field: "delimiter"},
		{name: "quote", in: &ingestv1.CsvOptions{Delimiter: `"`}, field: "delimiter"},
		{name: "newline", in: &ingestv1.CsvOptions{Delimiter: "\n"}, field: "delimiter"},
		{name: "non-ASCII", in: &ingestv1.CsvOptions{Delimiter: "§"}, field: "delimiter"},
		{name: "invalid UTF-8", in: &ingestv1.CsvOptions{Delimiter: "\xff"}, field: "delimiter"},
		{name: "empty categorical name", in: &ingestv1.CsvOptions{CategoricalColumns: []string{"a", ""}}, field: "categorical_columns[1]"},
		{name: "repeated categorical name", in: &ingestv1.CsvOptions{CategoricalColumns: []string{"a", "b", "a"}}, field: "categorical_columns[2]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := OptionsFromProto(tc.in)
			if tc.field != "" {
				var fe *tablepb.FieldError
				if !errors.As(err, &fe) || fe.Field != tc.field {
					t.Fatalf("error %v, want FieldError on %q", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if opts.Delimiter != tc.delim {
				t.Fatalf("delimiter %q, want %q", opts.Delimiter, tc.delim)
			}
		})
	}
	opts, _ := OptionsFromProto(&ingestv1.CsvOptions{NoHeader: true, MissingValues: []string{"-"}, CategoricalColumns: []string{"z"}})
	if !opts.NoHeader || len(opts.MissingValues) != 1 || len(opts.CategoricalColumns) != 1 {
		t.Fatalf("options not copied: %+v", opts)
	}
}

// FuzzRead checks that no input makes Read panic, that whatever it accepts
// is a valid table, and that reading in small pieces and parsing in many
// chunks gives the same result.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n", "a\n\"x\"\"y\"\n", "\xef\xbb\xbfa;b\r\n1;yes\r\n", "a,b\n1,\"2\n3\"\n", "a\nNA\n1\nx\n",
		"a,a\n", "\"", "a\n\"x\"y\n", "a,b\n1\n", "x\n\xff\n", "a\n1e5\ntrue\n",
	} {
		f.Add([]byte(s), byte(','), false)
	}
	f.Add([]byte("1;2\n3;4"), byte(';'), true)
	f.Fuzz(func(t *testing.T, input []byte, delim byte, noHeader bool) {
		opts := Options{Delimiter: rune(delim), NoHeader: noHeader, MissingValues: []string{"-"}, MaxBytes: 1 << 20}
		tab, err := Read(strings.NewReader(string(input)), opts)
		tab2, _, err2 := readAll(iotest.HalfReader(strings.NewReader(string(input))), opts, max(3, len(input)/16))
		if (err == nil) != (err2 == nil) {
			t.Fatalf("whole read: %v; split read: %v", err, err2)
		}
		if err != nil {
			if err.Error() != err2.Error() {
				t.Fatalf("whole read: %v; split read: %v", err, err2)
			}
			return
		}
		if err := tab.Validate(); err != nil {
			t.Fatalf("invalid table: %v", err)
		}
		if tablepb.Digest(tab) != tablepb.Digest(tab2) {
			t.Fatal("split read gives a different table")
		}
	})
}

// benchInput is a generated 200k-row CSV like the benchmark data of
// make_classification: 20 numeric features written with "%.6g" and an
// integer label.
var benchInput = sync.OnceValue(func() string {
	const rows, cols = 200_000, 20
	var sb strings.Builder
	for c := range cols {
		fmt.Fprintf(&sb, "f%d,", c)
	}
	sb.WriteString("label\n")
	x := uint64(88172645463325252)
	for range rows {
		for range cols {
			x ^= x << 13 // xorshift64 (Marsaglia 2003) for reproducible values
			x ^= x >> 7
			x ^= x << 17
			fmt.Fprintf(&sb, "%.6g,", (float64(x%2_000_000)/1000-1000)*math.Pow(10, float64(x%7)-3))
		}
		fmt.Fprintf(&sb, "%d\n", x%3)
	}
	return sb.String()
})

// BenchmarkReadAll parses benchInput with ReadAll, on every core.
func BenchmarkReadAll(b *testing.B) {
	input := benchInput()
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		tab, _, err := ReadAll(strings.NewReader(input), Options{})
		if err != nil || tab.NumRows() != 200_000 {
			b.Fatalf("%v, %d rows", err, tab.NumRows())
		}
	}
}

// BenchmarkStream parses benchInput with Stream (two passes).
func BenchmarkStream(b *testing.B) {
	input := benchInput()
	open := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(input)), nil }
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		rep, err := Stream(open, Options{}, source.Sink{Block: func(*table.Table) error { return nil }})
		if err != nil || rep.Rows != 200_000 {
			b.Fatalf("%v, %+v", err, rep)
		}
	}
}
