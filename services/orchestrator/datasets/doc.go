// Package datasets owns dataset versions: appending a collected batch as
// the next version under the schema policy (appendRows), reading versions,
// and the drift between two of them. Collecting the batch (the ingest
// stage) and answering RPCs are the callers' business.
//
// It may import the store, artifacts, fault, ml/ and the generated protos;
// it must not import stageclient, the engine, search or any gRPC server
// code.
package datasets
