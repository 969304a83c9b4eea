package csvio

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/alur-ml/alur/ml/source"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// bom is the UTF-8 byte order mark, skipped at the start of a file.
var bom = []byte("\xef\xbb\xbf")

// minChunk is the least input a parallel parsing chunk gets, so that
// merging stays cheap next to parsing.
const minChunk = 1 << 20

// Read parses a CSV file from r into a table; it is ReadAll without the
// report.
func Read(r io.Reader, opts Options) (*table.Table, error) {
	t, _, err := ReadAll(r, opts)
	return t, err
}

// ReadAll reads the whole input into memory and parses it into a table,
// inferring column types (see the package comment) and detecting the
// dialect (see Detect) where opts leaves it open. Cells are compared and
// parsed with surrounding spaces and tabs removed, categories included.
// Blank lines and comment lines are skipped. Bad rows fail the read or
// are skipped, as Options.MaxBadRows says; the report lists the skipped
// ones.
//
// Errors: *tablepb.FieldError for invalid options, *tablepb.LimitError
// when the input exceeds MaxBytes, any error of r, ErrEmpty when there is
// no header row, and *ParseError for everything else: a binary file, a
// bad header (malformed, empty or duplicate names), too many bad rows, and
// a header without rows (wrapping ErrNoRows).
//
// It is the fast path: the input is split at record boundaries into
// chunks that are parsed in parallel, on every core, into per-chunk
// columns, which are then joined. A column whose chunks disagree on the
// type (numbers in one, words in another) becomes categorical, and its
// cells in the numeric chunks are re-read as text, so the result is the
// same as a sequential read.
func ReadAll(r io.Reader, opts Options) (*table.Table, *source.Report, error) {
	return readAll(r, opts, 0)
}

// readAll is ReadAll with a chosen chunk size (0: automatic); tests use
// tiny ones to exercise joining many chunks.
func readAll(r io.Reader, opts Options, chunkBytes int) (*table.Table, *source.Report, error) {
	if err := checkOptions(opts); err != nil {
		return nil, nil, err
	}
	data, err := readInput(r, opts.MaxBytes)
	if err != nil {
		return nil, nil, err
	}
	p, err := newPlan(opts, data)
	if err != nil {
		return nil, nil, err
	}
	rr := inMemory(p.d, p.maxLine, data, p.bom, 1)
	first, err := p.header(rr)
	if err != nil {
		return nil, nil, err
	}
	start, line := rr.pos, rr.line
	if opts.NoHeader {
		start, line = first.start, first.line
	}
	chunks := p.split(data, start, chunkBytes)
	// A chunk has at most one row more than line breaks, so each gets a
	// region of that many rows in the table's columns and writes its
	// values there; join closes the gaps that blank lines, bad rows and
	// multi-line records leave.
	parallel(len(chunks), func(i int) {
		c := &chunks[i]
		c.lines = bytes.Count(data[c.lo:c.hi], newline)
	})
	room := 0
	for i := range chunks {
		chunks[i].base = room
		room += chunks[i].lines + 1
	}
	// One allocation for all columns' numbers, so that huge pages can
	// back it.
	nums := make([]float64, len(p.names)*room)
	adviseHugePages(nums)
	shared := make([]*tableCol, len(p.names))
	for j := range shared {
		shared[j] = &tableCol{nums: nums[j*room : (j+1)*room : (j+1)*room]}
	}
	parallel(len(chunks), func(i int) { p.parseChunk(data, &chunks[i], shared) })

	report := p.newReport()
	base := line - 1
	var bad int64
	for i := range chunks {
		c := &chunks[i]
		for _, b := range c.bad {
			b.line += base
			bad++
			if err := p.badRow(report, b, bad); err != nil {
				return nil, nil, err
			}
		}
		base += c.lines
	}
	t := p.join(data, chunks, shared)
	report.Rows = int64(t.NumRows())
	if report.Rows == 0 {
		return nil, nil, p.noRows(first.line, bad)
	}
	return t, report, nil
}

// readInput reads all of r, failing with a *tablepb.LimitError beyond
// maxBytes (when positive). Inputs that know their size are read into a
// buffer of that size.
func readInput(r io.Reader, maxBytes int64) ([]byte, error) {
	size := int64(0)
	switch s := r.(type) {
	case interface{ Len() int }:
		size = int64(s.Len())
	case interface{ Stat() (os.FileInfo, error) }:
		if fi, err := s.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
	}
	if maxBytes > 0 && size > maxBytes {
		return nil, &tablepb.LimitError{Limit: "max_bytes", Max: maxBytes}
	}
	buf := make([]byte, 0, max(size+1, 512))
	adviseHugePages(buf)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		end := cap(buf)
		if maxBytes > 0 {
			// Read at most one byte past the limit, to detect exceeding it.
			end = int(min(int64(end), maxBytes+1))
		}
		n, err := r.Read(buf[len(buf):end])
		buf = buf[:len(buf)+n]
		if maxBytes > 0 && int64(len(buf)) > maxBytes {
			return nil, &tablepb.LimitError{Limit: "max_bytes", Max: maxBytes}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// plan is what a read decided before the rows: options, dialect and
// columns.
type plan struct {
	opts    Options
	d       Dialect
	maxLine int
	bom     int
	miss    missing
	names   []string
	forced  []bool // forced CATEGORICAL
}

// newPlan checks the start of the input (at least its first
// 3+SampleBytes bytes, or all of it) and detects the dialect.
func newPlan(opts Options, head []byte) (*plan, error) {
	p := &plan{opts: opts, maxLine: opts.MaxLineBytes}
	if p.maxLine == 0 {
		p.maxLine = DefaultMaxLineBytes
	}
	if bytes.HasPrefix(head, bom) {
		p.bom = len(bom)
	}
	if i := bytes.IndexByte(head[:min(len(head), binaryBytes)], 0); i >= 0 {
		return nil, &ParseError{Line: 1 + bytes.Count(head[:i], newline), Reason: fmt.Sprintf("looks like a binary file, not CSV (a NUL byte at offset %d)", i)}
	}
	d, err := Detect(head[p.bom:min(len(head), p.bom+SampleBytes)], opts)
	if err != nil {
		return nil, err
	}
	p.d = d
	if len(opts.MissingValues) > 0 {
		p.miss.extra = make(map[string]struct{}, len(opts.MissingValues))
		for _, s := range opts.MissingValues {
			p.miss.extra[strings.Trim(s, " \t")] = struct{}{}
		}
	}
	return p, nil
}

// header reads the first record and names the columns from it. With
// NoHeader the record is data; it is returned so the caller reads it
// again as a row.
func (p *plan) header(rr *recordReader) (record, error) {
	rec, ok, err := rr.next()
	if err != nil {
		return rec, err
	}
	if !ok {
		return rec, ErrEmpty
	}
	if rec.bad != "" {
		what := "header"
		if p.opts.NoHeader {
			what = "first row"
		}
		return rec, &ParseError{Line: rec.line, Reason: what + ": " + rec.bad}
	}
	fields := rr.scan.fields
	if m := p.opts.MaxColumns; m > 0 && len(fields) > m {
		return rec, &tablepb.LimitError{Limit: "max_columns", Max: int64(m), Detail: fmt.Sprintf("the first record has %d fields", len(fields))}
	}
	p.names = make([]string, len(fields))
	p.forced = make([]bool, len(fields))
	index := make(map[string]int, len(fields))
	for j, f := range fields {
		name := fmt.Sprintf("col_%d", j+1)
		if !p.opts.NoHeader {
			if !utf8.Valid(f) {
				return rec, &ParseError{Line: rec.line, Reason: fmt.Sprintf("header field %d is not valid UTF-8", j+1)}
			}
			name = string(trim(f))
			if name == "" {
				return rec, &ParseError{Line: rec.line, Reason: fmt.Sprintf("header field %d is empty; every column needs a name", j+1)}
			}
			if k, dup := index[name]; dup {
				return rec, &ParseError{Line: rec.line, Column: name, Reason: fmt.Sprintf("duplicate column name (header fields %d and %d)", k+1, j+1)}
			}
		}
		index[name] = j
		p.names[j] = name
	}
	for i, name := range p.opts.CategoricalColumns {
		j, ok := index[name]
		if !ok {
			return rec, &tablepb.FieldError{Field: fmt.Sprintf("categorical_columns[%d]", i), Reason: fmt.Sprintf("the file has no column %q", name)}
		}
		p.forced[j] = true
	}
	return rec, nil
}

// badRec is a bad row found while parsing.
type badRec struct {
	line   int
	reason string
	column string
	raw    []byte
}

// check returns why a well-formed record with the given fields is a bad
// row, and the column involved, or an empty reason for a good row.
func (p *plan) check(fields [][]byte, raw []byte) (reason, column string) {
	if len(fields) != len(p.names) {
		if len(fields) < len(p.names) {
			column = p.names[len(fields)]
		}
		return fmt.Sprintf("has %d fields, but the header has %d", len(fields), len(p.names)), column
	}
	if utf8.Valid(raw) {
		return "", ""
	}
	// Fields are raw's bytes minus ASCII quotes and delimiters, so one of
	// them is invalid too.
	for j, f := range fields {
		if !utf8.Valid(f) {
			return errInvalidUTF8, p.names[j]
		}
	}
	return "", ""
}

const errInvalidUTF8 = "value is not valid UTF-8"

// newReport starts the report of a read.
func (p *plan) newReport() *source.Report {
	return &source.Report{Format: "csv", Dialect: p.d.String()}
}

// badRow records the n-th bad row (1-based) in the report, or returns
// the error that ends the read when n exceeds MaxBadRows.
func (p *plan) badRow(report *source.Report, b badRec, n int64) error {
	if n > p.opts.MaxBadRows {
		pe := &ParseError{Line: b.line, Column: b.column, Reason: b.reason}
		if p.opts.MaxBadRows > 0 {
			pe.Reason += fmt.Sprintf(" (bad row %d; at most %d may be skipped)", n, p.opts.MaxBadRows)
		}
		return pe
	}
	report.SkippedRows = n
	if len(report.BadRows) < source.MaxReportedBadRows {
		reason := b.reason
		if b.column != "" {
			reason = fmt.Sprintf("column %q: %s", b.column, reason)
		}
		report.BadRows = append(report.BadRows, source.BadRow{Line: int64(b.line), Reason: reason, Excerpt: excerpt(b.raw)})
	}
	return nil
}

// noRows is the error for a file whose header has no good rows after it.
func (p *plan) noRows(line int, bad int64) error {
	pe := &ParseError{Line: line, Reason: ErrNoRows.Error(), Err: ErrNoRows}
	if p.opts.NoHeader {
		pe.Reason = "the file has no good rows"
	}
	if bad > 0 {
		pe.Reason += fmt.Sprintf(" (all %d rows were bad and skipped)", bad)
	}
	return pe
}

// excerpt returns the start of a row for a report: at most excerptBytes
// bytes of valid UTF-8, without the line ending.
func excerpt(raw []byte) string {
	raw = raw[:min(len(raw), excerptBytes)]
	raw = bytes.TrimRight(raw, "\r\n")
	s := strings.ToValidUTF8(string(raw), "\uFFFD")
	for len(s) > excerptBytes {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// chunk is a run of whole records parsed by one goroutine.
type chunk struct {
	lo, hi int // byte range in the input
	lines  int // line breaks in the range
	base   int // first row of the chunk's region in the table's columns
	rows   int
	cols   []*column
	bad    []badRec // line numbers relative to the chunk's first line (1)
}

// split cuts data[start:] into chunks at record boundaries: after plain
// line breaks when the input holds no quote byte, else where a skipper
// walking the records says.
func (p *plan) split(data []byte, start, chunkBytes int) []chunk {
	n := len(data) - start
	if chunkBytes <= 0 {
		workers := runtime.GOMAXPROCS(0)
		k := 1
		if workers > 1 {
			k = min((n+minChunk-1)/minChunk, 4*workers)
		}
		chunkBytes = (n + max(k, 1) - 1) / max(k, 1)
	}
	chunkBytes = max(chunkBytes, 1)
	var cs []chunk
	lo := start
	cut := func(hi int) {
		cs = append(cs, chunk{lo: lo, hi: hi})
		lo = hi
	}
	if bytes.IndexByte(data[start:], p.d.Quote) < 0 {
		for lo+chunkBytes < len(data) {
			i := bytes.IndexByte(data[lo+chunkBytes:], '\n')
			if i < 0 {
				break
			}
			cut(lo + chunkBytes + i + 1)
		}
	} else {
		for pos := start; pos < len(data); {
			if pos >= lo+chunkBytes {
				cut(pos)
			}
			k := skipper{delim: p.d.Delimiter, quote: p.d.Quote}
			if data[pos] == p.d.Comment && p.d.Comment != 0 {
				k.state = skipToLineEnd
			}
			e := k.feed(data[pos:])
			if e < 0 {
				break
			}
			pos += e
		}
	}
	if lo < len(data) || len(cs) == 0 {
		cut(len(data))
	}
	return cs
}

// parseChunk parses the records of c into its columns.
func (p *plan) parseChunk(data []byte, c *chunk, shared []*tableCol) {
	rr := inMemory(p.d, p.maxLine, data[:c.hi], c.lo, 1)
	c.cols = make([]*column, len(p.names))
	lo, hi := c.base, c.base+c.lines+1
	for j := range c.cols {
		c.cols[j] = &column{shared: shared[j], lo: lo, hi: hi, nums: shared[j].nums[lo:hi]}
		if p.forced[j] {
			c.cols[j].toCategorical(0)
		}
	}
	var fallback []int
	for {
		rec, ok, _ := rr.next() // no errors in memory
		if !ok {
			break
		}
		reason, column := rec.bad, ""
		if reason == "" {
			reason, column = p.check(rr.scan.fields, rec.raw)
		}
		if reason != "" {
			c.bad = append(c.bad, badRec{line: rec.line, reason: reason, column: column, raw: rec.raw})
			if int64(len(c.bad)) > p.opts.MaxBadRows {
				break // the read fails at or before this row
			}
			continue
		}
		fallback = fallback[:0]
		fields := rr.scan.fields
		for j, f := range fields {
			if !c.cols[j].add(trim(f), &p.miss) {
				fallback = append(fallback, j)
			}
		}
		if len(fallback) > 0 {
			p.reread(data, c, fallback)
			for _, j := range fallback {
				c.cols[j].add(trim(fields[j]), &p.miss)
			}
		}
		c.rows++
	}
}

// reread turns columns of c that met a non-number (or non-boolean) into
// categorical columns, re-reading their cells of c's rows so far as text:
// it scans the chunk again, skipping the same bad rows. A column is
// re-read at most once per chunk.
func (p *plan) reread(data []byte, c *chunk, cols []int) {
	for _, j := range cols {
		c.cols[j].toCategorical(0)
	}
	rr := inMemory(p.d, p.maxLine, data[:c.hi], c.lo, 1)
	for r := 0; r < c.rows; {
		rec, ok, _ := rr.next()
		if !ok {
			break // unreachable: the same scan finds the same rows
		}
		if rec.bad != "" {
			continue
		}
		if reason, _ := p.check(rr.scan.fields, rec.raw); reason != "" {
			continue
		}
		for _, j := range cols {
			c.cols[j].add(trim(rr.scan.fields[j]), &p.miss)
		}
		r++
	}
}

// join assembles the table from the chunks' columns.
func (p *plan) join(data []byte, chunks []chunk, shared []*tableCol) *table.Table {
	width := len(p.names)
	kinds := make([]kind, width)
	for j := range width {
		k := undecided
		for i := range chunks {
			ck := chunks[i].cols[j].kind
			switch {
			case ck == undecided || ck == k:
			case k == undecided:
				k = ck
			default:
				k = categorical
			}
		}
		kinds[j] = k
	}
	if len(chunks) > 1 {
		// Chunks disagreeing with their column's type re-read as text.
		parallel(len(chunks), func(i int) {
			c := &chunks[i]
			var re []int
			for j, col := range c.cols {
				switch {
				case kinds[j] != categorical || col.kind == categorical:
				case col.kind == undecided:
					col.toCategorical(c.rows)
				default:
					re = append(re, j)
				}
			}
			if len(re) > 0 {
				p.reread(data, c, re)
			}
		})
	}
	// Join the dictionaries in chunk order, which keeps categories in
	// order of first appearance, and recode each chunk.
	dicts := make([][]string, width)
	remaps := make([][][]int32, width) // per column, per chunk: chunk code to table code
	for j := range width {
		if kinds[j] != categorical {
			continue
		}
		if len(chunks) == 1 {
			dicts[j] = chunks[0].cols[j].dict
			continue
		}
		dict, index := []string{}, make(map[string]int32)
		remaps[j] = make([][]int32, len(chunks))
		for i := range chunks {
			local := chunks[i].cols[j].dict
			m := make([]int32, len(local))
			for k, s := range local {
				code, ok := index[s]
				if !ok {
					code = int32(len(dict))
					dict = append(dict, s)
					index[s] = code
				}
				m[k] = code
			}
			remaps[j][i] = m
		}
		dicts[j] = dict
	}
	if len(chunks) > 1 {
		parallel(len(chunks), func(i int) {
			for j, col := range chunks[i].cols {
				if kinds[j] != categorical {
					continue
				}
				m := remaps[j][i]
				codes := col.codes[:col.n]
				for r, code := range codes {
					if code >= 0 {
						codes[r] = m[code]
					}
				}
			}
		})
	}
	// Close the gaps between the chunks' regions.
	rows := 0
	for i := range chunks {
		rows += chunks[i].rows
	}
	t := &table.Table{Columns: make([]*table.Column, width)}
	parallel(width, func(j int) {
		sc := shared[j]
		off := 0
		for i := range chunks {
			c := &chunks[i]
			if off != c.base {
				if kinds[j] == categorical {
					copy(sc.codes[off:], sc.codes[c.base:c.base+c.rows])
				} else {
					copy(sc.nums[off:], sc.nums[c.base:c.base+c.rows])
				}
			}
			off += c.rows
		}
		switch kinds[j] {
		case categorical:
			t.Columns[j] = table.NewCategorical(p.names[j], sc.codes[:rows:rows], dicts[j])
		case boolean:
			t.Columns[j] = &table.Column{Name: p.names[j], Type: datav1.ColumnType_COLUMN_TYPE_BOOLEAN, Nums: sc.nums[:rows:rows]}
		default:
			t.Columns[j] = table.NewNumeric(p.names[j], sc.nums[:rows:rows])
		}
	})
	return t
}

// tableCol is the storage of one column of the table, which the chunks
// share, each writing its own region.
type tableCol struct {
	nums  []float64
	once  sync.Once
	codes []int32 // allocated when some chunk finds the column categorical
}

// codeSlice returns the codes, allocating them on the first call.
func (t *tableCol) codeSlice() []int32 {
	t.once.Do(func() {
		t.codes = make([]int32, len(t.nums))
		adviseHugePages(t.codes)
	})
	return t.codes
}

// parallel calls f(0), ..., f(n-1) on up to GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// missing recognizes cells that mean missing.
type missing struct {
	extra map[string]struct{}
}

// is reports whether a trimmed cell means missing: one of
// tablepb.MissingTokens or of Options.MissingValues.
func (m *missing) is(b []byte) bool {
	if m.extra != nil {
		if _, ok := m.extra[string(b)]; ok {
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

// checkOptions validates the options that do not depend on the input.
func checkOptions(o Options) error {
	if err := checkDelimiter(o.Delimiter); err != nil {
		return err
	}
	d := byte(o.Delimiter)
	switch q := o.Quote; {
	case q == 0:
	case q >= utf8.RuneSelf || q == '\r' || q == '\n':
		return &tablepb.FieldError{Field: "quote", Reason: fmt.Sprintf("must be an ASCII character other than a line break, got %q", rune(q))}
	case q == d:
		return &tablepb.FieldError{Field: "quote", Reason: fmt.Sprintf("cannot be the delimiter %q", rune(q))}
	}
	switch c := o.Comment; {
	case c == 0:
	case c >= utf8.RuneSelf || c == '\r' || c == '\n':
		return &tablepb.FieldError{Field: "comment", Reason: fmt.Sprintf("must be an ASCII character other than a line break, got %q", rune(c))}
	case c == d || c == o.Quote || c == '"' && o.Quote == 0:
		return &tablepb.FieldError{Field: "comment", Reason: fmt.Sprintf("cannot be the delimiter or the quote, got %q", rune(c))}
	}
	if o.MaxBadRows < 0 {
		return &tablepb.FieldError{Field: "max_bad_rows", Reason: fmt.Sprintf("must not be negative, got %d", o.MaxBadRows)}
	}
	if o.MaxLineBytes < 0 {
		return &tablepb.FieldError{Field: "max_line_bytes", Reason: fmt.Sprintf("must not be negative, got %d", o.MaxLineBytes)}
	}
	if o.MaxBytes < 0 {
		return &tablepb.FieldError{Field: "max_bytes", Reason: fmt.Sprintf("must not be negative, got %d", o.MaxBytes)}
	}
	return nil
}

// kind is a column's type as inferred so far.
type kind uint8

const (
	undecided kind = iota // every cell so far is missing
	numeric
	boolean
	categorical
)

// column accumulates one column's values in one chunk, writing them to
// the chunk's region of the table's column.
type column struct {
	kind   kind
	n      int       // rows so far
	nums   []float64 // the region of shared.nums (undecided, numeric and boolean)
	codes  []int32   // the region of shared.codes (categorical)
	shared *tableCol
	lo, hi int // the region
	dict   []string
	index  map[string]int32
}

// add appends a trimmed cell, which is valid UTF-8. It returns false,
// appending nothing, when a numeric or boolean column meets a value of
// another kind and must become categorical.
func (c *column) add(b []byte, m *missing) bool {
	if c.kind == numeric && m.extra == nil {
		// The fast path accepts no missing token, so try it first.
		if v, ok := fastFloat(b); ok {
			c.nums[c.n] = v
			c.n++
			return true
		}
	}
	if m.is(b) {
		if c.kind == categorical {
			c.codes[c.n] = -1
		} else {
			c.nums[c.n] = math.NaN()
		}
		c.n++
		return true
	}
	switch c.kind {
	case numeric:
		v, ok := parseNumber(b)
		if !ok {
			return false
		}
		c.nums[c.n] = v
	case boolean:
		v, ok := tablepb.ParseBoolWord(string(b))
		if !ok {
			return false
		}
		c.nums[c.n] = b2f(v)
	case categorical:
		code, ok := c.index[string(b)]
		if !ok {
			code = int32(len(c.dict))
			s := string(b)
			c.dict = append(c.dict, s)
			c.index[s] = code
		}
		c.codes[c.n] = code
	default:
		if v, ok := parseNumber(b); ok {
			c.kind = numeric
			c.nums[c.n] = v
		} else if v, ok := tablepb.ParseBoolWord(string(b)); ok {
			c.kind = boolean
			c.nums[c.n] = b2f(v)
		} else {
			c.toCategorical(c.n)
			return c.add(b, m)
		}
	}
	c.n++
	return true
}

// toCategorical makes c categorical with its first n rows missing,
// dropping any numbers read so far.
func (c *column) toCategorical(n int) {
	c.kind = categorical
	c.codes = c.shared.codeSlice()[c.lo:c.hi]
	for i := range n {
		c.codes[i] = -1
	}
	c.n = n
	c.dict = []string{}
	c.index = make(map[string]int32)
}

func b2f(v bool) float64 {
	if v {
		return 1
	}
	return 0
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
