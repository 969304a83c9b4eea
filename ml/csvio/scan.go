package csvio

import "bytes"

// scanner splits records following RFC 4180: fields separated by a
// delimiter, records ended by "\n" or "\r\n", fields optionally enclosed
// in double quotes, inside which delimiters and line breaks are data and
// "" stands for one quote. A quote inside an unquoted field is data, as
// in most spreadsheet exports. Fields are slices of the input; only
// quoted fields with "" escapes are copied, into scratch.
type scanner struct {
	delim   byte
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
		if i < len(data) && data[i] == '"' {
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
		k := bytes.IndexByte(data[i:], '"')
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
		if q+1 < len(data) && data[q+1] == '"' {
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
