package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/alur-ml/alur/ml/csvio"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

func TestWriteCSV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.csv")
	rows, size, err := writeCSV(path, 500, 0)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tb, _, err := csvio.ReadAll(f, csvio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rows != 500 || tb.NumRows() != 500 || len(tb.Columns) != genFeatures+1 {
		t.Fatalf("%d rows written, %d read, %d columns", rows, tb.NumRows(), len(tb.Columns))
	}
	for _, c := range tb.Columns {
		if c.Type != datav1.ColumnType_COLUMN_TYPE_NUMERIC {
			t.Fatalf("column %s is %v", c.Name, c.Type)
		}
	}
	if fi, _ := os.Stat(path); fi.Size() != size {
		t.Fatalf("reported %d bytes, file has %d", size, fi.Size())
	}
	// A byte budget stops the file just past it.
	rows, size, err = writeCSV(path, 0, 10000)
	if err != nil || size < 10000 || size > 10000+512 || rows == 0 {
		t.Fatalf("budget: %d rows, %d bytes, %v", rows, size, err)
	}
}
