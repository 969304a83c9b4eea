package csvio

import (
	"errors"
	"strings"
	"testing"

	"github.com/alur-ml/alur/ml/tablepb"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name   string
		sample string
		opts   Options
		want   Dialect
	}{
		{name: "comma", sample: "a,b,c\n1,2,3\n", want: Dialect{',', '"', 0, true}},
		{name: "semicolon with decimal commas", sample: "a;b\n1,5;2,5\n3;4\n", want: Dialect{';', '"', 0, true}},
		{name: "tab", sample: "a\tb\tc\n1\t2\t3\n4\t5\t6\n", want: Dialect{'\t', '"', 0, true}},
		{name: "pipe", sample: "a|b\nx, y|1\nz|2\n", want: Dialect{'|', '"', 0, true}},
		{name: "commas inside quotes ignored", sample: "a;b\n\"1,2,3\";4\n\"5,6,7\";8\n", want: Dialect{';', '"', 0, true}},
		{name: "quoted line breaks", sample: "a;b\n\"x\ny,z\";1\n2;3\n", want: Dialect{';', '"', 0, true}},
		{name: "single quotes", sample: "a,b\n'x, y',1\n'z',2\n", want: Dialect{',', '\'', 0, true}},
		{name: "apostrophes are not quotes", sample: "name,n\nO'Brien,1\n'tis,2\n", want: Dialect{',', '"', 0, true}},
		{name: "both quotes: double wins", sample: "a,b\n\"x\",'y'\n", want: Dialect{',', '"', 0, true}},
		{name: "one column", sample: "a\n1\n2\n", want: Dialect{',', '"', 0, true}},
		{name: "one column of text with semicolons", sample: "text\nhello; world\nfoo; bar\n", want: Dialect{',', '"', 0, true}},
		{name: "the most consistent candidate wins", sample: "a;b,c\n1;2,3\n4;5\n", want: Dialect{';', '"', 0, true}},
		{name: "comment preamble", sample: "# exported 2024-01-01; by tool, v2\n# a|b\nx;y\n1;2\n", want: Dialect{';', '"', '#', true}},
		{name: "no comment detection", sample: "#id,v\n1,2\n", opts: Options{NoComments: true}, want: Dialect{',', '"', 0, true}},
		{name: "byte order mark", sample: "\xef\xbb\xbfa;b\n1;2\n", want: Dialect{';', '"', 0, true}},
		{name: "given delimiter and quote", sample: "a;b\n1;2\n", opts: Options{Delimiter: '|', Quote: '\'', Comment: '%', NoHeader: true}, want: Dialect{'|', '\'', '%', false}},
		{name: "truncated last line", sample: "a;b;c\n1;2;3\n4;5;6\n7;", want: Dialect{';', '"', 0, true}},
		{name: "empty", sample: "", want: Dialect{',', '"', 0, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Detect([]byte(tc.sample), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Detect = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDetectInvalidOptions(t *testing.T) {
	tests := []struct {
		opts  Options
		field string
	}{
		{Options{Delimiter: '"'}, "delimiter"},
		{Options{Delimiter: ';', Quote: ';'}, "quote"},
		{Options{Quote: '\n'}, "quote"},
		{Options{Quote: 0xe9}, "quote"},
		{Options{Delimiter: ',', Comment: ','}, "comment"},
		{Options{Comment: ','}, ""},
		{Options{Comment: '\''}, ""},
		{Options{Comment: '\'', Quote: '\''}, "comment"},
		{Options{Comment: '\r'}, "comment"},
		{Options{MaxBadRows: -1}, "max_bad_rows"},
		{Options{MaxLineBytes: -1}, "max_line_bytes"},
	}
	for _, tc := range tests {
		_, err := Detect([]byte("a,b\n"), tc.opts)
		var fe *tablepb.FieldError
		if tc.field == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.opts, err)
			}
			continue
		}
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: error %v, want a FieldError on %q", tc.opts, err, tc.field)
		}
	}
}

func TestDialectString(t *testing.T) {
	for _, tc := range []struct {
		d    Dialect
		want string
	}{
		{Dialect{';', '"', '#', true}, `delimiter ";" quote "\"" comment "#" header`},
		{Dialect{'\t', '\'', 0, false}, `delimiter "\t" quote "'" no header`},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("String() = %s, want %s", got, tc.want)
		}
	}
}

// TestReadDetected reads files whose dialect only detection knows.
func TestReadDetected(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		opts    Options
		want    []want
		dialect string
	}{
		{
			name:    "semicolons and decimal commas",
			input:   "city;temp\nZürich;1,5\nBern;2\n",
			want:    []want{{"city", cat, []string{"Zürich", "Bern"}, nil}, {"temp", cat, []string{"1,5", "2"}, nil}},
			dialect: `delimiter ";" quote "\"" header`,
		},
		{
			name:    "single quotes and a comment preamble",
			input:   "# made by hand\n# two lines\nname,n\n'Smith, J',1\n'O''Neil',2\n# a comment between rows\n'x',3\n",
			want:    []want{{"name", cat, []string{"Smith, J", "O'Neil", "x"}, nil}, {"n", num, []string{"1", "2", "3"}, nil}},
			dialect: `delimiter "," quote "'" comment "#" header`,
		},
		{
			name:    "tabs without header",
			input:   "1\tyes\n2\tno\n",
			opts:    Options{NoHeader: true},
			want:    []want{{"col_1", num, []string{"1", "2"}, nil}, {"col_2", boo, []string{"true", "false"}, nil}},
			dialect: `delimiter "\t" quote "\"" no header`,
		},
		{
			name:    "hash header with comments off",
			input:   "#,v\n1,2\n",
			opts:    Options{NoComments: true},
			want:    []want{{"#", num, []string{"1"}, nil}, {"v", num, []string{"2"}, nil}},
			dialect: `delimiter "," quote "\"" header`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab, rep, err := readAllWays(t, tc.input, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Dialect != tc.dialect {
				t.Errorf("dialect %s, want %s", rep.Dialect, tc.dialect)
			}
			for i, w := range tc.want {
				c := tab.Columns[i]
				if c.Name != w.name || c.Type != w.typ || strings.Join(cells(c), "|") != strings.Join(w.cells, "|") {
					t.Errorf("column %d = %q %v %q, want %q %v %q", i, c.Name, c.Type, cells(c), w.name, w.typ, w.cells)
				}
			}
		})
	}
}

// FuzzDetect checks that detection never panics, returns a dialect that
// reading accepts, and that reading with it never panics and agrees with
// reading with detection.
func FuzzDetect(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a;b\n1,5;2\n", "# c\nx\ty\n1\t2\n", "a|b\n'x|y'|1\n", "\"a\nb\";c\n", "\xef\xbb\xbf'"} {
		f.Add([]byte(s), byte(0), byte(0), false)
	}
	f.Add([]byte("a b\n1 2\n"), byte(' '), byte('\''), true)
	f.Fuzz(func(t *testing.T, sample []byte, delim, quote byte, noComments bool) {
		opts := Options{Delimiter: rune(delim), Quote: quote, NoComments: noComments, MaxBadRows: 3}
		d, err := Detect(sample, opts)
		if err != nil {
			var fe *tablepb.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FieldError", err)
			}
			return
		}
		if d.Delimiter == 0 || d.Quote == 0 || d.Delimiter == d.Quote || d.Comment != 0 && (d.Comment == d.Delimiter || d.Comment == d.Quote) {
			t.Fatalf("invalid dialect %+v", d)
		}
		fixed := Options{Delimiter: rune(d.Delimiter), Quote: d.Quote, Comment: d.Comment, NoComments: true, MaxBadRows: 3}
		if err := checkOptions(fixed); err != nil {
			t.Fatalf("dialect %+v refused: %v", d, err)
		}
		tab, _, err := ReadAll(strings.NewReader(string(sample)), fixed)
		tab2, _, err2 := ReadAll(strings.NewReader(string(sample)), opts)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("detected dialect: %v; detection: %v", err, err2)
		}
		if err == nil && tablepb.Digest(tab) != tablepb.Digest(tab2) {
			t.Fatal("reading with the detected dialect gives another table")
		}
	})
}
