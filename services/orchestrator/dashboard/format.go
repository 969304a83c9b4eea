package dashboard

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/alur-ml/alur/ml/display"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// Formatting for people: the dashboard never shows a raw float64, a bare
// nanosecond count or an enum name.

// fmtCount writes an integer with thousands separators ("12,345"), so
// row counts read at a glance.
func fmtCount(n int64) string { return display.Count(n) }

// fmtNumber writes a measurement with about four significant digits,
// switching to thousands separators for large whole numbers and to
// scientific notation only for very large or very small magnitudes.
func fmtNumber(v float64) string { return display.Number(v) }

// fmtScore writes a metric value with four decimals when it lies in
// [-1, 1] (accuracy, F1, AUC, R² are compared in the third decimal) and
// with fmtNumber otherwise (RMSE, MAE, log loss in label units).
func fmtScore(v float64) string { return display.Score(v) }

// fmtPercent writes a share in [0, 1] as a percentage (display.Percent)
// ("96.7%"), or with more decimals for small non-zero shares so that they
// do not read as zero.
func fmtPercent(share float64) string { return display.Percent(share) }

// fmtDuration writes a duration at a precision that suits its size:
// "850 ms", "4.2 s", "3 min 12 s", "2 h 5 min".
func fmtDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Millisecond:
		return "< 1 ms"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
}

// fmtBytes writes a size in bytes with binary units ("1.2 MiB"), as the
// CLI does (display.Bytes).
func fmtBytes(n int64) string { return display.Bytes(n) }

// fmtTime writes a timestamp in UTC to the second, or "—" when unset.
func fmtTime(ts *timestamppb.Timestamp) string {
	if ts == nil || !ts.IsValid() || (ts.GetSeconds() == 0 && ts.GetNanos() == 0) {
		return "—"
	}
	return ts.AsTime().UTC().Format("2006-01-02 15:04:05 UTC")
}

// shortDigest abbreviates a sha256 digest to its first twelve hex digits,
// enough to tell versions apart on screen.
func shortDigest(d string) string { return display.ShortDigest(d) }

// truncate shortens s to at most n runes, marking the cut with "…", so
// that long column and feature names do not push charts off the page.
func truncate(s string, n int) string {
	if n <= 1 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// stepStateWord names a step state for people.
func stepStateWord(st *orchestratorv1.Step) string {
	switch st.GetState() {
	case orchestratorv1.StepState_STEP_STATE_RUNNING:
		return "running"
	case orchestratorv1.StepState_STEP_STATE_SUCCEEDED:
		if st.GetCacheHit() {
			return "cached"
		}
		return "done"
	case orchestratorv1.StepState_STEP_STATE_FAILED:
		return "failed"
	}
	return "unknown"
}

// taskWord names a learning task for people.
func taskWord(t datav1.Task) string {
	switch t {
	case datav1.Task_TASK_CLASSIFICATION:
		return "classification"
	case datav1.Task_TASK_REGRESSION:
		return "regression"
	}
	return "—"
}

// metricTitles are the display names of the objective metrics.
var metricTitles = map[string]string{
	"accuracy":    "Accuracy",
	"f1_macro":    "F1 (macro)",
	"f1_weighted": "F1 (weighted)",
	"roc_auc":     "ROC AUC",
	"log_loss":    "Log loss",
	"r2":          "R²",
	"rmse":        "RMSE",
	"mae":         "MAE",

	"precision_macro":    "Precision (macro)",
	"precision_weighted": "Precision (weighted)",
	"recall_macro":       "Recall (macro)",
	"recall_weighted":    "Recall (weighted)",
}

// metricTitle names a metric for people ("F1 (macro)"), falling back to
// the metric's own name.
func metricTitle(m string) string {
	if t, ok := metricTitles[m]; ok {
		return t
	}
	if m == "" {
		return "—"
	}
	return m
}

// lowerIsBetter reports whether smaller values of the metric are better.
func lowerIsBetter(metric string) bool {
	switch metric {
	case "log_loss", "rmse", "mae":
		return true
	}
	return false
}

// metricUnit says what a metric's values are measured in, for axis labels:
// a score between 0 and 1, or the label's own units for RMSE and MAE.
func metricUnit(metric, label string) string {
	switch metric {
	case "rmse", "mae":
		if label != "" {
			return "in units of " + label + ", lower is better"
		}
		return "label units, lower is better"
	case "log_loss":
		return "nats, lower is better"
	case "r2":
		return "1 is perfect"
	case "":
		return ""
	}
	return "0–1, higher is better"
}

// runDuration is how long a run took, or has been running until now.
func runDuration(run *orchestratorv1.Run, now time.Time) time.Duration {
	start := run.GetCreateTime()
	if start == nil {
		return 0
	}
	end := now
	if run.GetEndTime() != nil && run.GetEndTime().IsValid() && run.GetEndTime().GetSeconds() != 0 {
		end = run.GetEndTime().AsTime()
	}
	return end.Sub(start.AsTime())
}

// terminal reports whether a run has ended and will not change any more.
func terminal(s orchestratorv1.RunState) bool {
	switch s {
	case orchestratorv1.RunState_RUN_STATE_SUCCEEDED, orchestratorv1.RunState_RUN_STATE_FAILED, orchestratorv1.RunState_RUN_STATE_CANCELLED:
		return true
	}
	return false
}

// sourceWord describes where a run's data came from (display.Source):
// the bundled dataset's name, the server-side path, the URL, the dataset
// and its version, or the uploaded file; "—" when unknown.
func sourceWord(s *orchestratorv1.Source) string {
	if w := display.Source(s); w != "" {
		return w
	}
	return "—"
}
