package csvio

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/alur-ml/alur/ml/source"
	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// BlockRows is the most rows Stream puts in one block.
const BlockRows = 65536

// blockBytes ends a block early once its rows took this much input.
const blockBytes = 4 << 20

// streamReadSize is how much Stream asks of its input at a time.
const streamReadSize = 256 << 10

// errChanged reports an input that gave different bytes to Stream's two
// passes.
var errChanged = errors.New("csvio: the input changed between the two passes of Stream")

// Stream reads a re-openable input in two passes with bounded memory.
// Pass 1 checks the start of the file (see ReadAll), detects the dialect,
// reads the header and infers every column's type over all rows exactly
// as ReadAll does, counting and listing bad rows. Pass 2 parses the rows
// in blocks of at most BlockRows rows or about 4 MiB of input, whichever
// comes first, and hands each to sink.Block as a table whose CATEGORICAL
// columns share the whole input's dictionaries, which only grow (see
// source.Sink). sink.Schema is called once, before the first block.
//
// Memory stays bounded by the block, the dictionaries and the longest
// record (at most Options.MaxLineBytes), whatever the file size. For the
// same bytes, Stream gives the same rows, report and errors as ReadAll;
// errors of the sink are returned as they are.
func Stream(open source.Opener, opts Options, sink source.Sink) (*source.Report, error) {
	return stream(open, opts, sink, streamReadSize)
}

// stream is Stream with a chosen read size; tests use tiny ones to split
// records across reads.
func stream(open source.Opener, opts Options, sink source.Sink, readSize int) (*source.Report, error) {
	if err := checkOptions(opts); err != nil {
		return nil, err
	}
	p, kinds, report, err := streamPass1(open, opts, readSize)
	if err != nil {
		return nil, err
	}
	if err := streamPass2(open, p, kinds, report, sink, readSize); err != nil {
		return nil, err
	}
	return report, nil
}

// openReader opens the input and starts a record reader on it, having
// read at least the start that newPlan checks.
func openReader(open source.Opener, opts Options, readSize int) (io.ReadCloser, *recordReader, error) {
	rc, err := open()
	if err != nil {
		return nil, nil, err
	}
	rr := &recordReader{src: rc, maxBytes: opts.MaxBytes, readSize: readSize}
	if err := rr.fill(len(bom) + SampleBytes); err != nil {
		rc.Close()
		return nil, nil, err
	}
	return rc, rr, nil
}

// setDialect points rr at the first record under p's dialect.
func (p *plan) setDialect(rr *recordReader) {
	rr.scan = scanner{delim: p.d.Delimiter, quote: p.d.Quote}
	rr.comment = p.d.Comment
	rr.maxLine = p.maxLine
	rr.pos, rr.line = p.bom, 1
}

// streamPass1 decides the plan and the column types, and counts the bad
// rows and the good ones.
func streamPass1(open source.Opener, opts Options, readSize int) (*plan, []kind, *source.Report, error) {
	rc, rr, err := openReader(open, opts, readSize)
	if err != nil {
		return nil, nil, nil, err
	}
	defer rc.Close()
	// fail returns err unless reading the rest of the input fails first,
	// as it does in ReadAll, which reads everything before parsing.
	fail := func(err error) error {
		for !rr.eof {
			rr.pos = len(rr.data)
			if e := rr.fill(0); e != nil {
				return e
			}
		}
		return err
	}
	p, err := newPlan(opts, rr.data)
	if err != nil {
		return nil, nil, nil, fail(err)
	}
	p.setDialect(rr)
	first, err := p.header(rr)
	if err != nil {
		var pe *ParseError
		var fe *tablepb.FieldError
		if errors.As(err, &pe) || errors.As(err, &fe) || errors.Is(err, ErrEmpty) {
			err = fail(err)
		}
		return nil, nil, nil, err
	}
	width := len(p.names)
	const sawNumber, sawBool, sawOther = 1, 2, 4
	seen := make([]uint8, width)
	for j := range width {
		if p.forced[j] {
			seen[j] = sawOther
		}
	}
	report := p.newReport()
	var bad, rows int64
	rec := first
	ok := opts.NoHeader
	for {
		if !ok {
			rec, ok, err = rr.next()
			if err != nil {
				return nil, nil, nil, err
			}
			if !ok {
				break
			}
		}
		ok = false
		reason, column := rec.bad, ""
		if reason == "" {
			reason, column = p.check(rr.scan.fields, rec.raw)
		}
		if reason != "" {
			bad++
			b := badRec{line: rec.line, reason: reason, column: column, raw: rec.raw}
			if err := p.badRow(report, b, bad); err != nil {
				return nil, nil, nil, fail(err)
			}
			continue
		}
		for j, f := range rr.scan.fields {
			if seen[j]&sawOther != 0 {
				continue
			}
			b := trim(f)
			switch {
			case p.miss.is(b):
			case isNumber(b):
				seen[j] |= sawNumber
			case isBoolWord(b):
				seen[j] |= sawBool
			default:
				seen[j] |= sawOther
			}
		}
		rows++
	}
	if rows == 0 {
		return nil, nil, nil, p.noRows(first.line, bad)
	}
	kinds := make([]kind, width)
	for j, s := range seen {
		switch {
		case s&sawOther != 0 || s == sawNumber|sawBool:
			kinds[j] = categorical
		case s == sawBool:
			kinds[j] = boolean
		default:
			kinds[j] = numeric
		}
	}
	report.Rows = rows
	return p, kinds, report, nil
}

func isNumber(b []byte) bool {
	_, ok := parseNumber(b)
	return ok
}

func isBoolWord(b []byte) bool {
	_, ok := tablepb.ParseBoolWord(string(b))
	return ok
}

// streamPass2 parses the rows into blocks for the sink.
func streamPass2(open source.Opener, p *plan, kinds []kind, report *source.Report, sink source.Sink, readSize int) error {
	rc, rr, err := openReader(open, p.opts, readSize)
	if err != nil {
		return err
	}
	defer rc.Close()
	p.setDialect(rr)
	width := len(p.names)
	schema := &datav1.Schema{Fields: make([]*datav1.Field, width)}
	cols := make([]*table.Column, width)
	index := make([]map[string]int32, width)
	// Reserve about a million values across the columns, not a fixed
	// number per column: 1024 values per column took 2 GB for a file of
	// 250 000 columns and two rows.
	room := min(1024, max(1, (1<<20)/width))
	for j, name := range p.names {
		switch kinds[j] {
		case categorical:
			cols[j] = table.NewCategorical(name, make([]int32, 0, room), []string{})
			index[j] = make(map[string]int32)
		case boolean:
			cols[j] = &table.Column{Name: name, Type: datav1.ColumnType_COLUMN_TYPE_BOOLEAN, Nums: make([]float64, 0, room)}
		default:
			cols[j] = table.NewNumeric(name, make([]float64, 0, room))
		}
		schema.Fields[j] = &datav1.Field{Name: name, Type: cols[j].Type}
	}
	if sink.Schema != nil {
		if err := sink.Schema(schema); err != nil {
			return err
		}
	}
	block := &table.Table{Columns: make([]*table.Column, width)}
	n, size := 0, 0
	var rows, bad int64
	emit := func() error {
		for j, c := range cols {
			out := *c
			if c.IsCategorical() {
				out.Dict = c.Dict[:len(c.Dict):len(c.Dict)]
			}
			block.Columns[j] = &out
			c.Nums, c.Codes = c.Nums[:0], c.Codes[:0]
		}
		n, size = 0, 0
		if sink.Block == nil {
			return nil
		}
		return sink.Block(block)
	}
	if !p.opts.NoHeader {
		if _, ok, err := rr.next(); err != nil || !ok { // the header
			return orErr(err, errChanged)
		}
	}
	for {
		rec, ok, err := rr.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if rec.bad != "" {
			bad++
			continue
		}
		fields := rr.scan.fields
		if reason, _ := p.check(fields, rec.raw); reason != "" {
			bad++
			continue
		}
		for j, f := range fields {
			c := cols[j]
			b := trim(f)
			missing := p.miss.is(b)
			switch kinds[j] {
			case categorical:
				code := int32(-1)
				if !missing {
					var found bool
					code, found = index[j][string(b)]
					if !found {
						code = int32(len(c.Dict))
						s := string(b)
						c.Dict = append(c.Dict, s)
						index[j][s] = code
					}
				}
				c.Codes = append(c.Codes, code)
			case boolean:
				v := math.NaN()
				if !missing {
					w, ok := tablepb.ParseBoolWord(string(b))
					if !ok {
						return errChanged
					}
					v = b2f(w)
				}
				c.Nums = append(c.Nums, v)
			default:
				v := math.NaN()
				if !missing {
					var ok bool
					if v, ok = parseNumber(b); !ok {
						return errChanged
					}
				}
				c.Nums = append(c.Nums, v)
			}
		}
		n++
		rows++
		size += len(rec.raw)
		if n == BlockRows || size >= blockBytes {
			if err := emit(); err != nil {
				return err
			}
		}
	}
	if rows != report.Rows || bad != report.SkippedRows {
		return fmt.Errorf("%w: %d rows and %d bad rows, then %d and %d", errChanged, report.Rows, report.SkippedRows, rows, bad)
	}
	if n > 0 {
		return emit()
	}
	return nil
}

// orErr returns err if it is not nil, else alt.
func orErr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}
