package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	evalv1 "github.com/alur-ml/alur/proto/alur/eval/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

func rawRows(cols []string, rows ...[]string) *datav1.RawRows {
	r := &datav1.RawRows{Columns: cols}
	for _, v := range rows {
		r.Rows = append(r.Rows, &datav1.RawRow{Values: v})
	}
	return r
}

func TestParseKeyValueRows(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []string
		want    *datav1.RawRows
		wantErr string
	}{
		{
			name: "one row",
			in:   []string{"sepal_length=5.1,sepal_width=3.5"},
			want: rawRows([]string{"sepal_length", "sepal_width"}, []string{"5.1", "3.5"}),
		},
		{
			name: "union of columns, missing left empty",
			in:   []string{"a=1,b=2", "b=3,c=x", "c=y"},
			want: rawRows([]string{"a", "b", "c"}, []string{"1", "2", ""}, []string{"", "3", "x"}, []string{"", "", "y"}),
		},
		{
			name: "spaces around keys, value kept",
			in:   []string{" a = 1 , b=NA"},
			want: rawRows([]string{"a", "b"}, []string{" 1 ", "NA"}),
		},
		{
			name: "quoted pair holds a comma, value holds '='",
			in:   []string{`city=Paris,"note=a,b",expr=x=y`},
			want: rawRows([]string{"city", "note", "expr"}, []string{"Paris", "a,b", "x=y"}),
		},
		{
			name: "empty value means missing",
			in:   []string{"a=,b=2"},
			want: rawRows([]string{"a", "b"}, []string{"", "2"}),
		},
		{name: "no equals", in: []string{"a=1,b"}, wantErr: `"b" is not col=val`},
		{name: "empty key", in: []string{"=1"}, wantErr: "no column name"},
		{name: "duplicate key", in: []string{"a=1,a=2"}, wantErr: `column "a" given twice`},
		{name: "empty row", in: []string{"a=1", " "}, wantErr: "--row 2: empty row"},
		{name: "newline", in: []string{"a=1\nb=2"}, wantErr: "one line"},
		{name: "bad quote", in: []string{`a="1`}, wantErr: "--row 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseKeyValueRows(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzParseKeyValueRow(f *testing.F) {
	for _, s := range []string{"a=1,b=2", `"n=a,b",c=`, "=", "a", `a="`, "a=1,a=1", " , ", "k=v=w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pairs, err := parseKeyValueRow(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, p := range pairs {
			if p.key == "" || p.key != strings.TrimSpace(p.key) {
				t.Fatalf("bad key %q from %q", p.key, s)
			}
			if seen[p.key] {
				t.Fatalf("duplicate key %q from %q", p.key, s)
			}
			seen[p.key] = true
		}
		raw, err := parseKeyValueRows([]string{s})
		if err != nil {
			t.Fatalf("row parsed alone but not in a list: %v", err)
		}
		if len(raw.GetRows()) != 1 || len(raw.GetRows()[0].GetValues()) != len(raw.GetColumns()) {
			t.Fatalf("ragged result %v", raw)
		}
	})
}

func TestReadCSVRows(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    *datav1.RawRows
		wantErr string
	}{
		{
			name: "header and rows",
			in:   "\ufeffa,b,c\n1,2,x\n\"3,5\",,y\n",
			want: rawRows([]string{"a", "b", "c"}, []string{"1", "2", "x"}, []string{"3,5", "", "y"}),
		},
		{name: "header only", in: "a,b\n", want: rawRows([]string{"a", "b"})},
		{name: "empty", in: "", wantErr: "empty file"},
		{name: "ragged", in: "a,b\n1,2\n3\n", wantErr: "line 3"},
		{name: "duplicate column", in: "a,a\n1,2\n", wantErr: `"a" appears twice`},
		{name: "unnamed column", in: "a,,c\n1,2,3\n", wantErr: "column 2 has no name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readCSVRows(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSplitRows(t *testing.T) {
	raw := &datav1.RawRows{Columns: []string{"a", "b"}}
	for i := range 1000 {
		raw.Rows = append(raw.Rows, &datav1.RawRow{Values: []string{fmt.Sprint(i), strings.Repeat("x", 100)}})
	}
	const limit = 10 << 10
	batches := splitRows(raw, limit)
	if len(batches) < 10 {
		t.Fatalf("got %d batches, want the rows spread over at least 10", len(batches))
	}
	var joined []string
	for _, b := range batches {
		if !slices.Equal(b.GetColumns(), raw.GetColumns()) {
			t.Fatalf("batch columns = %v", b.GetColumns())
		}
		if n := proto.Size(b); n > limit+64 {
			t.Errorf("batch of %d bytes exceeds the %d limit", n, limit)
		}
		for _, r := range b.GetRows() {
			joined = append(joined, r.GetValues()[0])
		}
	}
	for i, v := range joined {
		if v != fmt.Sprint(i) {
			t.Fatalf("row %d is %q: order lost", i, v)
		}
	}
	if len(joined) != 1000 {
		t.Errorf("got %d rows back, want 1000", len(joined))
	}
	// One huge row still goes out, alone.
	huge := rawRows([]string{"a"}, []string{strings.Repeat("y", 2*limit)}, []string{"1"})
	if got := splitRows(huge, limit); len(got) != 2 {
		t.Errorf("huge row: %d batches, want 2", len(got))
	}
	if got := splitRows(&datav1.RawRows{}, limit); len(got) != 0 {
		t.Errorf("no rows: %d batches", len(got))
	}
}

func TestWritePredictions(t *testing.T) {
	var b bytes.Buffer
	writePredictions(&b, &orchestratorv1.PredictResponse{
		ClassNames: []string{"setosa", "versicolor"},
		Predictions: []*evalv1.Prediction{
			{Label: "setosa", Value: 0, Probabilities: []float64{0.97312, 0.02688}},
			{Label: "versicolor", Value: 1, Probabilities: []float64{0.4, 0.6}},
		},
	})
	if got, want := squeeze(b.String()), "setosa p=0.9731\nversicolor p=0.6000\n"; got != want {
		t.Errorf("classification:\n%q\nwant\n%q", got, want)
	}
	b.Reset()
	writePredictions(&b, &orchestratorv1.PredictResponse{Predictions: []*evalv1.Prediction{{Value: 12.5}, {Value: -0.001234567}}})
	if got, want := b.String(), "12.5\n-0.00123457\n"; got != want {
		t.Errorf("regression:\n%q\nwant\n%q", got, want)
	}
}
