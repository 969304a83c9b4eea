// Package deploy checks alur's deployment definitions without a container
// engine or a cluster: it parses the services' Dockerfiles and .dockerignore,
// renders the kustomize trees under k8s/ and decodes every rendered object
// strictly into the Kubernetes API types. Its tests are the CI gate for
// deploy/ and services/*/Dockerfile; what they can and cannot prove is
// written next to each check.
package deploy

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Instruction is one Dockerfile instruction after line continuations are
// joined: its keyword in upper case, the raw text after the keyword, and the
// line it starts on (1-based).
type Instruction struct {
	Cmd  string
	Args string
	Line int
}

// Stage is one build stage: the FROM image, the optional stage name given
// with AS, and the instructions that follow it.
type Stage struct {
	From         ImageRef
	Name         string
	Platform     string
	Instructions []Instruction
}

// Dockerfile is a parsed Dockerfile: the ARG instructions before the first
// FROM, then the stages in order (the last one is the image that ships).
type Dockerfile struct {
	GlobalArgs []Instruction
	Stages     []Stage
}

// Final returns the stage that produces the image.
func (d *Dockerfile) Final() *Stage {
	return &d.Stages[len(d.Stages)-1]
}

// Stage returns the stage named name (case-insensitive, as Docker compares
// stage names), or nil.
func (d *Dockerfile) Stage(name string) *Stage {
	for i := range d.Stages {
		if strings.EqualFold(d.Stages[i].Name, name) {
			return &d.Stages[i]
		}
	}
	return nil
}

// All returns the stage's instructions with keyword cmd, in order.
func (s *Stage) All(cmd string) []Instruction {
	var out []Instruction
	for _, in := range s.Instructions {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// knownInstructions are the Dockerfile keywords of the Dockerfile reference.
// An unknown keyword is almost always a typo that docker build would reject,
// so the parser rejects it too.
var knownInstructions = map[string]bool{
	"ADD": true, "ARG": true, "CMD": true, "COPY": true, "ENTRYPOINT": true,
	"ENV": true, "EXPOSE": true, "FROM": true, "HEALTHCHECK": true,
	"LABEL": true, "MAINTAINER": true, "ONBUILD": true, "RUN": true,
	"SHELL": true, "STOPSIGNAL": true, "USER": true, "VOLUME": true,
	"WORKDIR": true,
}

// ParseDockerfile reads a Dockerfile in the classic syntax: comment lines,
// blank lines, instructions continued with a trailing backslash (the
// default escape character; an "escape" parser directive is rejected rather
// than half-supported), and heredocs rejected for the same reason. It
// checks that the file has at least one FROM, that only ARG comes before
// it, and that every FROM names an image reference.
func ParseDockerfile(r io.Reader) (*Dockerfile, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var (
		d       Dockerfile
		cur     strings.Builder
		curLine int
		lineNo  int
		inCont  bool
		sawCode bool
	)
	flush := func() error {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return nil
		}
		kw, rest := text, ""
		if i := strings.IndexAny(text, " \t"); i >= 0 {
			kw, rest = text[:i], text[i+1:]
		}
		in := Instruction{Cmd: strings.ToUpper(kw), Args: strings.TrimSpace(rest), Line: curLine}
		if !knownInstructions[in.Cmd] {
			return fmt.Errorf("line %d: unknown instruction %q", in.Line, kw)
		}
		if strings.Contains(in.Args, "<<") && (in.Cmd == "RUN" || in.Cmd == "COPY" || in.Cmd == "ADD") {
			return fmt.Errorf("line %d: heredocs are not supported by this parser", in.Line)
		}
		switch {
		case in.Cmd == "FROM":
			st, err := parseFrom(in)
			if err != nil {
				return err
			}
			d.Stages = append(d.Stages, st)
		case len(d.Stages) == 0:
			if in.Cmd != "ARG" {
				return fmt.Errorf("line %d: %s before the first FROM", in.Line, in.Cmd)
			}
			d.GlobalArgs = append(d.GlobalArgs, in)
		default:
			st := &d.Stages[len(d.Stages)-1]
			st.Instructions = append(st.Instructions, in)
		}
		return nil
	}
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			if !sawCode && isDirective(trimmed) {
				name, _, _ := strings.Cut(strings.TrimSpace(trimmed[1:]), "=")
				if strings.EqualFold(strings.TrimSpace(name), "escape") {
					return nil, fmt.Errorf("line %d: the escape parser directive is not supported", lineNo)
				}
			}
			continue // comments may sit inside a continued instruction
		}
		if trimmed == "" {
			continue
		}
		sawCode = true
		if !inCont {
			curLine = lineNo
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			cur.WriteString(body)
			inCont = true
			continue
		}
		cur.WriteString(line)
		inCont = false
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read Dockerfile: %w", err)
	}
	if inCont {
		return nil, fmt.Errorf("line %d: the file ends inside a continued instruction", curLine)
	}
	if len(d.Stages) == 0 {
		return nil, errors.New("no FROM instruction")
	}
	return &d, nil
}

// directiveRE matches a parser directive such as "# syntax=docker/dockerfile:1".
var directiveRE = regexp.MustCompile(`^#\s*[A-Za-z]+\s*=`)

func isDirective(line string) bool { return directiveRE.MatchString(line) }

// parseFrom parses "FROM [--platform=P] image [AS name]".
func parseFrom(in Instruction) (Stage, error) {
	words := strings.Fields(in.Args)
	var st Stage
	for len(words) > 0 && strings.HasPrefix(words[0], "--") {
		flag, val, _ := strings.Cut(words[0], "=")
		if flag != "--platform" {
			return st, fmt.Errorf("line %d: unknown FROM flag %s", in.Line, flag)
		}
		st.Platform = val
		words = words[1:]
	}
	switch {
	case len(words) == 1:
	case len(words) == 3 && strings.EqualFold(words[1], "AS"):
		st.Name = words[2]
	default:
		return st, fmt.Errorf("line %d: FROM wants IMAGE [AS NAME], got %q", in.Line, in.Args)
	}
	ref, err := ParseImageRef(words[0])
	if err != nil {
		return st, fmt.Errorf("line %d: %w", in.Line, err)
	}
	st.From = ref
	return st, nil
}

// ImageRef is an image reference split into repository (with any registry
// host), tag and digest; either or both of the latter may be empty.
type ImageRef struct {
	Repository string
	Tag        string
	Digest     string
}

// String formats the reference as Docker writes it.
func (r ImageRef) String() string {
	s := r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Pinned reports whether the reference names a fixed version: a digest, or
// a tag other than "latest". An untagged reference means latest.
func (r ImageRef) Pinned() bool {
	return r.Digest != "" || (r.Tag != "" && r.Tag != "latest")
}

var (
	// The grammar of github.com/distribution/reference, restated: lower-case
	// path components separated by "/", ".", "_", "__" or "-" runs, an
	// optional registry host[:port] in front.
	repoRE   = regexp.MustCompile(`^(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	tagRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestRE = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$`)
)

// ParseImageRef splits and validates an image reference such as
// "golang:1.26", "gcr.io/distroless/static-debian12:nonroot" or
// "repo@sha256:…". The special name "scratch" is accepted untagged. Build
// arguments ("$VAR") are rejected: a checked Dockerfile names its images
// literally.
func ParseImageRef(s string) (ImageRef, error) {
	var r ImageRef
	if strings.Contains(s, "$") {
		return r, fmt.Errorf("image %q uses a build argument", s)
	}
	rest := s
	if name, digest, ok := strings.Cut(rest, "@"); ok {
		if !digestRE.MatchString(digest) {
			return r, fmt.Errorf("image %q: malformed digest", s)
		}
		r.Digest, rest = digest, name
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		r.Tag, rest = rest[i+1:], rest[:i]
		if !tagRE.MatchString(r.Tag) {
			return r, fmt.Errorf("image %q: malformed tag %q", s, r.Tag)
		}
	}
	if len(rest) > 255 || !repoRE.MatchString(rest) {
		return r, fmt.Errorf("image %q: malformed repository name", s)
	}
	r.Repository = rest
	return r, nil
}

// ExecForm decodes the JSON array form of CMD, ENTRYPOINT, RUN and the
// like (["/bin/app", "--flag"]). ok is false when the arguments are in shell
// form; err reports an array that is not valid JSON.
func (in Instruction) ExecForm() (args []string, ok bool, err error) {
	if !strings.HasPrefix(strings.TrimSpace(in.Args), "[") {
		return nil, false, nil
	}
	if err := json.Unmarshal([]byte(in.Args), &args); err != nil {
		return nil, true, fmt.Errorf("line %d: %s: exec form is not a JSON array of strings: %w", in.Line, in.Cmd, err)
	}
	return args, true, nil
}

// Flags splits off the leading --name[=value] options of COPY and ADD
// (such as --from=build or --chown=65532:65532) and returns them with the
// remaining arguments.
func (in Instruction) Flags() (flags map[string]string, rest []string) {
	flags = map[string]string{}
	words := strings.Fields(in.Args)
	for len(words) > 0 && strings.HasPrefix(words[0], "--") {
		name, val, _ := strings.Cut(words[0][2:], "=")
		flags[name] = val
		words = words[1:]
	}
	return flags, words
}

// EnvVars parses the ENV instruction's "KEY=VALUE ..." form (values may be
// quoted) or its legacy "KEY VALUE" form.
func (in Instruction) EnvVars() (map[string]string, error) {
	words, err := SplitWords(in.Args)
	if err != nil {
		return nil, fmt.Errorf("line %d: ENV: %w", in.Line, err)
	}
	out := map[string]string{}
	if len(words) == 0 {
		return nil, fmt.Errorf("line %d: ENV without a variable", in.Line)
	}
	if !strings.Contains(words[0], "=") {
		key, val, _ := strings.Cut(strings.TrimSpace(in.Args), " ")
		out[key] = strings.TrimSpace(val)
		return out, nil
	}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: ENV: %q is not KEY=VALUE", in.Line, w)
		}
		out[k] = v
	}
	return out, nil
}

// SplitWords splits a shell command line into words the way a POSIX shell
// does for simple commands: blanks separate words, single quotes keep text
// literally, double quotes keep text but honour backslash before " \ $ and
// `, and a backslash outside quotes escapes the next character. It does not
// expand variables or interpret operators; callers that need a simple
// command check for those themselves (HasShellSyntax).
func SplitWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
			in = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
			in = true
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// HasShellSyntax reports whether s uses shell syntax beyond a simple
// command with quoted words: operators, redirections, substitutions,
// variables or globs outside single quotes. A RUN line without them means
// exactly what SplitWords says it means.
func HasShellSyntax(s string) bool {
	inSingle := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			inSingle = !inSingle
		case inSingle:
		case strings.IndexByte(";&|<>$`*?(){}[]~#", c) >= 0:
			return true
		}
	}
	return false
}
