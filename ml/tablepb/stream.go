package tablepb

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// StreamEncoder encodes a table that arrives in blocks (as a source.Sink
// receives it) into the same batches a Collector turns back into the whole
// table, without ever holding more than one block. Row offsets continue
// from block to block, and each dictionary entry is sent once per stream:
// a block's categorical Dict holds every category seen so far, and the
// encoder sends only the entries it has not sent before. The decoded table
// therefore equals the concatenation of the blocks, with the dictionary of
// the last one.
type StreamEncoder struct {
	schema *datav1.Schema
	max    int
	sent   []int // dictionary entries sent so far, per column
	rows   int64
}

// NewStreamEncoder returns an encoder for tables of the given schema whose
// batches are cut at about maxBytes (as in Batches: <= 0 means
// DefaultBatchBytes, larger than MaxBatchBytes is clamped). The schema is
// validated like a Decoder validates it; errors are *FieldError.
func NewStreamEncoder(schema *datav1.Schema, maxBytes int) (*StreamEncoder, error) {
	if err := ValidateSchema(schema); err != nil {
		return nil, err
	}
	return &StreamEncoder{schema: schema, max: maxBytes, sent: make([]int, len(schema.Fields))}, nil
}

// Rows is the number of rows encoded so far.
func (e *StreamEncoder) Rows() int64 { return e.rows }

// Encode sends the batches of the next block, one at a time. The block
// must follow the schema (same names and types, in order), pass
// Validate, and keep every dictionary entry sent so far in place; new
// entries longer than MaxCategoryBytes fail with a *LimitError on
// "max_category_bytes", a row too large for any batch with one on
// "max_batch_bytes". A block may be empty, or carry only new dictionary
// entries. Encode stops at the first error of send and returns it.
//
// The batches share the block's value slices (they are not copied), so
// send must be done with a batch when it returns, as a gRPC stream's Send
// is once it has serialized the message.
func (e *StreamEncoder) Encode(block *table.Table, send func(*datav1.TableBatch) error) error {
	if err := checkBlock(e.schema, block); err != nil {
		return err
	}
	for ci, c := range block.Columns {
		if !c.IsCategorical() {
			continue
		}
		if len(c.Dict) < e.sent[ci] {
			return fmt.Errorf("invalid block: column %q has %d dictionary entries, fewer than the %d already sent", c.Name, len(c.Dict), e.sent[ci])
		}
		for j := e.sent[ci]; j < len(c.Dict); j++ {
			if len(c.Dict[j]) > MaxCategoryBytes {
				return &LimitError{Limit: "max_category_bytes", Max: MaxCategoryBytes, Detail: fmt.Sprintf("entry %d of column %q has %d bytes", j, c.Name, len(c.Dict[j]))}
			}
		}
	}
	enc := newEncoder(block, e.max)
	enc.alias = true
	enc.sent = e.sent
	enc.base = e.rows
	for {
		b, size := enc.next()
		if b == nil {
			break
		}
		if size > MaxBatchBytes {
			return &LimitError{Limit: "max_batch_bytes", Max: MaxBatchBytes, Detail: fmt.Sprintf("row %d alone needs about %d bytes", b.RowOffset, size)}
		}
		if err := send(b); err != nil {
			return err
		}
	}
	e.rows += int64(block.NumRows())
	return nil
}

// checkBlock verifies that a block follows the schema and is valid.
func checkBlock(schema *datav1.Schema, block *table.Table) error {
	if len(block.Columns) != len(schema.Fields) {
		return fmt.Errorf("invalid block: %d columns, the schema has %d", len(block.Columns), len(schema.Fields))
	}
	for i, f := range schema.Fields {
		c := block.Columns[i]
		if c.Name != f.Name || c.Type != f.Type {
			return fmt.Errorf("invalid block: column %d is %q of type %v, the schema says %q of type %v", i+1, c.Name, c.Type, f.Name, f.Type)
		}
	}
	if err := block.Validate(); err != nil {
		return fmt.Errorf("invalid block: %w", err)
	}
	return nil
}

// StreamDigest computes Digest of a table that arrives in blocks, so a
// streamed table gets the same content address as the same table held in
// memory. Digest's canonical encoding is column-major (all of column 1,
// then all of column 2, with each dictionary before its codes and the row
// count up front), while blocks arrive row-major, and SHA-256 cannot be
// fed out of order. StreamDigest therefore keeps each column's canonical
// bytes in a buffer of bounded size and spills full buffers to one
// temporary file; Sum then hashes the header, and each column's
// dictionary and spilled segments in order. Memory stays bounded by about
// 16 MiB plus the dictionaries; disk use is 8 bytes per numeric value and
// 4 per code. Tables that fit in the buffers never touch the disk.
//
// Call Add for each block, Sum once at the end, and Close in every case
// to remove the spill file.
type StreamDigest struct {
	schema *datav1.Schema
	dir    string
	cols   []digestColumn
	rows   int64
	bufCap int
	spill  *os.File
	size   int64 // bytes written to spill
	done   bool
}

// digestColumn holds one column's pending canonical bytes, the file
// segments already spilled, and the dictionary seen so far.
type digestColumn struct {
	categorical bool
	buf         []byte
	segs        []segment
	dict        []string
}

// segment is a range of the spill file.
type segment struct{ off, n int64 }

// streamDigestBudget bounds the column buffers of a StreamDigest together.
const streamDigestBudget = 16 << 20

// NewStreamDigest returns a digest for tables of the given schema that
// spills to a temporary file in dir (empty means the OS temp directory)
// once its buffers are full. The schema is validated; errors are
// *FieldError.
func NewStreamDigest(schema *datav1.Schema, dir string) (*StreamDigest, error) {
	if err := ValidateSchema(schema); err != nil {
		return nil, err
	}
	n := len(schema.Fields)
	// The budget is shared, with a small floor per column, so that a wide
	// schema does not reserve memory per column (a 4 KiB floor was 1 GB
	// for 250 000 columns).
	bufCap := min(max(streamDigestBudget/n, 64), 1<<20)
	d := &StreamDigest{schema: schema, dir: dir, cols: make([]digestColumn, n), bufCap: bufCap}
	for i, f := range schema.Fields {
		d.cols[i].categorical = f.Type == datav1.ColumnType_COLUMN_TYPE_CATEGORICAL
	}
	return d, nil
}

// Add digests the next block, which must follow the schema (see
// StreamEncoder.Encode). Only the dictionary entries new since the last
// block are copied, so the block's memory may be reused afterwards.
func (d *StreamDigest) Add(block *table.Table) error {
	if d.done {
		return fmt.Errorf("tablepb: StreamDigest.Add after Sum")
	}
	if err := checkBlock(d.schema, block); err != nil {
		return err
	}
	for ci, c := range block.Columns {
		dc := &d.cols[ci]
		if dc.categorical {
			if len(c.Dict) < len(dc.dict) {
				return fmt.Errorf("invalid block: column %q has %d dictionary entries, fewer than the %d seen before", c.Name, len(c.Dict), len(dc.dict))
			}
			dc.dict = append(dc.dict, c.Dict[len(dc.dict):]...)
			for _, code := range c.Codes {
				if code < 0 {
					code = -1
				}
				if err := d.room(dc, 4); err != nil {
					return err
				}
				dc.buf = binary.LittleEndian.AppendUint32(dc.buf, uint32(code))
			}
			continue
		}
		for _, v := range c.Nums {
			bits := math.Float64bits(v)
			if v != v {
				bits = canonicalNaN
			}
			if err := d.room(dc, 8); err != nil {
				return err
			}
			dc.buf = binary.LittleEndian.AppendUint64(dc.buf, bits)
		}
	}
	d.rows += int64(block.NumRows())
	return nil
}

// room makes space for n more bytes in a column's buffer, spilling it when
// it is full.
func (d *StreamDigest) room(dc *digestColumn, n int) error {
	if dc.buf == nil {
		dc.buf = make([]byte, 0, d.bufCap)
	}
	if len(dc.buf)+n <= cap(dc.buf) {
		return nil
	}
	if d.spill == nil {
		f, err := os.CreateTemp(d.dir, "alur-digest-*")
		if err != nil {
			return fmt.Errorf("digest spill file: %w", err)
		}
		d.spill = f
	}
	if _, err := d.spill.Write(dc.buf); err != nil {
		return fmt.Errorf("digest spill file: %w", err)
	}
	dc.segs = append(dc.segs, segment{off: d.size, n: int64(len(dc.buf))})
	d.size += int64(len(dc.buf))
	dc.buf = dc.buf[:0]
	return nil
}

// Rows is the number of rows added so far.
func (d *StreamDigest) Rows() int64 { return d.rows }

// Sum returns the digest of the concatenated blocks, equal to Digest of
// that table. It may be called once.
func (d *StreamDigest) Sum() (string, error) {
	if d.done {
		return "", fmt.Errorf("tablepb: StreamDigest.Sum called twice")
	}
	d.done = true
	w := &digestWriter{h: sha256.New(), buf: make([]byte, 0, 64<<10)}
	w.buf = append(w.buf, digestMagic...)
	w.uvarint(uint64(len(d.schema.Fields)))
	for _, f := range d.schema.Fields {
		w.str(f.Name)
		w.uvarint(uint64(f.Type))
	}
	w.uvarint(uint64(d.rows))
	var chunk []byte
	for ci := range d.cols {
		dc := &d.cols[ci]
		if dc.categorical {
			w.uvarint(uint64(len(dc.dict)))
			for _, s := range dc.dict {
				w.str(s)
			}
		}
		w.flush()
		for _, s := range dc.segs {
			if chunk == nil {
				chunk = make([]byte, 1<<20)
			}
			for off := s.off; off < s.off+s.n; {
				n := min(int64(len(chunk)), s.off+s.n-off)
				if _, err := d.spill.ReadAt(chunk[:n], off); err != nil && err != io.EOF {
					return "", fmt.Errorf("digest spill file: %w", err)
				}
				w.h.Write(chunk[:n])
				off += n
			}
		}
		w.h.Write(dc.buf)
		dc.buf = nil
	}
	w.flush()
	return hex.EncodeToString(w.h.Sum(nil)), nil
}

// Close removes the spill file, if any. It is safe to call more than once.
func (d *StreamDigest) Close() error {
	if d.spill == nil {
		return nil
	}
	name := d.spill.Name()
	err := d.spill.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	d.spill = nil
	return err
}
