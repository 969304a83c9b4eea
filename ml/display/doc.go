// Package display formats alur's results for people: numbers, counts,
// plurals, hyperparameters, data sources and the ranking of a run's
// trials. The CLI, the dashboard and the HTML report all print through it,
// so a run reads the same everywhere and ranks its trials exactly as the
// orchestrator chose among them.
//
// It holds no servers and no state, and imports only the protos and
// ml/metrics.
package display
