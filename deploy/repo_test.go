package deploy

// The checks in this file run on the repository itself: every service's
// Dockerfile, the .dockerignore, the binaries built the way the Dockerfiles
// build them, and the kustomize trees under k8s/. No container engine and no
// cluster are involved, so what they prove is bounded: the Dockerfiles are
// parsed and their go build is reproduced on the host (same module, same
// environment, same flags), but `docker build` itself and the base images
// are not exercised; the manifests are rendered by kustomize and decoded
// into the Kubernetes API types, but no API server admits them.

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the repository root: the deploy module sits one level below.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	return root
}

// serviceNames lists the services: every services/NAME with a command
// services/NAME/cmd/NAME. Each must have a Dockerfile.
func serviceNames(t testing.TB) []string {
	t.Helper()
	mains, err := filepath.Glob(filepath.Join(repoRoot(t), "services", "*", "cmd", "*", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mains {
		cmdDir := filepath.Dir(m)
		svcDir := filepath.Dir(filepath.Dir(cmdDir))
		if filepath.Base(cmdDir) == filepath.Base(svcDir) {
			names = append(names, filepath.Base(svcDir))
		}
	}
	if len(names) == 0 {
		t.Fatal("no services/NAME/cmd/NAME/main.go found")
	}
	return names
}

// loadImage parses and checks services/NAME/Dockerfile.
func loadImage(t testing.TB, name string) *GoImage {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "services", name, "Dockerfile"))
	if err != nil {
		t.Fatalf("service %s has no Dockerfile: %v", name, err)
	}
	defer f.Close()
	d, err := ParseDockerfile(f)
	if err != nil {
		t.Fatalf("services/%s/Dockerfile: %v", name, err)
	}
	img, errs := CheckGoImage(d)
	for _, e := range errs {
		t.Errorf("services/%s/Dockerfile: %v", name, e)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	return img
}

// defaultAddr reads the default of the service's --addr flag from its
// main.go, the address it listens on outside a container.
func defaultAddr(t testing.TB, name string) string {
	t.Helper()
	file := filepath.Join(repoRoot(t), "services", name, "cmd", name, "main.go")
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var addr string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "String" && sel.Sel.Name != "StringVar" {
			return true
		}
		args := call.Args
		if sel.Sel.Name == "StringVar" && len(args) > 0 {
			args = args[1:]
		}
		if len(args) < 2 || stringLit(args[0]) != "addr" {
			return true
		}
		addr = stringLit(args[1])
		return false
	})
	if addr == "" {
		t.Fatalf("%s: no flag.String(\"addr\", DEFAULT, ...) found", file)
	}
	return addr
}

func stringLit(e ast.Expr) string {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return ""
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		return ""
	}
	return s
}

func portOf(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return n
}

// goEnv is the environment for reproducing a Dockerfile's go build on the
// host: this process's environment with the builder's ENV on top.
func goEnv(img *GoImage) []string {
	env := os.Environ()
	for k, v := range img.Env {
		env = append(env, k+"="+v)
	}
	return env
}

// flagInfo says whether a command-line flag is boolean (takes no value).
type flagInfo struct{ isBool bool }

// built is one service binary, built once per test process.
type built struct {
	once  sync.Once
	bin   string
	flags map[string]flagInfo
	err   error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*built{}
	binDir   string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "alur-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildService runs the Dockerfile's go build on the host, in the service's
// module with the builder's environment and flags (only -o differs), and
// reads the binary's flags from its -h output.
func buildService(t testing.TB, name string) (string, map[string]flagInfo) {
	t.Helper()
	buildsMu.Lock()
	b := builds[name]
	if b == nil {
		b = &built{}
		builds[name] = b
	}
	buildsMu.Unlock()
	img := loadImage(t, name)
	b.once.Do(func() {
		b.bin = filepath.Join(binDir, name)
		args := []string{"build"}
		for i := 0; i < len(img.BuildArgs); i++ {
			a := img.BuildArgs[i]
			switch {
			case a == "-o" || a == "--o":
				i++
				continue
			case strings.HasPrefix(a, "-o=") || strings.HasPrefix(a, "--o="):
				continue
			case a == img.Package:
				args = append(args, "-o", b.bin)
			}
			args = append(args, a)
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = filepath.Join(repoRoot(t), "services", name)
		cmd.Env = goEnv(img)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go %s (in services/%s, %v): %v\n%s", strings.Join(args, " "), name, sortedEnv(img.Env), err, out)
			return
		}
		var out bytes.Buffer
		help := exec.Command(b.bin, "-h")
		help.Stdout, help.Stderr = &out, &out
		_ = help.Run() // -h exits 0 or 2 depending on the flag package's mode
		b.flags = parseUsage(out.String())
		if len(b.flags) == 0 {
			b.err = fmt.Errorf("%s -h listed no flags:\n%s", name, out.String())
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin, b.flags
}

func sortedEnv(env map[string]string) []string {
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// usageRE matches a flag line of the flag package's default usage:
// "  -name type" or "  -name" for a boolean.
var usageRE = regexp.MustCompile(`^  -([A-Za-z0-9][A-Za-z0-9_.-]*)(?:\s+(\S+))?`)

func parseUsage(s string) map[string]flagInfo {
	flags := map[string]flagInfo{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if m := usageRE.FindStringSubmatch(sc.Text()); m != nil {
			flags[m[1]] = flagInfo{isBool: m[2] == ""}
		}
	}
	return flags
}

// parseFlags splits a command line (after the program name) into flag
// values the way Go's flag package reads it, and fails on an unknown flag
// or a positional argument: the services take none.
func parseFlags(args []string, known map[string]flagInfo) (map[string]string, error) {
	vals := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			return nil, fmt.Errorf("unexpected argument %q", a)
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		info, ok := known[name]
		if !ok {
			return nil, fmt.Errorf("flag -%s is not defined by the binary", name)
		}
		if !hasVal && !info.isBool {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("flag -%s needs a value", name)
			}
			i++
			val = args[i]
		}
		vals[name] = val
	}
	return vals, nil
}

// TestServiceImages checks each service's Dockerfile against the rules of
// CheckGoImage and against the repository: the build runs in the service's
// own module on a main package, the Go in the builder image is new enough
// for the module, every file the build needs is copied into the builder at
// the module layout's relative place and not left out by .dockerignore,
// EXPOSE and --addr match the service's default port, and the go build the
// Dockerfile runs produces a statically linked, stripped executable whose
// flags include the ones the ENTRYPOINT passes.
func TestServiceImages(t *testing.T) {
	root := repoRoot(t)
	ignore := loadIgnore(t)
	for _, name := range serviceNames(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			img := loadImage(t, name)
			modDir := "services/" + name

			// The builder runs go build in the service's module.
			ctxRoot, ok := strings.CutSuffix(img.WorkDir, "/"+modDir)
			if !ok {
				t.Fatalf("go build runs in %s; want the module directory .../%s", img.WorkDir, modDir)
			}
			if img.Env["GOWORK"] != "off" {
				t.Errorf("builder ENV GOWORK=%q; want off (the image builds the service's module alone)", img.Env["GOWORK"])
			}
			pkgDir := filepath.Join(root, filepath.FromSlash(modDir), filepath.FromSlash(img.Package))
			if pkg := packageName(t, pkgDir); pkg != "main" {
				t.Fatalf("%s is package %q; want main", img.Package, pkg)
			}
			checkGoVersion(t, img, filepath.Join(root, filepath.FromSlash(modDir), "go.mod"))

			// Every source file, embedded file, go.mod and go.sum the build
			// reads is in the builder at the same relative place.
			for _, f := range buildInputs(t, img, filepath.Join(root, filepath.FromSlash(modDir))) {
				want := ctxRoot + "/" + f
				if got := img.ContainerPaths(f); !slices.Contains(got, want) {
					t.Errorf("%s is needed by the build but not copied to %s (copied to %v)", f, want, got)
				}
				if ignore.Excluded(f) {
					t.Errorf("%s is needed by the build but .dockerignore leaves it out", f)
				}
			}

			// The port: EXPOSE and --addr say the service's default port.
			port := portOf(t, defaultAddr(t, name))
			if !slices.Contains(img.Exposed, port) {
				t.Errorf("EXPOSE %v does not include the default port %d", img.Exposed, port)
			}
			bin, flags := buildService(t, name)
			vals, err := parseFlags(img.Entrypoint[1:], flags)
			if err != nil {
				t.Fatalf("ENTRYPOINT %v: %v", img.Entrypoint, err)
			}
			if want := fmt.Sprintf("0.0.0.0:%d", port); vals["addr"] != want {
				t.Errorf("ENTRYPOINT --addr %q; want %q (all interfaces, the default port)", vals["addr"], want)
			}

			checkStatic(t, bin)
		})
	}
}

// checkStatic opens the binary as ELF: a program interpreter (PT_INTERP)
// or a needed shared library (DT_NEEDED) would not exist in a distroless
// static or scratch image, and a .symtab means -s did not strip it.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("open the binary as ELF: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary has a program interpreter (PT_INTERP): it is dynamically linked")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatalf("read DT_NEEDED: %v", err)
	}
	if len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	if f.Section(".symtab") != nil {
		t.Errorf("the binary has a symbol table: -ldflags='-s' did not strip it")
	}
}

// packageName returns the package clause of the non-test Go files in dir.
func packageName(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	name := ""
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.PackageClauseOnly)
		if err != nil {
			t.Fatal(err)
		}
		if name != "" && name != f.Name.Name {
			t.Fatalf("%s mixes packages %s and %s", dir, name, f.Name.Name)
		}
		name = f.Name.Name
	}
	if name == "" {
		t.Fatalf("%s has no Go files", dir)
	}
	return name
}

// goDirectiveRE and golangTagRE read "go 1.26.0" from go.mod and "1.26"
// from a golang:1.26[-variant] image tag.
var (
	goDirectiveRE = regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`)
	golangTagRE   = regexp.MustCompile(`^(\d+)\.(\d+)`)
)

// checkGoVersion wants the builder's golang image to be at least the
// module's go directive (major.minor), so the image's toolchain does not
// need to download another.
func checkGoVersion(t *testing.T, img *GoImage, gomod string) {
	t.Helper()
	if img.Builder.From.Repository != "golang" {
		t.Errorf("builder FROM %s; want the golang image", img.Builder.From)
		return
	}
	data, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	mod := goDirectiveRE.FindStringSubmatch(string(data))
	tag := golangTagRE.FindStringSubmatch(img.Builder.From.Tag)
	if mod == nil || tag == nil {
		t.Fatalf("cannot compare go directive %v with image tag %q", mod, img.Builder.From.Tag)
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	if atoi(tag[1]) < atoi(mod[1]) || atoi(tag[1]) == atoi(mod[1]) && atoi(tag[2]) < atoi(mod[2]) {
		t.Errorf("builder golang:%s is older than the module's go %s.%s", img.Builder.From.Tag, mod[1], mod[2])
	}
}

// buildInputs lists, relative to the repository root, the files of the
// repository that building the image's package reads: the Go and embedded
// files of every package in the repository that it imports (as go list
// resolves them with the builder's environment), and the go.mod and go.sum
// of each of their modules.
func buildInputs(t *testing.T, img *GoImage, modDir string) []string {
	t.Helper()
	root := repoRoot(t)
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if not .Standard}}{{.Dir}}{{"\t"}}{{join .GoFiles " "}}{{"\t"}}{{join .EmbedFiles " "}}{{"\t"}}{{with .Module}}{{.Dir}}{{end}}{{end}}`,
		img.Package)
	cmd.Dir = modDir
	cmd.Env = goEnv(img)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list -deps %s: %v\n%s", img.Package, err, stderr)
	}
	set := map[string]bool{}
	addRel := func(abs string) {
		rel, err := filepath.Rel(root, abs)
		if err != nil || strings.HasPrefix(rel, "..") {
			return
		}
		set[filepath.ToSlash(rel)] = true
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 4 {
			t.Fatalf("go list: unexpected line %q", line)
		}
		dir, goFiles, embedFiles, mod := parts[0], parts[1], parts[2], parts[3]
		if rel, err := filepath.Rel(root, dir); err != nil || strings.HasPrefix(rel, "..") {
			continue // the module cache: downloaded inside the builder
		}
		for _, f := range append(strings.Fields(goFiles), strings.Fields(embedFiles)...) {
			addRel(filepath.Join(dir, f))
		}
		addRel(filepath.Join(mod, "go.mod"))
		if _, err := os.Stat(filepath.Join(mod, "go.sum")); err == nil {
			addRel(filepath.Join(mod, "go.sum"))
		}
	}
	files := make([]string, 0, len(set))
	for f := range set {
		files = append(files, f)
	}
	slices.Sort(files)
	if len(files) == 0 {
		t.Fatal("go list found no input files in the repository")
	}
	return files
}

func loadIgnore(t testing.TB) *IgnoreRules {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatalf("the build context needs a .dockerignore: %v", err)
	}
	defer f.Close()
	ir, err := ParseIgnore(f)
	if err != nil {
		t.Fatal(err)
	}
	return ir
}
