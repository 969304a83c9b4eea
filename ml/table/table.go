// Package table is alur's in-memory columnar table: typed columns, with NaN
// (numbers) and code -1 (categories) marking missing values. It is the shape
// every stage computes on and the shape the wire batches decode into.
package table

import (
	"fmt"
	"math"
	"strconv"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

// Column is one named, typed column.
type Column struct {
	// Name is unique within a table.
	Name string
	// Type is NUMERIC, CATEGORICAL or BOOLEAN.
	Type datav1.ColumnType
	// Nums holds NUMERIC and BOOLEAN values (booleans as 0 and 1); NaN is
	// missing.
	Nums []float64
	// Codes holds CATEGORICAL values as indexes into Dict; -1 is missing.
	Codes []int32
	// Dict is the CATEGORICAL dictionary.
	Dict []string
}

// NewNumeric returns a NUMERIC column holding vals (not copied).
func NewNumeric(name string, vals []float64) *Column {
	return &Column{Name: name, Type: datav1.ColumnType_COLUMN_TYPE_NUMERIC, Nums: vals}
}

// NewCategorical returns a CATEGORICAL column with the given codes and
// dictionary (not copied).
func NewCategorical(name string, codes []int32, dict []string) *Column {
	return &Column{Name: name, Type: datav1.ColumnType_COLUMN_TYPE_CATEGORICAL, Codes: codes, Dict: dict}
}

// IsCategorical reports whether the column is dictionary-coded.
func (c *Column) IsCategorical() bool {
	return c.Type == datav1.ColumnType_COLUMN_TYPE_CATEGORICAL
}

// Len is the number of rows.
func (c *Column) Len() int {
	if c.IsCategorical() {
		return len(c.Codes)
	}
	return len(c.Nums)
}

// IsMissing reports whether row i is missing.
func (c *Column) IsMissing(i int) bool {
	if c.IsCategorical() {
		return c.Codes[i] < 0
	}
	return math.IsNaN(c.Nums[i])
}

// Text returns row i as text: the category, "true"/"false", the number in
// shortest form, or "" when missing.
func (c *Column) Text(i int) string {
	if c.IsMissing(i) {
		return ""
	}
	switch c.Type {
	case datav1.ColumnType_COLUMN_TYPE_CATEGORICAL:
		return c.Dict[c.Codes[i]]
	case datav1.ColumnType_COLUMN_TYPE_BOOLEAN:
		if c.Nums[i] != 0 {
			return "true"
		}
		return "false"
	default:
		return strconv.FormatFloat(c.Nums[i], 'g', -1, 64)
	}
}

// Take returns a new column with the given rows, in order. A categorical
// column shares its dictionary with c.
func (c *Column) Take(rows []int) *Column {
	out := &Column{Name: c.Name, Type: c.Type, Dict: c.Dict}
	if c.IsCategorical() {
		out.Codes = make([]int32, len(rows))
		for j, r := range rows {
			out.Codes[j] = c.Codes[r]
		}
		return out
	}
	out.Nums = make([]float64, len(rows))
	for j, r := range rows {
		out.Nums[j] = c.Nums[r]
	}
	return out
}

// Table is an ordered set of equally long columns.
type Table struct {
	Columns []*Column
}

// NumRows is the number of rows (0 for a table without columns).
func (t *Table) NumRows() int {
	if len(t.Columns) == 0 {
		return 0
	}
	return t.Columns[0].Len()
}

// Column returns the column with the given name and its index, or nil and
// -1.
func (t *Table) Column(name string) (*Column, int) {
	for i, c := range t.Columns {
		if c.Name == name {
			return c, i
		}
	}
	return nil, -1
}

// Schema returns the table's schema message.
func (t *Table) Schema() *datav1.Schema {
	s := &datav1.Schema{Fields: make([]*datav1.Field, len(t.Columns))}
	for i, c := range t.Columns {
		s.Fields[i] = &datav1.Field{Name: c.Name, Type: c.Type}
	}
	return s
}

// Take returns a new table with the given rows of every column.
func (t *Table) Take(rows []int) *Table {
	out := &Table{Columns: make([]*Column, len(t.Columns))}
	for i, c := range t.Columns {
		out.Columns[i] = c.Take(rows)
	}
	return out
}

// Validate checks that column names are unique and non-empty, types are
// known, lengths agree and codes fall inside their dictionaries.
func (t *Table) Validate() error {
	seen := make(map[string]bool, len(t.Columns))
	n := t.NumRows()
	for i, c := range t.Columns {
		if c.Name == "" {
			return fmt.Errorf("column %d has no name", i+1)
		}
		if seen[c.Name] {
			return fmt.Errorf("duplicate column name %q", c.Name)
		}
		seen[c.Name] = true
		switch c.Type {
		case datav1.ColumnType_COLUMN_TYPE_NUMERIC, datav1.ColumnType_COLUMN_TYPE_BOOLEAN:
		case datav1.ColumnType_COLUMN_TYPE_CATEGORICAL:
			for r, code := range c.Codes {
				if code < -1 || int(code) >= len(c.Dict) {
					return fmt.Errorf("column %q row %d: code %d outside dictionary of %d", c.Name, r, code, len(c.Dict))
				}
			}
		default:
			return fmt.Errorf("column %q has unknown type %v", c.Name, c.Type)
		}
		if c.Len() != n {
			return fmt.Errorf("column %q has %d rows, want %d", c.Name, c.Len(), n)
		}
	}
	return nil
}
