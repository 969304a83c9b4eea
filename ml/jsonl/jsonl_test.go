package jsonl

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

const (
	numT  = datav1.ColumnType_COLUMN_TYPE_NUMERIC
	catT  = datav1.ColumnType_COLUMN_TYPE_CATEGORICAL
	boolT = datav1.ColumnType_COLUMN_TYPE_BOOLEAN
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

func TestReadAllTypes(t *testing.T) {
	in := `{"a": 1, "b": "x", "c": true, "d": null}
{"b": "y", "a": 2.5, "c": "no", "e": [1, 2]}

{"a": "3", "b": " NA ", "c": false, "d": null, "e": {"k": "v"}}
`
	tb, rep, err := ReadAll(strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		typ  datav1.ColumnType
		text string
	}{
		{"a", numT, "1|2.5|3"},
		{"b", catT, "x|y|-"},
		{"c", boolT, "1|0|0"},
		{"d", numT, "-|-|-"},
		{"e", catT, `-|[1,2]|{"k":"v"}`},
	}
	if len(tb.Columns) != len(want) {
		t.Fatalf("%d columns, want %d", len(tb.Columns), len(want))
	}
	for i, w := range want {
		c := tb.Columns[i]
		if c.Name != w.name || c.Type != w.typ || colText(c) != w.text {
			t.Errorf("column %d = %s %v %q, want %s %v %q", i, c.Name, c.Type, colText(c), w.name, w.typ, w.text)
		}
	}
	if rep.Rows != 3 || rep.SkippedRows != 0 || rep.Format != "jsonl" {
		t.Errorf("report %+v", rep)
	}
	if err := tb.Validate(); err != nil {
		t.Error(err)
	}
}

func TestOptions(t *testing.T) {
	in := "{\"code\": 10, \"v\": \"-\"}\n{\"code\": 20, \"v\": 1}\n"
	tb, _, err := ReadAll(strings.NewReader(in), Options{CategoricalColumns: []string{"code"}, MissingValues: []string{"-"}})
	if err != nil {
		t.Fatal(err)
	}
	if c := tb.Columns[0]; c.Type != catT || colText(c) != "10|20" {
		t.Errorf("code = %v %q", c.Type, colText(c))
	}
	if c := tb.Columns[1]; c.Type != numT || colText(c) != "-|1" {
		t.Errorf("v = %v %q", c.Type, colText(c))
	}
}

func TestBadRows(t *testing.T) {
	in := strings.Join([]string{
		`{"a": 1}`,
		`{"a": 2`,
		`[1, 2]`,
		`{"a": 3} x`,
		`{"a": 4, "a": 5}`,
		`{"": 1}`,
		"{\"a\": \"\xff\"}",
		`{"a": 6}`,
	}, "\n")
	tests := []struct {
		name     string
		max      int64
		wantLine int64 // failing line, 0 when the read succeeds
		wantRows int64
		wantBad  []int64
	}{
		{"fail on first", 0, 2, 0, nil},
		{"too many", 3, 5, 0, nil},
		{"skip all", 6, 0, 2, []int64{2, 3, 4, 5, 6, 7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb, rep, err := ReadAll(strings.NewReader(in), Options{MaxBadRows: tc.max})
			if tc.wantLine != 0 {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Line != tc.wantLine {
					t.Fatalf("err = %v, want a ParseError at line %d", err, tc.wantLine)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.Rows != tc.wantRows || tb.NumRows() != int(tc.wantRows) || rep.SkippedRows != int64(len(tc.wantBad)) {
				t.Fatalf("report %+v, table rows %d", rep, tb.NumRows())
			}
			for i, b := range rep.BadRows {
				if b.Line != tc.wantBad[i] || b.Reason == "" || b.Excerpt == "" {
					t.Errorf("bad row %d = %+v, want line %d", i, b, tc.wantBad[i])
				}
			}
			if got := colText(tb.Columns[0]); got != "1|6" {
				t.Errorf("a = %q", got)
			}
		})
	}
	if _, _, err := ReadAll(strings.NewReader(in), Options{MaxBadRows: -1}); err == nil {
		t.Error("negative max_bad_rows accepted")
	}
}

func TestLimitsAndEmpty(t *testing.T) {
	if _, _, err := ReadAll(strings.NewReader("\n \n"), Options{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("blank input: %v", err)
	}
	var le *tablepb.LimitError
	if _, _, err := ReadAll(strings.NewReader(strings.Repeat(`{"a":1}`+"\n", 100)), Options{MaxBytes: 50}); !errors.As(err, &le) || le.Limit != "max_bytes" {
		t.Errorf("max bytes: %v", err)
	}
	long := `{"a": "` + strings.Repeat("x", 300<<10) + `"}` + "\n" + `{"a": "y"}`
	tb, rep, err := ReadAll(strings.NewReader(long), Options{MaxLineBytes: 1000, MaxBadRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.SkippedRows != 1 || rep.BadRows[0].Line != 1 || len(rep.BadRows[0].Excerpt) > 120 || colText(tb.Columns[0]) != "y" {
		t.Errorf("long line: report %+v, a = %q", rep, colText(tb.Columns[0]))
	}
	// A long line within the limit is read whole.
	tb, _, err = ReadAll(strings.NewReader(long), Options{})
	if err != nil || tb.NumRows() != 2 || len(tb.Columns[0].Dict[0]) != 300<<10 {
		t.Errorf("long line within the limit: %v", err)
	}
}

func TestStreamBlocksMatchReadAll(t *testing.T) {
	var sb strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&sb, `{"i": %d, "k": "c%d", "f": %v}`+"\n", i, i%37, i%3 == 0)
		if i == 500 {
			fmt.Fprintf(&sb, `{"late": "z", "i": null}`+"\n")
		}
	}
	whole, _, err := ReadAll(strings.NewReader(sb.String()), Options{BlockRows: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	small, _, err := ReadAll(strings.NewReader(sb.String()), Options{BlockRows: 7})
	if err != nil {
		t.Fatal(err)
	}
	if tablepb.Digest(whole) != tablepb.Digest(small) {
		t.Error("block size changes the table")
	}
	if whole.NumRows() != 1001 || len(whole.Columns) != 4 || whole.Columns[3].Name != "late" {
		t.Errorf("shape %d rows %d columns", whole.NumRows(), len(whole.Columns))
	}
	if !math.IsNaN(whole.Columns[0].Nums[501]) {
		t.Error("null not missing")
	}
}

// FuzzJSONL checks that any input either fails cleanly or gives a valid
// table whose rows and skipped rows account for every non-blank line, the
// same whatever the block size.
func FuzzJSONL(f *testing.F) {
	f.Add([]byte(`{"a": 1, "b": "x"}`+"\n"+`{"a": [1], "c": null}`), int64(0))
	f.Add([]byte(`{"a": 1}`+"\n"+`oops`+"\n"+`{"a":"NA","b":true}`), int64(1))
	f.Add([]byte("{\"\\u00e9\": 1e999}\n{\"x\": \"\xff\"}"), int64(5))
	f.Fuzz(func(t *testing.T, data []byte, maxBad int64) {
		if maxBad < 0 {
			maxBad = -maxBad
		}
		opts := Options{MaxBadRows: maxBad % 8, MaxLineBytes: 4096}
		tb, rep, err := ReadAll(strings.NewReader(string(data)), opts)
		if err != nil {
			return
		}
		if err := tb.Validate(); err != nil {
			t.Fatalf("invalid table: %v", err)
		}
		if int64(tb.NumRows()) != rep.Rows || rep.SkippedRows > opts.MaxBadRows {
			t.Fatalf("report %+v for %d rows", rep, tb.NumRows())
		}
		var lines int64
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if rep.Rows+rep.SkippedRows != lines {
			t.Fatalf("%d rows + %d skipped for %d non-blank lines", rep.Rows, rep.SkippedRows, lines)
		}
		opts.BlockRows = 1
		tb2, _, err := ReadAll(strings.NewReader(string(data)), opts)
		if err != nil {
			t.Fatalf("second read failed: %v", err)
		}
		if tablepb.Digest(tb) != tablepb.Digest(tb2) {
			t.Fatal("block size changes the table")
		}
	})
}

func TestBadRowAddsNoColumn(t *testing.T) {
	tb, rep, err := ReadAll(strings.NewReader(`{"a": 1}`+"\n"+`{"b": 2, "b": 3}`+"\n"+`{"c": 4, "a": [1`), Options{MaxBadRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Columns) != 1 || tb.Columns[0].Name != "a" || rep.SkippedRows != 2 {
		t.Fatalf("%d columns, report %+v", len(tb.Columns), rep)
	}
}
