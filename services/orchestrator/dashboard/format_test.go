package dashboard

import (
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"count 0", fmtCount(0), "0"},
		{"count 999", fmtCount(999), "999"},
		{"count 1000", fmtCount(1000), "1,000"},
		{"count 1234567", fmtCount(1234567), "1,234,567"},
		{"count -12345", fmtCount(-12345), "-12,345"},
		{"count min", fmtCount(math.MinInt64), "-9,223,372,036,854,775,808"},
		{"number pi", fmtNumber(math.Pi), "3.142"},
		{"number big whole", fmtNumber(250000), "250,000"},
		{"number big fraction", fmtNumber(12345.678), "12,346"},
		{"number tiny", fmtNumber(0.00001234), "1.23e-05"},
		{"number NaN", fmtNumber(math.NaN()), "—"},
		{"number +Inf", fmtNumber(math.Inf(1)), "∞"},
		{"score 0.96667", fmtScore(0.966666), "0.9667"},
		{"score 1", fmtScore(1), "1.0000"},
		{"score negative r2", fmtScore(-0.25), "-0.2500"},
		{"score rmse", fmtScore(19312.7), "19,313"},
		{"percent", fmtPercent(0.3333), "33.3%"},
		{"percent zero", fmtPercent(0), "0%"},
		{"percent tiny", fmtPercent(0.0004), "0.04%"},
		{"duration sub-ms", fmtDuration(200 * time.Microsecond), "< 1 ms"},
		{"duration ms", fmtDuration(850 * time.Millisecond), "850 ms"},
		{"duration s", fmtDuration(4200 * time.Millisecond), "4.2 s"},
		{"duration 42s", fmtDuration(42 * time.Second), "42 s"},
		{"duration min", fmtDuration(192 * time.Second), "3 min 12 s"},
		{"duration h", fmtDuration(125 * time.Minute), "2 h 5 min"},
		{"duration negative", fmtDuration(-time.Second), "< 1 ms"},
		{"bytes", fmtBytes(999), "999 B"},
		{"KiB", fmtBytes(12900), "12.6 KiB"},
		{"MiB", fmtBytes(1_234_567), "1.2 MiB"},
		{"truncate short", truncate("abc", 5), "abc"},
		{"truncate long", truncate("abcdefgh", 5), "abcd…"},
		{"truncate runes", truncate("ääääää", 3), "ää…"},
		{"digest", shortDigest("0123456789abcdef"), "0123456789ab"},
		{"time unset", fmtTime(nil), "—"},
		{"time", fmtTime(timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))), "2026-01-02 03:04:05 UTC"},
		{"tick 0", tickLabel(1e-15), "0"},
		{"tick k", tickLabel(25000), "25k"},
		{"tick M", tickLabel(1.5e6), "1.5M"},
		{"tick small", tickLabel(0.25), "0.25"},
		{"metric title", metricTitle("f1_macro"), "F1 (macro)"},
		{"metric unknown", metricTitle("brier"), "brier"},
		{"unit rmse", metricUnit("rmse", "price"), "in units of price, lower is better"},
		{"source bundled", sourceWord(&orchestratorv1.Source{Kind: &orchestratorv1.Source_Bundled{Bundled: "iris"}}), "iris (bundled)"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestRunDuration(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(time.Minute)
	ended := &orchestratorv1.Run{CreateTime: timestamppb.New(start), EndTime: timestamppb.New(start.Add(5 * time.Second))}
	running := &orchestratorv1.Run{CreateTime: timestamppb.New(start)}
	if got := runDuration(ended, now); got != 5*time.Second {
		t.Errorf("ended run: %v", got)
	}
	if got := runDuration(running, now); got != time.Minute {
		t.Errorf("running run: %v", got)
	}
	if got := runDuration(&orchestratorv1.Run{}, now); got != 0 {
		t.Errorf("run without times: %v", got)
	}
}
