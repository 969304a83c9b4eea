// Package fault holds the orchestrator's typed errors: the kinds a stage
// call or a step can fail with (ErrStageUnavailable, ErrDataLoss,
// ErrCancelled, ...) and FieldError for a request field that is wrong.
// The engine decides on kinds, with errors.Is and errors.As, whether to
// retry a step or end the run; the gRPC handlers turn them into a status
// in one place. Nothing is classified by reading an error's text.
//
// fault is a leaf: it imports only the standard library and grpc's codes
// and status packages, never another orchestrator package.
package fault
