package csvio

import (
	"fmt"
	"io"

	"github.com/alur-ml/alur/ml/tablepb"
)

// Reasons for bad records found while splitting records.
const (
	reasonBadQuote  = "unexpected text after a closing quote; a quote inside a quoted field must be doubled"
	reasonOpenQuote = "quoted field never closed before the end of the file"
)

// excerptBytes is how much of a bad row a report quotes.
const excerptBytes = 120

// record is one record found by a recordReader.
type record struct {
	line  int    // line where it starts
	start int    // offset of its first byte in recordReader.data, or -1 when no longer there
	raw   []byte // its bytes (for a record too long to keep, only the first excerptBytes)
	bad   string // why it is malformed, or empty; fields are then not set
}

// recordReader splits input into records, skipping blank lines and
// comments, and reports malformed records (bad quoting, records longer
// than maxLine) with their extent, so a caller may skip them. The input
// is either wholly in data (src nil) or read from src into a buffer that
// holds about one record at a time. Fields of the last record are in
// scan.fields, valid until the next call.
type recordReader struct {
	scan    scanner
	comment byte
	maxLine int

	src      io.Reader
	data     []byte
	pos      int
	eof      bool
	total    int64 // bytes read from src
	maxBytes int64
	readSize int // bytes asked of src at a time

	line int // line at pos
}

// inMemory returns a reader over data[pos:] whose first line is line.
func inMemory(d Dialect, maxLine int, data []byte, pos, line int) *recordReader {
	return &recordReader{scan: scanner{delim: d.Delimiter, quote: d.Quote}, comment: d.Comment, maxLine: maxLine, data: data, pos: pos, eof: true, line: line}
}

// fill reads until more than want bytes follow pos or the input ends,
// moving pending bytes to the front of the buffer first when it is full.
func (r *recordReader) fill(want int) error {
	for !r.eof && len(r.data)-r.pos <= want {
		if cap(r.data)-len(r.data) < r.readSize/2 || cap(r.data)-r.pos <= want {
			pending := len(r.data) - r.pos
			size := max(cap(r.data), 2*(want+1), pending+r.readSize)
			buf := r.data[:0]
			if size > cap(r.data) {
				buf = make([]byte, 0, size)
			}
			buf = buf[:pending]
			copy(buf, r.data[r.pos:])
			r.data, r.pos = buf, 0
		}
		end := cap(r.data)
		if r.maxBytes > 0 {
			// Read at most one byte past the limit, to detect exceeding it.
			if left := r.maxBytes + 1 - r.total; int64(end-len(r.data)) > left {
				end = len(r.data) + int(left)
			}
		}
		n, err := r.src.Read(r.data[len(r.data):end])
		r.data = r.data[:len(r.data)+n]
		r.total += int64(n)
		if r.maxBytes > 0 && r.total > r.maxBytes {
			return &tablepb.LimitError{Limit: "max_bytes", Max: r.maxBytes}
		}
		if err == io.EOF {
			r.eof = true
		} else if err != nil {
			return err
		}
	}
	return nil
}

// next returns the next record, or ok false at the end of the input.
func (r *recordReader) next() (rec record, ok bool, err error) {
	for {
		pos, lines := skipBlank(r.data, r.pos)
		r.pos = pos
		r.line += lines
		if r.pos == len(r.data) || r.pos+1 == len(r.data) && r.data[r.pos] == '\r' {
			if r.eof {
				r.pos = len(r.data)
				return rec, false, nil
			}
			if err := r.fill(len(r.data) - r.pos); err != nil {
				return rec, false, err
			}
			continue
		}
		if r.comment != 0 && r.data[r.pos] == r.comment {
			k := skipper{state: skipToLineEnd}
			if _, err := r.skip(&k); err != nil {
				return rec, false, err
			}
			r.line += k.lines
			continue
		}
		next, lines, res := r.scan.record(r.data, r.pos, r.eof)
		switch res {
		case scanIncomplete:
			if len(r.data)-r.pos >= r.maxLine {
				return r.skipBad("")
			}
			if err := r.fill(2 * (len(r.data) - r.pos)); err != nil {
				return rec, false, err
			}
			continue
		case scanBadQuote:
			return r.skipBad(reasonBadQuote)
		case scanOpenQuote:
			return r.skipBad(reasonOpenQuote)
		}
		rec = record{line: r.line, start: r.pos, raw: r.data[r.pos:next]}
		if next-r.pos > r.maxLine {
			rec.bad = r.tooLong()
		}
		r.pos = next
		r.line += lines
		return rec, true, nil
	}
}

func (r *recordReader) tooLong() string {
	return fmt.Sprintf("line longer than %d bytes", r.maxLine)
}

// skipBad skips a malformed record starting at pos and returns it; reason
// says what is wrong unless the record turns out too long, which takes
// precedence (an empty reason means it is known to be too long).
func (r *recordReader) skipBad(reason string) (record, bool, error) {
	rec := record{line: r.line, start: r.pos}
	rec.raw = append([]byte(nil), r.data[r.pos:min(len(r.data), r.pos+excerptBytes)]...)
	k := skipper{delim: r.scan.delim, quote: r.scan.quote}
	n, err := r.skip(&k)
	if err != nil {
		return rec, false, err
	}
	r.line += k.lines
	rec.raw = rec.raw[:min(int64(len(rec.raw)), n)]
	rec.bad = reason
	if reason == "" || n > int64(r.maxLine) {
		rec.bad = r.tooLong()
	}
	return rec, true, nil
}

// skip runs k from pos to the end of the record, reading and dropping
// input as needed, and returns the record's length.
func (r *recordReader) skip(k *skipper) (int64, error) {
	var n int64
	for {
		end := k.feed(r.data[r.pos:])
		if end >= 0 {
			r.pos += end
			return n + int64(end), nil
		}
		n += int64(len(r.data) - r.pos)
		r.pos = len(r.data)
		if r.eof {
			return n, nil
		}
		if err := r.fill(0); err != nil {
			return n, err
		}
	}
}

// skipBlank advances pos past blank lines ("\n" or "\r\n") in data,
// returning the new position and the number of lines skipped.
func skipBlank(data []byte, pos int) (int, int) {
	lines := 0
	for pos < len(data) {
		switch {
		case data[pos] == '\n':
			pos++
		case data[pos] == '\r' && pos+1 < len(data) && data[pos+1] == '\n':
			pos += 2
		default:
			return pos, lines
		}
		lines++
	}
	return pos, lines
}
