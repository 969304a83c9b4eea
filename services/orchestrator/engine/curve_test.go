package engine

import (
	"strings"
	"testing"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

func TestCurveVerdict(t *testing.T) {
	pt := func(rows int64, train, valid float64) *orchestratorv1.LearningCurvePoint {
		return &orchestratorv1.LearningCurvePoint{TrainFraction: float64(rows) / 100, TrainRows: rows, TrainScore: train, ValidationScore: valid}
	}
	cases := []struct {
		name, metric string
		points       []*orchestratorv1.LearningCurvePoint
		want         string
	}{
		{"rising", "accuracy", []*orchestratorv1.LearningCurvePoint{pt(10, 1, 0.6), pt(40, 1, 0.7), pt(60, 0.95, 0.8), pt(100, 0.95, 0.9)}, "likely to help"},
		{"flat", "accuracy", []*orchestratorv1.LearningCurvePoint{pt(10, 0.9, 0.8), pt(40, 0.9, 0.9), pt(60, 0.9, 0.9), pt(100, 0.91, 0.9)}, "unlikely to help"},
		{"overfit", "accuracy", []*orchestratorv1.LearningCurvePoint{pt(10, 1, 0.7), pt(40, 1, 0.8), pt(60, 1, 0.8), pt(100, 1, 0.8)}, "overfits"},
		{"rmse falling", "rmse", []*orchestratorv1.LearningCurvePoint{pt(10, 1, 9), pt(40, 1, 8), pt(60, 1, 6), pt(100, 1, 4)}, "likely to help"},
		{"too few", "accuracy", []*orchestratorv1.LearningCurvePoint{pt(10, 1, 0.5)}, "Too few"},
	}
	for _, tc := range cases {
		got := curveVerdict(&orchestratorv1.LearningCurve{Metric: tc.metric, Points: tc.points})
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: verdict %q, want it to say %q", tc.name, got, tc.want)
		}
	}
}
