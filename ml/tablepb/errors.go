// Package tablepb converts alur's in-memory table (package table) to and
// from the wire messages of alur.data.v1: a Schema followed by TableBatch
// messages of column chunks (packed doubles, dictionary codes with
// dictionary deltas, and validity bitmaps). Every stage streams tables with
// it, so the encoding rules, the batch size cap and the validation of
// untrusted input live in one place.
package tablepb

import "fmt"

// FieldError reports invalid input and names the offending request field
// path, such as "schema.fields[2].name" or "batch.columns[1].codes", so a
// gRPC handler can answer InvalidArgument pointing at it.
type FieldError struct {
	// Field is the path of the offending field.
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error returns "field: reason".
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// WithPrefix returns a copy of e whose field path is prefixed by p and a
// dot, for handlers that embed a table inside a larger request.
func (e *FieldError) WithPrefix(p string) *FieldError {
	if p == "" {
		return &FieldError{Field: e.Field, Reason: e.Reason}
	}
	return &FieldError{Field: p + "." + e.Field, Reason: e.Reason}
}

func fieldErrorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// LimitError reports that input exceeded a configured limit, such as
// "max_rows"; gRPC handlers answer ResourceExhausted naming Limit.
type LimitError struct {
	// Limit names the limit, in snake_case like a config field.
	Limit string
	// Max is the configured maximum.
	Max int64
	// Detail optionally says what exceeded it.
	Detail string
}

// Error returns a message naming the limit and its value.
func (e *LimitError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%s exceeded: the limit is %d; %s", e.Limit, e.Max, e.Detail)
	}
	return fmt.Sprintf("%s exceeded: the limit is %d", e.Limit, e.Max)
}
