package archtest

import "strings"

// Module is the path every package of the repository starts with.
const Module = "github.com/alur-ml/alur"

// Rule forbids packages matching From to import packages matching any of
// Deny, except the packages matching Except. Patterns are paths relative
// to Module ("services/train"), or external paths ("google.golang.org/grpc");
// a trailing "/..." also matches everything below; "*" in Deny matches
// every package of the repository.
type Rule struct {
	From   string
	Deny   []string
	Except []string
	Why    string
}

// stages are the stage services, which never import each other: the
// pipeline's four, and serve, which reads the orchestrator's registry
// through its gRPC client only.
var stages = []string{"ingest", "prep", "train", "eval", "serve"}

// Rules are the import rules, in the order docs/DESIGN.md gives them.
var Rules = func() []Rule {
	rules := []Rule{
		{From: "ml/...", Deny: []string{"google.golang.org/grpc", "serverkit", "services/...", "cmd/...", "bench/..."},
			Why: "the science is plain Go: no gRPC clients or servers, no services (the generated message types are allowed)"},
		{From: "ml/onnx", Deny: []string{"google.golang.org/grpc/...", "ml/algo/builtin"},
			Why: "the ONNX exporter translates model messages: no gRPC, and it registers no algorithms (the binary that uses it chooses them)"},
		{From: "proto/...", Deny: []string{"ml/...", "serverkit", "services/...", "cmd/..."},
			Why: "the contracts depend on nothing of ours"},
		{From: "serverkit", Deny: []string{"ml/...", "services/...", "cmd/..."},
			Why: "server plumbing knows no service and no science"},
		{From: "services/...", Deny: []string{"cmd/...", "bench/...", "e2e", "browser"},
			Why: "services do not depend on the CLI, the harnesses or the tests"},
		{From: "services/...", Deny: []string{"services/orchestrator"}, Except: []string{"services/orchestrator/cmd/...", "services/orchestrator/stack"},
			Why: "only mains (and stack, which runs it) import the orchestrator's gRPC layer; its subpackages never import it back"},
		{From: "services/orchestrator/...", Deny: []string{"services/ingest/...", "services/prep/...", "services/train/...", "services/eval/...", "services/serve/..."}, Except: []string{"services/orchestrator/stack"},
			Why: "the orchestrator reaches the stages over gRPC, never by function calls; only stack serves them beside it"},
		{From: "*", Deny: []string{"services/orchestrator/stack"}, Except: []string{"cmd/...", "bench/...", "services/orchestrator/alurtest"},
			Why: "the in-process stack is for mains and harnesses; tests start it through alurtest"},
		{From: "*", Deny: []string{"services/orchestrator/alurtest"},
			Why: "alurtest is for tests alone: no production code starts a test stack"},
		{From: "services/orchestrator/fault", Deny: []string{"*"},
			Why: "the typed errors are a leaf every layer can use"},
		{From: "services/orchestrator/obs", Deny: []string{"*"},
			Why: "the orchestrator's metrics are a leaf the engine and datasets record into"},
		{From: "services/orchestrator/artifacts", Deny: []string{"services/...", "serverkit", "google.golang.org/grpc/..."},
			Why: "encodings know no store, client or server"},
		{From: "services/orchestrator/store", Deny: []string{"services/...", "ml/...", "serverkit", "google.golang.org/grpc/..."},
			Why: "the store keeps bytes and records; it knows nothing of runs' meaning"},
		{From: "services/orchestrator/stageclient", Deny: []string{"services/orchestrator/store", "services/orchestrator/engine", "services/orchestrator/search", "services/orchestrator/datasets", "services/orchestrator/dashboard"},
			Why: "the stage clients know nothing of runs"},
		{From: "services/orchestrator/search", Deny: []string{"services/orchestrator/store", "services/orchestrator/stageclient", "services/orchestrator/engine", "services/orchestrator/datasets", "services/orchestrator/dashboard", "serverkit", "google.golang.org/grpc/..."},
			Why: "the search reaches the stages only through the engine's Steps"},
		{From: "services/orchestrator/datasets", Deny: []string{"services/orchestrator/stageclient", "services/orchestrator/engine", "services/orchestrator/search", "services/orchestrator/dashboard", "google.golang.org/grpc"},
			Why: "dataset versions are kept, not collected: the caller collects the batch"},
		{From: "services/orchestrator/engine", Deny: []string{"services/orchestrator/dashboard", "services/orchestrator/datasets", "google.golang.org/grpc", "google.golang.org/grpc/status"},
			Why: "the engine returns typed errors and renders nothing; the gRPC layer maps and presents"},
		{From: "services/orchestrator/dashboard", Deny: []string{"services/orchestrator/engine", "services/orchestrator/search", "services/orchestrator/datasets", "services/orchestrator/stageclient", "services/orchestrator/store"},
			Why: "the dashboard reads runs through its Source, not the engine's internals"},
		{From: "services/orchestrator/...", Deny: []string{"ml/algo/builtin", "ml/algo/linear", "ml/algo/tree", "ml/algo/forest", "ml/algo/boosting", "ml/algo/knn", "ml/algo/bayes", "ml/algo/ensemble"},
			Why: "the orchestrator learns the algorithms from train's ListAlgorithms, not from a list compiled into it"},
		{From: "services/orchestrator/dashboard", Deny: []string{"ml/algo/..."},
			Why: "the dashboard runs no model: its Source's Predictor asks eval"},
	}
	for _, s := range stages {
		var others []string
		for _, o := range stages {
			if o != s {
				others = append(others, "services/"+o+"/...")
			}
		}
		rules = append(rules, Rule{From: "services/" + s + "/...", Deny: append(others, "services/orchestrator/..."),
			Why: "stages never import each other: they talk through their contracts"})
	}
	return rules
}()

// match reports whether the package path p matches pattern.
func match(pattern, p string) bool {
	if pattern == "*" {
		return p == Module || strings.HasPrefix(p, Module+"/")
	}
	full := pattern
	if !strings.Contains(strings.SplitN(pattern, "/", 2)[0], ".") {
		full = Module + "/" + pattern
	}
	if base, ok := strings.CutSuffix(full, "/..."); ok {
		return p == base || strings.HasPrefix(p, base+"/")
	}
	return p == full
}

func matchAny(patterns []string, p string) bool {
	for _, pat := range patterns {
		if match(pat, p) {
			return true
		}
	}
	return false
}

// Violation is one import a rule forbids.
type Violation struct {
	Pkg, Import string
	Rule        Rule
}

// Check returns every import in graph (package → its imports) that a rule
// forbids, and the rules whose From matches no package: a rule that
// checks nothing has gone stale.
func Check(rules []Rule, graph map[string][]string) (violations []Violation, stale []Rule) {
	for _, r := range rules {
		matched := false
		for pkg, imports := range graph {
			if !match(r.From, pkg) || matchAny(r.Except, pkg) {
				continue
			}
			matched = true
			for _, imp := range imports {
				if matchAny(r.Deny, imp) {
					violations = append(violations, Violation{Pkg: pkg, Import: imp, Rule: r})
				}
			}
		}
		if !matched {
			stale = append(stale, r)
		}
	}
	return violations, stale
}
