package csvio

import "bytes"

// scanner splits records following RFC 4180: fields separated by a
// delimiter, records ended by "\n" or "\r\n", fields optionally enclosed
// in quotes (usually '"'), inside which delimiters and line breaks are data
// and a doubled quote stands for one. A quote inside an unquoted field is data, as
// in most spreadsheet exports. Fields are slices of the input; only
// quoted fields with "" escapes are copied, into scratch.
type scanner struct {
	delim   byte
	quote   byte
	fields  [][]byte
	scratch []byte
}

// scanResult says how a record scan ended.
type scanResult int

const (
	scanOK         scanResult = iota // a record was read
	scanIncomplete                   // the record may continue in input not yet read
	scanBadQuote                     // text after a closing quote
	scanOpenQuote                    // a quote never closed before the end of input
)

// record scans the record starting at data[pos], filling s.fields. It
// returns the position after the record's line ending and the number of
// line breaks consumed (including the ending). atEOF says no input follows
// data; otherwise a record that reaches the end of data is incomplete.
func (s *scanner) record(data []byte, pos int, atEOF bool) (next, lines int, res scanResult) {
	s.fields = s.fields[:0]
	s.scratch = s.scratch[:0]
	i := pos
	lineEnd := -1 // index of the '\n' ending the current line, or len(data)
	for {
		if i < len(data) && data[i] == s.quote {
			field, j, nl, r := s.quoted(data, i+1, atEOF)
			if r != scanOK {
				return 0, 0, r
			}
			lines += nl
			s.fields = append(s.fields, field)
			i = j
			lineEnd = -1
			switch {
			case i == len(data):
				if !atEOF {
					return 0, 0, scanIncomplete
				}
				return i, lines, scanOK
			case data[i] == s.delim:
				i++
				continue
			case data[i] == '\n':
				return i + 1, lines + 1, scanOK
			case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
				return i + 2, lines + 1, scanOK
			case data[i] == '\r' && i+1 == len(data) && !atEOF:
				return 0, 0, scanIncomplete
			default:
				return i, lines, scanBadQuote
			}
		}
		if lineEnd < i {
			k := bytes.IndexByte(data[i:], '\n')
			if k < 0 {
				if !atEOF {
					return 0, 0, scanIncomplete
				}
				lineEnd = len(data)
			} else {
				lineEnd = i + k
			}
		}
		k := bytes.IndexByte(data[i:lineEnd], s.delim)
		if k >= 0 {
			s.fields = append(s.fields, data[i:i+k])
			i += k + 1
			continue
		}
		end := lineEnd
		if end > i && data[end-1] == '\r' {
			end--
		}
		s.fields = append(s.fields, data[i:end])
		if lineEnd == len(data) {
			return lineEnd, lines, scanOK
		}
		return lineEnd + 1, lines + 1, scanOK
	}
}

// quoted scans a quoted field whose text starts at data[i] (after the
// opening quote). It returns the field, the position after the closing
// quote and the number of line breaks inside.
func (s *scanner) quoted(data []byte, i int, atEOF bool) (field []byte, next, lines int, res scanResult) {
	seg := i
	start := len(s.scratch)
	escaped := false
	for {
		k := bytes.IndexByte(data[i:], s.quote)
		if k < 0 {
			if atEOF {
				return nil, 0, 0, scanOpenQuote
			}
			return nil, 0, 0, scanIncomplete
		}
		q := i + k
		lines += bytes.Count(data[i:q], newline)
		if q+1 == len(data) && !atEOF {
			return nil, 0, 0, scanIncomplete // "" or a closing quote: not known yet
		}
		if q+1 < len(data) && data[q+1] == s.quote {
			s.scratch = append(s.scratch, data[seg:q+1]...)
			escaped = true
			i = q + 2
			seg = i
			continue
		}
		if escaped {
			s.scratch = append(s.scratch, data[seg:q]...)
			return s.scratch[start:len(s.scratch):len(s.scratch)], q + 1, lines, scanOK
		}
		return data[seg:q], q + 1, lines, scanOK
	}
}

var newline = []byte{'\n'}

// skipState is where a skipper stands inside a record.
type skipState uint8

const (
	skipFieldStart skipState = iota // at the first byte of a field
	skipUnquoted                    // inside an unquoted field
	skipQuoted                      // inside a quoted field
	skipAfterQuote                  // just after a quote inside a quoted field
	skipToLineEnd                   // the record ends at the next '\n' (a comment, or text after a closing quote)
)

// skipper finds where a record ends without splitting it into fields,
// following the same rules as scanner.record, so that both agree on every
// record boundary. Text after a closing quote makes a bad record that
// ends at the next line break, and a quoted field never closed runs to
// the end of the input. It can be fed the input in pieces, so it finds
// the end of records longer than any buffer, and it finds chunk
// boundaries for parallel parsing. It jumps with bytes.IndexByte, so it
// runs much faster than a full scan.
type skipper struct {
	delim, quote byte
	state        skipState
	lines        int // line breaks passed, the record's final one included
}

// feed advances over data, the continuation of the record. It returns the
// index just after the '\n' that ends the record, or -1 when the record
// goes on after data (at the end of the input, it ends there).
func (k *skipper) feed(data []byte) int {
	i := 0
	for i < len(data) {
		switch k.state {
		case skipFieldStart:
			if data[i] == k.quote {
				k.state = skipQuoted
				i++
				continue
			}
			k.state = skipUnquoted
			fallthrough
		case skipUnquoted:
			end := len(data)
			if n := bytes.IndexByte(data[i:], '\n'); n >= 0 {
				end = i + n
			}
			opened := false
			for j := i; j < end; {
				q := bytes.IndexByte(data[j:end], k.quote)
				if q < 0 {
					break
				}
				q += j
				// A quote opens a field only right after a delimiter.
				// (On entering this state at i, data[i] is no quote, and
				// a piece that ended with a delimiter left the state at
				// skipFieldStart, so q > i here whenever it matters.)
				if q > i && data[q-1] == k.delim {
					k.state = skipQuoted
					i = q + 1
					opened = true
					break
				}
				j = q + 1
			}
			if opened {
				continue
			}
			if end < len(data) {
				k.lines++
				return end + 1
			}
			if data[len(data)-1] == k.delim {
				k.state = skipFieldStart
			}
			return -1
		case skipQuoted:
			q := bytes.IndexByte(data[i:], k.quote)
			if q < 0 {
				k.lines += bytes.Count(data[i:], newline)
				return -1
			}
			k.lines += bytes.Count(data[i:i+q], newline)
			k.state = skipAfterQuote
			i += q + 1
		case skipAfterQuote:
			switch data[i] {
			case k.quote:
				k.state = skipQuoted
				i++
			case k.delim:
				k.state = skipFieldStart
				i++
			case '\n':
				k.lines++
				return i + 1
			default:
				k.state = skipToLineEnd
			}
		case skipToLineEnd:
			n := bytes.IndexByte(data[i:], '\n')
			if n < 0 {
				return -1
			}
			k.lines++
			return i + n + 1
		}
	}
	return -1
}
