package tablepb

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"math"

	"github.com/alur-ml/alur/ml/table"
)

// digestMagic starts the canonical encoding; a new version of the encoding
// gets a new magic so digests of the two never collide.
const digestMagic = "alur.table.v1\x00"

// canonicalNaN is the bit pattern every missing or NaN value is written as,
// so tables that differ only in NaN payloads digest alike.
const canonicalNaN = 0x7ff8000000000001

// Digest returns the lowercase hex SHA-256 of t's canonical encoding, which
// depends only on the schema and the values, never on how the table was
// batched. The encoding, in order (uvarint is encoding/binary's unsigned
// varint, strings are a uvarint length then their bytes):
//
//	"alur.table.v1\x00"
//	uvarint(number of columns)
//	per column: string(name), uvarint(type enum number)
//	uvarint(number of rows)
//	per column, in order:
//	  NUMERIC, BOOLEAN: per row the 8-byte little-endian IEEE 754 bits,
//	                    every NaN written as 0x7ff8000000000001
//	  CATEGORICAL:      uvarint(dictionary size), each entry as a string
//	                    (in dictionary order, used or not), then per row
//	                    the 4-byte little-endian two's complement code
//	                    (-1 when missing)
//
// Equal digests thus mean equal column names, types, values and
// dictionaries; the orchestrator uses them as content addresses.
func Digest(t *table.Table) string {
	w := &digestWriter{h: sha256.New(), buf: make([]byte, 0, 64<<10)}
	w.buf = append(w.buf, digestMagic...)
	w.uvarint(uint64(len(t.Columns)))
	for _, c := range t.Columns {
		w.str(c.Name)
		w.uvarint(uint64(c.Type))
	}
	w.uvarint(uint64(t.NumRows()))
	for _, c := range t.Columns {
		if c.IsCategorical() {
			w.uvarint(uint64(len(c.Dict)))
			for _, s := range c.Dict {
				w.str(s)
			}
			for _, code := range c.Codes {
				if code < 0 {
					code = -1
				}
				w.room(4)
				w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(code))
			}
			continue
		}
		for _, v := range c.Nums {
			bits := math.Float64bits(v)
			if v != v {
				bits = canonicalNaN
			}
			w.room(8)
			w.buf = binary.LittleEndian.AppendUint64(w.buf, bits)
		}
	}
	w.flush()
	return hex.EncodeToString(w.h.Sum(nil))
}

// digestWriter buffers the canonical encoding into the hash in large
// writes.
type digestWriter struct {
	h   hash.Hash
	buf []byte
}

func (w *digestWriter) room(n int) {
	if len(w.buf)+n > cap(w.buf) {
		w.flush()
	}
}

func (w *digestWriter) flush() {
	w.h.Write(w.buf)
	w.buf = w.buf[:0]
}

func (w *digestWriter) uvarint(x uint64) {
	w.room(binary.MaxVarintLen64)
	w.buf = binary.AppendUvarint(w.buf, x)
}

func (w *digestWriter) str(s string) {
	w.uvarint(uint64(len(s)))
	if len(s) > cap(w.buf)/2 {
		w.flush()
		w.h.Write([]byte(s))
		return
	}
	w.room(len(s))
	w.buf = append(w.buf, s...)
}
