package train

import (
	"fmt"
	"math"
	"runtime/debug"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/grpc/codes"

	"github.com/alur-ml/alur/ml/algo"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	"github.com/alur-ml/alur/serverkit"
)

// receiver turns a prepared table arriving as a stream straight into the
// training set, holding one copy of the data at a time. A decoded table
// keeps or regrows every column while batches arrive, then a feature
// matrix would copy it, then tree learners a column-major copy of that:
// the peak reached four to five times the data. Instead each batch is
// validated here (the checks of tablepb.Decoder that a prepared table
// needs: contiguous rows, one chunk per field of the right kind and
// length, booleans 0 or 1, codes inside a dictionary of unique entries)
// and its values are copied at once into per-column blocks, so the
// message can go. At the end the blocks are assembled into the layout the
// algorithm reads (columns for tree learners, a row-major matrix for the
// others) and released as they are copied.
type receiver struct {
	label                  string
	maxRows                int64
	maxColumns, maxClasses int

	schemaSeen bool
	fields     []*datav1.Field
	// labelIdx is the label's column in the schema, -1 when absent.
	labelIdx  int
	labelType datav1.ColumnType
	names     []string
	// blocks[f] holds feature f's values in arrival order.
	blocks [][][]float64
	// labelNums and labelCodes hold the label (NUMERIC or BOOLEAN, and
	// CATEGORICAL respectively); dict and dictSet its dictionary.
	labelNums  []float64
	labelCodes []int32
	dict       []string
	dictSet    map[string]struct{}
	rows       int
	// err is the first value that makes the table unfit to train on,
	// reported once the stream has ended, as a prepared-table error.
	err error
}

// schema validates and records the schema.
func (r *receiver) schema(s *datav1.Schema) error {
	if r.schemaSeen {
		return &tablepb.FieldError{Field: "schema", Reason: "was sent twice; a stream carries one schema, before its batches"}
	}
	if s != nil && r.maxColumns > 0 && len(s.GetFields()) > r.maxColumns {
		return &tablepb.LimitError{Limit: "max_columns", Max: int64(r.maxColumns)}
	}
	if err := tablepb.ValidateSchema(s); err != nil {
		return err
	}
	r.schemaSeen = true
	r.fields = s.GetFields()
	r.labelIdx = -1
	for i, f := range r.fields {
		if f.GetName() == r.label {
			r.labelIdx, r.labelType = i, f.GetType()
			continue
		}
		r.names = append(r.names, f.GetName())
	}
	r.blocks = make([][][]float64, len(r.names))
	r.dictSet = map[string]struct{}{}
	return nil
}

// fieldErrorf returns a *tablepb.FieldError.
func fieldErrorf(field, format string, args ...any) error {
	return &tablepb.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// batch validates b and moves its rows into the blocks. A batch that fails
// leaves the receiver unchanged. checkSchema has made every column but the
// label NUMERIC.
func (r *receiver) batch(b *datav1.TableBatch) error {
	if !r.schemaSeen {
		return &tablepb.FieldError{Field: "batch", Reason: "arrived before the schema; send the schema first"}
	}
	if b == nil {
		return &tablepb.FieldError{Field: "batch", Reason: "is missing"}
	}
	if b.GetRowOffset() != int64(r.rows) {
		return fieldErrorf("batch.row_offset", "is %d, want %d: batches must be contiguous and in order", b.GetRowOffset(), r.rows)
	}
	if b.GetNumRows() < 0 {
		return fieldErrorf("batch.num_rows", "is negative (%d)", b.GetNumRows())
	}
	n := int(b.GetNumRows())
	if r.maxRows > 0 && int64(r.rows)+int64(n) > r.maxRows {
		return &tablepb.LimitError{Limit: "max_rows", Max: r.maxRows}
	}
	if len(b.GetColumns()) != len(r.fields) {
		return fieldErrorf("batch.columns", "has %d chunks, want one per schema field (%d)", len(b.GetColumns()), len(r.fields))
	}
	for i, ch := range b.GetColumns() {
		if err := r.check(i, ch, n); err != nil {
			return err
		}
	}
	f := 0
	for i, ch := range b.GetColumns() {
		if i == r.labelIdx {
			r.appendLabel(ch)
			continue
		}
		vals := ch.GetDoubles()
		if r.err == nil {
			for j, v := range vals {
				if math.IsNaN(v) || math.IsInf(v, 0) || !present(ch.GetValidity(), j) {
					if !present(ch.GetValidity(), j) {
						v = math.NaN()
					}
					r.err = fmt.Errorf("row %d of feature column %q: %g is not a finite number", r.rows+j, r.names[f], v)
					break
				}
			}
		}
		r.blocks[f] = appendBlock(r.blocks[f], vals, r.rows)
		f++
	}
	r.rows += n
	return nil
}

// check validates chunk i of a batch of n rows without changing r; its
// loops run over the values received.
func (r *receiver) check(i int, ch *datav1.ColumnChunk, n int) error {
	path := func(sub string) string { return fmt.Sprintf("batch.columns[%d]%s", i, sub) }
	f := r.fields[i]
	if ch == nil {
		return fieldErrorf(path(""), "is missing")
	}
	if v := ch.GetValidity(); len(v) != 0 && len(v) != (n+7)/8 {
		return fieldErrorf(path(".validity"), "has %d bytes, want %d for %d rows (or none when every row is present)", len(v), (n+7)/8, n)
	}
	if f.GetType() != datav1.ColumnType_COLUMN_TYPE_CATEGORICAL {
		if len(ch.GetCodes()) != 0 {
			return fieldErrorf(path(".codes"), "is set on %v column %q, which carries doubles", f.GetType(), f.GetName())
		}
		if len(ch.GetDictionaryDelta()) != 0 {
			return fieldErrorf(path(".dictionary_delta"), "is set on %v column %q, which has no dictionary", f.GetType(), f.GetName())
		}
		if len(ch.GetDoubles()) != n {
			return fieldErrorf(path(".doubles"), "has %d values, want num_rows (%d)", len(ch.GetDoubles()), n)
		}
		if f.GetType() == datav1.ColumnType_COLUMN_TYPE_BOOLEAN {
			for j, v := range ch.GetDoubles() {
				if v != 0 && v != 1 && !math.IsNaN(v) && present(ch.GetValidity(), j) {
					return fieldErrorf(path(".doubles"), "row %d is %v; a BOOLEAN value must be 0 or 1 (NaN when missing)", j, v)
				}
			}
		}
		return nil
	}
	if len(ch.GetDoubles()) != 0 {
		return fieldErrorf(path(".doubles"), "is set on CATEGORICAL column %q, which carries codes", f.GetName())
	}
	if len(ch.GetCodes()) != n {
		return fieldErrorf(path(".codes"), "has %d values, want num_rows (%d)", len(ch.GetCodes()), n)
	}
	delta := ch.GetDictionaryDelta()
	size := len(r.dict) + len(delta)
	if r.maxClasses > 0 && size > r.maxClasses {
		return &tablepb.LimitError{Limit: "max_categories", Max: int64(r.maxClasses)}
	}
	fresh := make(map[string]struct{}, len(delta))
	for j, s := range delta {
		if len(s) > tablepb.MaxCategoryBytes {
			return fieldErrorf(path(fmt.Sprintf(".dictionary_delta[%d]", j)), "is %d bytes long; a category may have at most %d", len(s), tablepb.MaxCategoryBytes)
		}
		_, old := r.dictSet[s]
		_, dup := fresh[s]
		if old || dup {
			return fieldErrorf(path(fmt.Sprintf(".dictionary_delta[%d]", j)), "%q is already in the dictionary of column %q", s, f.GetName())
		}
		fresh[s] = struct{}{}
	}
	for j, code := range ch.GetCodes() {
		if (code < -1 || int(code) >= size) && present(ch.GetValidity(), j) {
			return fieldErrorf(path(".codes"), "row %d has code %d, outside [-1, %d) for column %q", j, code, size, f.GetName())
		}
	}
	return nil
}

// appendLabel appends a checked label chunk; an absent row is NaN or -1.
func (r *receiver) appendLabel(ch *datav1.ColumnChunk) {
	valid := ch.GetValidity()
	if r.labelType == datav1.ColumnType_COLUMN_TYPE_CATEGORICAL {
		for _, s := range ch.GetDictionaryDelta() {
			r.dictSet[s] = struct{}{}
		}
		r.dict = append(r.dict, ch.GetDictionaryDelta()...)
		for j, c := range ch.GetCodes() {
			if !present(valid, j) {
				c = -1
			}
			r.labelCodes = append(r.labelCodes, c)
		}
		return
	}
	for j, v := range ch.GetDoubles() {
		if !present(valid, j) {
			v = math.NaN()
		}
		r.labelNums = append(r.labelNums, v)
	}
}

// present reports whether row j is present in a validity bitmap; an empty
// bitmap means every row is present.
func present(validity []byte, j int) bool {
	return len(validity) == 0 || validity[j/8]&(1<<(j%8)) != 0
}

// blockMaxRows caps the rows of one block, so that a column's last,
// partly filled block wastes little.
const blockMaxRows = 1 << 16

// appendBlock appends vals to a column's blocks. It fills the last block
// first; a new block has room for an eighth of the rows received so far
// (at most blockMaxRows), so a column of many small batches is not
// fragmented into tiny arrays, yet the spare room stays a small part of
// the data.
func appendBlock(blocks [][]float64, vals []float64, received int) [][]float64 {
	for len(vals) > 0 {
		if n := len(blocks); n > 0 {
			last := blocks[n-1]
			if room := cap(last) - len(last); room > 0 {
				k := min(room, len(vals))
				blocks[n-1] = append(last, vals[:k]...)
				vals = vals[k:]
				continue
			}
		}
		size := max(len(vals), min(received/8, blockMaxRows))
		blocks = append(blocks, make([]float64, 0, size))
	}
	return blocks
}

// dataset builds the training set from the received table and checks
// that the data agree with the config: column-major when the algorithm
// reads columns, row-major otherwise, freeing each block once copied.
func (r *receiver) dataset(vc *validConfig) (*algo.Dataset, error) {
	if !r.schemaSeen {
		return nil, serverkit.InvalidArgument("schema", "is missing: the stream ended without a schema")
	}
	if r.rows == 0 {
		return nil, serverkit.Errorf(codes.FailedPrecondition, "the table has no rows to train on")
	}
	notPrepared := func(err error) error {
		return serverkit.Errorf(codes.FailedPrecondition, "the table is not a prepared table: %v", err)
	}
	if r.err != nil {
		return nil, notPrepared(r.err)
	}
	ds := &algo.Dataset{Y: make([]float64, r.rows), FeatureNames: r.names, Owned: true}
	switch r.labelType {
	case datav1.ColumnType_COLUMN_TYPE_CATEGORICAL:
		ds.Task = datav1.Task_TASK_CLASSIFICATION
		ds.ClassNames = r.dict
		for i, code := range r.labelCodes {
			if code < 0 {
				return nil, notPrepared(fmt.Errorf("row %d: label %q is missing", i, r.label))
			}
			ds.Y[i] = float64(code)
		}
	case datav1.ColumnType_COLUMN_TYPE_BOOLEAN:
		ds.Task = datav1.Task_TASK_CLASSIFICATION
		ds.ClassNames = []string{"false", "true"}
		for i, v := range r.labelNums {
			if math.IsNaN(v) {
				return nil, notPrepared(fmt.Errorf("row %d: label %q is missing", i, r.label))
			}
			if v != 0 {
				ds.Y[i] = 1
			}
		}
	default:
		ds.Task = datav1.Task_TASK_REGRESSION
		for i, v := range r.labelNums {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				what := "missing"
				if !math.IsNaN(v) {
					what = "infinite"
				}
				return nil, notPrepared(fmt.Errorf("row %d: label %q is %s", i, r.label, what))
			}
			ds.Y[i] = v
		}
	}
	r.labelNums, r.labelCodes = nil, nil
	ds.NumClasses = len(ds.ClassNames)
	if vc.task != datav1.Task_TASK_UNSPECIFIED && ds.Task != vc.task {
		return nil, serverkit.InvalidArgument("config.task",
			fmt.Sprintf("%v, but the label %q makes the data %v (a CATEGORICAL label is classification, a NUMERIC one regression)", vc.task, vc.label, ds.Task))
	}
	if !vc.spec.Supports(ds.Task) {
		return nil, serverkit.InvalidArgument("config.algorithm",
			fmt.Sprintf("algorithm %s does not support %v, the task of label %q (supports: %s)", vc.spec.Name, ds.Task, vc.label, taskNames(vc.spec.Tasks)))
	}
	if vc.spec.Columns {
		ds.Cols = r.columns()
	} else {
		ds.X = r.matrix()
	}
	if err := ds.Validate(); err != nil {
		return nil, serverkit.Errorf(codes.FailedPrecondition, "cannot train on this table: %v", err)
	}
	return ds, nil
}

// releaseSteps is how many times the assembly of a large table hands the
// blocks copied so far back to the operating system. Go would keep the
// freed blocks resident for a while, and the assembled copy cannot reuse
// them, so without this the peak is twice the data; with it, the peak
// exceeds the data by about 1/releaseSteps of it.
const releaseSteps = 4

// releaseMinBytes is the table size from which assembly releases memory on
// the way: each release is a full garbage collection, which is not worth it
// for small tables.
const releaseMinBytes = 16 << 20

// releaser calls debug.FreeOSMemory every 1/releaseSteps of a large
// assembly.
type releaser struct {
	every, next int
}

func newReleaser(rows, p, units int) *releaser {
	if int64(rows)*int64(p)*8 < releaseMinBytes {
		return &releaser{every: -1}
	}
	every := max(1, units/releaseSteps)
	return &releaser{every: every, next: every}
}

// done reports that unit units of work are finished (their blocks dropped).
func (r *releaser) done(unit int) {
	if r.every > 0 && unit >= r.next {
		debug.FreeOSMemory()
		r.next += r.every
	}
}

// columns assembles each feature's blocks into one array, releasing them
// column by column.
func (r *receiver) columns() [][]float64 {
	cols := make([][]float64, len(r.blocks))
	rel := newReleaser(r.rows, len(r.blocks), len(r.blocks))
	for f, blocks := range r.blocks {
		col := make([]float64, 0, r.rows)
		for _, b := range blocks {
			col = append(col, b...)
		}
		cols[f] = col
		r.blocks[f] = nil
		rel.done(f + 1)
	}
	return cols
}

// matrix assembles the blocks into a row-major matrix, block row by block
// row (every column has the same block boundaries, since appendBlock sees
// the same batches for each), so that the matrix's pages are touched as
// the blocks are released.
func (r *receiver) matrix() *mat.Dense {
	p := len(r.blocks)
	X := mat.NewDense(r.rows, p, nil)
	raw := X.RawMatrix()
	nb := len(r.blocks[0])
	rel := newReleaser(r.rows, p, nb)
	base := 0
	for bi := range nb {
		n := len(r.blocks[0][bi])
		for f, blocks := range r.blocks {
			b := blocks[bi]
			for j, v := range b[:n] {
				raw.Data[(base+j)*raw.Stride+f] = v
			}
			blocks[bi] = nil
		}
		base += n
		rel.done(bi + 1)
	}
	for f := range r.blocks {
		r.blocks[f] = nil
	}
	return X
}
