package csvio

import (
	"bytes"
	"fmt"
	"strings"
)

// SampleBytes is how much of the start of a file dialect detection reads.
const SampleBytes = 64 << 10

// binaryBytes is how much of the start of a file is checked for NUL bytes.
const binaryBytes = 8 << 10

// delimiterCandidates are the delimiters detection chooses among, in order
// of preference when they fit equally well.
var delimiterCandidates = []byte{',', ';', '\t', '|'}

// Dialect is what detection decided: how the file separates and quotes
// fields, which lines are comments, and whether it has a header row.
type Dialect struct {
	// Delimiter separates fields.
	Delimiter byte
	// Quote encloses fields holding delimiters, quotes or line breaks.
	Quote byte
	// Comment starts comment lines, or is 0 for none.
	Comment byte
	// Header says the first record names the columns.
	Header bool
}

// String describes the dialect for people and reports, such as
// `delimiter ";" quote "\"" comment "#" header`.
func (d Dialect) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "delimiter %q quote %q", string(rune(d.Delimiter)), string(rune(d.Quote)))
	if d.Comment != 0 {
		fmt.Fprintf(&b, " comment %q", string(rune(d.Comment)))
	}
	if d.Header {
		b.WriteString(" header")
	} else {
		b.WriteString(" no header")
	}
	return b.String()
}

// Detect sniffs the dialect from the start of a file (readers pass its
// first SampleBytes, after any byte order mark). Settings given in opts
// are kept; the others are chosen as follows.
//
//   - Comment: '#' when the first non-blank line starts with it (unless
//     opts.NoComments), else none.
//   - Delimiter: among ',', ';', '\t' and '|', the one that splits the
//     sample's records (quoted sections ignored) most consistently: the
//     largest share of records having the most common field count, which
//     must exceed 1 and be the field count of the first record (the
//     header). Ties go to the larger field count, then to the order
//     above. When no candidate splits the lines, ',' (or the first
//     candidate that is not the quote or comment character).
//   - Quote: '\” when some field of the sample is enclosed in it and none
//     in '"', else '"'.
//
// The header is not sniffed: Header is !opts.NoHeader. Errors are
// *tablepb.FieldError for invalid options.
func Detect(sample []byte, opts Options) (Dialect, error) {
	if err := checkOptions(opts); err != nil {
		return Dialect{}, err
	}
	sample = bytes.TrimPrefix(sample, bom)
	d := Dialect{Delimiter: byte(opts.Delimiter), Quote: opts.Quote, Comment: opts.Comment, Header: !opts.NoHeader}
	if d.Comment == 0 && !opts.NoComments && d.Delimiter != '#' && d.Quote != '#' {
		if pos, _ := skipBlank(sample, 0); pos < len(sample) && sample[pos] == '#' {
			d.Comment = '#'
		}
	}
	quote := d.Quote
	if quote == 0 {
		quote = '"'
	}
	if d.Delimiter == 0 {
		d.Delimiter = sniffDelimiter(sample, quote, d.Comment)
	}
	if d.Quote == 0 {
		d.Quote = '"'
		if d.Delimiter != '\'' && d.Comment != '\'' && quotedFields(sample, d.Delimiter, '\'', d.Comment) > 0 && quotedFields(sample, d.Delimiter, '"', d.Comment) == 0 {
			d.Quote = '\''
			if opts.Delimiter == 0 {
				d.Delimiter = sniffDelimiter(sample, '\'', d.Comment)
			}
		}
	}
	return d, nil
}

// sniffDelimiter picks the delimiter as Detect describes.
func sniffDelimiter(sample []byte, quote, comment byte) byte {
	best, bestShare, bestCount := byte(0), 0.0, 0
	for _, c := range delimiterCandidates {
		if c == quote || c == comment {
			continue
		}
		if best == 0 {
			best = c // the fallback
		}
		counts := make(map[int]int)
		records, first := 0, 0
		r := inMemory(Dialect{Delimiter: c, Quote: quote, Comment: comment}, len(sample)+1, sample, 0, 1)
		for {
			rec, ok, _ := r.next()
			if !ok {
				break
			}
			records++
			if rec.bad == "" {
				counts[len(r.scan.fields)]++
				if records == 1 {
					first = len(r.scan.fields)
				}
			}
		}
		mode, freq := 0, 0
		for n, f := range counts {
			if f > freq || f == freq && n > mode {
				mode, freq = n, f
			}
		}
		if mode <= 1 || first != mode {
			continue
		}
		share := float64(freq) / float64(records)
		if share > bestShare || share == bestShare && mode > bestCount {
			best, bestShare, bestCount = c, share, mode
		}
	}
	return best
}

// quotedFields counts the fields of sample that are enclosed in quote:
// the quote opens a field (at a line start or after the delimiter) and its
// closing quote is followed by the delimiter or a line end. Comment lines
// are ignored.
func quotedFields(sample []byte, delim, quote, comment byte) int {
	n := 0
	for _, line := range bytes.Split(sample, newline) {
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) > 0 && line[0] == comment && comment != 0 {
			continue
		}
		for _, f := range bytes.Split(line, []byte{delim}) {
			f = trim(f)
			if len(f) >= 2 && f[0] == quote && f[len(f)-1] == quote {
				n++
			}
		}
	}
	return n
}
