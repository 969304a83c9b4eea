package tablepb

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// FromRawRows parses text rows, as a client copies them from a CSV file,
// against schema: NUMERIC cells with strconv.ParseFloat, BOOLEAN cells as
// true/false/yes/no/1/0 in any case, CATEGORICAL cells looked up in (and
// added to) a dictionary built in order of first appearance. Surrounding
// spaces and tabs are ignored, and the standard missing texts (see
// MissingTokens) mean missing. Schema columns absent from rr.Columns are
// entirely missing; a column of rr that the schema lacks is an error.
// Errors are *FieldError naming paths such as "columns[1]" or
// "rows[3].values[1]".
func FromRawRows(rr *datav1.RawRows, schema *datav1.Schema) (*table.Table, error) {
	if err := ValidateSchema(schema); err != nil {
		return nil, err
	}
	index := make(map[string]int, len(schema.Fields))
	for i, f := range schema.Fields {
		index[f.Name] = i
	}
	nrows := len(rr.GetRows())
	// pos[i] is the schema column of rr.Columns[i].
	pos := make([]int, len(rr.GetColumns()))
	from := make(map[int]int, len(pos))
	for i, name := range rr.GetColumns() {
		j, ok := index[name]
		if !ok {
			return nil, fieldErrorf(fmt.Sprintf("columns[%d]", i), "%q is not a column of the schema", name)
		}
		if k, dup := from[j]; dup {
			return nil, fieldErrorf(fmt.Sprintf("columns[%d]", i), "%q repeats columns[%d]", name, k)
		}
		from[j] = i
		pos[i] = j
	}
	t := &table.Table{Columns: make([]*table.Column, len(schema.Fields))}
	dicts := make([]map[string]int32, len(schema.Fields))
	for i, f := range schema.Fields {
		c := &table.Column{Name: f.Name, Type: f.Type}
		if f.Type == datav1.ColumnType_COLUMN_TYPE_CATEGORICAL {
			c.Codes = make([]int32, nrows)
			for r := range c.Codes {
				c.Codes[r] = -1
			}
			c.Dict = []string{}
			dicts[i] = make(map[string]int32)
		} else {
			c.Nums = make([]float64, nrows)
			for r := range c.Nums {
				c.Nums[r] = math.NaN()
			}
		}
		t.Columns[i] = c
	}
	for r, row := range rr.GetRows() {
		vals := row.GetValues()
		if len(vals) != len(pos) {
			return nil, fieldErrorf(fmt.Sprintf("rows[%d].values", r), "has %d values, want one per column (%d)", len(vals), len(pos))
		}
		for i, raw := range vals {
			s := strings.Trim(raw, " \t")
			if IsMissing(s) {
				continue
			}
			c := t.Columns[pos[i]]
			switch c.Type {
			case datav1.ColumnType_COLUMN_TYPE_NUMERIC:
				v, err := strconv.ParseFloat(s, 64)
				if err != nil && !isRangeError(err) {
					return nil, fieldErrorf(fmt.Sprintf("rows[%d].values[%d]", r, i), "%q is not a number (column %q is NUMERIC)", raw, c.Name)
				}
				c.Nums[r] = v
			case datav1.ColumnType_COLUMN_TYPE_BOOLEAN:
				v, ok := ParseBool(s)
				if !ok {
					return nil, fieldErrorf(fmt.Sprintf("rows[%d].values[%d]", r, i), "%q is not a boolean (true/false/yes/no/1/0; column %q is BOOLEAN)", raw, c.Name)
				}
				if v {
					c.Nums[r] = 1
				} else {
					c.Nums[r] = 0
				}
			default:
				d := dicts[pos[i]]
				code, ok := d[s]
				if !ok {
					code = int32(len(c.Dict))
					d[s] = code
					c.Dict = append(c.Dict, s)
				}
				c.Codes[r] = code
			}
		}
	}
	return t, nil
}

// isRangeError reports whether err is strconv's out-of-range error, whose
// value (±Inf or a rounded subnormal) is still the correctly rounded
// result.
func isRangeError(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
