package deploy

import (
	"slices"
	"strings"
	"testing"
)

func TestParseDockerfile(t *testing.T) {
	src := `# syntax=docker/dockerfile:1
# a comment
ARG GO=1.26
FROM --platform=linux/amd64 golang:1.26 AS build
ENV CGO_ENABLED=0 \
    GOWORK=off
# a comment inside a continuation is dropped
RUN go build \
  -o /out/x ./cmd/x

from gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/x /x
USER 65532:65532
ENTRYPOINT ["/x", "--addr", "0.0.0.0:1"]
`
	d, err := ParseDockerfile(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.GlobalArgs) != 1 || len(d.Stages) != 2 {
		t.Fatalf("got %d global ARGs and %d stages; want 1 and 2", len(d.GlobalArgs), len(d.Stages))
	}
	b := d.Stage("BUILD")
	if b == nil || b.From.String() != "golang:1.26" || b.Platform != "linux/amd64" {
		t.Fatalf("build stage = %+v", b)
	}
	wantCmds := []string{"ENV", "RUN"}
	var cmds []string
	for _, in := range b.Instructions {
		cmds = append(cmds, in.Cmd)
	}
	if !slices.Equal(cmds, wantCmds) {
		t.Errorf("build instructions %v; want %v", cmds, wantCmds)
	}
	run := b.All("RUN")[0]
	if run.Line != 8 || strings.Join(strings.Fields(run.Args), " ") != "go build -o /out/x ./cmd/x" {
		t.Errorf("RUN = %+v", run)
	}
	env, err := b.All("ENV")[0].EnvVars()
	if err != nil || env["CGO_ENABLED"] != "0" || env["GOWORK"] != "off" {
		t.Errorf("ENV = %v, %v", env, err)
	}
	f := d.Final()
	if f.From.Repository != "gcr.io/distroless/static-debian12" || f.From.Tag != "nonroot" {
		t.Errorf("final FROM %s", f.From)
	}
	ep, ok, err := f.All("ENTRYPOINT")[0].ExecForm()
	if !ok || err != nil || !slices.Equal(ep, []string{"/x", "--addr", "0.0.0.0:1"}) {
		t.Errorf("ENTRYPOINT = %v, %v, %v", ep, ok, err)
	}
	flags, rest := f.All("COPY")[0].Flags()
	if flags["from"] != "build" || !slices.Equal(rest, []string{"/out/x", "/x"}) {
		t.Errorf("COPY flags %v rest %v", flags, rest)
	}
}

func TestParseDockerfileErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "no FROM"},
		{"only comments", "# nothing\n\n", "no FROM"},
		{"instruction before FROM", "RUN true\nFROM a:1\n", "RUN before the first FROM"},
		{"unknown instruction", "FROM a:1\nRUNN true\n", "unknown instruction"},
		{"dangling continuation", "FROM a:1\nRUN true \\\n", "ends inside"},
		{"bad FROM", "FROM a:1 b c\n", "FROM wants"},
		{"bad FROM flag", "FROM --pull=always a:1\n", "unknown FROM flag"},
		{"build arg image", "FROM golang:${GO}\n", "build argument"},
		{"escape directive", "# escape=`\nFROM a:1\n", "escape parser directive"},
		{"heredoc", "FROM a:1\nRUN <<EOF\ntrue\nEOF\n", "heredocs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDockerfile(strings.NewReader(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseDockerfile = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseImageRef(t *testing.T) {
	tests := []struct {
		in             string
		repo, tag, dig string
		pinned         bool
		wantErr        bool
	}{
		{in: "golang:1.26", repo: "golang", tag: "1.26", pinned: true},
		{in: "golang", repo: "golang"},
		{in: "golang:latest", repo: "golang", tag: "latest"},
		{in: "gcr.io/distroless/static-debian12:nonroot", repo: "gcr.io/distroless/static-debian12", tag: "nonroot", pinned: true},
		{in: "localhost:5000/alur-train", repo: "localhost:5000/alur-train"},
		{in: "localhost:5000/alur-train:v1", repo: "localhost:5000/alur-train", tag: "v1", pinned: true},
		{in: "alpine@sha256:" + strings.Repeat("ab", 32), repo: "alpine", dig: "sha256:" + strings.Repeat("ab", 32), pinned: true},
		{in: "alpine:3@sha256:" + strings.Repeat("0", 64), repo: "alpine", tag: "3", dig: "sha256:" + strings.Repeat("0", 64), pinned: true},
		{in: "Golang:1", wantErr: true},
		{in: "golang:", wantErr: true},
		{in: "golang:-x", wantErr: true},
		{in: "alpine@sha256:xyz", wantErr: true},
		{in: "", wantErr: true},
		{in: "a//b", wantErr: true},
		{in: "$IMAGE", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			r, err := ParseImageRef(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseImageRef(%q) = %+v; want an error", tc.in, r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Repository != tc.repo || r.Tag != tc.tag || r.Digest != tc.dig || r.Pinned() != tc.pinned {
				t.Errorf("got %+v pinned=%v; want repo %q tag %q digest %q pinned=%v", r, r.Pinned(), tc.repo, tc.tag, tc.dig, tc.pinned)
			}
			if r.String() != tc.in {
				t.Errorf("String() = %q; want %q", r.String(), tc.in)
			}
		})
	}
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "go build -ldflags='-s -w' ./cmd/x", want: []string{"go", "build", "-ldflags=-s -w", "./cmd/x"}},
		{in: `a "b c" d\ e`, want: []string{"a", "b c", "d e"}},
		{in: `"x\"y" 'p\q'`, want: []string{`x"y`, `p\q`}},
		{in: `"a\b"`, want: []string{`a\b`}},
		{in: "  a\tb  ", want: []string{"a", "b"}},
		{in: "''", want: []string{""}},
		{in: "", want: nil},
		{in: "'open", wantErr: true},
		{in: `"open`, wantErr: true},
		{in: `end\`, wantErr: true},
	}
	for _, tc := range tests {
		got, err := SplitWords(tc.in)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestHasShellSyntax(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"go build -ldflags='-s -w' -o /out/x ./cmd/x", false},
		{"go build -ldflags='$X' ./x", false},
		{"go build ./x && rm -rf /", true},
		{"go build ./x; true", true},
		{"go build -o $OUT ./x", true},
		{"go build ./cmd/*", true},
		{"go build ./x > log", true},
		{"go build $(pwd)", true},
	}
	for _, tc := range tests {
		if got := HasShellSyntax(tc.in); got != tc.want {
			t.Errorf("HasShellSyntax(%q) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func TestEnvVars(t *testing.T) {
	tests := []struct {
		args    string
		want    map[string]string
		wantErr bool
	}{
		{args: "A=1 B=two", want: map[string]string{"A": "1", "B": "two"}},
		{args: `A="x y" B=''`, want: map[string]string{"A": "x y", "B": ""}},
		{args: "LEGACY some value", want: map[string]string{"LEGACY": "some value"}},
		{args: "A=1 =2", wantErr: true},
		{args: "A=1 B", wantErr: true},
		{args: `A="open`, wantErr: true},
	}
	for _, tc := range tests {
		got, err := Instruction{Cmd: "ENV", Args: tc.args, Line: 1}.EnvVars()
		if (err != nil) != tc.wantErr {
			t.Errorf("EnvVars(%q) error = %v; want error %v", tc.args, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && !mapsEqual(got, tc.want) {
			t.Errorf("EnvVars(%q) = %v; want %v", tc.args, got, tc.want)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// FuzzParseDockerfile feeds arbitrary text to the parser: it must return a
// Dockerfile or an error, never panic, and a parsed file always has a stage
// whose FROM re-parses to the same reference.
func FuzzParseDockerfile(f *testing.F) {
	f.Add("FROM golang:1.26 AS build\nRUN go build \\\n -o /x ./cmd/x\nFROM scratch\nCOPY --from=build /x /x\nUSER 1:1\nENTRYPOINT [\"/x\"]\n")
	f.Add("# syntax=docker/dockerfile:1\nARG X\nFROM a@sha256:" + strings.Repeat("a", 64) + "\n")
	f.Add("FROM a:1\nENV A=\"b c\" D='e'\nEXPOSE 7000/tcp 8080\n")
	f.Add("\\\n\\")
	f.Fuzz(func(t *testing.T, src string) {
		d, err := ParseDockerfile(strings.NewReader(src))
		if err != nil {
			return
		}
		if len(d.Stages) == 0 {
			t.Fatal("parsed without a stage")
		}
		for _, st := range d.Stages {
			r, err := ParseImageRef(st.From.String())
			if err != nil || r != st.From {
				t.Fatalf("FROM %s does not re-parse: %+v, %v", st.From, r, err)
			}
			for _, in := range st.Instructions {
				_, _, _ = in.ExecForm()
				_, _ = in.Flags()
				if in.Cmd == "ENV" {
					_, _ = in.EnvVars()
				}
			}
		}
		_, _ = CheckGoImage(d)
	})
}

// FuzzSplitWords checks that SplitWords never panics and that quoting each
// word in single quotes (a quote inside written the POSIX way: close, escape
// it, reopen) splits back to the same words.
func FuzzSplitWords(f *testing.F) {
	f.Add(`go build -ldflags='-s -w' "./cmd/x"`)
	f.Add(`a\ b "c\"d" 'e'`)
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitWords(s)
		if err != nil {
			return
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
		}
		again, err := SplitWords(strings.Join(quoted, " "))
		if err != nil || !slices.Equal(again, words) {
			t.Fatalf("%q → %q → %q, %v", s, words, again, err)
		}
		_ = HasShellSyntax(s)
	})
}
