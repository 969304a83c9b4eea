package search

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/alur-ml/alur/ml/display"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// TestDisplayRanksAsBestOfChooses: the CLI, the dashboard and the report
// rank trials with display.Ranked; its first trial must be the one bestOf
// chooses, ties and failures included, or a leaderboard would list one
// model first and star another.
func TestDisplayRanksAsBestOfChooses(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, metric := range []string{"accuracy", "log_loss", "r2", "rmse"} {
		regression := metric == "r2" || metric == "rmse"
		for c := range 500 {
			n := 1 + rng.IntN(8)
			var trials []*orchestratorv1.Trial
			for i := range n {
				// Few distinct values, so that ties are common.
				score := float64(rng.IntN(4)) / 4
				tie := float64(rng.IntN(3)) / 3
				tr := &orchestratorv1.Trial{Number: int32(i + 1), Score: score}
				switch rng.IntN(10) {
				case 0:
					tr.Error = "failed"
				case 1:
					tr.Score = math.NaN()
				}
				if rng.IntN(12) > 0 {
					if regression {
						tr.ValidationMetrics = &datav1.Metrics{Kind: &datav1.Metrics_Regression{Regression: &datav1.RegressionMetrics{Rmse: tie}}}
					} else {
						tr.ValidationMetrics = &datav1.Metrics{Kind: &datav1.Metrics_Classification{Classification: &datav1.ClassificationMetrics{LogLoss: tie}}}
					}
				}
				trials = append(trials, tr)
			}
			run := &orchestratorv1.Run{Metric: metric, Trials: trials}
			best := Best(trials, metric)
			ranked := display.Ranked(run)
			switch {
			case best == nil && display.Scored(ranked[0]):
				t.Fatalf("%s case %d: bestOf chose none, display ranks trial %d first", metric, c, ranked[0].GetNumber())
			case best != nil && ranked[0].GetNumber() != best.GetNumber():
				t.Fatalf("%s case %d: bestOf chose trial %d, display ranks trial %d first: %v", metric, c, best.GetNumber(), ranked[0].GetNumber(), trials)
			}
		}
	}
}
