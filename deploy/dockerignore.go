package deploy

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"
)

// IgnoreRules is a parsed .dockerignore: the files a build context leaves
// out, so a COPY in the Dockerfile never sees them.
type IgnoreRules struct {
	rules []ignoreRule
}

type ignoreRule struct {
	pattern string
	negate  bool
	re      *regexp.Regexp
}

// ParseIgnore reads .dockerignore rules as the Docker builder interprets
// them: one pattern a line, "#" lines are comments, a leading "!" re-includes
// what an earlier pattern excluded, patterns are cleaned paths relative to
// the context root (UTF-8 text), "*" and "?" and "[…]" match within one path element (Go's
// path.Match syntax), and "**" matches any number of elements.
func ParseIgnore(r io.Reader) (*IgnoreRules, error) {
	var ir IgnoreRules
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		p := strings.TrimSpace(sc.Text())
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if !utf8.ValidString(p) {
			return nil, fmt.Errorf(".dockerignore line %d: not valid UTF-8", line)
		}
		rule := ignoreRule{}
		if strings.HasPrefix(p, "!") {
			rule.negate = true
			p = strings.TrimSpace(p[1:])
		}
		p = strings.TrimPrefix(path.Clean("/"+p), "/")
		if p == "" {
			return nil, fmt.Errorf(".dockerignore line %d: the pattern names the whole context", line)
		}
		re, err := globToRegexp(p)
		if err != nil {
			return nil, fmt.Errorf(".dockerignore line %d: %w", line, err)
		}
		rule.pattern, rule.re = p, re
		ir.rules = append(ir.rules, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read .dockerignore: %w", err)
	}
	return &ir, nil
}

// Excluded reports whether the slash-separated path p, relative to the
// context root, is left out of the build context: the last rule that matches
// p or one of its parent directories decides, as in the Docker builder.
func (ir *IgnoreRules) Excluded(p string) bool {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	excluded := false
	for _, r := range ir.rules {
		if r.matches(p) {
			excluded = !r.negate
		}
	}
	return excluded
}

// matches tries the rule on p and on each of p's parent directories, since
// excluding a directory excludes everything below it.
func (r ignoreRule) matches(p string) bool {
	for q := p; q != "." && q != "" && q != "/"; q = path.Dir(q) {
		if r.re.MatchString(q) {
			return true
		}
	}
	return false
}

// globToRegexp translates one .dockerignore pattern into an anchored
// regular expression.
func globToRegexp(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '*':
			if i+1 < len(p) && p[i+1] == '*' {
				i++
				if i+1 < len(p) && p[i+1] == '/' {
					i++
					b.WriteString("(?:.*/)?")
				} else {
					b.WriteString(".*")
				}
				continue
			}
			b.WriteString("[^/]*")
		case '?':
			b.WriteString("[^/]")
		case '[':
			j := i + 1
			if j < len(p) && (p[j] == '!' || p[j] == '^') {
				j++
			}
			if j < len(p) && p[j] == ']' {
				j++
			}
			for j < len(p) && p[j] != ']' {
				if p[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(p) {
				return nil, fmt.Errorf("pattern %q: unterminated character class", p)
			}
			class := p[i+1 : j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			if strings.Contains(class, "[") {
				return nil, fmt.Errorf("pattern %q: nested character class", p)
			}
			b.WriteString("[" + class + "]")
			i = j
		case '\\':
			if i+1 >= len(p) {
				return nil, fmt.Errorf("pattern %q: trailing backslash", p)
			}
			_, size := utf8.DecodeRuneInString(p[i+1:])
			b.WriteString(regexp.QuoteMeta(p[i+1 : i+1+size]))
			i += size
		default:
			_, size := utf8.DecodeRuneInString(p[i:])
			b.WriteString(regexp.QuoteMeta(p[i : i+size]))
			i += size - 1
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", p, err)
	}
	return re, nil
}
