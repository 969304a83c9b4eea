// Package stack runs the five alur services in one process, each on its
// own listener, exactly as separate binaries would run them: the
// orchestrator reaches the stages over gRPC. `alur dev`, `alur demo` and
// the benchmark harness start it; tests start it through alurtest, which
// adds clients and cleanup. Only mains, harnesses and alurtest import it.
package stack
