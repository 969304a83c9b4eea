// Package search owns what a run tries and how it picks: the pipeline
// spec's validation and expansion into trial configurations (grids, seeded
// random ranges, the budget), cross-validation folds, the trial loop, and
// the choice of the best trial. New search strategies (ensembles,
// successive halving) belong here.
//
// It reaches the stages only through the Steps interface the engine
// implements, so it imports ml/, the generated protos and fault, and must
// not import the store, stageclient, the engine, datasets, or any gRPC
// client or server code.
package search
