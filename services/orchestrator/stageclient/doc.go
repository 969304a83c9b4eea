// Package stageclient is the client side of the stage services: one client
// per stage (Clients: ingest, prep, train, eval) with the orchestrator's
// timeouts, and the stream protocols that more than one caller drives
// (Train, Evaluate, Prepare), so the orchestrator and the benchmark harness
// use and measure the same protocol code. Clients' methods return typed
// errors (package fault) that keep the stage's status.
//
// It may import ml/, the generated protos, serverkit's dialing and fault;
// it must not import the store, the engine, search, datasets or any
// server code: it knows nothing of runs.
package stageclient
