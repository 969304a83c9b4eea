package csvio

import (
	"errors"
	"strconv"
)

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseNumber parses a trimmed cell as a float64, with exactly the result
// of strconv.ParseFloat(s, 64) and accepting the same texts. Out-of-range
// values are accepted, rounded to ±Inf or 0 as ParseFloat does.
//
// Plain decimals ("-12.5", "3e-4") with at most 19 significant digits go
// through Clinger's fast path (W. D. Clinger, "How to Read Floating Point
// Numbers Accurately", PLDI 1990): when the digits form an integer below
// 2^53 and the decimal exponent is within ±22, both the integer and the
// power of ten are exact float64s, so one IEEE multiplication or division
// gives the correctly rounded result. Everything else goes to strconv.
func parseNumber(b []byte) (float64, bool) {
	if v, ok := fastFloat(b); ok {
		return v, true
	}
	if len(b) == 0 {
		return 0, false
	}
	// Quick reject: anything ParseFloat accepts starts with a digit, a
	// sign, '.', or the i/n of inf and nan.
	switch c := b[0] | 0x20; {
	case c >= '0' && c <= '9', b[0] == '-', b[0] == '+', b[0] == '.', c == 'i', c == 'n':
	default:
		return 0, false
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		var ne *strconv.NumError
		if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
			return 0, false
		}
	}
	return v, true
}

// fastFloat implements the exact fast path described at parseNumber. It
// reports false when the text is not a plain decimal or is outside the
// exact range (including texts of more than 19 digits, which could
// overflow the mantissa); the caller then uses strconv.
func fastFloat(b []byte) (float64, bool) {
	i, n := 0, len(b)
	if n == 0 {
		return 0, false
	}
	neg := false
	if c := b[0]; c == '-' || c == '+' {
		neg = c == '-'
		i++
	}
	var mant uint64
	start := i
	for i < n {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		mant = mant*10 + uint64(d)
		i++
	}
	digits, exp := i-start, 0
	if i < n && b[i] == '.' {
		i++
		frac := i
		for i < n {
			d := b[i] - '0'
			if d > 9 {
				break
			}
			mant = mant*10 + uint64(d)
			i++
		}
		exp = frac - i
		digits += i - frac
	}
	if digits == 0 || digits > 19 {
		return 0, false
	}
	if i < n {
		if b[i]|0x20 != 'e' {
			return 0, false
		}
		i++
		eneg := false
		if i < n && (b[i] == '-' || b[i] == '+') {
			eneg = b[i] == '-'
			i++
		}
		e, ed := 0, i
		for i < n {
			d := b[i] - '0'
			if d > 9 || i-ed == 4 {
				return 0, false
			}
			e = e*10 + int(d)
			i++
		}
		if i == ed {
			return 0, false
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	var f float64
	switch {
	case mant == 0:
		f = 0
	case mant >= 1<<53 || exp < -22 || exp > 22:
		return 0, false
	case exp < 0:
		f = float64(mant) / pow10[-exp]
	default:
		f = float64(mant) * pow10[exp]
	}
	if neg {
		f = -f
	}
	return f, true
}
