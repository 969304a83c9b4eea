package search

import (
	"testing"

	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// TestBestTieBreak: among equal scores Best prefers the model that is not
// hard (a fully grown tree's pure leaves give a log loss near 0), then the
// lower log loss, then the simpler algorithm; scores that differ only in
// rounding are equal.
func TestBestTieBreak(t *testing.T) {
	cls := func(n int32, algo string, score, logLoss float64) *orchestratorv1.Trial {
		return &orchestratorv1.Trial{Number: n, Algorithm: algo, Score: score,
			ValidationMetrics: &datav1.Metrics{Kind: &datav1.Metrics_Classification{Classification: &datav1.ClassificationMetrics{Accuracy: score, LogLoss: logLoss}}}}
	}
	tests := []struct {
		name   string
		metric string
		trials []*orchestratorv1.Trial
		want   int32
	}{
		{"higher score wins", "accuracy", []*orchestratorv1.Trial{cls(1, "decision_tree", 0.9, 0.1), cls(2, "random_forest", 0.95, 0.3)}, 2},
		{"pure tree loses the tie", "accuracy", []*orchestratorv1.Trial{cls(1, "decision_tree", 1, 1e-15), cls(2, "random_forest", 1, 0.08), cls(3, "gradient_boosting", 1, 0.05)}, 3},
		{"lower log loss", "accuracy", []*orchestratorv1.Trial{cls(1, "knn", 0.9, 0.3), cls(2, "random_forest", 0.9, 0.2)}, 2},
		{"simpler on equal loss", "accuracy", []*orchestratorv1.Trial{cls(1, "random_forest", 0.9, 0.2), cls(2, "logistic_regression", 0.9, 0.2)}, 2},
		{"rounding is a tie", "accuracy", []*orchestratorv1.Trial{cls(1, "knn", 0.9000000000001, 0.5), cls(2, "logistic_regression", 0.9, 0.2)}, 2},
		{"failed never wins", "accuracy", []*orchestratorv1.Trial{{Number: 1, Algorithm: "knn", Score: 1, Error: "boom"}, cls(2, "knn", 0.5, 0.7)}, 2},
		{"lower is better", "log_loss", []*orchestratorv1.Trial{cls(1, "knn", 0.4, 0.4), cls(2, "naive_bayes", 0.3, 0.3)}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Best(tc.trials, tc.metric); got.GetNumber() != tc.want {
				t.Errorf("Best chose trial %d, want %d", got.GetNumber(), tc.want)
			}
		})
	}
}
