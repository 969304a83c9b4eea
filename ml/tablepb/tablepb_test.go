package tablepb

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
)

const (
	numeric     = datav1.ColumnType_COLUMN_TYPE_NUMERIC
	categorical = datav1.ColumnType_COLUMN_TYPE_CATEGORICAL
	boolean     = datav1.ColumnType_COLUMN_TYPE_BOOLEAN
)

// mixedTable returns a table of n rows with a numeric, a boolean and a
// categorical column of ncat categories, with missing values in each.
func mixedTable(n, ncat int, seed uint64) *table.Table {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float64, n)
	b := make([]float64, n)
	codes := make([]int32, n)
	dict := make([]string, ncat)
	for i := range dict {
		dict[i] = fmt.Sprintf("cat-%d", i)
	}
	for i := range n {
		x[i] = rng.NormFloat64() * 100
		b[i] = float64(rng.IntN(2))
		codes[i] = int32(rng.IntN(ncat))
		if rng.IntN(10) == 0 {
			x[i] = math.NaN()
		}
		if rng.IntN(10) == 0 {
			b[i] = math.NaN()
		}
		if rng.IntN(10) == 0 {
			codes[i] = -1
		}
	}
	return &table.Table{Columns: []*table.Column{
		table.NewNumeric("x", x),
		{Name: "flag", Type: boolean, Nums: b},
		table.NewCategorical("kind", codes, dict),
	}}
}

// equalTables reports the first difference between two tables, treating
// all NaNs as equal.
func equalTables(a, b *table.Table) error {
	if len(a.Columns) != len(b.Columns) {
		return fmt.Errorf("%d columns, want %d", len(b.Columns), len(a.Columns))
	}
	for i, ca := range a.Columns {
		cb := b.Columns[i]
		if ca.Name != cb.Name || ca.Type != cb.Type {
			return fmt.Errorf("column %d is %q %v, want %q %v", i, cb.Name, cb.Type, ca.Name, ca.Type)
		}
		if ca.Len() != cb.Len() {
			return fmt.Errorf("column %q has %d rows, want %d", ca.Name, cb.Len(), ca.Len())
		}
		if len(ca.Dict) != len(cb.Dict) {
			return fmt.Errorf("column %q dictionary has %d entries, want %d", ca.Name, len(cb.Dict), len(ca.Dict))
		}
		for j := range ca.Dict {
			if ca.Dict[j] != cb.Dict[j] {
				return fmt.Errorf("column %q dict[%d] = %q, want %q", ca.Name, j, cb.Dict[j], ca.Dict[j])
			}
		}
		for r := range ca.Len() {
			if ca.IsCategorical() {
				if ca.Codes[r] != cb.Codes[r] {
					return fmt.Errorf("column %q row %d code %d, want %d", ca.Name, r, cb.Codes[r], ca.Codes[r])
				}
				continue
			}
			x, y := ca.Nums[r], cb.Nums[r]
			if x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
				return fmt.Errorf("column %q row %d = %v, want %v", ca.Name, r, y, x)
			}
		}
	}
	return nil
}

// roundTrip sends t through Send and a Collector, checking each batch's
// encoded size against the budget.
func roundTrip(t *testing.T, tab *table.Table, maxBytes int) (*table.Table, []*datav1.TableBatch) {
	t.Helper()
	var c Collector
	var batches []*datav1.TableBatch
	err := Send(tab, maxBytes, c.Schema, func(b *datav1.TableBatch) error {
		batches = append(batches, b)
		// Serialize and parse, as the network would.
		raw, err := proto.Marshal(b)
		if err != nil {
			return err
		}
		var back datav1.TableBatch
		if err := proto.Unmarshal(raw, &back); err != nil {
			return err
		}
		return c.Batch(&back)
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	got, err := c.Table()
	if err != nil {
		t.Fatalf("Table: %v", err)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("decoded table invalid: %v", err)
	}
	return got, batches
}

func TestRoundTrip(t *testing.T) {
	unused := mixedTable(50, 10, 3)
	unused.Columns[2].Dict = append(unused.Columns[2].Dict, "never", "used")
	shuffled := mixedTable(3000, 2000, 4)
	rng := rand.New(rand.NewPCG(9, 9))
	rng.Shuffle(len(shuffled.Columns[2].Dict), func(i, j int) {
		d := shuffled.Columns[2].Dict
		d[i], d[j] = d[j], d[i]
	})
	allMissing := &table.Table{Columns: []*table.Column{
		table.NewNumeric("x", []float64{math.NaN(), math.NaN()}),
		table.NewCategorical("c", []int32{-1, -1}, nil),
	}}
	emptyWithDict := &table.Table{Columns: []*table.Column{
		table.NewNumeric("x", []float64{}),
		table.NewCategorical("c", []int32{}, []string{"a", "b"}),
	}}
	tests := []struct {
		name     string
		tab      *table.Table
		maxBytes []int
	}{
		{"empty table with schema", &table.Table{Columns: []*table.Column{table.NewNumeric("x", nil), table.NewCategorical("c", nil, nil)}}, []int{0}},
		{"empty table with dictionary", emptyWithDict, []int{0, 1}},
		{"one row", mixedTable(1, 3, 1), []int{0, 1}},
		{"missing values", mixedTable(1000, 5, 2), []int{0, 200, 4096}},
		{"all missing", allMissing, []int{0, 1}},
		{"unused dictionary entries", unused, []int{0, 64, 300}},
		{"many categories over batches", mixedTable(20000, 5000, 5), []int{0, 2000, 16 << 10}},
		{"codes out of dictionary order", shuffled, []int{0, 3000}},
	}
	for _, tc := range tests {
		for _, mb := range tc.maxBytes {
			t.Run(fmt.Sprintf("%s/max=%d", tc.name, mb), func(t *testing.T) {
				got, batches := roundTrip(t, tc.tab, mb)
				if err := equalTables(tc.tab, got); err != nil {
					t.Fatal(err)
				}
				if Digest(got) != Digest(tc.tab) {
					t.Fatal("digest changed by the round trip")
				}
				// Each dictionary entry travels once.
				sent := 0
				for _, b := range batches {
					sent += len(b.Columns[len(b.Columns)-1].DictionaryDelta)
				}
				if want := len(tc.tab.Columns[len(tc.tab.Columns)-1].Dict); sent != want {
					t.Fatalf("sent %d dictionary entries, want %d", sent, want)
				}
			})
		}
	}
}

func TestBatchSizeCap(t *testing.T) {
	// A wide numeric table of about 8 MB.
	const rows, cols = 5000, 200
	wide := &table.Table{}
	rng := rand.New(rand.NewPCG(1, 2))
	for c := range cols {
		v := make([]float64, rows)
		for r := range v {
			v[r] = rng.Float64()
			if r%97 == c%97 {
				v[r] = math.NaN()
			}
		}
		wide.Columns = append(wide.Columns, table.NewNumeric(fmt.Sprintf("f%d", c), v))
	}
	// Long distinct strings: the dictionary dominates the batches.
	const n = 3000
	codes := make([]int32, n)
	dict := make([]string, n)
	for i := range n {
		codes[i] = int32(i)
		dict[i] = strings.Repeat(string(rune('a'+i%26)), 900) + fmt.Sprint(i)
	}
	texty := &table.Table{Columns: []*table.Column{table.NewCategorical("text", codes, dict), table.NewNumeric("y", make([]float64, n))}}

	tests := []struct {
		name       string
		tab        *table.Table
		maxBytes   int
		minBatches int
	}{
		{"wide default", wide, 0, 8 << 20 / DefaultBatchBytes},
		{"wide above hard cap", wide, 4 << 20, 8 << 20 / MaxBatchBytes},
		{"wide small", wide, 64 << 10, 8 << 20 / (64 << 10)},
		{"long strings default", texty, 0, 2700 << 10 / DefaultBatchBytes},
		{"long strings small", texty, 10 << 10, 2700 << 10 / (10 << 10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.maxBytes
			if limit <= 0 {
				limit = DefaultBatchBytes
			}
			limit = min(limit, MaxBatchBytes)
			got, batches := roundTrip(t, tc.tab, tc.maxBytes)
			if err := equalTables(tc.tab, got); err != nil {
				t.Fatal(err)
			}
			if len(batches) < tc.minBatches {
				t.Errorf("%d batches, want at least %d", len(batches), tc.minBatches)
			}
			for i, b := range batches {
				size := proto.Size(b)
				if size > limit || size >= 1<<20 {
					t.Fatalf("batch %d is %d bytes, over the %d-byte budget", i, size, limit)
				}
				// Batches should be reasonably full, except the last one.
				if i < len(batches)-1 && size < limit/2 {
					t.Errorf("batch %d is only %d bytes of %d", i, size, limit)
				}
			}
		})
	}
}

func TestDictionaryAheadOfRow(t *testing.T) {
	// One row whose dictionaries alone exceed the budget: the entries go
	// ahead in row-less batches.
	cols := make([]*table.Column, 4)
	for c := range cols {
		dict := make([]string, 300)
		for i := range dict {
			dict[i] = fmt.Sprintf("%04d-%s", i, strings.Repeat("x", 200))
		}
		cols[c] = table.NewCategorical(fmt.Sprintf("c%d", c), []int32{299}, dict)
	}
	tab := &table.Table{Columns: cols}
	got, batches := roundTrip(t, tab, 8<<10)
	if err := equalTables(tab, got); err != nil {
		t.Fatal(err)
	}
	for i, b := range batches {
		if s := proto.Size(b); s > 8<<10 {
			t.Fatalf("batch %d is %d bytes", i, s)
		}
	}
	if len(batches) < 4*300*210/(8<<10) {
		t.Fatalf("only %d batches", len(batches))
	}
}

// TestSendFarDictionaryCode streams rows whose codes point far into large
// dictionaries through small batches: the entries go ahead a budget at a
// time, and sizing a row stops at the budget rather than rescanning the
// whole pending dictionary for every batch (which made this quadratic).
// The longest allowed category travels too.
func TestSendFarDictionaryCode(t *testing.T) {
	const n = 200000
	dict := make([]string, n)
	for i := range dict {
		dict[i] = fmt.Sprint(i)
	}
	dict[n/2] = strings.Repeat("y", MaxCategoryBytes)
	tab := &table.Table{Columns: []*table.Column{
		table.NewCategorical("c", []int32{n - 1, 0, n / 2}, dict),
		table.NewNumeric("x", []float64{1, 2, 3}),
	}}
	got, batches := roundTrip(t, tab, 256)
	if err := equalTables(tab, got); err != nil {
		t.Fatal(err)
	}
	for i, b := range batches {
		if s := proto.Size(b); s > 256 && len(b.Columns[0].DictionaryDelta) != 1 {
			t.Fatalf("batch %d is %d bytes with %d entries", i, s, len(b.Columns[0].DictionaryDelta))
		}
	}
}

func TestSendErrors(t *testing.T) {
	long := strings.Repeat("z", MaxCategoryBytes+1)
	// One row of this many columns needs more than MaxBatchBytes.
	wide := &table.Table{}
	for c := range MaxBatchBytes/chunkOverhead + 1 {
		wide.Columns = append(wide.Columns, table.NewNumeric(fmt.Sprint("f", c), []float64{1}))
	}
	tests := []struct {
		name string
		tab  *table.Table
		want string
	}{
		{"invalid table", &table.Table{Columns: []*table.Column{table.NewCategorical("c", []int32{3}, []string{"a"})}}, "invalid table"},
		{"category too long", &table.Table{Columns: []*table.Column{table.NewCategorical("c", []int32{0, -1}, []string{"a", long})}}, "max_category_bytes"},
		{"row over the hard cap", wide, "max_batch_bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			batches := 0
			err := Send(tc.tab, 0, func(*datav1.Schema) error { return nil }, func(*datav1.TableBatch) error { batches++; return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send error %v, want one containing %q", err, tc.want)
			}
			if batches != 0 {
				t.Fatalf("%d batches sent before the error", batches)
			}
		})
	}
	boom := errors.New("boom")
	if err := Send(mixedTable(3, 2, 1), 0, func(*datav1.Schema) error { return boom }, nil); !errors.Is(err, boom) {
		t.Fatalf("schema callback error not returned: %v", err)
	}
	if err := Send(mixedTable(3, 2, 1), 0, func(*datav1.Schema) error { return nil }, func(*datav1.TableBatch) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("batch callback error not returned: %v", err)
	}
}

func TestDigest(t *testing.T) {
	base := mixedTable(500, 7, 11)
	d := Digest(base)
	if len(d) != 64 || strings.ToLower(d) != d {
		t.Fatalf("digest %q is not lowercase hex sha256", d)
	}
	for _, mb := range []int{0, 100, 1000} {
		got, _ := roundTrip(t, base, mb)
		if Digest(got) != d {
			t.Fatalf("digest depends on batch size %d", mb)
		}
	}
	mutations := []struct {
		name   string
		mutate func(*table.Table)
	}{
		{"numeric value", func(t *table.Table) { t.Columns[0].Nums[3]++ }},
		{"value to missing", func(t *table.Table) { t.Columns[0].Nums[4] = math.NaN() }},
		{"boolean value", func(t *table.Table) { t.Columns[1].Nums[5] = 1 - t.Columns[1].Nums[5] }},
		{"code", func(t *table.Table) { t.Columns[2].Codes[6] = (t.Columns[2].Codes[6] + 1) % 7 }},
		{"dictionary text", func(t *table.Table) { t.Columns[2].Dict[0] = "other" }},
		{"dictionary order", func(t *table.Table) { d := t.Columns[2].Dict; d[0], d[1] = d[1], d[0] }},
		{"column name", func(t *table.Table) { t.Columns[0].Name = "y" }},
		{"column type", func(t *table.Table) { t.Columns[1].Type = numeric }},
		{"row dropped", func(t *table.Table) { *t = *t.Take([]int{0, 1, 2}) }},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			c := base.Take(allRows(base.NumRows()))
			for i := range c.Columns {
				c.Columns[i].Dict = append([]string(nil), base.Columns[i].Dict...)
			}
			if Digest(c) != d {
				t.Fatal("copy has a different digest")
			}
			m.mutate(c)
			if Digest(c) == d {
				t.Fatal("digest unchanged")
			}
		})
	}
	// NaN payloads do not matter.
	a := &table.Table{Columns: []*table.Column{table.NewNumeric("x", []float64{math.NaN()})}}
	b := &table.Table{Columns: []*table.Column{table.NewNumeric("x", []float64{math.Float64frombits(0x7ff8dead00000000)})}}
	if Digest(a) != Digest(b) {
		t.Fatal("NaN payload changes the digest")
	}
}

// TestDigestGolden pins the documented canonical encoding: the expected
// value is the SHA-256 of the bytes spelled out by hand below.
func TestDigestGolden(t *testing.T) {
	tab := &table.Table{Columns: []*table.Column{
		table.NewNumeric("x", []float64{1.5, math.NaN()}),
		table.NewCategorical("c", []int32{1, -1}, []string{"a", "bc"}),
	}}
	want := "alur.table.v1\x00" + // magic
		"\x02" + // columns
		"\x01x\x01" + "\x01c\x02" + // names and types
		"\x02" + // rows
		"\x00\x00\x00\x00\x00\x00\xf8\x3f" + "\x01\x00\x00\x00\x00\x00\xf8\x7f" + // 1.5, NaN
		"\x02" + "\x01a" + "\x02bc" + // dictionary
		"\x01\x00\x00\x00" + "\xff\xff\xff\xff" // codes 1, -1
	if got, exp := Digest(tab), sha256Hex(want); got != exp {
		t.Fatalf("Digest = %s, want %s", got, exp)
	}
}

func allRows(n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = i
	}
	return r
}
