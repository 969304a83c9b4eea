package engine

import (
	"strings"
	"testing"

	"github.com/alur-ml/alur/ml/table"
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

// TestCurveFractions: up to bigCurveRows training rows the curve trains on
// six growing shares; above, on five that cost less and still end at all
// the rows; every list grows and ends at 1.
func TestCurveFractions(t *testing.T) {
	tests := []struct {
		rows      int
		wantCount int
	}{
		{10, 6}, {bigCurveRows, 6}, {bigCurveRows + 1, 5}, {2_000_000, 5},
	}
	for _, tc := range tests {
		fs := fractionsFor(tc.rows)
		if len(fs) != tc.wantCount || fs[len(fs)-1] != 1 {
			t.Errorf("fractionsFor(%d) = %v, want %d shares ending at 1", tc.rows, fs, tc.wantCount)
		}
		for i := 1; i < len(fs); i++ {
			if fs[i] <= fs[i-1] {
				t.Errorf("fractionsFor(%d) = %v does not grow", tc.rows, fs)
			}
		}
	}
}

// TestPrefix: prefix keeps the first rows in order, and the whole table
// when asked for as many rows or more.
func TestPrefix(t *testing.T) {
	tbl := &table.Table{Columns: []*table.Column{table.NewNumeric("x", []float64{1, 2, 3, 4})}}
	if got := prefix(tbl, 10); got != tbl {
		t.Error("prefix of more rows than the table copied it")
	}
	got := prefix(tbl, 2)
	if got.NumRows() != 2 || got.Columns[0].Nums[0] != 1 || got.Columns[0].Nums[1] != 2 {
		t.Errorf("prefix(2) = %+v", got.Columns[0])
	}
}
