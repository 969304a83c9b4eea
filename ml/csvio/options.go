// Package csvio reads CSV files into alur tables, inferring each column's
// type: NUMERIC when every present value is a number, BOOLEAN when every
// present value is true/false/yes/no, CATEGORICAL otherwise.
//
// It detects the dialect (delimiter, quote, comment lines) unless told,
// skips or refuses bad rows (wrong field counts, bad quoting, invalid
// UTF-8, overlong lines) as the caller chooses, reporting each by its line,
// and refuses files that are not CSV (binary, empty, header only). ReadAll
// is the fast path for input that fits in memory: it splits the input at
// record boundaries and parses the pieces on all cores. Stream reads a
// re-openable input of any size in two passes with bounded memory and
// hands the rows over in blocks. Both give the same rows, report and
// errors for the same bytes.
package csvio

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/alur-ml/alur/ml/tablepb"
	ingestv1 "github.com/alur-ml/alur/proto/alur/ingest/v1"
)

// Options control how a CSV file is read. The zero value reads a
// comma-separated file with a header row.
type Options struct {
	// Delimiter separates fields; 0 means detect (see Detect), which falls
	// back to ','. It must be an ASCII character other than '"', '\r' and
	// '\n'.
	Delimiter rune
	// NoHeader says the first row is data; columns are then named col_1,
	// col_2, ...
	NoHeader bool
	// MissingValues are extra cell texts that mean missing, besides the
	// standard ones of tablepb.MissingTokens. Cells are compared after
	// removing surrounding spaces and tabs.
	MissingValues []string
	// CategoricalColumns are made CATEGORICAL even when every value is a
	// number or a boolean word, for example numeric codes.
	CategoricalColumns []string
	// MaxBytes bounds the input size; 0 means unlimited. A larger input
	// fails with a *tablepb.LimitError on "max_bytes".
	MaxBytes int64
	// Quote encloses fields that contain delimiters, quotes or line
	// breaks; a quote inside such a field is doubled. 0 means detect: '\''
	// when the file quotes fields with it and never with '"', else '"'. It
	// must differ from the delimiter.
	Quote byte
	// Comment starts comment lines: a line whose first byte is Comment,
	// outside a quoted field, is skipped wherever it appears. 0 means
	// detect: '#' when the first non-blank line of the file starts with it
	// (a preamble before the header), else none.
	Comment byte
	// NoComments turns comment detection off, so that a first line
	// starting with '#' is the header.
	NoComments bool
	// MaxBadRows is how many bad rows (wrong number of fields, bad
	// quoting, invalid UTF-8, lines longer than MaxLineBytes) may be
	// skipped. 0 means none: the first bad row fails the read with a
	// *ParseError naming its line. With N > 0, up to N bad rows are
	// skipped and listed in the report, and one more fails the read.
	MaxBadRows int64
	// MaxLineBytes bounds one record, line ending included; a longer
	// record is a bad row. 0 means DefaultMaxLineBytes. It bounds the
	// memory Stream needs whatever the input.
	MaxLineBytes int
	// MaxColumns bounds the header's fields; 0 means unlimited. A wider
	// file fails right after its header with a *tablepb.LimitError on
	// "max_columns", before any per-column memory is taken.
	MaxColumns int
}

// DefaultMaxLineBytes is the record length limit when Options.MaxLineBytes
// is 0.
const DefaultMaxLineBytes = 16 << 20

// ErrEmpty is returned for input without a header row (nothing but an
// optional byte order mark, blank lines and comments).
var ErrEmpty = errors.New("empty file: no header row")

// ErrNoRows is wrapped by the *ParseError returned for a file with a header
// but no data rows (or only bad ones), so callers can tell it apart with
// errors.Is while mapping it like any other parse error.
var ErrNoRows = errors.New("the file has a header but no rows")

// ParseError reports malformed CSV input at a line of the file.
type ParseError struct {
	// Line is the 1-based line of the file where the offending record
	// starts, counting every line as a text editor does.
	Line int
	// Column names the column involved, or is empty.
	Column string
	// Reason says what is wrong.
	Reason string
	// Err is an underlying sentinel such as ErrNoRows, or nil.
	Err error
}

// Unwrap returns Err, for errors.Is.
func (e *ParseError) Unwrap() error { return e.Err }

// Error returns "line N, column "c": reason".
func (e *ParseError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d, column %q: %s", e.Line, e.Column, e.Reason)
}

// OptionsFromProto converts the wire options. The delimiter may also be
// written as the two characters `\t` for a tab. Errors are
// *tablepb.FieldError naming the field of CsvOptions, such as
// "delimiter"; MaxBytes is left 0 for the server to set.
func OptionsFromProto(o *ingestv1.CsvOptions) (Options, error) {
	var opts Options
	if o == nil {
		return opts, nil
	}
	switch d := o.GetDelimiter(); d {
	case "":
	case `\t`:
		opts.Delimiter = '\t'
	default:
		r, size := utf8.DecodeRuneInString(d)
		if size != len(d) || r == utf8.RuneError {
			return opts, &tablepb.FieldError{Field: "delimiter", Reason: fmt.Sprintf("must be one character, got %q", d)}
		}
		opts.Delimiter = r
	}
	if err := checkDelimiter(opts.Delimiter); err != nil {
		return opts, err
	}
	opts.NoHeader = o.GetNoHeader()
	opts.MissingValues = append([]string(nil), o.GetMissingValues()...)
	seen := make(map[string]int)
	for i, name := range o.GetCategoricalColumns() {
		field := fmt.Sprintf("categorical_columns[%d]", i)
		if name == "" {
			return opts, &tablepb.FieldError{Field: field, Reason: "is empty"}
		}
		if j, dup := seen[name]; dup {
			return opts, &tablepb.FieldError{Field: field, Reason: fmt.Sprintf("%q repeats categorical_columns[%d]", name, j)}
		}
		seen[name] = i
	}
	opts.CategoricalColumns = append([]string(nil), o.GetCategoricalColumns()...)
	return opts, nil
}

// checkDelimiter accepts 0 (comma) and ASCII characters that cannot be
// confused with quoting or line endings.
func checkDelimiter(d rune) error {
	switch {
	case d == 0:
		return nil
	case d >= utf8.RuneSelf:
		return &tablepb.FieldError{Field: "delimiter", Reason: fmt.Sprintf("must be an ASCII character, got %q", d)}
	case d == '"' || d == '\r' || d == '\n':
		return &tablepb.FieldError{Field: "delimiter", Reason: fmt.Sprintf("cannot be %q", d)}
	}
	return nil
}
