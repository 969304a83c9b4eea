package tablepb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// DelimitedMediaType names the file format of MarshalDelimited: varint
// length-delimited messages, one alur.data.v1.Schema then
// alur.data.v1.TableBatch messages, readable by any protobuf library.
const DelimitedMediaType = "application/x-protobuf-delimited; messageType=alur.data.v1.Schema,alur.data.v1.TableBatch"

// MarshalDelimited serializes a table deterministically (equal tables give
// equal bytes), for storing tables as artifacts.
func MarshalDelimited(t *table.Table) ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	opts := protodelim.MarshalOptions{MarshalOptions: proto.MarshalOptions{Deterministic: true}}
	if _, err := opts.MarshalTo(&buf, t.Schema()); err != nil {
		return nil, err
	}
	for _, b := range Batches(t, 0) {
		if _, err := opts.MarshalTo(&buf, b); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// UnmarshalDelimited reads a table written by MarshalDelimited, validating
// it as a stream from the network would be.
func UnmarshalDelimited(b []byte) (*table.Table, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	schema := &datav1.Schema{}
	if err := protodelim.UnmarshalFrom(r, schema); err != nil {
		return nil, fmt.Errorf("delimited table: schema: %w", err)
	}
	var c Collector
	if err := c.Schema(schema); err != nil {
		return nil, fmt.Errorf("delimited table: %w", err)
	}
	for {
		batch := &datav1.TableBatch{}
		err := protodelim.UnmarshalFrom(r, batch)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("delimited table: batch: %w", err)
		}
		if err := c.Batch(batch); err != nil {
			return nil, fmt.Errorf("delimited table: %w", err)
		}
	}
	return c.Table()
}

// MarshalDelimitedParts serializes t in the format of MarshalDelimited as
// consecutive parts: the schema, then the batches of each block of rows
// ending at the given row bounds (increasing, the last t.NumRows()), then,
// if some dictionary entries are used by no row, a row-less batch with
// them. Each block carries only the dictionary entries its rows are the
// first to need (up to the highest code used so far), and its batches'
// row offsets and dictionary deltas depend on the rows before it alone. So
// when a table grows by appended rows, under the same schema, with
// dictionaries that keep their entries in place, every earlier block
// serializes to the same bytes as before: a content-addressed store that
// cuts chunks per part stores each block once. UnmarshalDelimited reads the
// concatenated parts.
func MarshalDelimitedParts(t *table.Table, bounds []int) ([][]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	n := t.NumRows()
	if len(bounds) == 0 || bounds[len(bounds)-1] != n {
		return nil, fmt.Errorf("tablepb: the last bound must be the row count %d, got %v", n, bounds)
	}
	opts := protodelim.MarshalOptions{MarshalOptions: proto.MarshalOptions{Deterministic: true}}
	var head bytes.Buffer
	schema := t.Schema()
	if _, err := opts.MarshalTo(&head, schema); err != nil {
		return nil, err
	}
	parts := [][]byte{head.Bytes()}
	enc, err := NewStreamEncoder(schema, 0)
	if err != nil {
		return nil, err
	}
	used := make([]int, len(t.Columns)) // dictionary prefix needed so far
	encode := func(block *table.Table) error {
		var buf bytes.Buffer
		err := enc.Encode(block, func(b *datav1.TableBatch) error {
			_, err := opts.MarshalTo(&buf, b)
			return err
		})
		if err != nil {
			return err
		}
		if buf.Len() > 0 {
			parts = append(parts, buf.Bytes())
		}
		return nil
	}
	start := 0
	for _, end := range bounds {
		if end < start || end > n {
			return nil, fmt.Errorf("tablepb: row bounds %v are not increasing within %d rows", bounds, n)
		}
		block := &table.Table{Columns: make([]*table.Column, len(t.Columns))}
		for j, c := range t.Columns {
			bc := &table.Column{Name: c.Name, Type: c.Type}
			if c.IsCategorical() {
				bc.Codes = c.Codes[start:end]
				for _, code := range bc.Codes {
					used[j] = max(used[j], int(code)+1)
				}
				bc.Dict = c.Dict[:used[j]]
			} else {
				bc.Nums = c.Nums[start:end]
			}
			block.Columns[j] = bc
		}
		if err := encode(block); err != nil {
			return nil, err
		}
		start = end
	}
	rest := false
	for j, c := range t.Columns {
		rest = rest || (c.IsCategorical() && used[j] < len(c.Dict))
	}
	if rest {
		// No rows, every dictionary entry (Take keeps the dictionaries).
		if err := encode(t.Take(nil)); err != nil {
			return nil, err
		}
	}
	return parts, nil
}
