package tablepb

import (
	"fmt"
	"math"
	"slices"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Decoder rebuilds a table from a schema and its batches. Input comes from
// the network, so it checks everything: the schema (non-empty, unique field
// names, known types), batch continuity (row_offset equals the rows decoded
// so far), one chunk per field in the representation of its type, value
// counts equal to num_rows, boolean values 0 or 1, codes inside the
// dictionary, unique dictionary entries of at most MaxCategoryBytes and the
// validity bitmap's length. A row whose validity bit is 0 decodes as
// missing (NaN or -1) whatever its value. A batch that fails validation
// leaves the decoder unchanged.
//
// The input is untrusted, so the decoder never sizes anything from a
// declared count: num_rows is only compared with the lengths of the values
// actually received, and every loop runs over received values. Time and
// memory are thus linear in the bytes of the batch. What it accepts can be
// streamed again by Send, provided MaxColumns keeps one row under
// MaxBatchBytes (any limit below about 50,000 columns does).
//
// The limits are optional (0 means unlimited); set them before the first
// Add. Exceeding one returns a *LimitError.
type Decoder struct {
	// MaxRows bounds the total number of rows.
	MaxRows int64
	// MaxColumns bounds the number of schema fields.
	MaxColumns int
	// MaxCategories bounds the dictionary size of each categorical column.
	MaxCategories int

	cols    []*table.Column
	sets    []map[string]struct{} // dictionary entries, per categorical column
	rows    int64
	pending [][]piece // chunks received but not yet copied into cols, per column
}

// piece is one column chunk held by reference until the table is asked
// for. Copying every column once, into a slice of the final size, instead
// of appending batch after batch (which regrows and recopies each column
// about log2(batches) times) is what lets a stream decode at memory speed.
type piece struct {
	nums     []float64
	codes    []int32
	validity []byte
	n        int
}

// NewDecoder validates schema and returns a decoder for its batches.
// Errors are *FieldError naming paths under "schema".
func NewDecoder(schema *datav1.Schema) (*Decoder, error) {
	if err := ValidateSchema(schema); err != nil {
		return nil, err
	}
	d := &Decoder{
		cols:    make([]*table.Column, len(schema.Fields)),
		sets:    make([]map[string]struct{}, len(schema.Fields)),
		pending: make([][]piece, len(schema.Fields)),
	}
	for i, f := range schema.Fields {
		c := &table.Column{Name: f.Name, Type: f.Type}
		if f.Type == datav1.ColumnType_COLUMN_TYPE_CATEGORICAL {
			c.Codes = []int32{}
			c.Dict = []string{}
			d.sets[i] = make(map[string]struct{})
		} else {
			c.Nums = []float64{}
		}
		d.cols[i] = c
	}
	return d, nil
}

// ValidateSchema checks that schema has at least one field, that every
// field has a non-empty name unique within the schema, and that every type
// is known. Errors are *FieldError naming paths such as
// "schema.fields[2].name".
func ValidateSchema(schema *datav1.Schema) error {
	if schema == nil {
		return &FieldError{Field: "schema", Reason: "is missing"}
	}
	if len(schema.Fields) == 0 {
		return &FieldError{Field: "schema.fields", Reason: "is empty: a table needs at least one column"}
	}
	seen := make(map[string]int, len(schema.Fields))
	for i, f := range schema.Fields {
		path := fmt.Sprintf("schema.fields[%d]", i)
		if f == nil {
			return fieldErrorf(path, "is missing")
		}
		if f.Name == "" {
			return fieldErrorf(path+".name", "is empty")
		}
		if j, dup := seen[f.Name]; dup {
			return fieldErrorf(path+".name", "%q repeats the name of fields[%d]", f.Name, j)
		}
		seen[f.Name] = i
		switch f.Type {
		case datav1.ColumnType_COLUMN_TYPE_NUMERIC, datav1.ColumnType_COLUMN_TYPE_BOOLEAN, datav1.ColumnType_COLUMN_TYPE_CATEGORICAL:
		default:
			return fieldErrorf(path+".type", "must be NUMERIC, CATEGORICAL or BOOLEAN, not %v", f.Type)
		}
	}
	return nil
}

// Rows is the number of rows decoded so far.
func (d *Decoder) Rows() int64 { return d.rows }

// Table returns the table decoded so far. It shares storage with the
// decoder, so call it after the last Add.
func (d *Decoder) Table() *table.Table {
	for i := range d.cols {
		d.flush(i)
	}
	return &table.Table{Columns: d.cols}
}

// flush copies column i's pending chunks into the column, growing it once,
// and marks missing rows (NaN or code -1) from the validity bitmaps.
func (d *Decoder) flush(i int) {
	ps := d.pending[i]
	if len(ps) == 0 {
		return
	}
	total := 0
	for _, p := range ps {
		total += p.n
	}
	c := d.cols[i]
	if c.IsCategorical() {
		c.Codes = slices.Grow(c.Codes, total)
		for _, p := range ps {
			base := len(c.Codes)
			c.Codes = append(c.Codes, p.codes...)
			for r := range p.n {
				if !present(p.validity, r) {
					c.Codes[base+r] = -1
				}
			}
		}
	} else {
		c.Nums = slices.Grow(c.Nums, total)
		for _, p := range ps {
			base := len(c.Nums)
			c.Nums = append(c.Nums, p.nums...)
			if len(p.validity) != 0 {
				for r := range p.n {
					if !present(p.validity, r) {
						c.Nums[base+r] = math.NaN()
					}
				}
			}
		}
	}
	clear(ps)
	d.pending[i] = ps[:0]
}

// Add validates batch b and appends its rows. Errors are *FieldError
// naming paths under "batch", or *LimitError.
func (d *Decoder) Add(b *datav1.TableBatch) error {
	if b == nil {
		return &FieldError{Field: "batch", Reason: "is missing"}
	}
	if d.MaxColumns > 0 && len(d.cols) > d.MaxColumns {
		return &LimitError{Limit: "max_columns", Max: int64(d.MaxColumns)}
	}
	if b.RowOffset != d.rows {
		return fieldErrorf("batch.row_offset", "is %d, want %d: batches must be contiguous and in order", b.RowOffset, d.rows)
	}
	if b.NumRows < 0 {
		return fieldErrorf("batch.num_rows", "is negative (%d)", b.NumRows)
	}
	n := int(b.NumRows)
	if d.MaxRows > 0 && d.rows+int64(n) > d.MaxRows {
		return &LimitError{Limit: "max_rows", Max: d.MaxRows}
	}
	if len(b.Columns) != len(d.cols) {
		return fieldErrorf("batch.columns", "has %d chunks, want one per schema field (%d)", len(b.Columns), len(d.cols))
	}
	for i, ch := range b.Columns {
		if err := d.check(i, ch, n); err != nil {
			return err
		}
	}
	for i, ch := range b.Columns {
		d.appendChunk(i, ch, n)
	}
	d.rows += int64(n)
	return nil
}

// check validates chunk i of a batch of n rows without changing d. Its
// loops run over the values received, never over n alone.
func (d *Decoder) check(i int, ch *datav1.ColumnChunk, n int) error {
	// The path is formatted only on error: check runs for every chunk of
	// every batch.
	path := func(sub string) string { return fmt.Sprintf("batch.columns[%d]%s", i, sub) }
	c := d.cols[i]
	if ch == nil {
		return fieldErrorf(path(""), "is missing")
	}
	if len(ch.Validity) != 0 && len(ch.Validity) != (n+7)/8 {
		return fieldErrorf(path(".validity"), "has %d bytes, want %d for %d rows (or none when every row is present)", len(ch.Validity), (n+7)/8, n)
	}
	if !c.IsCategorical() {
		if len(ch.Codes) != 0 {
			return fieldErrorf(path(".codes"), "is set on %v column %q, which carries doubles", c.Type, c.Name)
		}
		if len(ch.DictionaryDelta) != 0 {
			return fieldErrorf(path(".dictionary_delta"), "is set on %v column %q, which has no dictionary", c.Type, c.Name)
		}
		if len(ch.Doubles) != n {
			return fieldErrorf(path(".doubles"), "has %d values, want num_rows (%d)", len(ch.Doubles), n)
		}
		if c.Type == datav1.ColumnType_COLUMN_TYPE_BOOLEAN {
			for r, v := range ch.Doubles {
				if v != 0 && v != 1 && !math.IsNaN(v) && present(ch.Validity, r) {
					return fieldErrorf(path(".doubles"), "row %d is %v; a BOOLEAN value must be 0 or 1 (NaN when missing)", r, v)
				}
			}
		}
		return nil
	}
	if len(ch.Doubles) != 0 {
		return fieldErrorf(path(".doubles"), "is set on CATEGORICAL column %q, which carries codes", c.Name)
	}
	if len(ch.Codes) != n {
		return fieldErrorf(path(".codes"), "has %d values, want num_rows (%d)", len(ch.Codes), n)
	}
	size := len(c.Dict) + len(ch.DictionaryDelta)
	if d.MaxCategories > 0 && size > d.MaxCategories {
		return &LimitError{Limit: "max_categories", Max: int64(d.MaxCategories)}
	}
	if len(ch.DictionaryDelta) > 0 {
		fresh := make(map[string]struct{}, len(ch.DictionaryDelta))
		for j, s := range ch.DictionaryDelta {
			entry := func() string { return path(fmt.Sprintf(".dictionary_delta[%d]", j)) }
			if len(s) > MaxCategoryBytes {
				return fieldErrorf(entry(), "is %d bytes long; a category may have at most %d", len(s), MaxCategoryBytes)
			}
			_, old := d.sets[i][s]
			_, dup := fresh[s]
			if old || dup {
				return fieldErrorf(entry(), "%q is already in the dictionary of column %q", s, c.Name)
			}
			fresh[s] = struct{}{}
		}
	}
	for r, code := range ch.Codes {
		if (code < -1 || int(code) >= size) && present(ch.Validity, r) {
			return fieldErrorf(path(".codes"), "row %d has code %d, outside [-1, %d) for column %q", r, code, size, c.Name)
		}
	}
	return nil
}

// present reports whether row r is present in a validity bitmap; an empty
// bitmap means every row is present.
func present(validity []byte, r int) bool {
	return len(validity) == 0 || validity[r/8]&(1<<(r%8)) != 0
}

// appendChunk takes a chunk that check accepted: its dictionary entries at
// once (later chunks' codes are checked against them), its values by
// reference until Table. The chunk's slices must not change after Add.
func (d *Decoder) appendChunk(i int, ch *datav1.ColumnChunk, n int) {
	c := d.cols[i]
	if !c.IsCategorical() {
		if n == 0 {
			return
		}
		d.pending[i] = append(d.pending[i], piece{nums: ch.Doubles, validity: ch.Validity, n: n})
		return
	}
	for _, s := range ch.DictionaryDelta {
		d.sets[i][s] = struct{}{}
	}
	c.Dict = append(c.Dict, ch.DictionaryDelta...)
	if n == 0 {
		return
	}
	d.pending[i] = append(d.pending[i], piece{codes: ch.Codes, validity: ch.Validity, n: n})
}
