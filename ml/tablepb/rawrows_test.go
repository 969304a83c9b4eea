package tablepb

import (
	"errors"
	"math"
	"testing"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

func raw(cols []string, rows ...[]string) *datav1.RawRows {
	rr := &datav1.RawRows{Columns: cols}
	for _, r := range rows {
		rr.Rows = append(rr.Rows, &datav1.RawRow{Values: r})
	}
	return rr
}

func TestFromRawRows(t *testing.T) {
	tab, err := FromRawRows(raw([]string{"c", "x", "b"},
		[]string{"red", " 1.5 ", "yes"},
		[]string{"blue", "NA", "FALSE"},
		[]string{"red", "-2e3", "1"},
		[]string{"?", "1e400", "None"},
	), threeCols)
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Validate(); err != nil {
		t.Fatal(err)
	}
	x, b, c := tab.Columns[0].Nums, tab.Columns[1].Nums, tab.Columns[2]
	wantX := []float64{1.5, math.NaN(), -2000, math.Inf(1)}
	wantB := []float64{1, 0, 1, math.NaN()}
	for i := range wantX {
		if x[i] != wantX[i] && !(math.IsNaN(x[i]) && math.IsNaN(wantX[i])) {
			t.Errorf("x[%d] = %v, want %v", i, x[i], wantX[i])
		}
		if b[i] != wantB[i] && !(math.IsNaN(b[i]) && math.IsNaN(wantB[i])) {
			t.Errorf("b[%d] = %v, want %v", i, b[i], wantB[i])
		}
	}
	if len(c.Dict) != 2 || c.Dict[0] != "red" || c.Dict[1] != "blue" {
		t.Errorf("dict = %v", c.Dict)
	}
	if want := []int32{0, 1, 0, -1}; len(c.Codes) != 4 || c.Codes[0] != want[0] || c.Codes[1] != want[1] || c.Codes[2] != want[2] || c.Codes[3] != want[3] {
		t.Errorf("codes = %v, want %v", c.Codes, want)
	}

	// Absent schema columns are missing.
	tab, err = FromRawRows(raw([]string{"x"}, []string{"3"}), threeCols)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Columns[0].Nums[0] != 3 || !math.IsNaN(tab.Columns[1].Nums[0]) || tab.Columns[2].Codes[0] != -1 {
		t.Fatalf("absent columns not missing: %+v", tab.Columns)
	}
}

func TestFromRawRowsErrors(t *testing.T) {
	tests := []struct {
		name  string
		rr    *datav1.RawRows
		field string
	}{
		{"unknown column", raw([]string{"x", "zzz"}, []string{"1", "2"}), "columns[1]"},
		{"duplicate column", raw([]string{"x", "b", "x"}), "columns[2]"},
		{"short row", raw([]string{"x", "b"}, []string{"1", "yes"}, []string{"1"}), "rows[1].values"},
		{"not a number", raw([]string{"b", "x"}, []string{"no", "1"}, []string{"yes", "abc"}), "rows[1].values[1]"},
		{"not a boolean", raw([]string{"b"}, []string{"maybe"}), "rows[0].values[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromRawRows(tc.rr, threeCols)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("error %v, want a FieldError on %q", err, tc.field)
			}
		})
	}
	if _, err := FromRawRows(raw(nil), nil); err == nil {
		t.Fatal("nil schema accepted")
	}
}

func TestValueHelpers(t *testing.T) {
	for _, s := range MissingTokens() {
		if !IsMissing(s) || !IsMissing(" "+s+"\t") {
			t.Errorf("IsMissing(%q) = false", s)
		}
	}
	for _, s := range []string{"0", "n/a", "-", "none"} {
		if IsMissing(s) {
			t.Errorf("IsMissing(%q) = true", s)
		}
	}
	bools := []struct {
		in     string
		v, ok  bool
		wordOK bool
	}{
		{"TRUE", true, true, true}, {"No", false, true, true}, {"yes", true, true, true}, {"fAlSe", false, true, true},
		{"1", true, true, false}, {"0", false, true, false}, {"2", false, false, false}, {"y", false, false, false},
	}
	for _, b := range bools {
		v, ok := ParseBool(b.in)
		if v != b.v || ok != b.ok {
			t.Errorf("ParseBool(%q) = %v, %v", b.in, v, ok)
		}
		if _, ok := ParseBoolWord(b.in); ok != b.wordOK {
			t.Errorf("ParseBoolWord(%q) ok = %v", b.in, ok)
		}
	}
}
