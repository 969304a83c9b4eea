package tablepb

import (
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

func schemaOf(fields ...*datav1.Field) *datav1.Schema { return &datav1.Schema{Fields: fields} }

func field(name string, typ datav1.ColumnType) *datav1.Field {
	return &datav1.Field{Name: name, Type: typ}
}

// threeCols is the schema most decoder cases use: x NUMERIC, b BOOLEAN,
// c CATEGORICAL.
var threeCols = schemaOf(field("x", numeric), field("b", boolean), field("c", categorical))

// goodBatch returns a valid batch of two rows for threeCols at offset.
func goodBatch(offset int64) *datav1.TableBatch {
	return &datav1.TableBatch{RowOffset: offset, NumRows: 2, Columns: []*datav1.ColumnChunk{
		{Doubles: []float64{1, 2}},
		{Doubles: []float64{0, 1}},
		{Codes: []int32{0, -1}, DictionaryDelta: []string{"k" + string(rune('a'+offset))}, Validity: []byte{0b01}},
	}}
}

func TestSchemaValidation(t *testing.T) {
	tests := []struct {
		name   string
		schema *datav1.Schema
		field  string
	}{
		{"nil", nil, "schema"},
		{"no fields", schemaOf(), "schema.fields"},
		{"nil field", schemaOf(field("a", numeric), nil), "schema.fields[1]"},
		{"empty name", schemaOf(field("a", numeric), field("", numeric)), "schema.fields[1].name"},
		{"duplicate name", schemaOf(field("a", numeric), field("b", numeric), field("a", boolean)), "schema.fields[2].name"},
		{"unspecified type", schemaOf(field("a", datav1.ColumnType_COLUMN_TYPE_UNSPECIFIED)), "schema.fields[0].type"},
		{"unknown type", schemaOf(field("a", datav1.ColumnType(42))), "schema.fields[0].type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDecoder(tc.schema)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("NewDecoder error %v, want a FieldError on %q", err, tc.field)
			}
		})
	}
}

func TestBatchValidation(t *testing.T) {
	mod := func(f func(b *datav1.TableBatch)) *datav1.TableBatch {
		b := goodBatch(0)
		f(b)
		return b
	}
	tests := []struct {
		name  string
		batch *datav1.TableBatch
		field string
	}{
		{"nil batch", nil, "batch"},
		{"row offset gap", mod(func(b *datav1.TableBatch) { b.RowOffset = 5 }), "batch.row_offset"},
		{"negative rows", mod(func(b *datav1.TableBatch) { b.NumRows = -1 }), "batch.num_rows"},
		{"missing chunk", mod(func(b *datav1.TableBatch) { b.Columns = b.Columns[:2] }), "batch.columns"},
		{"extra chunk", mod(func(b *datav1.TableBatch) { b.Columns = append(b.Columns, &datav1.ColumnChunk{}) }), "batch.columns"},
		{"nil chunk", mod(func(b *datav1.TableBatch) { b.Columns[1] = nil }), "batch.columns[1]"},
		{"short doubles", mod(func(b *datav1.TableBatch) { b.Columns[0].Doubles = []float64{1} }), "batch.columns[0].doubles"},
		{"codes on numeric", mod(func(b *datav1.TableBatch) { b.Columns[0].Codes = []int32{0, 0} }), "batch.columns[0].codes"},
		{"dictionary on numeric", mod(func(b *datav1.TableBatch) { b.Columns[0].DictionaryDelta = []string{"a"} }), "batch.columns[0].dictionary_delta"},
		{"boolean not 0 or 1", mod(func(b *datav1.TableBatch) { b.Columns[1].Doubles[1] = 2 }), "batch.columns[1].doubles"},
		{"doubles on categorical", mod(func(b *datav1.TableBatch) { b.Columns[2].Doubles = []float64{1, 2} }), "batch.columns[2].doubles"},
		{"long codes", mod(func(b *datav1.TableBatch) { b.Columns[2].Codes = []int32{0, 0, 0} }), "batch.columns[2].codes"},
		{"code past dictionary", mod(func(b *datav1.TableBatch) { b.Columns[2].Codes[0] = 1 }), "batch.columns[2].codes"},
		{"code below -1", mod(func(b *datav1.TableBatch) { b.Columns[2].Codes[0] = -2 }), "batch.columns[2].codes"},
		{"duplicate in delta", mod(func(b *datav1.TableBatch) { b.Columns[2].DictionaryDelta = []string{"a", "a"} }), "batch.columns[2].dictionary_delta[1]"},
		{"validity too long", mod(func(b *datav1.TableBatch) { b.Columns[2].Validity = []byte{1, 1} }), "batch.columns[2].validity"},
		{"category too long", mod(func(b *datav1.TableBatch) {
			b.Columns[2].DictionaryDelta = []string{"a", strings.Repeat("x", MaxCategoryBytes+1)}
		}), "batch.columns[2].dictionary_delta[1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDecoder(threeCols)
			if err != nil {
				t.Fatal(err)
			}
			err = d.Add(tc.batch)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("Add error %v, want a FieldError on %q", err, tc.field)
			}
			if d.Rows() != 0 || d.Table().Columns[2].Len() != 0 || len(d.Table().Columns[2].Dict) != 0 {
				t.Fatal("a rejected batch changed the decoder")
			}
		})
	}
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecoderWorkFollowsInput checks that declared counts size nothing:
// batches whose num_rows or row_offset promise far more than they carry
// are refused with next to no allocation, and a valid batch near gRPC's
// 4 MiB message limit costs memory in proportion to its wire size.
func TestDecoderWorkFollowsInput(t *testing.T) {
	empty := func() []*datav1.ColumnChunk { return []*datav1.ColumnChunk{{}, {}, {}} }
	lying := []struct {
		name  string
		batch *datav1.TableBatch
		field string
	}{
		{"max num_rows without values", &datav1.TableBatch{NumRows: math.MaxInt32, Columns: empty()}, "batch.columns[0].doubles"},
		{"max num_rows with a short validity", &datav1.TableBatch{NumRows: math.MaxInt32, Columns: []*datav1.ColumnChunk{{Doubles: []float64{1}, Validity: []byte{1}}, {}, {}}}, "batch.columns[0].validity"},
		{"max num_rows with one value per column", &datav1.TableBatch{NumRows: math.MaxInt32, Columns: []*datav1.ColumnChunk{{Doubles: []float64{1}}, {Doubles: []float64{1}}, {Codes: []int32{-1}}}}, "batch.columns[0].doubles"},
		{"max row_offset", &datav1.TableBatch{RowOffset: math.MaxInt64, NumRows: math.MaxInt32, Columns: empty()}, "batch.row_offset"},
		{"negative row_offset", &datav1.TableBatch{RowOffset: math.MinInt64, Columns: empty()}, "batch.row_offset"},
	}
	for _, tc := range lying {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := proto.Marshal(tc.batch)
			if err != nil {
				t.Fatal(err)
			}
			var b datav1.TableBatch
			if err := proto.Unmarshal(raw, &b); err != nil {
				t.Fatal(err)
			}
			d, _ := NewDecoder(threeCols)
			var addErr error
			if n := allocated(func() { addErr = d.Add(&b) }); n > 16<<10 {
				t.Errorf("refusing a %d-byte batch allocated %d bytes", len(raw), n)
			}
			var fe *FieldError
			if !errors.As(addErr, &fe) || fe.Field != tc.field {
				t.Fatalf("Add error %v, want a FieldError on %q", addErr, tc.field)
			}
		})
	}

	const rows = 150000 // about 3.5 MB on the wire
	big := mixedTable(rows, 1000, 7)
	// One batch of all rows; without validity bitmaps NaN and -1 mark the
	// missing values.
	bs := Batches(big, MaxBatchBytes)
	one := &datav1.TableBatch{NumRows: rows, Columns: []*datav1.ColumnChunk{{}, {}, {}}}
	for _, b := range bs {
		for i, ch := range b.Columns {
			dst := one.Columns[i]
			dst.Doubles = append(dst.Doubles, ch.Doubles...)
			dst.Codes = append(dst.Codes, ch.Codes...)
			dst.DictionaryDelta = append(dst.DictionaryDelta, ch.DictionaryDelta...)
		}
	}
	size := proto.Size(one)
	if size > 4<<20 {
		t.Fatalf("test batch is %d bytes, over gRPC's default limit", size)
	}
	d, _ := NewDecoder(big.Schema())
	var addErr error
	if n := allocated(func() { addErr = d.Add(one) }); n > 3*uint64(size) {
		t.Errorf("decoding a %d-byte batch allocated %d bytes", size, n)
	}
	if addErr != nil {
		t.Fatal(addErr)
	}
	if err := equalTables(big, d.Table()); err != nil {
		t.Fatal(err)
	}
}

func TestDuplicateAcrossBatches(t *testing.T) {
	d, _ := NewDecoder(threeCols)
	if err := d.Add(goodBatch(0)); err != nil {
		t.Fatal(err)
	}
	b := goodBatch(2)
	b.Columns[2].DictionaryDelta = []string{"ka"} // sent already
	var fe *FieldError
	if err := d.Add(b); !errors.As(err, &fe) || fe.Field != "batch.columns[2].dictionary_delta[0]" {
		t.Fatalf("Add error %v, want a duplicate dictionary entry", err)
	}
	if err := d.Add(goodBatch(2)); err != nil {
		t.Fatal(err)
	}
	got := d.Table()
	if got.NumRows() != 4 || len(got.Columns[2].Dict) != 2 || got.Columns[2].Codes[2] != 0 {
		t.Fatalf("unexpected table after two batches: %d rows, dict %v", got.NumRows(), got.Columns[2].Dict)
	}
}

func TestValidityForcesMissing(t *testing.T) {
	d, _ := NewDecoder(threeCols)
	b := &datav1.TableBatch{NumRows: 3, Columns: []*datav1.ColumnChunk{
		{Doubles: []float64{1, 2, 3}, Validity: []byte{0b101}},
		{Doubles: []float64{1, 7, 0}, Validity: []byte{0b101}}, // 7 is not a boolean, but it is missing
		{Codes: []int32{0, 9, 0}, DictionaryDelta: []string{"a"}, Validity: []byte{0b101}},
	}}
	if err := d.Add(b); err != nil {
		t.Fatal(err)
	}
	got := d.Table()
	if !math.IsNaN(got.Columns[0].Nums[1]) || !math.IsNaN(got.Columns[1].Nums[1]) || got.Columns[2].Codes[1] != -1 {
		t.Fatalf("row 1 not missing: %v %v %v", got.Columns[0].Nums, got.Columns[1].Nums, got.Columns[2].Codes)
	}
	if got.Columns[0].Nums[2] != 3 || got.Columns[2].Codes[2] != 0 {
		t.Fatal("present rows changed")
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name  string
		set   func(*Decoder)
		limit string
	}{
		{"rows", func(d *Decoder) { d.MaxRows = 3 }, "max_rows"},
		{"columns", func(d *Decoder) { d.MaxColumns = 2 }, "max_columns"},
		{"categories", func(d *Decoder) { d.MaxCategories = 1 }, "max_categories"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := NewDecoder(threeCols)
			tc.set(d)
			err := d.Add(goodBatch(0))
			if err == nil {
				err = d.Add(goodBatch(2))
			}
			var le *LimitError
			if !errors.As(err, &le) || le.Limit != tc.limit {
				t.Fatalf("error %v, want LimitError %q", err, tc.limit)
			}
		})
	}
}

func TestCollector(t *testing.T) {
	var fe *FieldError
	var c Collector
	if _, err := c.Table(); !errors.As(err, &fe) || fe.Field != "schema" {
		t.Fatalf("Table without schema: %v", err)
	}
	if err := c.Batch(goodBatch(0)); !errors.As(err, &fe) || fe.Field != "batch" {
		t.Fatalf("batch before schema: %v", err)
	}
	if err := c.Schema(threeCols); err != nil {
		t.Fatal(err)
	}
	if err := c.Schema(threeCols); !errors.As(err, &fe) || fe.Field != "schema" {
		t.Fatalf("second schema: %v", err)
	}
	if err := c.Batch(goodBatch(0)); err != nil {
		t.Fatal(err)
	}
	if c.Rows() != 2 || !c.HasSchema() {
		t.Fatalf("Rows = %d", c.Rows())
	}
	tab, err := c.Table()
	if err != nil || tab.NumRows() != 2 {
		t.Fatalf("Table: %v, %v", tab, err)
	}
	limited := Collector{MaxColumns: 2}
	var le *LimitError
	if err := limited.Schema(threeCols); !errors.As(err, &le) || le.Limit != "max_columns" {
		t.Fatalf("column limit: %v", err)
	}
	if fe := (&FieldError{Field: "batch.num_rows", Reason: "bad"}).WithPrefix("data"); fe.Error() != "data.batch.num_rows: bad" {
		t.Fatalf("WithPrefix: %v", fe)
	}
}

// fuzzMaxInput bounds each value FuzzDecoder decodes. The decoder's work
// is linear in its input (TestDecoderWorkFollowsInput checks large inputs
// directly), so long inputs find nothing short ones miss; they only slow
// the fuzzer, whose minimizer tries on the order of n² candidates for
// every new interesting input of n bytes and reports no executions until
// it is done, for up to a minute.
const fuzzMaxInput = 512

// FuzzDecoder feeds arbitrary bytes as batches to a decoder: it must never
// panic, and whatever it accepts must be a valid table that Send streams
// again unchanged. The limits keep the re-encoding of a decoded table
// small whatever the fuzzer builds.
func FuzzDecoder(f *testing.F) {
	seedTable := mixedTable(40, 6, 1)
	for _, b := range Batches(seedTable, 300) {
		raw, _ := proto.Marshal(b)
		f.Add(raw, raw)
	}
	first, _ := proto.Marshal(goodBatch(0))
	second, _ := proto.Marshal(goodBatch(2))
	f.Add(first, second)
	f.Add([]byte{}, []byte{0xff})
	schema := seedTable.Schema()
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a) > fuzzMaxInput || len(b) > fuzzMaxInput {
			return
		}
		d, err := NewDecoder(schema)
		if err != nil {
			t.Fatal(err)
		}
		d.MaxRows = 1 << 10
		d.MaxCategories = 1 << 8
		for _, raw := range [][]byte{a, b} {
			var batch datav1.TableBatch
			if proto.Unmarshal(raw, &batch) != nil {
				continue
			}
			before := d.Rows()
			if err := d.Add(&batch); err != nil {
				var fe *FieldError
				var le *LimitError
				if !errors.As(err, &fe) && !errors.As(err, &le) {
					t.Fatalf("error of unexpected type %T: %v", err, err)
				}
				if d.Rows() != before {
					t.Fatal("rejected batch changed the row count")
				}
			}
		}
		tab := d.Table()
		if err := tab.Validate(); err != nil {
			t.Fatalf("accepted input gives an invalid table: %v", err)
		}
		if int64(tab.NumRows()) != d.Rows() {
			t.Fatalf("table has %d rows, decoder says %d", tab.NumRows(), d.Rows())
		}
		for _, c := range tab.Columns {
			if c.Type == boolean {
				for _, v := range c.Nums {
					if v != 0 && v != 1 && !math.IsNaN(v) {
						t.Fatalf("boolean value %v", v)
					}
				}
			}
		}
		// What was accepted re-encodes to the same table.
		var c Collector
		if err := Send(tab, 200, c.Schema, c.Batch); err != nil {
			t.Fatalf("re-encoding: %v", err)
		}
		back, _ := c.Table()
		if err := equalTables(tab, back); err != nil {
			t.Fatal(err)
		}
	})
}
