// Package source is the contract between alur's file readers (CSV, JSON
// Lines, Parquet) and the services that stream what they read. A reader
// makes two passes over a re-openable input when it must infer types from
// every row, so that a file larger than memory streams through with bounded
// memory: the first pass decides the schema, the second emits the rows in
// blocks.
package source

import (
	"io"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Opener opens the input from its first byte. Readers may call it more than
// once (one call per pass); every call must yield the same bytes.
type Opener func() (io.ReadCloser, error)

// Sink receives a streamed table: the schema once, then blocks of rows in
// order.
type Sink struct {
	// Schema is called once, before the first block.
	Schema func(*datav1.Schema) error
	// Block is called with each block of rows. Its columns follow the
	// schema. A CATEGORICAL column's Dict holds every category seen so
	// far in the whole input (it only grows, and entries never change), so
	// codes mean the same thing in every block. The block is only valid
	// during the call; the reader may reuse its memory afterwards.
	Block func(*table.Table) error
}

// MaxReportedBadRows is how many bad rows a Report lists; more are
// counted but not listed.
const MaxReportedBadRows = 100

// BadRow is one row a reader refused.
type BadRow struct {
	// Line is the 1-based line of the file where the row starts (for
	// formats without lines, the 1-based record number).
	Line int64
	// Reason says what is wrong, for people.
	Reason string
	// Excerpt is the start of the row's text, at most 120 bytes, with
	// invalid UTF-8 replaced.
	Excerpt string
}

// Report says what a reader read.
type Report struct {
	// Format is "csv", "jsonl" or "parquet".
	Format string
	// Dialect describes the detected CSV dialect, such as
	// `delimiter ";" quote "\"" comment "#" header`; empty for other
	// formats.
	Dialect string
	// Rows is the number of rows emitted.
	Rows int64
	// SkippedRows is the number of bad rows skipped (0 when the policy is to
	// fail).
	SkippedRows int64
	// BadRows lists the first MaxReportedBadRows skipped rows.
	BadRows []BadRow
}
