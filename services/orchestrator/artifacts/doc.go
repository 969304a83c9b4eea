// Package artifacts owns how the orchestrator writes what it stores: the
// artifact kinds and media types, the deterministic encodings of messages
// and tables (equal content, equal digest and cache key), and joining the
// rows of two tables.
//
// It imports only ml/ and the generated protos: not the store, the stage
// clients, the engine or any gRPC server code.
package artifacts
