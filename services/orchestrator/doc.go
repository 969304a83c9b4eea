// Package orchestrator is the OrchestratorService: it runs alur pipelines
// by calling the stage services in order (ingest, prep, train, eval),
// keeps every artifact and run in one bbolt file, runs the optimisation
// loop, and resumes unfinished runs after a restart.
//
// This package is the gRPC layer only: it validates requests, calls the
// packages that do the work, and maps their typed errors to gRPC statuses
// in one place (toStatus). The work lives in subpackages:
//
//	engine       runs: admission, the step state machine, events
//	search       spec validation and expansion, trials, CV, best trial
//	datasets     dataset versions, appends, drift
//	stageclient  one client per stage service
//	store        the bbolt file: runs, events, artifacts, cache
//	artifacts    artifact kinds, media types, encodings
//	fault        the typed errors shared by all of them
//	dashboard    the HTML dashboard and report
//
// It may import all of them; none of them imports it.
package orchestrator
