package tablepb

import (
	"fmt"
	"math"
	"slices"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

const (
	// DefaultBatchBytes is the target encoded size of one batch when the
	// caller does not choose one.
	DefaultBatchBytes = 512 << 10
	// MaxBatchBytes is the hard cap on the encoded size of one batch. It
	// stays well under 1 MiB so that a batch wrapped in a response message
	// never nears gRPC's 4 MiB default limit. Larger requested sizes are
	// clamped to it.
	MaxBatchBytes = 960 << 10
	// MaxCategoryBytes is the longest dictionary entry (category text) a
	// table may hold. Send refuses longer ones and the Decoder rejects
	// them, so a table one stage accepts always fits the batches of the
	// next: an entry travels whole in one batch, under MaxBatchBytes.
	MaxCategoryBytes = 64 << 10
)

// Size bounds used by the encoder. They are upper bounds of the protobuf
// wire encoding, so an estimated batch is never smaller than the real one.
const (
	// batchOverhead: row_offset (tag + 10-byte varint) and num_rows (tag +
	// 5-byte varint).
	batchOverhead = 1 + 10 + 1 + 5
	// chunkOverhead: the chunk's tag and length inside the batch, the
	// packed values' tag and length, and the validity bitmap's tag and
	// length; dictionary entries are counted one by one.
	chunkOverhead = 3 * (1 + 5)
)

// MaxStreamColumns is the widest table that batches of batchBytes (0
// means DefaultBatchBytes; clamped to MaxBatchBytes) carry with room for
// rows: every batch spends chunkOverhead bytes per column before any
// value, so a much wider table would travel one dictionary entry per
// batch, each batch as wide as the table: quadratic work. Servers refuse
// wider tables up front (ingest's --max-columns may not exceed it).
func MaxStreamColumns(batchBytes int) int {
	if batchBytes <= 0 {
		batchBytes = DefaultBatchBytes
	}
	batchBytes = min(batchBytes, MaxBatchBytes)
	return batchBytes / (2 * (chunkOverhead + 8))
}

// varintLen is the number of bytes of x as a protobuf varint.
func varintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// codeLen is the size of an int32 code on the wire: protobuf sign-extends
// negative int32 values, so the missing code -1 takes 10 bytes.
func codeLen(c int32) int { return varintLen(uint64(int64(c))) }

// entryLen is the size of one dictionary_delta string on the wire.
func entryLen(s string) int { return 1 + varintLen(uint64(len(s))) + len(s) }

// Batches encodes t as batches of at most about maxBytes each (<= 0 means
// DefaultBatchBytes; values above MaxBatchBytes are clamped). Each
// dictionary entry is sent once per stream, in the first batch whose rows
// need it; entries no row uses follow in the last batches, so the decoded
// dictionary equals t's. A row that cannot fit alone in maxBytes is sent
// alone (Send refuses one larger than MaxBatchBytes). A table without rows
// and dictionaries needs no batches. t must pass t.Validate(); Batches
// panics on an invalid table, which Send checks instead.
func Batches(t *table.Table, maxBytes int) []*datav1.TableBatch {
	e := newEncoder(t, maxBytes)
	var out []*datav1.TableBatch
	for {
		b, _ := e.next()
		if b == nil {
			return out
		}
		out = append(out, b)
	}
}

// Send validates t and streams its schema and then its batches (see
// Batches) through the callbacks, encoding one batch at a time so that
// only one is held in memory. It stops at the first callback error and
// returns it. A dictionary entry longer than MaxCategoryBytes fails with a
// *LimitError on "max_category_bytes" before anything is sent; a row too
// large for any batch (such as one with tens of thousands of columns)
// fails with a *LimitError on "max_batch_bytes".
func Send(t *table.Table, maxBytes int, sendSchema func(*datav1.Schema) error, sendBatch func(*datav1.TableBatch) error) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("invalid table: %w", err)
	}
	for _, c := range t.Columns {
		for j, s := range c.Dict {
			if len(s) > MaxCategoryBytes {
				return &LimitError{Limit: "max_category_bytes", Max: MaxCategoryBytes, Detail: fmt.Sprintf("entry %d of column %q has %d bytes", j, c.Name, len(s))}
			}
		}
	}
	if err := sendSchema(t.Schema()); err != nil {
		return err
	}
	e := newEncoder(t, maxBytes)
	for {
		b, size := e.next()
		if b == nil {
			return nil
		}
		if size > MaxBatchBytes {
			return &LimitError{Limit: "max_batch_bytes", Max: MaxBatchBytes, Detail: fmt.Sprintf("row %d alone needs about %d bytes", b.RowOffset, size)}
		}
		if err := sendBatch(b); err != nil {
			return err
		}
	}
}

// encoder cuts a table into batches. It walks the rows once, adding each
// row's upper-bound wire size until the next row would overflow the
// budget, and tracks per column how much of the dictionary has been sent.
// Sizing a row stops at the first dictionary entry that overflows the
// budget, so a row whose code lies far ahead in a large dictionary costs
// one budget's worth of entries per batch, not the whole dictionary each
// time: the work stays linear in the table's size.
type encoder struct {
	cols []*table.Column
	max  int
	rows int
	row  int   // next row to encode
	sent []int // dictionary entries sent so far, per column
	base int64 // row offset of the table's first row in the stream
	// alias lets batches share the table's value slices instead of
	// copying them, for callers that are done with a batch when their
	// callback returns.
	alias bool
}

// nanBits is the bit pattern of math.NaN(), the NaN batches carry.
var nanBits = math.Float64bits(math.NaN())

func newEncoder(t *table.Table, maxBytes int) *encoder {
	if maxBytes <= 0 {
		maxBytes = DefaultBatchBytes
	}
	if maxBytes > MaxBatchBytes {
		maxBytes = MaxBatchBytes
	}
	return &encoder{cols: t.Columns, max: maxBytes, rows: t.NumRows(), sent: make([]int, len(t.Columns))}
}

// next returns the next batch and an upper bound of its encoded size, or
// nil when everything has been sent.
func (e *encoder) next() (*datav1.TableBatch, int) {
	ncols := len(e.cols)
	if e.row >= e.rows {
		all := make([]int, ncols)
		pending := false
		for ci, c := range e.cols {
			if c.IsCategorical() {
				all[ci] = len(c.Dict)
				pending = pending || e.sent[ci] < len(c.Dict)
			}
		}
		if !pending {
			return nil, 0
		}
		return e.dictBatch(all)
	}
	size := batchOverhead + chunkOverhead*ncols
	dictEnd := slices.Clone(e.sent)
	start, r := e.row, e.row
	for ; r < e.rows; r++ {
		k := r - start
		cost := 0
		if k%8 == 0 {
			cost += ncols // one more validity byte per column
		}
		needsDict := false
	sizing:
		for ci, c := range e.cols {
			if !c.IsCategorical() {
				cost += 8
				continue
			}
			code := c.Codes[r]
			cost += codeLen(code)
			for j := dictEnd[ci]; j <= int(code); j++ {
				cost += entryLen(c.Dict[j])
				needsDict = true
				if size+cost > e.max {
					// The row's entries overflow: it either ends the
					// batch or has its entries sent ahead, and neither
					// needs the exact cost.
					break sizing
				}
			}
		}
		if size+cost > e.max {
			if k > 0 {
				break
			}
			if needsDict {
				// The row does not fit because of the dictionary entries it
				// brings: send those ahead in row-less batches.
				need := slices.Clone(dictEnd)
				for ci, c := range e.cols {
					if c.IsCategorical() {
						need[ci] = max(need[ci], int(c.Codes[r])+1)
					}
				}
				return e.dictBatch(need)
			}
			// A single row larger than the budget goes alone.
		}
		size += cost
		for ci, c := range e.cols {
			if c.IsCategorical() && int(c.Codes[r]) >= dictEnd[ci] {
				dictEnd[ci] = int(c.Codes[r]) + 1
			}
		}
	}
	if r == e.rows {
		// Last rows: add the dictionary entries no row used, as far as
		// they fit; the rest follows in row-less batches.
	fill:
		for ci, c := range e.cols {
			for c.IsCategorical() && dictEnd[ci] < len(c.Dict) {
				n := entryLen(c.Dict[dictEnd[ci]])
				if size+n > e.max {
					break fill
				}
				size += n
				dictEnd[ci]++
			}
		}
	}
	return e.build(start, r, dictEnd), size
}

// dictBatch returns a batch without rows carrying the pending dictionary
// entries up to need[ci] per column, as many as fit (at least one).
func (e *encoder) dictBatch(need []int) (*datav1.TableBatch, int) {
	size := batchOverhead + chunkOverhead*len(e.cols)
	end := slices.Clone(e.sent)
	added := 0
fill:
	for ci, c := range e.cols {
		for end[ci] < need[ci] {
			n := entryLen(c.Dict[end[ci]])
			if added > 0 && size+n > e.max {
				break fill
			}
			size += n
			end[ci]++
			added++
		}
	}
	return e.build(e.row, e.row, end), size
}

// build makes the batch of rows [start, end) with dictionary entries up to
// dictEnd, and advances the encoder past them.
func (e *encoder) build(start, end int, dictEnd []int) *datav1.TableBatch {
	n := end - start
	b := &datav1.TableBatch{RowOffset: e.base + int64(start), NumRows: int32(n), Columns: make([]*datav1.ColumnChunk, len(e.cols))}
	for ci, c := range e.cols {
		ch := &datav1.ColumnChunk{}
		var validity []byte
		setMissing := func(i int) {
			if validity == nil {
				validity = make([]byte, (n+7)/8)
				for j := range validity {
					validity[j] = 0xff
				}
				if rem := n % 8; rem != 0 {
					validity[len(validity)-1] = byte(1)<<rem - 1
				}
			}
			validity[i/8] &^= 1 << (i % 8)
		}
		if c.IsCategorical() {
			// A validated table's codes are -1 (missing) or inside the
			// dictionary, so they need no rewriting: an aliasing encoder
			// sends them as they are. Clone rather than make and copy: it
			// skips zeroing memory that is overwritten at once.
			codes := c.Codes[start:end]
			if !e.alias {
				codes = slices.Clone(codes)
			}
			for i, v := range codes {
				if v < 0 {
					setMissing(i)
				}
			}
			ch.Codes = codes
			if dictEnd[ci] > e.sent[ci] {
				ch.DictionaryDelta = slices.Clone(c.Dict[e.sent[ci]:dictEnd[ci]])
			}
			e.sent[ci] = dictEnd[ci]
		} else {
			src := c.Nums[start:end]
			vals := src
			if !e.alias {
				vals = slices.Clone(src)
			}
			copied := !e.alias
			for i, v := range src {
				if v != v {
					setMissing(i)
					if math.Float64bits(v) != nanBits {
						// Another NaN payload: send the canonical one,
						// in a copy when the values are aliased.
						if !copied {
							vals, copied = slices.Clone(src), true
						}
						vals[i] = math.NaN()
					}
				}
			}
			ch.Doubles = vals
		}
		ch.Validity = validity
		b.Columns[ci] = ch
	}
	e.row = end
	return b
}
