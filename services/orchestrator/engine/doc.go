// Package engine executes runs: admission (a bounded queue and a bounded
// number of runs executing), the run state machine, and the pipeline's
// steps (collect, profile, prepare, search, refit, test, learning curve),
// each a function with a typed output recorded on the run, cached by its
// inputs, retried while a stage is unavailable, and skipped on resume once
// finished. Every change is persisted and announced as a RunEvent with a
// machine-readable kind.
//
// The engine decides on error kinds (package fault), never on text. It
// may import the store, stageclient, search, artifacts, fault, ml/ and the
// generated protos; it must not import the orchestrator's gRPC handlers,
// the dashboard or datasets, nor build gRPC statuses: errors leave it
// typed and the handlers map them.
package engine
