// Package jsonl reads JSON Lines files (https://jsonlines.org: one JSON
// object per line) into alur tables, with the same type inference, missing
// values and bad-row policy as the CSV reader (package csvio), so a dataset
// gives the same table whichever of the two formats it comes in.
//
// Columns are the union of the objects' keys, in the order they are first
// seen. Each value is turned into the text a CSV cell would hold and typed
// like one: JSON numbers keep their literal text, true and false become
// the words "true" and "false", null is missing, and strings are taken
// after removing surrounding spaces and tabs, so "3.5" is a number, "yes"
// a boolean and "NA" missing. A key absent from an object is missing in
// that row. A column is NUMERIC when every present value is a number,
// BOOLEAN when every present value is a boolean word, CATEGORICAL
// otherwise; a column with no present value is NUMERIC.
//
// Nested values (objects and arrays) are kept, not refused: they become
// their compact JSON text, a category like any other string, so a file
// with a nested field still loads and a later preparation step can drop
// or parse that column.
//
// A line that is not one JSON object (bad syntax, a bare scalar or array,
// trailing text, invalid UTF-8, a duplicate or empty key, or longer than
// Options.MaxLineBytes) is a bad row: with MaxBadRows 0 the read fails
// with a *ParseError naming its line; with MaxBadRows N up to N bad rows
// are skipped and listed in the source.Report. Blank lines are skipped.
package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alur-ml/alur/ml/source"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// DefaultMaxLineBytes bounds a line when Options.MaxLineBytes is 0.
const DefaultMaxLineBytes = 16 << 20

// Options control how a JSON Lines file is read. The zero value reads
// every key, fails on the first bad row and has no size limit.
type Options struct {
	// MissingValues are extra texts that mean missing, besides
	// tablepb.MissingTokens, compared after trimming spaces and tabs.
	MissingValues []string
	// CategoricalColumns are made CATEGORICAL even when every value is a
	// number or a boolean word.
	CategoricalColumns []string
	// MaxBadRows is how many bad rows may be skipped; 0 fails on the
	// first one. Negative values are refused.
	MaxBadRows int64
	// MaxBytes bounds the input size; 0 means unlimited. A larger input
	// fails with a *tablepb.LimitError on "max_bytes".
	MaxBytes int64
	// MaxLineBytes bounds one line; 0 means DefaultMaxLineBytes. A longer
	// line is a bad row.
	MaxLineBytes int
	// BlockRows is the number of rows per streamed block; 0 chooses about
	// one million cells per block.
	BlockRows int
}

// ParseError reports a bad row at a line of the file.
type ParseError struct {
	// Line is the 1-based line of the row.
	Line int64
	// Reason says what is wrong.
	Reason string
}

// Error returns "line N: reason".
func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// ErrEmpty is returned for input without any object (only blank lines and
// skipped bad rows).
var ErrEmpty = errors.New("empty file: no JSON object")

// ReadAll reads a whole JSON Lines file into memory. It keeps the input
// bytes to make Stream's two passes over them; use Stream for inputs that
// can be reopened.
func ReadAll(r io.Reader, opts Options) (*table.Table, *source.Report, error) {
	if opts.MaxBytes > 0 {
		r = &limitReader{r: r, left: opts.MaxBytes}
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, err
	}
	var t *table.Table
	rep, err := Stream(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, opts, source.Sink{
		Schema: func(s *datav1.Schema) error {
			t = &table.Table{}
			for _, f := range s.Fields {
				t.Columns = append(t.Columns, &table.Column{Name: f.Name, Type: f.Type})
			}
			return nil
		},
		Block: func(b *table.Table) error {
			for i, c := range b.Columns {
				dst := t.Columns[i]
				if dst.IsCategorical() {
					dst.Codes = append(dst.Codes, c.Codes...)
					dst.Dict = append(dst.Dict, c.Dict[len(dst.Dict):]...)
				} else {
					dst.Nums = append(dst.Nums, c.Nums...)
				}
			}
			return nil
		},
	})
	if err != nil {
		return nil, nil, err
	}
	for _, c := range t.Columns {
		switch {
		case c.IsCategorical() && c.Codes == nil:
			c.Codes, c.Dict = []int32{}, append([]string{}, c.Dict...)
		case !c.IsCategorical() && c.Nums == nil:
			c.Nums = []float64{}
		}
	}
	return t, rep, nil
}

// Stream reads a JSON Lines file in two passes over open: the first finds
// the columns and their types and checks every row, the second emits the
// rows to sink in blocks. Memory is bounded by one block, the category
// dictionaries and one line, whatever the file's size. Errors: ErrEmpty,
// *ParseError, *tablepb.FieldError for invalid options,
// *tablepb.LimitError when the input exceeds MaxBytes, and errors of open,
// of reading and of sink.
func Stream(open source.Opener, opts Options, sink source.Sink) (*source.Report, error) {
	if opts.MaxBadRows < 0 {
		return nil, &tablepb.FieldError{Field: "max_bad_rows", Reason: fmt.Sprintf("must be 0 or more, got %d", opts.MaxBadRows)}
	}
	s := &state{opts: opts, index: make(map[string]int)}
	if opts.MaxLineBytes <= 0 {
		s.opts.MaxLineBytes = DefaultMaxLineBytes
	}
	if len(opts.MissingValues) > 0 {
		s.missing = make(map[string]bool)
		for _, m := range opts.MissingValues {
			s.missing[strings.Trim(m, " \t")] = true
		}
	}
	rep := &source.Report{Format: "jsonl"}
	// Pass 1: columns, kinds, bad rows.
	err := s.pass(open, func(line int64, row []cell) error {
		for _, c := range row {
			s.cols[c.col].observe(c, s)
		}
		s.rows++
		return nil
	}, func(line int64, text []byte, reason string) error {
		rep.SkippedRows++
		if rep.SkippedRows > opts.MaxBadRows {
			if opts.MaxBadRows == 0 {
				return &ParseError{Line: line, Reason: reason}
			}
			return &ParseError{Line: line, Reason: fmt.Sprintf("%s (more than max_bad_rows = %d bad rows)", reason, opts.MaxBadRows)}
		}
		if len(rep.BadRows) < source.MaxReportedBadRows {
			rep.BadRows = append(rep.BadRows, source.BadRow{Line: line, Reason: reason, Excerpt: excerpt(text)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(s.cols) == 0 {
		return nil, ErrEmpty
	}
	forced := make(map[string]bool, len(opts.CategoricalColumns))
	for _, name := range opts.CategoricalColumns {
		forced[name] = true
	}
	schema := &datav1.Schema{}
	for _, c := range s.cols {
		if forced[c.name] {
			c.kind = categorical
		}
		schema.Fields = append(schema.Fields, &datav1.Field{Name: c.name, Type: c.kind.columnType()})
	}
	if err := sink.Schema(schema); err != nil {
		return nil, err
	}
	// Pass 2: values, in blocks.
	blockRows := opts.BlockRows
	if blockRows <= 0 {
		blockRows = min(max(1, (1<<20)/len(s.cols)), 1<<16)
	}
	block := &table.Table{Columns: make([]*table.Column, len(s.cols))}
	for i, c := range s.cols {
		block.Columns[i] = &table.Column{Name: c.name, Type: c.kind.columnType()}
		if c.kind == categorical {
			block.Columns[i].Codes = make([]int32, 0, blockRows)
			block.Columns[i].Dict = []string{}
			c.dict = make(map[string]int32)
		} else {
			block.Columns[i].Nums = make([]float64, 0, blockRows)
		}
	}
	n := 0
	flush := func() error {
		if err := sink.Block(block); err != nil {
			return err
		}
		for _, c := range block.Columns {
			c.Codes, c.Nums = c.Codes[:0], c.Nums[:0]
		}
		n = 0
		return nil
	}
	present := make([]bool, len(s.cols))
	err = s.pass(open, func(line int64, row []cell) error {
		clear(present)
		for _, c := range row {
			if c.col >= len(block.Columns) {
				return fmt.Errorf("jsonl: the input changed between passes: line %d has a new key", line)
			}
			present[c.col] = true
			col, out := s.cols[c.col], block.Columns[c.col]
			if c.missing {
				col.appendMissing(out)
				continue
			}
			switch col.kind {
			case numeric:
				v, _ := parseNumber(c.text)
				out.Nums = append(out.Nums, v)
			case boolean:
				v, _ := tablepb.ParseBoolWord(c.text)
				out.Nums = append(out.Nums, b2f(v))
			default:
				code, ok := col.dict[c.text]
				if !ok {
					code = int32(len(out.Dict))
					out.Dict = append(out.Dict, c.text)
					col.dict[c.text] = code
				}
				out.Codes = append(out.Codes, code)
			}
		}
		for i, p := range present {
			if !p {
				s.cols[i].appendMissing(block.Columns[i])
			}
		}
		rep.Rows++
		if n++; n == blockRows {
			return flush()
		}
		return nil
	}, func(int64, []byte, string) error { return nil })
	if err != nil {
		return nil, err
	}
	if n > 0 || rep.Rows == 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if rep.Rows != s.rows {
		return nil, fmt.Errorf("jsonl: the input changed between passes: %d rows, then %d", s.rows, rep.Rows)
	}
	return rep, nil
}

// kind is a column's type as inferred so far.
type kind uint8

const (
	undecided kind = iota // every value so far is missing
	numeric
	boolean
	categorical
)

func (k kind) columnType() datav1.ColumnType {
	switch k {
	case boolean:
		return datav1.ColumnType_COLUMN_TYPE_BOOLEAN
	case categorical:
		return datav1.ColumnType_COLUMN_TYPE_CATEGORICAL
	}
	return datav1.ColumnType_COLUMN_TYPE_NUMERIC
}

// column is what the reader knows of one key.
type column struct {
	name string
	kind kind
	dict map[string]int32 // pass 2, categorical columns
}

// observe widens the column's kind to admit c, as the CSV reader does:
// undecided, then numeric or boolean, then categorical for good.
func (col *column) observe(c cell, s *state) {
	if c.missing || col.kind == categorical {
		return
	}
	_, isNum := parseNumber(c.text)
	_, isBool := tablepb.ParseBoolWord(c.text)
	switch {
	case col.kind == undecided && isNum:
		col.kind = numeric
	case col.kind == undecided && isBool:
		col.kind = boolean
	case col.kind == numeric && isNum, col.kind == boolean && isBool:
	default:
		col.kind = categorical
	}
}

// appendMissing appends a missing value to out.
func (col *column) appendMissing(out *table.Column) {
	if col.kind == categorical {
		out.Codes = append(out.Codes, -1)
	} else {
		out.Nums = append(out.Nums, math.NaN())
	}
}

// cell is one value of a row: its key and column, and its text.
type cell struct {
	key     string
	col     int
	text    string
	missing bool
}

// state is shared by the two passes.
type state struct {
	opts    Options
	missing map[string]bool
	cols    []*column
	index   map[string]int
	rows    int64
	row     []cell
	keys    map[string]struct{}
}

// pass reads every line of the input, calling row for each good object
// and bad for each bad row. New keys become columns.
func (s *state) pass(open source.Opener, row func(int64, []cell) error, bad func(int64, []byte, string) error) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	var r io.Reader = rc
	if s.opts.MaxBytes > 0 {
		r = &limitReader{r: r, left: s.opts.MaxBytes}
	}
	br := bufio.NewReaderSize(r, 256<<10)
	var long []byte
	for line := int64(1); ; line++ {
		text, err := br.ReadSlice('\n')
		tooLong := false
		if err == bufio.ErrBufferFull {
			long = append(long[:0], text...)
			for err == bufio.ErrBufferFull {
				text, err = br.ReadSlice('\n')
				if len(long)+len(text) > s.opts.MaxLineBytes {
					tooLong = true
					continue
				}
				long = append(long, text...)
			}
			text = long
		}
		if err != nil && err != io.EOF {
			return err
		}
		if len(text) == 0 && err == io.EOF {
			return nil
		}
		if !tooLong && len(text) > s.opts.MaxLineBytes {
			tooLong = true
		}
		trimmed := bytes.TrimSpace(text)
		switch {
		case tooLong:
			if e := bad(line, text, fmt.Sprintf("line longer than %d bytes", s.opts.MaxLineBytes)); e != nil {
				return e
			}
		case len(trimmed) == 0:
		default:
			cells, reason := s.parse(trimmed)
			if reason != "" {
				if e := bad(line, trimmed, reason); e != nil {
					return e
				}
			} else if e := row(line, cells); e != nil {
				return e
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// parse parses one line as a JSON object, returning its cells or why it
// is a bad row.
func (s *state) parse(line []byte) ([]cell, string) {
	if !utf8.Valid(line) {
		return nil, "not valid UTF-8"
	}
	if line[0] != '{' {
		return nil, "not a JSON object"
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, "invalid JSON: " + jsonReason(err)
	}
	s.row = s.row[:0]
	if s.keys == nil {
		s.keys = make(map[string]struct{})
	}
	clear(s.keys)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, "invalid JSON: " + jsonReason(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, "invalid JSON: object key is not a string"
		}
		if key == "" {
			return nil, "empty key"
		}
		if _, dup := s.keys[key]; dup {
			return nil, fmt.Sprintf("duplicate key %q", key)
		}
		s.keys[key] = struct{}{}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, "invalid JSON: " + jsonReason(err)
		}
		c, reason := s.value(raw)
		if reason != "" {
			return nil, fmt.Sprintf("key %q: %s", key, reason)
		}
		c.key = key
		s.row = append(s.row, c)
	}
	if _, err := dec.Token(); err != nil {
		return nil, "invalid JSON: " + jsonReason(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "invalid JSON: text after the object"
	}
	// Only a good row adds columns.
	for k := range s.row {
		c := &s.row[k]
		i, ok := s.index[c.key]
		if !ok {
			i = len(s.cols)
			s.index[c.key] = i
			s.cols = append(s.cols, &column{name: c.key})
		}
		c.col = i
	}
	return s.row, ""
}

// value turns one raw JSON value into a cell.
func (s *state) value(raw json.RawMessage) (cell, string) {
	switch raw[0] {
	case 'n':
		return cell{missing: true}, ""
	case 't':
		return cell{text: "true"}, ""
	case 'f':
		return cell{text: "false"}, ""
	case '"':
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return cell{}, "invalid string: " + jsonReason(err)
		}
		if !utf8.ValidString(str) {
			return cell{}, "string is not valid UTF-8"
		}
		str = strings.Trim(str, " \t")
		return cell{text: str, missing: s.isMissing(str)}, ""
	case '{', '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return cell{}, "invalid JSON: " + jsonReason(err)
		}
		return cell{text: buf.String()}, ""
	}
	return cell{text: string(raw)}, ""
}

// isMissing reports whether a trimmed string means missing.
func (s *state) isMissing(str string) bool {
	return tablepb.IsMissing(str) || s.missing[str]
}

// jsonReason shortens encoding/json's messages.
func jsonReason(err error) string {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return "unexpected end of line"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// parseNumber parses a text as a number with strconv.ParseFloat, accepting
// out-of-range values rounded to ±Inf or 0, exactly like the CSV reader.
func parseNumber(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
			return 0, false
		}
	}
	return v, true
}

func b2f(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

// excerpt returns the start of a row's text for a report: at most 120
// bytes, invalid UTF-8 replaced.
func excerpt(b []byte) string {
	if len(b) > 120 {
		b = b[:120]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// limitReader fails with a *tablepb.LimitError once more than left bytes
// have been read.
type limitReader struct {
	r    io.Reader
	left int64
	max  int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.max == 0 {
		l.max = l.left
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, &tablepb.LimitError{Limit: "max_bytes", Max: l.max}
	}
	return n, err
}
