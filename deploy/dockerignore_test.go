package deploy

import (
	"strings"
	"testing"
)

func TestIgnoreExcluded(t *testing.T) {
	rules := `
# comment
.git
bin/
/dist
**/*_test.go
**/testdata
docs/*.md
!docs/keep.md
cmd/alur/alur
data?.csv
[ab]*.tmp
`
	ir, err := ParseIgnore(strings.NewReader(rules))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want bool
	}{
		{".git", true},
		{".git/config", true},
		{".github/workflows/ci.yml", false},
		{"bin/train", true},
		{"dist/x", true},
		{"services/train/train_test.go", true},
		{"train_test.go", true},
		{"services/train/train.go", false},
		{"services/train/testdata/a.csv", true},
		{"testdata/a.csv", true},
		{"docs/DESIGN.md", true},
		{"docs/keep.md", false},
		{"docs/sub/DESIGN.md", false},
		{"cmd/alur/alur", true},
		{"cmd/alur/alur.go", false},
		{"data1.csv", true},
		{"data12.csv", false},
		{"a1.tmp", true},
		{"c1.tmp", false},
		{"./bin/x", true},
	}
	for _, tc := range tests {
		if got := ir.Excluded(tc.path); got != tc.want {
			t.Errorf("Excluded(%q) = %v; want %v", tc.path, got, tc.want)
		}
	}
}

func TestParseIgnoreErrors(t *testing.T) {
	for _, src := range []string{"[abc", "/", "x\\", "."} {
		if _, err := ParseIgnore(strings.NewReader(src)); err == nil {
			t.Errorf("ParseIgnore(%q) = nil error; want one", src)
		}
	}
}

// FuzzParseIgnore: any pattern either fails to parse or yields rules that
// answer for any path without panicking, and a literal pattern (no
// metacharacters) excludes exactly its path and what lies below it.
func FuzzParseIgnore(f *testing.F) {
	f.Add("**/*_test.go", "a/b_test.go")
	f.Add("[!a]?", "bc")
	f.Add("docs", "docs/x/y")
	f.Fuzz(func(t *testing.T, pattern, p string) {
		ir, err := ParseIgnore(strings.NewReader(pattern))
		if err != nil {
			return
		}
		_ = ir.Excluded(p)
		lit := strings.TrimSpace(pattern)
		if lit == "" || strings.ContainsAny(lit, "*?[\\!#\n\r") || strings.Contains(lit, "..") || strings.Contains(lit, "//") ||
			strings.HasPrefix(lit, "/") || strings.HasSuffix(lit, "/") || strings.HasPrefix(lit, "./") || strings.Contains(lit, "/./") || lit == "." {
			return
		}
		if !ir.Excluded(lit) || !ir.Excluded(lit+"/child") {
			t.Fatalf("literal pattern %q does not exclude itself or its children", lit)
		}
		if ir.Excluded(lit + "x") {
			t.Fatalf("literal pattern %q excludes %q", lit, lit+"x")
		}
	})
}
