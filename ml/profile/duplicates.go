package profile

import (
	"hash/maphash"
	"math"

	"github.com/alur-ml/alur/ml/table"
)

// duplicateRows counts the rows that repeat an earlier row exactly. Rows
// are hashed (hash/maphash over each value's canonical bytes: categories by
// their string, numbers by their bits with -0 as 0, missing as a marker) and
// rows with equal hashes are compared value by value, so a hash collision
// never counts as a duplicate.
func duplicateRows(t *table.Table) int {
	n := t.NumRows()
	if n < 2 || len(t.Columns) == 0 {
		return 0
	}
	seed := maphash.MakeSeed()
	first := make(map[uint64]int, n)
	var more map[uint64][]int // further distinct rows sharing a hash
	dups := 0
	var h maphash.Hash
	h.SetSeed(seed)
	for r := 0; r < n; r++ {
		h.Reset()
		hashRow(&h, t, r)
		key := h.Sum64()
		f, ok := first[key]
		if !ok {
			first[key] = r
			continue
		}
		if rowsEqual(t, f, r) {
			dups++
			continue
		}
		found := false
		for _, o := range more[key] {
			if rowsEqual(t, o, r) {
				found = true
				break
			}
		}
		if found {
			dups++
			continue
		}
		if more == nil {
			more = make(map[uint64][]int)
		}
		more[key] = append(more[key], r)
	}
	return dups
}

func hashRow(h *maphash.Hash, t *table.Table, r int) {
	var buf [9]byte
	for _, c := range t.Columns {
		if c.IsMissing(r) {
			h.WriteByte(0)
			continue
		}
		if c.IsCategorical() {
			s := c.Dict[c.Codes[r]]
			buf[0] = 1
			n := uint64(len(s))
			for i := 1; i < 9; i++ {
				buf[i] = byte(n >> (8 * (i - 1)))
			}
			h.Write(buf[:])
			h.WriteString(s)
			continue
		}
		v := c.Nums[r]
		if v == 0 {
			v = 0 // -0 and 0 are one value
		}
		b := math.Float64bits(v)
		buf[0] = 2
		for i := 1; i < 9; i++ {
			buf[i] = byte(b >> (8 * (i - 1)))
		}
		h.Write(buf[:])
	}
}

// rowsEqual compares two rows value by value; missing equals missing.
func rowsEqual(t *table.Table, a, b int) bool {
	for _, c := range t.Columns {
		ma, mb := c.IsMissing(a), c.IsMissing(b)
		if ma || mb {
			if ma != mb {
				return false
			}
			continue
		}
		if c.IsCategorical() {
			if c.Codes[a] != c.Codes[b] && c.Dict[c.Codes[a]] != c.Dict[c.Codes[b]] {
				return false
			}
		} else if c.Nums[a] != c.Nums[b] {
			return false
		}
	}
	return true
}
