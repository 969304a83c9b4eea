package deploy

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// GoImage is what a Dockerfile that builds one Go binary into a minimal
// image says, as far as CheckGoImage can tell without running it.
type GoImage struct {
	// Builder is the stage that runs go build; Final ships.
	Builder, Final *Stage
	// Env holds the builder stage's ENV variables.
	Env map[string]string
	// WorkDir is the directory go build runs in, inside the builder.
	WorkDir string
	// BuildArgs are the words after "go build", flags and package.
	BuildArgs []string
	// Package is the package built, relative to WorkDir (such as ./cmd/train).
	Package string
	// Output is go build's -o path inside the builder.
	Output string
	// Binary is where the final stage puts the binary; Entrypoint[0] is it.
	Binary     string
	Entrypoint []string
	// UID and GID are the final stage's numeric USER (GID is -1 when unset).
	UID, GID int
	// Exposed are the final stage's EXPOSE ports.
	Exposed []int
	copies  []copyRule
}

// copyRule is one COPY of the builder stage: a source path in the build
// context and where it lands (dest is absolute; dir is true when the source
// is a directory copied as a tree).
type copyRule struct {
	src  string
	dest string
	dir  bool
}

// ContainerPaths returns every path inside the builder where the context
// file f (slash-separated, relative to the context root) is copied to.
func (g *GoImage) ContainerPaths(f string) []string {
	var out []string
	for _, c := range g.copies {
		switch {
		case c.dir && (c.src == "." || strings.HasPrefix(f, c.src+"/")):
			rel := f
			if c.src != "." {
				rel = strings.TrimPrefix(f, c.src+"/")
			}
			out = append(out, path.Join(c.dest, rel))
		case !c.dir && c.src == f:
			out = append(out, c.dest)
		}
	}
	return out
}

// minimalBases are the final-stage images accepted: no shell, no package
// manager, no C library (so the binary must be static).
var minimalBases = []string{"scratch", "gcr.io/distroless/static", "gcr.io/distroless/static-debian"}

func isMinimalBase(repo string) bool {
	for _, b := range minimalBases {
		if repo == b || strings.HasPrefix(repo, b) && strings.Trim(repo[len(b):], "0123456789") == "" {
			return true
		}
	}
	return false
}

// CheckGoImage reads a multi-stage Dockerfile that builds one Go binary
// and checks the rules alur's images keep: every base image pinned to a tag
// or digest (not latest), a final stage FROM scratch or distroless/static
// running as a numeric non-root USER, an exec-form ENTRYPOINT that starts
// the binary the final stage copies from the builder, a builder with
// CGO_ENABLED=0 in its ENV and exactly one RUN that is a plain
// "go build -trimpath -ldflags='-s -w' -o OUT ./PKG" (no shell operators,
// so the words mean what they say), and COPY instructions without
// wildcards (a directory source is written with a trailing slash). It
// returns what it found and every violation.
func CheckGoImage(d *Dockerfile) (*GoImage, []error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	g := &GoImage{Env: map[string]string{}, UID: -1, GID: -1}
	for _, st := range d.Stages {
		if st.From.Repository == "scratch" || d.Stage(st.From.Repository) != nil {
			continue
		}
		if !st.From.Pinned() {
			bad("FROM %s: not pinned to a tag or digest", st.From)
		}
	}
	if len(d.Stages) < 2 {
		bad("want a multi-stage build (a builder, then a minimal final stage), got %d stage(s)", len(d.Stages))
		return g, errs
	}
	g.Final = d.Final()
	if !isMinimalBase(g.Final.From.Repository) {
		bad("final stage FROM %s: want scratch or gcr.io/distroless/static*", g.Final.From)
	}
	g.checkUser(bad)
	g.checkEntrypoint(bad)
	for _, in := range g.Final.All("EXPOSE") {
		for _, w := range strings.Fields(in.Args) {
			p, proto, _ := strings.Cut(w, "/")
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 || proto != "" && proto != "tcp" {
				bad("line %d: EXPOSE %s: want a TCP port number", in.Line, w)
				continue
			}
			g.Exposed = append(g.Exposed, n)
		}
	}
	// The builder is the stage the binary is copied from.
	var fromStage string
	for _, in := range g.Final.All("COPY") {
		flags, words := in.Flags()
		if len(words) != 2 || flags["from"] == "" {
			continue
		}
		dest := words[1]
		if strings.HasSuffix(dest, "/") {
			dest = path.Join(dest, path.Base(words[0]))
		}
		if dest == g.Binary && g.Binary != "" {
			fromStage, g.Output = flags["from"], words[0]
		}
	}
	if fromStage == "" {
		bad("the final stage copies no binary from a build stage to the ENTRYPOINT path %q", g.Binary)
		return g, errs
	}
	if g.Builder = d.Stage(fromStage); g.Builder == nil {
		bad("COPY --from=%s: no such stage", fromStage)
		return g, errs
	}
	g.checkBuilder(bad)
	return g, errs
}

func (g *GoImage) checkUser(bad func(string, ...any)) {
	users := g.Final.All("USER")
	if len(users) == 0 {
		bad("final stage has no USER: the image would run as root")
		return
	}
	u := users[len(users)-1]
	uid, gid, hasGID := strings.Cut(strings.TrimSpace(u.Args), ":")
	n, err := strconv.Atoi(uid)
	if err != nil || n <= 0 {
		bad("line %d: USER %s: want a numeric non-root uid (a name cannot be checked against runAsNonRoot)", u.Line, u.Args)
		return
	}
	g.UID = n
	if hasGID {
		m, err := strconv.Atoi(gid)
		if err != nil || m <= 0 {
			bad("line %d: USER %s: want a numeric non-root gid", u.Line, u.Args)
			return
		}
		g.GID = m
	}
}

func (g *GoImage) checkEntrypoint(bad func(string, ...any)) {
	eps := g.Final.All("ENTRYPOINT")
	if len(eps) == 0 {
		bad("final stage has no ENTRYPOINT")
		return
	}
	ep := eps[len(eps)-1]
	args, ok, err := ep.ExecForm()
	switch {
	case err != nil:
		bad("%v", err)
	case !ok:
		bad("line %d: ENTRYPOINT must use the exec form: a minimal image has no shell", ep.Line)
	case len(args) == 0 || !path.IsAbs(args[0]):
		bad("line %d: ENTRYPOINT must start with the binary's absolute path", ep.Line)
	default:
		g.Entrypoint, g.Binary = args, args[0]
	}
}

func (g *GoImage) checkBuilder(bad func(string, ...any)) {
	workdir := "/"
	var builds []Instruction
	for _, in := range g.Builder.Instructions {
		switch in.Cmd {
		case "ENV":
			vars, err := in.EnvVars()
			if err != nil {
				bad("%v", err)
			}
			for k, v := range vars {
				g.Env[k] = v
			}
		case "WORKDIR":
			w := strings.TrimSpace(in.Args)
			if !path.IsAbs(w) {
				w = path.Join(workdir, w)
			}
			workdir = path.Clean(w)
		case "ADD":
			bad("line %d: use COPY, not ADD (no remote URLs or archives)", in.Line)
		case "COPY":
			g.addCopy(in, workdir, bad)
		case "RUN":
			if strings.Contains(in.Args, "go build") {
				builds = append(builds, in)
				g.WorkDir = workdir
			}
		}
	}
	if g.Env["CGO_ENABLED"] != "0" {
		bad("builder stage: want ENV CGO_ENABLED=0 (a static binary for a base image without libc)")
	}
	if len(builds) != 1 {
		bad("builder stage: want exactly one RUN with go build, found %d", len(builds))
		return
	}
	run := builds[0]
	if HasShellSyntax(run.Args) {
		bad("line %d: the go build RUN must be one simple command (no operators, variables or globs)", run.Line)
		return
	}
	words, err := SplitWords(run.Args)
	if err != nil || len(words) < 3 || words[0] != "go" || words[1] != "build" {
		bad("line %d: want RUN go build ..., got %q", run.Line, run.Args)
		return
	}
	g.BuildArgs = words[2:]
	var trimpath, stripped bool
	var pkgs []string
	for i := 0; i < len(g.BuildArgs); i++ {
		a := g.BuildArgs[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			pkgs = append(pkgs, a)
			continue
		}
		if !hasVal && (name == "o" || name == "ldflags" || name == "tags" || name == "gcflags") && i+1 < len(g.BuildArgs) {
			i++
			val = g.BuildArgs[i]
		}
		switch name {
		case "trimpath":
			trimpath = true
		case "ldflags":
			f := strings.Fields(val)
			stripped = slices.Contains(f, "-s") && slices.Contains(f, "-w")
		case "o":
			if val != g.Output {
				bad("line %d: go build -o %s, but the final stage copies %s", run.Line, val, g.Output)
			}
		}
	}
	if !trimpath {
		bad("line %d: go build without -trimpath (the binary would embed builder paths)", run.Line)
	}
	if !stripped {
		bad("line %d: go build without -ldflags='-s -w'", run.Line)
	}
	if len(pkgs) != 1 || !strings.HasPrefix(pkgs[0], "./") {
		bad("line %d: want exactly one package, as a ./relative path, got %v", run.Line, pkgs)
		return
	}
	g.Package = pkgs[0]
}

func (g *GoImage) addCopy(in Instruction, workdir string, bad func(string, ...any)) {
	flags, words := in.Flags()
	if flags["from"] != "" {
		return
	}
	if len(words) < 2 {
		bad("line %d: COPY wants a source and a destination", in.Line)
		return
	}
	srcs, dest := words[:len(words)-1], words[len(words)-1]
	if !path.IsAbs(dest) {
		trailing := strings.HasSuffix(dest, "/")
		dest = path.Join(workdir, dest)
		if trailing {
			dest += "/"
		}
	}
	for _, s := range srcs {
		if strings.ContainsAny(s, "*?[") {
			bad("line %d: COPY %s: wildcards are not supported by this check", in.Line, s)
			continue
		}
		clean := path.Clean(s)
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			bad("line %d: COPY %s: outside the build context", in.Line, s)
			continue
		}
		isDir := strings.HasSuffix(s, "/") || clean == "."
		switch {
		case isDir:
			g.copies = append(g.copies, copyRule{src: clean, dest: path.Clean(dest), dir: true})
		case strings.HasSuffix(dest, "/") || len(srcs) > 1:
			g.copies = append(g.copies, copyRule{src: clean, dest: path.Join(dest, path.Base(clean))})
		default:
			g.copies = append(g.copies, copyRule{src: clean, dest: path.Clean(dest)})
		}
	}
}
