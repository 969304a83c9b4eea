package tablepb

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// splitBlocks cuts t into blocks at the given row boundaries the way a
// streaming reader emits them: each block's dictionary is the prefix of
// t's needed by the rows so far, and the last block carries all of it.
func splitBlocks(t *table.Table, cuts []int) []*table.Table {
	var out []*table.Table
	start := 0
	seen := make([]int, len(t.Columns))
	for k, end := range append(cuts, t.NumRows()) {
		idx := make([]int, 0, end-start)
		for r := start; r < end; r++ {
			idx = append(idx, r)
		}
		b := t.Take(idx)
		for ci, c := range t.Columns {
			if !c.IsCategorical() {
				continue
			}
			for _, code := range c.Codes[start:end] {
				seen[ci] = max(seen[ci], int(code)+1)
			}
			n := seen[ci]
			if k == len(cuts) {
				n = len(c.Dict)
			}
			b.Columns[ci].Dict = c.Dict[:n:n]
		}
		out = append(out, b)
		start = end
	}
	return out
}

func TestStreamEncoderAndDigestEqualWholeTable(t *testing.T) {
	big := mixedTable(20000, 3000, 7)
	tests := []struct {
		name     string
		t        *table.Table
		cuts     []int
		maxBytes int
		bufCap   int // digest buffer per column; small values force spills
	}{
		{"one block", big, nil, 0, 0},
		{"even blocks", big, []int{5000, 10000, 15000}, 0, 0},
		{"uneven blocks spill", big, []int{1, 2, 3, 999, 1000, 1000, 19999}, 4 << 10, 64},
		{"tiny batches", mixedTable(500, 50, 3), []int{100, 250}, 256, 16},
		{"empty table", mixedTable(0, 4, 1), nil, 0, 0},
		{"empty blocks", mixedTable(300, 20, 2), []int{0, 0, 150, 150, 300}, 0, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := Digest(tc.t)
			enc, err := NewStreamEncoder(tc.t.Schema(), tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			dig, err := NewStreamDigest(tc.t.Schema(), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer dig.Close()
			if tc.bufCap > 0 {
				dig.bufCap = tc.bufCap
			}
			var col Collector
			if err := col.Schema(tc.t.Schema()); err != nil {
				t.Fatal(err)
			}
			for _, b := range splitBlocks(tc.t, tc.cuts) {
				if err := enc.Encode(b, func(batch *datav1.TableBatch) error {
					if n := proto.Size(batch); n > MaxBatchBytes {
						t.Errorf("batch of %d bytes exceeds the cap", n)
					}
					return col.Batch(batch)
				}); err != nil {
					t.Fatal(err)
				}
				if err := dig.Add(b); err != nil {
					t.Fatal(err)
				}
			}
			got, err := col.Table()
			if err != nil {
				t.Fatal(err)
			}
			if err := equalTables(tc.t, got); err != nil {
				t.Fatalf("collected table differs: %v", err)
			}
			if enc.Rows() != int64(tc.t.NumRows()) || dig.Rows() != int64(tc.t.NumRows()) {
				t.Errorf("rows: encoder %d, digest %d, want %d", enc.Rows(), dig.Rows(), tc.t.NumRows())
			}
			sum, err := dig.Sum()
			if err != nil {
				t.Fatal(err)
			}
			if sum != want {
				t.Errorf("stream digest %s, want %s", sum, want)
			}
			if tc.bufCap > 0 && tc.t.NumRows() > 1000 && dig.spill == nil {
				t.Errorf("expected the digest to spill")
			}
			if dig.spill != nil {
				name := dig.spill.Name()
				if err := dig.Close(); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("spill file %s left behind: %v", name, err)
				}
			}
		})
	}
}

func TestStreamEncoderRejectsBadBlocks(t *testing.T) {
	base := mixedTable(10, 3, 1)
	enc, err := NewStreamEncoder(base.Schema(), 0)
	if err != nil {
		t.Fatal(err)
	}
	noop := func(*datav1.TableBatch) error { return nil }
	if err := enc.Encode(base, noop); err != nil {
		t.Fatal(err)
	}
	renamed := mixedTable(10, 3, 1)
	renamed.Columns[0].Name = "other"
	shrunk := mixedTable(10, 3, 1)
	shrunk.Columns[2].Dict = shrunk.Columns[2].Dict[:1]
	for i := range shrunk.Columns[2].Codes {
		shrunk.Columns[2].Codes[i] = 0
	}
	long := mixedTable(1, 3, 1)
	long.Columns[2].Dict = append(long.Columns[2].Dict, string(make([]byte, MaxCategoryBytes+1)))
	var le *LimitError
	for name, b := range map[string]*table.Table{"renamed": renamed, "shrunk dictionary": shrunk, "long entry": long} {
		err := enc.Encode(b, noop)
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
		if name == "long entry" && !errors.As(err, &le) {
			t.Errorf("%s: %v, want a LimitError", name, err)
		}
	}
	if _, err := NewStreamEncoder(&datav1.Schema{}, 0); err == nil {
		t.Error("empty schema accepted")
	}
}

func TestStreamDigestRandomCuts(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for trial := range 20 {
		tb := mixedTable(rng.IntN(3000), 1+rng.IntN(200), uint64(trial))
		var cuts []int
		for c := 0; c < tb.NumRows(); c += 1 + rng.IntN(700) {
			cuts = append(cuts, c)
		}
		d, err := NewStreamDigest(tb.Schema(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		d.bufCap = 8 + rng.IntN(2000)
		for _, b := range splitBlocks(tb, cuts) {
			if err := d.Add(b); err != nil {
				t.Fatal(err)
			}
		}
		got, err := d.Sum()
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		if want := Digest(tb); got != want {
			t.Fatalf("trial %d: %s, want %s", trial, got, want)
		}
	}
}

func TestStreamEncoderLeavesBlockIntact(t *testing.T) {
	odd := math.Float64frombits(0x7ff8000000000123)
	vals := []float64{1, odd, math.NaN(), 4}
	block := &table.Table{Columns: []*table.Column{
		table.NewNumeric("x", vals),
		table.NewCategorical("c", []int32{0, -1, 1, 0}, []string{"a", "b"}),
	}}
	enc, err := NewStreamEncoder(block.Schema(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got *datav1.TableBatch
	if err := enc.Encode(block, func(b *datav1.TableBatch) error { got = b; return nil }); err != nil {
		t.Fatal(err)
	}
	if math.Float64bits(vals[1]) != 0x7ff8000000000123 {
		t.Error("the encoder rewrote the block's NaN payload")
	}
	d := got.Columns[0].Doubles
	if math.Float64bits(d[1]) != math.Float64bits(math.NaN()) || d[0] != 1 || d[3] != 4 {
		t.Errorf("doubles %v", d)
	}
	if v := got.Columns[0].Validity; len(v) != 1 || v[0] != 0b1001 {
		t.Errorf("validity %08b", v)
	}
	if v := got.Columns[1].Validity; len(v) != 1 || v[0] != 0b1101 {
		t.Errorf("code validity %08b", v)
	}
}
