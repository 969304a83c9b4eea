package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// goCmd is the go command of the toolchain running the test.
func goCmd() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// importGraph lists every package of every workspace module with its
// (non-test) imports.
func importGraph(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command(goCmd(), "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	graph := map[string][]string{}
	for _, dir := range strings.Fields(string(out)) {
		cmd := exec.Command(goCmd(), "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...")
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list in %s: %v\n%s", dir, err, stderr.String())
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) > 0 {
				graph[f[0]] = f[1:]
			}
		}
	}
	if len(graph) < 20 {
		t.Fatalf("go list found %d packages; is the workspace (go.work) in use?", len(graph))
	}
	return graph
}

// TestImportRules fails on any import docs/DESIGN.md forbids.
func TestImportRules(t *testing.T) {
	violations, stale := Check(Rules, importGraph(t))
	for _, v := range violations {
		t.Errorf("%s imports %s: %s", strings.TrimPrefix(v.Pkg, Module+"/"), strings.TrimPrefix(v.Import, Module+"/"), v.Rule.Why)
	}
	for _, r := range stale {
		t.Errorf("rule for %s matches no package: update it and docs/DESIGN.md", r.From)
	}
}

// TestCheckCatches shows each kind of rule firing on a graph that breaks it.
func TestCheckCatches(t *testing.T) {
	m := func(p string) string { return Module + "/" + p }
	for _, tc := range []struct {
		name  string
		graph map[string][]string
		want  string // the import that must be reported
	}{
		{"stage imports stage", map[string][]string{m("services/train"): {m("services/eval")}}, m("services/eval")},
		{"ml imports grpc", map[string][]string{m("ml/algo"): {"google.golang.org/grpc"}}, "google.golang.org/grpc"},
		{"ml imports a service", map[string][]string{m("ml/prep"): {m("services/prep")}}, m("services/prep")},
		{"search imports the store", map[string][]string{m("services/orchestrator/search"): {m("services/orchestrator/store")}}, m("services/orchestrator/store")},
		{"engine builds statuses", map[string][]string{m("services/orchestrator/engine"): {"google.golang.org/grpc/status"}}, "google.golang.org/grpc/status"},
		{"subpackage imports the gRPC layer", map[string][]string{m("services/orchestrator/engine"): {m("services/orchestrator")}}, m("services/orchestrator")},
		{"serve imports the orchestrator's store", map[string][]string{m("services/serve"): {m("services/orchestrator/store")}}, m("services/orchestrator/store")},
		{"serve imports the gRPC layer", map[string][]string{m("services/serve/cmd/serve"): {m("services/orchestrator")}}, m("services/orchestrator")},
		{"a stage imports serve", map[string][]string{m("services/eval"): {m("services/serve")}}, m("services/serve")},
		{"onnx dials", map[string][]string{m("ml/onnx"): {"google.golang.org/grpc/credentials/insecure"}}, "google.golang.org/grpc/credentials/insecure"},
		{"onnx registers algorithms", map[string][]string{m("ml/onnx"): {m("ml/algo/builtin")}}, m("ml/algo/builtin")},
		{"fault imports anything of ours", map[string][]string{m("services/orchestrator/fault"): {m("ml/table")}}, m("ml/table")},
		{"obs imports anything of ours", map[string][]string{m("services/orchestrator/obs"): {m("serverkit")}}, m("serverkit")},
		{"the engine calls a stage in process", map[string][]string{m("services/orchestrator/engine"): {m("services/train")}}, m("services/train")},
		{"production code starts a test stack", map[string][]string{m("cmd/alur"): {m("services/orchestrator/alurtest")}}, m("services/orchestrator/alurtest")},
		{"a service runs the stack", map[string][]string{m("services/orchestrator/dashboard"): {m("services/orchestrator/stack")}}, m("services/orchestrator/stack")},
	} {
		violations, _ := Check(Rules, tc.graph)
		found := false
		for _, v := range violations {
			found = found || v.Import == tc.want
		}
		if !found {
			t.Errorf("%s: no violation reported for %s (got %v)", tc.name, tc.want, violations)
		}
	}
	// A main may import the gRPC layer and the stack; the stack may run
	// the stages and the orchestrator.
	if v, _ := Check(Rules, map[string][]string{
		m("cmd/alur"):                       {m("services/orchestrator/stack")},
		m("services/orchestrator/stack"):    {m("services/orchestrator"), m("services/train")},
		m("services/orchestrator/alurtest"): {m("services/orchestrator/stack")},
	}); len(v) != 0 {
		t.Errorf("the stack's users flagged: %v", v)
	}
	// serve may use the orchestrator's proto client and serverkit.
	if v, _ := Check(Rules, map[string][]string{m("services/serve"): {m("proto/alur/orchestrator/v1"), m("serverkit"), m("ml/algo/builtin")}}); len(v) != 0 {
		t.Errorf("serve's contract client flagged: %v", v)
	}
	// A main may import the gRPC layer.
	if v, _ := Check(Rules, map[string][]string{m("services/orchestrator/cmd/orchestrator"): {m("services/orchestrator")}}); len(v) != 0 {
		t.Errorf("the orchestrator's main flagged: %v", v)
	}
}
