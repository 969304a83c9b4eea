package tablepb

import "strings"

// standardMissing are the cell texts that mean "missing" everywhere alur
// reads text: CSV files and RawRows. The empty string is included.
var standardMissing = []string{"", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?"}

// MissingTokens returns the standard missing-value texts ("", "NA", "N/A",
// "NaN", "nan", "null", "NULL", "None", "?"), so readers of other formats
// treat missing values the same way.
func MissingTokens() []string {
	out := make([]string, len(standardMissing))
	copy(out, standardMissing)
	return out
}

// IsMissing reports whether s, with surrounding spaces and tabs removed,
// is one of the standard missing-value texts.
func IsMissing(s string) bool {
	s = strings.Trim(s, " \t")
	switch s {
	case "", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?":
		return true
	}
	return false
}

// ParseBoolWord recognizes the boolean words true, false, yes and no in any
// letter case. CSV type inference uses it: a column of these words is
// BOOLEAN, while a 0/1 column stays NUMERIC.
func ParseBoolWord(s string) (v, ok bool) {
	switch len(s) {
	case 2:
		if strings.EqualFold(s, "no") {
			return false, true
		}
	case 3:
		if strings.EqualFold(s, "yes") {
			return true, true
		}
	case 4:
		if strings.EqualFold(s, "true") {
			return true, true
		}
	case 5:
		if strings.EqualFold(s, "false") {
			return false, true
		}
	}
	return false, false
}

// ParseBool parses a boolean cell of text input such as RawRows: the
// boolean words of ParseBoolWord plus "1" and "0". Surrounding spaces and
// tabs are ignored.
func ParseBool(s string) (v, ok bool) {
	s = strings.Trim(s, " \t")
	switch s {
	case "1":
		return true, true
	case "0":
		return false, true
	}
	return ParseBoolWord(s)
}
