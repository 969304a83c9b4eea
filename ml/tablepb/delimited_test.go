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

// TestDelimitedPartsShareBlocks: a table that grows by appended blocks
// (new categories included) serializes its earlier blocks to the same
// parts each time, and the concatenated parts read back as the table.
func TestDelimitedPartsShareBlocks(t *testing.T) {
	grow := func(k int) (*table.Table, []int) {
		var nums []float64
		var codes []int32
		var dict []string
		var bounds []int
		for b := range k {
			for r := range 1000 {
				nums = append(nums, float64(b*1000+r))
				if r == 0 {
					dict = append(dict, string(rune('a'+b)))
				}
				code := int32(r % len(dict))
				if r%7 == 0 {
					code = -1
				}
				codes = append(codes, code)
			}
			bounds = append(bounds, len(nums))
		}
		// One category no row uses.
		dict = append(dict, "unused")
		return &table.Table{Columns: []*table.Column{
			table.NewNumeric("x", nums),
			table.NewCategorical("c", codes, dict),
		}}, bounds
	}
	var prev [][]byte
	for k := 1; k <= 5; k++ {
		tb, bounds := grow(k)
		parts, err := MarshalDelimitedParts(tb, bounds)
		if err != nil {
			t.Fatal(err)
		}
		// Schema, k blocks, the unused entry.
		if len(parts) != k+2 {
			t.Fatalf("%d blocks: %d parts", k, len(parts))
		}
		for i := 0; i < k && i < len(prev)-1; i++ {
			if !bytes.Equal(parts[i], prev[i]) {
				t.Fatalf("%d blocks: part %d changed", k, i)
			}
		}
		out, err := UnmarshalDelimited(bytes.Join(parts, nil))
		if err != nil {
			t.Fatal(err)
		}
		if Digest(out) != Digest(tb) {
			t.Fatalf("%d blocks: the parts read back as another table", k)
		}
		prev = parts
	}
	if _, err := MarshalDelimitedParts(&table.Table{Columns: []*table.Column{table.NewNumeric("x", []float64{1, 2})}}, []int{1}); err == nil {
		t.Fatal("bounds short of the rows accepted")
	}
}
