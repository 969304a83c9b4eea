// Package csvio reads CSV files into alur tables, inferring each column's
// type: NUMERIC when every present value is a number, BOOLEAN when every
// present value is true/false/yes/no, CATEGORICAL otherwise. It is the
// reader behind the ingest service and the benchmarks, written for speed:
// it parses records in place in its input buffer, converts cells without
// allocating, and allocates only for new category strings.
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
	// Delimiter separates fields; 0 means ','. It must be an ASCII
	// character other than '"', '\r' and '\n'.
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
}

// ErrEmpty is returned for input without a header row (nothing but an
// optional byte order mark and blank lines).
var ErrEmpty = errors.New("empty file: no header row")

// ParseError reports malformed CSV input at a line of the file.
type ParseError struct {
	// Line is the 1-based line of the file where the offending record
	// starts, counting every line as a text editor does.
	Line int
	// Column names the column involved, or is empty.
	Column string
	// Reason says what is wrong.
	Reason string
}

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
