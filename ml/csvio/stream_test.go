package csvio

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/alur-ml/alur/ml/source"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// TestStreamBlocks streams more rows than a block holds and checks the
// blocks: bounded, in order, with dictionaries that only grow.
func TestStreamBlocks(t *testing.T) {
	const rows = 2*BlockRows + 123
	var sb strings.Builder
	sb.WriteString("id,kind,flag,late\n")
	for i := range rows {
		late := "1"
		if i == rows-1 {
			late = "text" // makes the column categorical on the very last row
		}
		fmt.Fprintf(&sb, "%d,k%d,%v,%s\n", i, i*7/rows, i%2 == 0, late)
	}
	input := sb.String()
	opens := 0
	open := func() (io.ReadCloser, error) {
		opens++
		return io.NopCloser(strings.NewReader(input)), nil
	}
	var schema *datav1.Schema
	var sizes []int
	var dict []string
	next := 0
	sink := source.Sink{
		Schema: func(s *datav1.Schema) error {
			if schema != nil {
				t.Fatal("Schema called twice")
			}
			schema = s
			return nil
		},
		Block: func(b *table.Table) error {
			if schema == nil {
				t.Fatal("Block before Schema")
			}
			if err := b.Validate(); err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, b.NumRows())
			kind := b.Columns[1]
			if len(kind.Dict) < len(dict) || strings.Join(kind.Dict[:len(dict)], ",") != strings.Join(dict, ",") {
				t.Fatalf("dictionary %q does not extend %q", kind.Dict, dict)
			}
			dict = append(dict[:0], kind.Dict...)
			for r := range b.NumRows() {
				if got := b.Columns[0].Nums[r]; got != float64(next) {
					t.Fatalf("row %d has id %v", next, got)
				}
				if want := fmt.Sprintf("k%d", next*7/rows); kind.Text(r) != want {
					t.Fatalf("row %d has kind %q, want %q", next, kind.Text(r), want)
				}
				next++
			}
			return nil
		},
	}
	rep, err := Stream(open, Options{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if opens != 2 || rep.Rows != rows || next != rows || len(dict) != 7 {
		t.Fatalf("%d opens, report %+v, %d rows seen, dictionary %q", opens, rep, next, dict)
	}
	if fmt.Sprint(sizes) != fmt.Sprint([]int{BlockRows, BlockRows, 123}) {
		t.Fatalf("block sizes %v", sizes)
	}
	types := []datav1.ColumnType{num, cat, boo, cat}
	for j, f := range schema.Fields {
		if f.Type != types[j] {
			t.Errorf("column %q is %v, want %v", f.Name, f.Type, types[j])
		}
	}
}

// TestStreamBlockBytes checks that wide rows end blocks by size.
func TestStreamBlockBytes(t *testing.T) {
	wide := strings.Repeat("w", 1000)
	var sb strings.Builder
	sb.WriteString("a,b\n")
	for i := range 10_000 {
		fmt.Fprintf(&sb, "%d,%s%d\n", i, wide, i%3)
	}
	input := sb.String()
	open := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(input)), nil }
	var sizes []int
	_, err := Stream(open, Options{}, source.Sink{Block: func(b *table.Table) error {
		sizes = append(sizes, b.NumRows())
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Rows take 1004 to 1009 bytes, so a full block has 4157 to 4178.
	if len(sizes) != 3 || sizes[0]+sizes[1]+sizes[2] != 10_000 || sizes[0] < blockBytes/1009 || sizes[0] > blockBytes/1004+1 || sizes[1] < blockBytes/1009 {
		t.Fatalf("block sizes %v for rows of about 1006 bytes", sizes)
	}
}

func TestStreamErrors(t *testing.T) {
	boom := errors.New("boom")
	ok := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("a\n1\n2\n")), nil }
	if _, err := Stream(func() (io.ReadCloser, error) { return nil, boom }, Options{}, source.Sink{}); !errors.Is(err, boom) {
		t.Fatalf("open error: %v", err)
	}
	if _, err := Stream(ok, Options{}, source.Sink{Schema: func(*datav1.Schema) error { return boom }}); !errors.Is(err, boom) {
		t.Fatalf("schema sink error: %v", err)
	}
	if _, err := Stream(ok, Options{}, source.Sink{Block: func(*table.Table) error { return boom }}); !errors.Is(err, boom) {
		t.Fatalf("block sink error: %v", err)
	}
	var fe *tablepb.FieldError
	if _, err := Stream(ok, Options{Quote: '\n'}, source.Sink{}); !errors.As(err, &fe) || fe.Field != "quote" {
		t.Fatalf("option error: %v", err)
	}
	// An input that changes between the passes is noticed.
	n := 0
	changing := func() (io.ReadCloser, error) {
		n++
		if n == 1 {
			return io.NopCloser(strings.NewReader("a\n1\n2\n")), nil
		}
		return io.NopCloser(strings.NewReader("a\n1\nx\n")), nil
	}
	if _, err := Stream(changing, Options{}, source.Sink{}); !errors.Is(err, errChanged) {
		t.Fatalf("changed input: %v", err)
	}
	// A parse error early in a file larger than MaxBytes reports the
	// limit, as ReadAll does.
	big := "a,b\n1\n" + strings.Repeat("1,2\n", 100)
	var le *tablepb.LimitError
	if _, _, err := streamString(big, Options{MaxBytes: 50}, 7); !errors.As(err, &le) {
		t.Fatalf("limit error: %v", err)
	}
}

// FuzzStream checks that Stream and ReadAll agree on every input: the
// same table, report and error, whatever the read size.
func FuzzStream(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n", "a;b\n1,x\n\n2;\"y\"\"\"\n", "# c\na\n1\n#x\nz\n", "a,b\n1\n\"x\n", "a\n\xff\n1\n",
		"a,b\n1,\"x\"y\n2,3\n", "\x00", "a,a\n", "a\n", "'a'|b\n'1|2'|3\n", "a,b\r\n1,2\r\n3,\"4\r\n5\"\r\n",
	} {
		f.Add([]byte(s), uint8(0), uint8(3), uint16(7))
	}
	f.Fuzz(func(t *testing.T, input []byte, maxBad, maxLine uint8, readSize uint16) {
		opts := Options{MaxBadRows: int64(maxBad % 4), MaxLineBytes: 8 + int(maxLine), MaxBytes: 1 << 16, MissingValues: []string{"-"}}
		want, wantRep, err := ReadAll(strings.NewReader(string(input)), opts)
		got, gotRep, err2 := streamString(string(input), opts, 1+int(readSize%512))
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("ReadAll: %v; Stream: %v", err, err2)
		}
		if err != nil {
			return
		}
		if err := want.Validate(); err != nil {
			t.Fatalf("invalid table: %v", err)
		}
		if tablepb.Digest(want) != tablepb.Digest(got) {
			t.Fatal("Stream gives another table")
		}
		if fmt.Sprintf("%+v", wantRep) != fmt.Sprintf("%+v", gotRep) {
			t.Fatalf("ReadAll report %+v, Stream report %+v", wantRep, gotRep)
		}
		chunked, _, err := readAll(strings.NewReader(string(input)), opts, max(1, len(input)/8))
		if err != nil || tablepb.Digest(chunked) != tablepb.Digest(want) {
			t.Fatalf("parsing in chunks: %v, or another table", err)
		}
	})
}
