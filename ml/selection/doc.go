// Package selection holds the pure logic of choosing a model: which task a
// label asks for, how tied trials are ordered, how the out-of-fold
// predictions of several trials are combined into an ensemble, whether the
// chosen model is handed over as the average of its fold models (k-fold
// bagging) or refitted, how a search spends a time budget (successive
// halving), and the search space of each algorithm. It trains nothing and talks to no server: the orchestrator's
// loop calls it with scores and predictions it already has, so every rule is
// tested here, on constructed cases, without a run.
package selection
