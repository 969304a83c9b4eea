// Package obs holds the orchestrator's own Prometheus metrics: run and
// step durations, execution cache hits and misses, artifact bytes written,
// orphan chunks the store's garbage collector removed.
// The engine and the dataset versions record them; the orchestrator's
// gRPC layer registers them on the process registry, so that only the
// orchestrator's /metrics shows them. It imports nothing of ours.
package obs
