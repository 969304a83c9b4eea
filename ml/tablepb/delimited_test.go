package tablepb

import (
	"bytes"
	"math"
	"testing"

	"github.com/alur-ml/alur/ml/table"
)

func TestDelimitedRoundTrip(t *testing.T) {
	in := &table.Table{Columns: []*table.Column{
		table.NewNumeric("x", []float64{1, math.NaN(), 3}),
		table.NewCategorical("c", []int32{0, -1, 1}, []string{"a", "b"}),
	}}
	b, err := MarshalDelimited(in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := MarshalDelimited(in)
	if err != nil || !bytes.Equal(b, again) {
		t.Fatal("encoding is not deterministic")
	}
	out, err := UnmarshalDelimited(b)
	if err != nil {
		t.Fatal(err)
	}
	if Digest(out) != Digest(in) {
		t.Fatal("round trip changed the table")
	}
	if _, err := UnmarshalDelimited(b[:len(b)-1]); err == nil {
		t.Fatal("truncated input decoded without error")
	}
}
