package tablepb

import (
	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Collector receives one table from a stream whose messages are oneofs of
// a schema and batches (and other parts the caller handles itself). Call
// Schema or Batch for each message as it arrives, then Table. The zero
// value is ready to use; the limits apply as in Decoder.
type Collector struct {
	// MaxRows bounds the total number of rows (0 = unlimited).
	MaxRows int64
	// MaxColumns bounds the number of columns (0 = unlimited).
	MaxColumns int
	// MaxCategories bounds each dictionary (0 = unlimited).
	MaxCategories int

	dec *Decoder
}

// Schema starts the table. It is an error to send the schema twice.
func (c *Collector) Schema(s *datav1.Schema) error {
	if c.dec != nil {
		return &FieldError{Field: "schema", Reason: "was sent twice; a stream carries one schema, before its batches"}
	}
	if s != nil && c.MaxColumns > 0 && len(s.Fields) > c.MaxColumns {
		return &LimitError{Limit: "max_columns", Max: int64(c.MaxColumns)}
	}
	d, err := NewDecoder(s)
	if err != nil {
		return err
	}
	d.MaxRows, d.MaxColumns, d.MaxCategories = c.MaxRows, c.MaxColumns, c.MaxCategories
	c.dec = d
	return nil
}

// Batch adds the next batch. It is an error to send one before the schema.
func (c *Collector) Batch(b *datav1.TableBatch) error {
	if c.dec == nil {
		return &FieldError{Field: "batch", Reason: "arrived before the schema; send the schema first"}
	}
	return c.dec.Add(b)
}

// HasSchema reports whether the schema has arrived.
func (c *Collector) HasSchema() bool { return c.dec != nil }

// Rows is the number of rows received so far.
func (c *Collector) Rows() int64 {
	if c.dec == nil {
		return 0
	}
	return c.dec.Rows()
}

// Table returns the received table; it is an error if no schema came.
func (c *Collector) Table() (*table.Table, error) {
	if c.dec == nil {
		return nil, &FieldError{Field: "schema", Reason: "is missing: the stream ended without a schema"}
	}
	return c.dec.Table(), nil
}

// DefaultMaxCategories is the dictionary cap the stage services apply to
// each categorical column they receive: far above any useful one-hot
// vocabulary, yet it bounds the memory a stream of empty batches carrying
// only new dictionary entries can claim.
const DefaultMaxCategories = 1 << 20
