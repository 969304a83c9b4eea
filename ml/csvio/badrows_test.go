package csvio

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/alur-ml/alur/ml/source"
	"github.com/alur-ml/alur/ml/tablepb"
)

// TestBadRows checks every kind of bad row twice: with MaxBadRows 0 the
// read fails naming the row's line (and column, where one is involved);
// with room to skip, the row is left out and listed in the report.
func TestBadRows(t *testing.T) {
	long := strings.Repeat("x", 40)
	tests := []struct {
		name    string
		input   string
		opts    Options
		line    int    // line of the bad row
		column  string // column the error names
		reason  string // part of the reason
		rows    int    // rows kept when skipping
		excerpt string
	}{
		{name: "too few fields", input: "a,b,c\n1,2,3\n4,5\n6,7,8\n", line: 3, column: "c", reason: "has 2 fields, but the header has 3", rows: 2, excerpt: "4,5"},
		{name: "too many fields", input: "a,b\n1,2\n3,4,5\n6,7\n", line: 3, reason: "has 3 fields", rows: 2, excerpt: "3,4,5"},
		{name: "ragged after a quoted line break", input: "a,b\n\"x\ny\",1\n2\n3,4\n", line: 4, column: "b", rows: 2, excerpt: "2"},
		{name: "unterminated quote at EOF", input: "a,b\n1,2\n3,\"open\n4,5\n", line: 3, reason: "never closed", rows: 1, excerpt: "3,\"open\n4,5"},
		{name: "text after closing quote", input: "a,b\n1,\"x\"y\n2,3\n", line: 2, reason: "after a closing quote", rows: 1, excerpt: "1,\"x\"y"},
		{name: "text after closing quote over lines", input: "a,b\n1,\"x\ny\"z,\"w\n2,3\n", line: 2, reason: "after a closing quote", rows: 1},
		{name: "invalid UTF-8", input: "a,b\n1,x\n2,\xc3\x28\n3,y\n", line: 3, column: "b", reason: "not valid UTF-8", rows: 2, excerpt: "2,\uFFFD("},
		{name: "invalid UTF-8 in a numeric column", input: "a\n1\n2\n\xff\n3\n", line: 4, column: "a", reason: "not valid UTF-8", rows: 3},
		{name: "enormous line", input: "a,b\n1,2\n3," + long + "\n4,5\n", opts: Options{MaxLineBytes: 30}, line: 3, reason: "line longer than 30 bytes", rows: 2, excerpt: "3," + long},
		{name: "enormous quoted record", input: "a,b\n1,\"" + long + "\n" + long + "\"\n4,5\n", opts: Options{MaxLineBytes: 30}, line: 2, reason: "line longer than 30 bytes", rows: 1},
		{name: "enormous unterminated record", input: "a,b\n1,2\n3,\"" + long + "\n", opts: Options{MaxLineBytes: 30}, line: 3, reason: "line longer than 30 bytes", rows: 1},
		{name: "enormous bad quote", input: "a,b\n1,\"x\"" + long + "\n4,5\n", opts: Options{MaxLineBytes: 30}, line: 2, reason: "line longer than 30 bytes", rows: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readAllWays(t, tc.input, tc.opts)
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line != tc.line || pe.Column != tc.column || !strings.Contains(pe.Reason, tc.reason) {
				t.Fatalf("fail mode: error %v, want a ParseError at line %d, column %q, saying %q", err, tc.line, tc.column, tc.reason)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("line %d", tc.line)) {
				t.Fatalf("message %q does not name the line", err)
			}
			opts := tc.opts
			opts.MaxBadRows = 1
			tab, rep, err := readAllWays(t, tc.input, opts)
			if err != nil {
				t.Fatalf("skip mode: %v", err)
			}
			if tab.NumRows() != tc.rows || rep.Rows != int64(tc.rows) || rep.SkippedRows != 1 || len(rep.BadRows) != 1 {
				t.Fatalf("skip mode: %d rows, report %+v; want %d rows and one bad row", tab.NumRows(), rep, tc.rows)
			}
			b := rep.BadRows[0]
			if b.Line != int64(tc.line) || !strings.Contains(b.Reason, tc.reason) || tc.column != "" && !strings.Contains(b.Reason, fmt.Sprintf("%q", tc.column)) {
				t.Fatalf("bad row %+v, want line %d saying %q about column %q", b, tc.line, tc.reason, tc.column)
			}
			if tc.excerpt != "" && b.Excerpt != tc.excerpt {
				t.Fatalf("excerpt %q, want %q", b.Excerpt, tc.excerpt)
			}
		})
	}
}

func TestMaxBadRows(t *testing.T) {
	input := "a,b\n1,2\n3\n4,5\n6\n7,8\n9\n10,11\n"
	tab, rep, err := readAllWays(t, input, Options{MaxBadRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	if tab.NumRows() != 4 || rep.SkippedRows != 3 {
		t.Fatalf("%d rows, %d skipped; want 4 and 3", tab.NumRows(), rep.SkippedRows)
	}
	for i, line := range []int64{3, 5, 7} {
		if rep.BadRows[i].Line != line {
			t.Errorf("bad row %d on line %d, want %d", i, rep.BadRows[i].Line, line)
		}
	}
	// One bad row too many fails on it.
	_, _, err = readAllWays(t, input, Options{MaxBadRows: 2})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 7 || !strings.Contains(pe.Reason, "at most 2 may be skipped") {
		t.Fatalf("error %v, want the third bad row (line 7) to fail the read", err)
	}
	// Only MaxReportedBadRows are listed, but all are counted.
	var sb strings.Builder
	sb.WriteString("a,b\n1,2\n")
	for range source.MaxReportedBadRows + 50 {
		sb.WriteString("x\n")
	}
	tab, rep, err = readAllWays(t, sb.String(), Options{MaxBadRows: 1000})
	if err != nil || tab.NumRows() != 1 || rep.SkippedRows != source.MaxReportedBadRows+50 || len(rep.BadRows) != source.MaxReportedBadRows {
		t.Fatalf("error %v, report %d skipped, %d listed", err, rep.SkippedRows, len(rep.BadRows))
	}
	// A file whose rows are all bad has no rows.
	_, _, err = readAllWays(t, "a,b\n1\n2\n", Options{MaxBadRows: 5})
	if !errors.Is(err, ErrNoRows) || !strings.Contains(err.Error(), "all 2 rows were bad") {
		t.Fatalf("error %v, want ErrNoRows saying all rows were bad", err)
	}
	_, _, err = readAllWays(t, "\xff,1\n\xfe,3\n4\n", Options{NoHeader: true, MaxBadRows: 5})
	if !errors.Is(err, ErrNoRows) || !strings.Contains(err.Error(), "line 1: the file has no good rows (all 3 rows were bad") {
		t.Fatalf("error %v, want ErrNoRows without a header", err)
	}
}

// TestFileProblems checks the problems that concern the whole file, which
// no MaxBadRows lets through.
func TestFileProblems(t *testing.T) {
	tests := []struct {
		name  string
		input string
		is    error  // expected sentinel, or nil
		line  int    // expected ParseError line, or 0
		text  string // part of the message
	}{
		{name: "empty", input: "", is: ErrEmpty, text: "empty file"},
		{name: "only blank lines and comments", input: "\r\n\n# nothing here\n", is: ErrEmpty},
		{name: "header only", input: "a,b,c\n", is: ErrNoRows, line: 1, text: "header but no rows"},
		{name: "header and blank lines", input: "\n\na,b\n\n\n", is: ErrNoRows, line: 3, text: "header but no rows"},
		{name: "binary", input: "PK\x03\x04\x14\x00\x00\x00\x08\x00", line: 1, text: "looks like a binary file, not CSV"},
		{name: "binary later in the first 8 KiB", input: "a,b\n" + strings.Repeat("1,2\n", 1000) + "\x00", line: 1002, text: "looks like a binary file, not CSV"},
		{name: "duplicate column names", input: "x,y,x\n1,2,3\n", line: 1, text: "duplicate column name (header fields 1 and 3)"},
		{name: "empty column name", input: "x,,z\n1,2,3\n", line: 1, text: "header field 2 is empty"},
		{name: "bad header", input: "\"a,b\n", line: 1, text: "header: quoted field never closed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readAllWays(t, tc.input, Options{MaxBadRows: 10})
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v, want %v", err, tc.is)
			}
			var pe *ParseError
			if tc.line != 0 && (!errors.As(err, &pe) || pe.Line != tc.line) {
				t.Fatalf("error %v, want a ParseError on line %d", err, tc.line)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("message %q does not say %q", err, tc.text)
			}
		})
	}
	// A NUL byte after the first 8 KiB is data.
	input := "a,b\n" + strings.Repeat("1,2\n", 3000) + "3,x\x00y\n"
	if _, _, err := readAllWays(t, input, Options{}); err != nil {
		t.Fatalf("late NUL byte: %v", err)
	}
}

func TestBlankLinesAndLineNumbers(t *testing.T) {
	// Blank lines are skipped without being bad rows; line numbers count
	// physical lines, those inside quoted fields included.
	input := "a,b\n\n1,\"two\nlines\"\r\n\r\n\n2,x\n3\n"
	tab, rep, err := readAllWays(t, input, Options{MaxBadRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	if tab.NumRows() != 2 || rep.SkippedRows != 1 || rep.BadRows[0].Line != 8 {
		t.Fatalf("%d rows, report %+v; want 2 rows and line 8 bad", tab.NumRows(), rep)
	}
}

// TestReadAllChunksAgree reads a few MiB with the automatic chunking (many
// chunks on a machine with several cores, and chunks of 64 KiB) and in
// one chunk, with blank lines, comments, bad rows, quoted line breaks and
// a column that turns categorical only in its last rows, and checks that
// every way gives the same table and report.
func TestReadAllChunksAgree(t *testing.T) {
	const rows = 60_000
	var sb strings.Builder
	sb.WriteString("# generated\nid,kind,flag,late,note\n")
	for i := range rows {
		late := fmt.Sprint(i % 10)
		if i >= rows-3 {
			late = fmt.Sprintf("t%d", i) // categorical, found in the last chunk
		}
		note := "plain"
		if i%997 == 0 {
			note = "\"two\nlines, quoted\""
		}
		fmt.Fprintf(&sb, "%d,k%d,%v,%s,%s\n", i, (i*31)%17, i%3 == 0, late, note)
		switch {
		case i%1009 == 0:
			sb.WriteString("\n\r\n")
		case i%2003 == 0:
			sb.WriteString("bad,row\n")
		case i%4001 == 0:
			sb.WriteString("# a comment\n")
		}
	}
	input := sb.String()
	opts := Options{MaxBadRows: 100}
	one, oneRep, err := readAll(strings.NewReader(input), opts, len(input))
	if err != nil {
		t.Fatal(err)
	}
	if one.NumRows() != rows || oneRep.SkippedRows != rows/2003 { // i = 0 adds blank lines instead
		t.Fatalf("%d rows, %d skipped", one.NumRows(), oneRep.SkippedRows)
	}
	if late := one.Columns[3]; late.Type != cat || late.Text(0) != "0" || late.Text(rows-1) != fmt.Sprintf("t%d", rows-1) {
		t.Fatalf("late column %v: %q ... %q", late.Type, late.Text(0), late.Text(rows-1))
	}
	for _, size := range []int{0, 64 << 10} {
		got, rep, err := readAll(strings.NewReader(input), opts, size)
		if err != nil {
			t.Fatal(err)
		}
		if tablepb.Digest(got) != tablepb.Digest(one) || fmt.Sprint(rep) != fmt.Sprint(oneRep) {
			t.Fatalf("chunks of %d bytes give another table or report", size)
		}
	}
	got, rep, err := streamString(input, opts, 4096)
	if err != nil || tablepb.Digest(got) != tablepb.Digest(one) || fmt.Sprint(rep) != fmt.Sprint(oneRep) {
		t.Fatalf("Stream: %v, or another table or report", err)
	}
}
