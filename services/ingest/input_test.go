package ingest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/alur-ml/alur/ml/source"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		head string
		want string
	}{
		{"PAR1", formatParquet},
		{"{\"a\":1}", formatJSONL},
		{"\r\n  \t{", formatJSONL},
		{"\n\n\n\n\n\n{\"a\":1}", formatJSONL},
		{"\xef\xbb\xbf{\"a\":1}", formatJSONL},
		{"a,b\n", formatCSV},
		{"[1,2]", formatCSV},
		{"", formatCSV},
		{"PAR", formatCSV},
	}
	for _, tc := range tests {
		if got := detect([]byte(tc.head)); got != tc.want {
			t.Errorf("detect(%q) = %s, want %s", tc.head, got, tc.want)
		}
	}
}

func TestParseOptions(t *testing.T) {
	ro, err := parseOptions(&ingestv1.CsvOptions{Format: "tsv", Quote: "'", NoComments: true, MaxBadRows: 3, MissingValues: []string{"-"}}, 99)
	if err != nil {
		t.Fatal(err)
	}
	c := ro.csv
	if ro.format != formatTSV || c.Delimiter != '\t' || c.Quote != '\'' || !c.NoComments || c.MaxBadRows != 3 || c.MaxBytes != 99 {
		t.Errorf("csv options %+v", c)
	}
	if j := ro.jsonl; j.MaxBadRows != 3 || j.MaxBytes != 99 || len(j.MissingValues) != 1 {
		t.Errorf("jsonl options %+v", j)
	}
	if ro, err := parseOptions(&ingestv1.CsvOptions{Format: "auto"}, 1); err != nil || ro.format != "" {
		t.Errorf("auto: %q, %v", ro.format, err)
	}
}

// FuzzParseOptions checks that any options either parse or fail with a
// *tablepb.FieldError naming a CsvOptions field, never anything else.
func FuzzParseOptions(f *testing.F) {
	f.Add("csv", ",", "\"", int64(0))
	f.Add("tsv", ";", "'", int64(-1))
	f.Add("parquet", `\t`, "\t", int64(5))
	f.Add("xml", "é", "ab", int64(1))
	f.Fuzz(func(t *testing.T, format, delim, quote string, maxBad int64) {
		_, err := parseOptions(&ingestv1.CsvOptions{Format: format, Delimiter: delim, Quote: quote, MaxBadRows: maxBad}, 1<<20)
		var fe *tablepb.FieldError
		if err != nil && (!errors.As(err, &fe) || fe.Field == "") {
			t.Fatalf("error %v (%T) is not a FieldError", err, err)
		}
	})
}

// FuzzParquet feeds arbitrary bytes, starting from a valid file, to the
// Parquet reader: it must return rows or an error, never panic or emit
// an invalid table.
func FuzzParquet(f *testing.F) {
	f.Add(sampleParquetBytes())
	f.Add([]byte("PAR1PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var cols int
		sink := source.Sink{
			Schema: func(s *datav1.Schema) error {
				if err := tablepb.ValidateSchema(s); err != nil {
					t.Fatalf("invalid schema: %v", err)
				}
				cols = len(s.Fields)
				return nil
			},
			Block: func(b *table.Table) error {
				if len(b.Columns) != cols {
					t.Fatalf("block of %d columns for a schema of %d", len(b.Columns), cols)
				}
				return b.Validate()
			},
		}
		_, _ = readParquet(context.Background(), bytes.NewReader(data), int64(len(data)), 3, nil, sink)
	})
}

// sampleParquetBytes is a small valid Parquet file for the fuzz corpus.
func sampleParquetBytes() []byte {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[parquetRow](&buf)
	s := "red"
	if _, err := w.Write([]parquetRow{{Color: &s, Score: 1, OK: true, Count: 3}, {Score: 2}}); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
