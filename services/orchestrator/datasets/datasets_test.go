package datasets

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/ml/table"
	"github.com/alur-ml/alur/ml/tablepb"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

func TestAppendRowsPolicy(t *testing.T) {
	nan := math.NaN()
	num := func(name string, v ...float64) *table.Column { return table.NewNumeric(name, v) }
	boolean := func(name string, v ...float64) *table.Column {
		return &table.Column{Name: name, Type: datav1.ColumnType_COLUMN_TYPE_BOOLEAN, Nums: v}
	}
	cat := func(name string, dict []string, codes ...int32) *table.Column {
		return table.NewCategorical(name, codes, dict)
	}
	tbl := func(cs ...*table.Column) *table.Table { return &table.Table{Columns: cs} }
	for _, tc := range []struct {
		name      string
		old, b    *table.Table
		want      *table.Table
		conflicts []string
	}{
		{"same schema, dictionaries merge", tbl(num("x", 1), cat("k", []string{"a"}, 0)), tbl(num("x", 2), cat("k", []string{"b", "a"}, 0, 1)),
			tbl(num("x", 1, 2), cat("k", []string{"a", "b"}, 0, 1, 0)), nil},
		{"new and missing columns", tbl(num("x", 1), num("gone", 5)), tbl(num("x", 2), cat("new", []string{"u"}, 0)),
			tbl(num("x", 1, 2), num("gone", 5, nan), cat("new", []string{"u"}, -1, 0)), nil},
		{"boolean widens to numeric", tbl(boolean("f", 1, 0)), tbl(num("f", 7)), tbl(num("f", 1, 0, 7)), nil},
		{"all-missing batch column keeps the type", tbl(cat("k", []string{"a"}, 0)), tbl(num("k", nan, nan)),
			tbl(cat("k", []string{"a"}, 0, -1, -1)), nil},
		{"all-missing old column takes the batch type", tbl(num("k", nan)), tbl(cat("k", []string{"z"}, 0)),
			tbl(cat("k", []string{"z"}, -1, 0)), nil},
		{"renamed column refused", tbl(num("x", 1), num("petal", 2), cat("k", []string{"a"}, 0)), tbl(num("x", 3), num("petal_len", 4), cat("k", []string{"a"}, 0)),
			nil, []string{"petal", "petal_len"}},
		{"numbers to categories refused", tbl(num("x", 1), boolean("f", 1), num("ok", 1)), tbl(cat("x", []string{"a"}, 0), cat("f", []string{"b"}, 0), num("ok", 2)),
			nil, []string{"x", "f"}},
	} {
		got, err := appendRows(tc.old, tc.b)
		if tc.conflicts != nil {
			if status.Code(err) != codes.FailedPrecondition {
				t.Errorf("%s: %v, want FailedPrecondition", tc.name, err)
				continue
			}
			for _, c := range tc.conflicts {
				if !strings.Contains(err.Error(), strconv.Quote(c)) {
					t.Errorf("%s: %v does not name %q", tc.name, err, c)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tablepb.Digest(got) != tablepb.Digest(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, describeTable(got), describeTable(tc.want))
		}
	}
}

func describeTable(t *table.Table) string {
	var b strings.Builder
	for _, c := range t.Columns {
		fmt.Fprintf(&b, "%s/%s:", c.Name, typeWord(c.Type))
		for i := range c.Len() {
			fmt.Fprintf(&b, " %q", c.Text(i))
		}
		b.WriteString("; ")
	}
	return b.String()
}
