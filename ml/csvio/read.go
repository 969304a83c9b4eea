package csvio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Input is kept in blocks that start small, so small files stay cheap,
// and double up to maxBlock.
const (
	firstBlock = 16 << 10
	maxBlock   = 1 << 20
)

// Read parses a CSV file from r into a table, inferring column types (see
// the package comment). Cells are compared and parsed with surrounding
// spaces and tabs removed, categories included. A file with a header and
// no rows gives a table of all-NUMERIC, empty columns. Blank lines are
// skipped. Errors: ErrEmpty, *ParseError (ragged rows, bad quoting,
// invalid UTF-8, empty or duplicate header names), *tablepb.FieldError for
// invalid options, *tablepb.LimitError when the input exceeds MaxBytes,
// and any error of r.
//
// Read parses while it reads. It keeps the input bytes until it returns,
// because a column that looked numeric may turn out to be categorical on
// a late row, and its earlier cells are then re-read as text.
func Read(r io.Reader, opts Options) (*table.Table, error) {
	return read(r, opts, firstBlock)
}

// read is Read with a chosen first block size; tests use tiny ones to
// exercise records split across reads and blocks.
func read(r io.Reader, opts Options, block int) (*table.Table, error) {
	if err := checkDelimiter(opts.Delimiter); err != nil {
		return nil, err
	}
	p := &reader{src: r, opts: opts, line: 1, nextBlock: block}
	p.scan.delim = ','
	if opts.Delimiter != 0 {
		p.scan.delim = byte(opts.Delimiter)
	}
	if len(opts.MissingValues) > 0 {
		p.extraMissing = make(map[string]struct{}, len(opts.MissingValues))
		for _, s := range opts.MissingValues {
			p.extraMissing[strings.Trim(s, " \t")] = struct{}{}
		}
	}
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.table(), nil
}

// reader holds the state of one Read. Input lives in blocks: the current
// one, data, and the finished ones, which hold whole records only (a
// record cut by the end of a block is copied to the start of the next).
type reader struct {
	src       io.Reader
	opts      Options
	scan      scanner
	nextBlock int // size of the next block

	blocks [][]byte // finished blocks, kept for re-reads
	data   []byte   // current block
	pos    int      // start of the next record in data
	bom    int      // length of the byte order mark at the start of the first block
	total  int64    // bytes read from src
	eof    bool

	line int // line of the record at pos
	rows int

	cols         []*column
	extraMissing map[string]struct{}
	fallback     []int // columns that need re-reading as text, this row
}

// fill reads until at least want bytes follow p.pos or the input ends.
// When the current block is full it starts a new one, moving the
// unparsed tail there.
func (p *reader) fill(want int) error {
	for !p.eof && len(p.data)-p.pos < want {
		if len(p.data) == cap(p.data) || cap(p.data)-p.pos < want {
			tail := len(p.data) - p.pos
			next := make([]byte, tail, max(p.nextBlock, 2*tail, want))
			p.nextBlock = min(2*p.nextBlock, maxBlock)
			copy(next, p.data[p.pos:])
			if p.pos > 0 {
				p.blocks = append(p.blocks, p.data[:p.pos:p.pos])
			}
			p.data, p.pos = next, 0
		}
		end := cap(p.data)
		if p.opts.MaxBytes > 0 {
			// Read at most one byte past the limit, to detect exceeding it.
			if left := p.opts.MaxBytes + 1 - p.total; int64(end-len(p.data)) > left {
				end = len(p.data) + int(left)
			}
		}
		n, err := p.src.Read(p.data[len(p.data):end])
		p.data = p.data[:len(p.data)+n]
		p.total += int64(n)
		if p.opts.MaxBytes > 0 && p.total > p.opts.MaxBytes {
			return &tablepb.LimitError{Limit: "max_bytes", Max: p.opts.MaxBytes}
		}
		if err == io.EOF {
			p.eof = true
		} else if err != nil {
			return err
		}
	}
	return nil
}

// more reads more input after a scan stopped at the end of the buffer,
// asking for twice the pending bytes so that a record spanning many reads
// is rescanned only O(log n) times.
func (p *reader) more() error {
	return p.fill(max(1, 2*(len(p.data)-p.pos)))
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

// next scans the next non-blank record into p.scan.fields, returning its
// line, or 0 at the end of input.
func (p *reader) next() (int, error) {
	for {
		pos, lines := skipBlank(p.data, p.pos)
		p.pos = pos
		p.line += lines
		if p.pos == len(p.data) || p.pos+1 == len(p.data) && p.data[p.pos] == '\r' {
			if p.eof {
				return 0, nil
			}
			if err := p.more(); err != nil {
				return 0, err
			}
			continue
		}
		next, lines, res := p.scan.record(p.data, p.pos, p.eof)
		switch res {
		case scanIncomplete:
			if err := p.more(); err != nil {
				return 0, err
			}
			continue
		case scanBadQuote:
			return 0, &ParseError{Line: p.line, Reason: "unexpected text after a closing quote; a quote inside a quoted field must be doubled"}
		case scanOpenQuote:
			return 0, &ParseError{Line: p.line, Reason: "quoted field never closed"}
		}
		line := p.line
		p.pos = next
		p.line += lines
		return line, nil
	}
}

// run reads the header and every row.
func (p *reader) run() error {
	if err := p.fill(3); err != nil { // enough to see a byte order mark
		return err
	}
	if bytes.HasPrefix(p.data, []byte("\xef\xbb\xbf")) {
		p.bom = 3
	}
	p.pos = p.bom
	line, err := p.next()
	if err != nil {
		return err
	}
	if line == 0 {
		return ErrEmpty
	}
	if err := p.header(line); err != nil {
		return err
	}
	if p.opts.NoHeader {
		if err := p.row(line); err != nil {
			return err
		}
	}
	for {
		line, err := p.next()
		if err != nil {
			return err
		}
		if line == 0 {
			return nil
		}
		if err := p.row(line); err != nil {
			return err
		}
	}
}

// header names the columns from the first record.
func (p *reader) header(line int) error {
	fields := p.scan.fields
	p.cols = make([]*column, len(fields))
	index := make(map[string]int, len(fields))
	for j, f := range fields {
		name := fmt.Sprintf("col_%d", j+1)
		if !p.opts.NoHeader {
			if !utf8.Valid(f) {
				return &ParseError{Line: line, Reason: fmt.Sprintf("header field %d is not valid UTF-8", j+1)}
			}
			name = string(trim(f))
			if name == "" {
				return &ParseError{Line: line, Reason: fmt.Sprintf("header field %d is empty; every column needs a name", j+1)}
			}
			if k, dup := index[name]; dup {
				return &ParseError{Line: line, Column: name, Reason: fmt.Sprintf("duplicate column name (header fields %d and %d)", k+1, j+1)}
			}
		}
		index[name] = j
		p.cols[j] = &column{name: name}
	}
	for i, name := range p.opts.CategoricalColumns {
		j, ok := index[name]
		if !ok {
			return &tablepb.FieldError{Field: fmt.Sprintf("categorical_columns[%d]", i), Reason: fmt.Sprintf("the file has no column %q", name)}
		}
		p.cols[j].toCategorical(0)
	}
	return nil
}

// row adds the record in p.scan.fields as row p.rows.
func (p *reader) row(line int) error {
	fields := p.scan.fields
	if len(fields) != len(p.cols) {
		pe := &ParseError{Line: line, Reason: fmt.Sprintf("has %d fields, but the header has %d", len(fields), len(p.cols))}
		if len(fields) < len(p.cols) {
			pe.Column = p.cols[len(fields)].name
		}
		return pe
	}
	p.fallback = p.fallback[:0]
	for j, f := range fields {
		ok, err := p.cols[j].add(trim(f), p)
		if err != nil {
			return &ParseError{Line: line, Column: p.cols[j].name, Reason: err.Error()}
		}
		if !ok {
			p.fallback = append(p.fallback, j)
		}
	}
	if len(p.fallback) > 0 {
		if err := p.reread(p.fallback); err != nil {
			return err
		}
		for _, j := range p.fallback {
			if _, err := p.cols[j].add(trim(fields[j]), p); err != nil {
				return &ParseError{Line: line, Column: p.cols[j].name, Reason: err.Error()}
			}
		}
	}
	p.rows++
	return nil
}

// reread turns columns that met a non-number (or non-boolean) into
// categorical columns, re-reading their cells of the rows so far as text
// from the retained input. A column is re-read at most once per file.
func (p *reader) reread(cols []int) error {
	for _, j := range cols {
		p.cols[j].toCategorical(0)
	}
	s := scanner{delim: p.scan.delim}
	line, r := 1, 0
	skipHeader := !p.opts.NoHeader
	blocks := append(p.blocks[:len(p.blocks):len(p.blocks)], p.data)
	for bi, data := range blocks {
		pos := 0
		if bi == 0 {
			pos = p.bom
		}
		for r < p.rows {
			var lines int
			pos, lines = skipBlank(data, pos)
			line += lines
			if pos == len(data) {
				break
			}
			next, lines, res := s.record(data, pos, true)
			if res != scanOK || !skipHeader && len(s.fields) != len(p.cols) {
				return fmt.Errorf("csvio: internal error: re-reading line %d failed", line)
			}
			if skipHeader {
				skipHeader = false
			} else {
				for _, j := range cols {
					if _, err := p.cols[j].add(trim(s.fields[j]), p); err != nil {
						return &ParseError{Line: line, Column: p.cols[j].name, Reason: err.Error()}
					}
				}
				r++
			}
			pos = next
			line += lines
		}
	}
	if r != p.rows {
		return fmt.Errorf("csvio: internal error: re-read %d rows, want %d", r, p.rows)
	}
	return nil
}

// isMissing reports whether a trimmed cell means missing.
func (p *reader) isMissing(b []byte) bool {
	if p.extraMissing != nil {
		if _, ok := p.extraMissing[string(b)]; ok {
			return true
		}
	}
	switch len(b) {
	case 0:
		return true
	case 1:
		return b[0] == '?'
	case 2:
		return b[0] == 'N' && b[1] == 'A'
	case 3:
		s := string(b)
		return s == "N/A" || s == "NaN" || s == "nan"
	case 4:
		s := string(b)
		return s == "null" || s == "NULL" || s == "None"
	}
	return false
}

// table assembles the result.
func (p *reader) table() *table.Table {
	t := &table.Table{Columns: make([]*table.Column, len(p.cols))}
	for j, c := range p.cols {
		t.Columns[j] = c.finish()
	}
	return t
}

// kind is a column's type as inferred so far.
type kind uint8

const (
	undecided kind = iota // every cell so far is missing
	numeric
	boolean
	categorical
)

// column accumulates one column's values.
type column struct {
	name  string
	kind  kind
	nums  store[float64] // undecided, numeric and boolean
	codes store[int32]   // categorical
	dict  []string
	index map[string]int32
}

var errInvalidUTF8 = errors.New("value is not valid UTF-8")

// add appends a trimmed cell. It returns false, appending nothing, when a
// numeric or boolean column meets a value of another kind and must become
// categorical.
func (c *column) add(b []byte, p *reader) (bool, error) {
	if p.isMissing(b) {
		if c.kind == categorical {
			c.codes.push(-1)
		} else {
			c.nums.push(math.NaN())
		}
		return true, nil
	}
	switch c.kind {
	case numeric:
		v, ok := parseNumber(b)
		if !ok {
			return false, nil
		}
		c.nums.push(v)
	case boolean:
		v, ok := tablepb.ParseBoolWord(string(b))
		if !ok {
			return false, nil
		}
		c.nums.push(b2f(v))
	case categorical:
		code, ok := c.index[string(b)]
		if !ok {
			if !utf8.Valid(b) {
				return false, errInvalidUTF8
			}
			code = int32(len(c.dict))
			s := string(b)
			c.dict = append(c.dict, s)
			c.index[s] = code
		}
		c.codes.push(code)
	default:
		if v, ok := parseNumber(b); ok {
			c.kind = numeric
			c.nums.push(v)
		} else if v, ok := tablepb.ParseBoolWord(string(b)); ok {
			c.kind = boolean
			c.nums.push(b2f(v))
		} else {
			c.toCategorical(c.nums.n)
			return c.add(b, p)
		}
	}
	return true, nil
}

// toCategorical makes c categorical with its first n rows missing,
// dropping any numbers read so far.
func (c *column) toCategorical(n int) {
	c.kind = categorical
	c.nums = store[float64]{}
	c.codes = store[int32]{}
	for range n {
		c.codes.push(-1)
	}
	c.dict = []string{}
	c.index = make(map[string]int32)
}

// finish returns the column; an all-missing column is NUMERIC.
func (c *column) finish() *table.Column {
	switch c.kind {
	case categorical:
		return table.NewCategorical(c.name, c.codes.slice(), c.dict)
	case boolean:
		return &table.Column{Name: c.name, Type: datav1.ColumnType_COLUMN_TYPE_BOOLEAN, Nums: c.nums.slice()}
	default:
		return table.NewNumeric(c.name, c.nums.slice())
	}
}

func b2f(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

// store collects values in chunks of growing size and joins them once at
// the end, instead of regrowing (and copying) one slice as append does.
type store[T float64 | int32] struct {
	full [][]T
	cur  []T
	n    int
}

// maxChunk bounds a store chunk (512 KiB of float64).
const maxChunk = 64 << 10

func (s *store[T]) push(v T) {
	if len(s.cur) == cap(s.cur) {
		s.grow()
	}
	s.cur = append(s.cur, v)
	s.n++
}

func (s *store[T]) grow() {
	if s.cur != nil {
		s.full = append(s.full, s.cur)
	}
	s.cur = make([]T, 0, min(max(256, s.n), maxChunk))
}

// slice returns all values in one slice of exactly n elements.
func (s *store[T]) slice() []T {
	if len(s.full) == 0 && s.cur != nil {
		return s.cur[:len(s.cur):len(s.cur)]
	}
	out := make([]T, 0, s.n)
	for _, c := range s.full {
		out = append(out, c...)
	}
	return append(out, s.cur...)
}

// trim removes surrounding spaces and tabs.
func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
