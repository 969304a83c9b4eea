package csvio

import (
	"math"
	"strconv"
	"testing"
)

// checkNumber compares parseNumber with strconv.ParseFloat bit for bit.
func checkNumber(t *testing.T, s string) {
	t.Helper()
	got, ok := parseNumber([]byte(s))
	want, err := strconv.ParseFloat(s, 64)
	wantOK := err == nil || err.(*strconv.NumError).Err == strconv.ErrRange
	if ok != wantOK {
		t.Fatalf("parseNumber(%q) ok = %v, strconv err = %v", s, ok, err)
	}
	if ok && math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
		t.Fatalf("parseNumber(%q) = %v (%#x), strconv = %v (%#x)", s, got, math.Float64bits(got), want, math.Float64bits(want))
	}
}

func TestParseNumber(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "+0", "0.0", "-0.0", "00012", "1.", ".5", "-.5", "1e5", "1E-5", "1e+22", "1e23", "9007199254740992",
		"9007199254740993", "1234567890123456789", "12345678901234567890", "0.1", "0.3", "123.456e-7",
		"1e-22", "1e-23", "4.9e-324", "1e400", "-1e400", "inf", "-Infinity", "nan", "0x1p-2", "1_000",
		"", "-", ".", "e5", "1e", "1e+", "1.2.3", "--1", "1-", "abc", "1,5", "١", "0.0000000000000000000000001",
		"179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000",
	} {
		checkNumber(t, s)
	}
}

// FuzzParseNumber checks the fast path against strconv on any text.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"1", "-2.5", "3e-7", "0.1", "1e22", "9007199254740993", "inf", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(checkNumber)
}
