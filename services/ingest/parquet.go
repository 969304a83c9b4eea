package ingest

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/alur-ml/alur/ml/source"
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// parquetColumn says how one Parquet leaf column becomes a table column.
type parquetColumn struct {
	name     string
	typ      datav1.ColumnType
	kind     parquet.Kind
	unsigned bool    // INT32/INT64 annotated as unsigned integers
	scale    float64 // divisor of DECIMAL integers, else 1
	dict     map[string]int32
}

// readParquet reads a Parquet file with flat columns: booleans become
// BOOLEAN; integers (signed or unsigned, decimals scaled), floats and
// doubles NUMERIC; strings, enums, JSON and plain byte arrays CATEGORICAL
// (any column named in categorical also, as its text). Nulls are missing.
// Nested, repeated and other logical types (INT96, UUID, FLOAT16,
// byte-array decimals) are refused, naming the column. The types come from
// the file's schema, so one pass suffices; row groups are read a few
// thousand rows at a time and emitted in blocks, so memory stays bounded
// whatever the size of a row group. A string that is not valid UTF-8 makes
// its row bad, under the maxBad policy, with the 1-based row number as its
// line.
func readParquet(ctx context.Context, ra io.ReaderAt, size int64, maxBad int64, categorical []string, sink source.Sink) (rep *source.Report, err error) {
	// The Parquet library may panic on a corrupt file; that is bad input,
	// not a server fault. Sink errors are returned, never panicked, so
	// nothing else is caught here.
	defer func() {
		if r := recover(); r != nil {
			rep, err = nil, &badInputError{reason: fmt.Sprintf("corrupt Parquet file: %v", r)}
		}
	}()
	if err := checkParquetFrame(ra, size); err != nil {
		return nil, err
	}
	f, err := parquet.OpenFile(ra, size)
	if err != nil {
		return nil, &badInputError{reason: "not a valid Parquet file: " + err.Error()}
	}
	forced := make(map[string]bool, len(categorical))
	for _, c := range categorical {
		forced[c] = true
	}
	fields := f.Schema().Fields()
	if len(fields) == 0 {
		return nil, &badInputError{reason: "the Parquet file has no columns"}
	}
	cols := make([]*parquetColumn, len(fields))
	schema := &datav1.Schema{}
	for i, fl := range fields {
		c, err := mapParquetField(fl)
		if err != nil {
			return nil, err
		}
		if forced[c.name] {
			c.typ = datav1.ColumnType_COLUMN_TYPE_CATEGORICAL
		}
		if c.typ == datav1.ColumnType_COLUMN_TYPE_CATEGORICAL {
			c.dict = make(map[string]int32)
		}
		cols[i] = c
		schema.Fields = append(schema.Fields, &datav1.Field{Name: c.name, Type: c.typ})
	}
	if err := sink.Schema(schema); err != nil {
		return nil, err
	}
	blockRows := min(max(1, (1<<20)/len(cols)), 1<<16)
	block := &table.Table{Columns: make([]*table.Column, len(cols))}
	for i, c := range cols {
		block.Columns[i] = &table.Column{Name: c.name, Type: c.typ}
		if c.dict != nil {
			block.Columns[i].Codes = make([]int32, 0, blockRows)
			block.Columns[i].Dict = []string{}
		} else {
			block.Columns[i].Nums = make([]float64, 0, blockRows)
		}
	}
	rep = &source.Report{Format: formatParquet}
	n := 0
	flush := func() error {
		if err := sink.Block(block); err != nil {
			return err
		}
		for _, c := range block.Columns {
			c.Nums, c.Codes = c.Nums[:0], c.Codes[:0]
		}
		n = 0
		return nil
	}
	buf := make([]parquet.Row, min(blockRows, 1024))
	var record int64
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		for {
			if err := ctx.Err(); err != nil {
				rows.Close()
				return nil, err
			}
			k, rerr := rows.ReadRows(buf)
			for _, row := range buf[:k] {
				record++
				if reason := checkParquetRow(row, cols); reason != "" {
					rep.SkippedRows++
					if rep.SkippedRows > maxBad {
						rows.Close()
						return nil, &parquetRowError{row: record, reason: reason, maxBad: maxBad}
					}
					if len(rep.BadRows) < source.MaxReportedBadRows {
						ex := fmt.Sprint(row)
						rep.BadRows = append(rep.BadRows, source.BadRow{Line: record, Reason: reason, Excerpt: ex[:min(120, len(ex))]})
					}
					continue
				}
				appendParquetRow(row, cols, block)
				rep.Rows++
				if n++; n == blockRows {
					if err := flush(); err != nil {
						rows.Close()
						return nil, err
					}
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				rows.Close()
				return nil, &badInputError{reason: "reading the Parquet file: " + rerr.Error()}
			}
		}
		if err := rows.Close(); err != nil {
			return nil, &badInputError{reason: "reading the Parquet file: " + err.Error()}
		}
	}
	if n > 0 || rep.Rows == 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// mapParquetField decides the table type of a top-level Parquet field.
func mapParquetField(fl parquet.Field) (*parquetColumn, error) {
	c := &parquetColumn{name: fl.Name(), scale: 1}
	if fl.Name() == "" {
		return nil, &badInputError{reason: "a Parquet column has no name"}
	}
	if !fl.Leaf() || fl.Repeated() {
		return nil, &badInputError{reason: fmt.Sprintf("column %q is nested or repeated; only flat columns are supported", fl.Name())}
	}
	t := fl.Type()
	c.kind = t.Kind()
	var lt format.LogicalTypeValue
	if l := t.LogicalType(); l != nil {
		lt = l.Value
	}
	unsupported := func() error {
		return &badInputError{reason: fmt.Sprintf("column %q has type %v, which alur does not read; supported: booleans, integers, floats, strings", fl.Name(), t)}
	}
	switch c.kind {
	case parquet.Boolean:
		c.typ = datav1.ColumnType_COLUMN_TYPE_BOOLEAN
	case parquet.Int32, parquet.Int64:
		c.typ = datav1.ColumnType_COLUMN_TYPE_NUMERIC
		switch v := lt.(type) {
		case *format.IntType:
			c.unsigned = !v.IsSigned
		case *format.DecimalType:
			c.scale = math.Pow10(int(v.Scale))
		}
	case parquet.Float, parquet.Double:
		c.typ = datav1.ColumnType_COLUMN_TYPE_NUMERIC
	case parquet.ByteArray, parquet.FixedLenByteArray:
		switch lt.(type) {
		case nil, *format.StringType, *format.EnumType, *format.JsonType:
			c.typ = datav1.ColumnType_COLUMN_TYPE_CATEGORICAL
		default:
			return nil, unsupported()
		}
	default:
		return nil, unsupported()
	}
	return c, nil
}

// checkParquetRow returns why a row is bad, or "": a row must have one
// value per column, and its strings must be valid UTF-8.
func checkParquetRow(row parquet.Row, cols []*parquetColumn) string {
	if len(row) != len(cols) {
		return fmt.Sprintf("%d values for %d columns", len(row), len(cols))
	}
	for _, v := range row {
		ci := v.Column()
		if ci < 0 || ci >= len(cols) {
			return fmt.Sprintf("value of unknown column %d", ci)
		}
		c := cols[ci]
		if !v.IsNull() && (c.kind == parquet.ByteArray || c.kind == parquet.FixedLenByteArray) && !utf8.Valid(v.ByteArray()) {
			return fmt.Sprintf("column %q: text is not valid UTF-8", c.name)
		}
	}
	return ""
}

// appendParquetRow appends a checked row to the block.
func appendParquetRow(row parquet.Row, cols []*parquetColumn, block *table.Table) {
	for _, v := range row {
		ci := v.Column()
		c, out := cols[ci], block.Columns[ci]
		if c.dict != nil {
			if v.IsNull() {
				out.Codes = append(out.Codes, -1)
				continue
			}
			text := parquetText(v, c)
			code, ok := c.dict[text]
			if !ok {
				code = int32(len(out.Dict))
				out.Dict = append(out.Dict, text)
				c.dict[text] = code
			}
			out.Codes = append(out.Codes, code)
			continue
		}
		if v.IsNull() {
			out.Nums = append(out.Nums, math.NaN())
			continue
		}
		out.Nums = append(out.Nums, parquetNumber(v, c))
	}
}

// parquetNumber converts a non-null numeric or boolean value.
func parquetNumber(v parquet.Value, c *parquetColumn) float64 {
	switch c.kind {
	case parquet.Boolean:
		if v.Boolean() {
			return 1
		}
		return 0
	case parquet.Int32:
		if c.unsigned {
			return float64(v.Uint32()) / c.scale
		}
		return float64(v.Int32()) / c.scale
	case parquet.Int64:
		if c.unsigned {
			return float64(v.Uint64()) / c.scale
		}
		return float64(v.Int64()) / c.scale
	case parquet.Float:
		return float64(v.Float())
	}
	return v.Double()
}

// parquetText is a non-null value as category text.
func parquetText(v parquet.Value, c *parquetColumn) string {
	switch c.kind {
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return string(v.ByteArray())
	case parquet.Boolean:
		return strconv.FormatBool(v.Boolean())
	}
	return strconv.FormatFloat(parquetNumber(v, c), 'g', -1, 64)
}

// parquetRowError is a bad Parquet row beyond the bad-row allowance.
type parquetRowError struct {
	row    int64
	reason string
	maxBad int64
}

func (e *parquetRowError) Error() string {
	if e.maxBad == 0 {
		return fmt.Sprintf("row %d: %s", e.row, e.reason)
	}
	return fmt.Sprintf("row %d: %s (more than max_bad_rows = %d bad rows)", e.row, e.reason, e.maxBad)
}

// checkParquetFrame checks a Parquet file's frame before the library
// reads it: "PAR1" at both ends and a footer length (the little-endian
// uint32 before the final magic) that fits in the file. The library sizes
// its footer buffer from that length, so a few bytes claiming a footer of
// gigabytes would otherwise make it allocate them.
func checkParquetFrame(ra io.ReaderAt, size int64) error {
	if size < 12 {
		return &badInputError{reason: fmt.Sprintf("not a valid Parquet file: %d bytes is too short", size)}
	}
	var head [4]byte
	var tail [8]byte
	if _, err := ra.ReadAt(head[:], 0); err != nil {
		return fmt.Errorf("reading the file: %w", err)
	}
	if _, err := ra.ReadAt(tail[:], size-8); err != nil && err != io.EOF {
		return fmt.Errorf("reading the file: %w", err)
	}
	if string(head[:]) != "PAR1" || string(tail[4:]) != "PAR1" {
		return &badInputError{reason: "not a valid Parquet file: it must start and end with PAR1"}
	}
	if n := int64(binary.LittleEndian.Uint32(tail[:4])); n+12 > size {
		return &badInputError{reason: fmt.Sprintf("not a valid Parquet file: its footer claims %d bytes of a %d-byte file", n, size)}
	}
	return nil
}
