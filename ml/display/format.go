package display

import (
	"math"
	"sort"
	"strconv"
	"strings"

	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
)

// Count writes an integer with thousands separators ("12,345"), so row
// counts read at a glance and the same way in every command.
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return sign + s
}

// Plural writes n and the noun, in the plural unless n is 1: "1 duplicate
// row", "3 duplicate rows", "1,204 rows". The noun is the singular; nouns
// whose plural is not singular+"s" are given as "singular|plural".
func Plural(n int64, noun string) string {
	one, many, ok := strings.Cut(noun, "|")
	if !ok {
		many = one + "s"
	}
	if n == 1 {
		return "1 " + one
	}
	return Count(n) + " " + many
}

// Number writes a measurement with about four significant digits,
// switching to thousands separators for large magnitudes and to
// scientific notation only for very large or very small ones. NaN is "—".
func Number(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "−∞"
	case v == 0:
		return "0"
	}
	a := math.Abs(v)
	switch {
	case a >= 1e15 || a < 1e-4:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case a >= 1e4:
		return Count(int64(math.Round(v)))
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// Score writes a metric value with four decimals when it lies in [-1, 1]
// (accuracy, F1, AUC and R² are compared in the third decimal) and with
// Number otherwise (RMSE, MAE and log loss in their own units).
func Score(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Number(v)
	}
	if math.Abs(v) <= 1 {
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	return Number(v)
}

// Percent writes a share in [0, 1] as a whole percentage when it is one
// ("10%"), else with one decimal ("11.1%"), so a share is never rounded
// into another figure than the one the text describes.
func Percent(share float64) string {
	if math.IsNaN(share) || math.IsInf(share, 0) {
		return Number(share)
	}
	p := share * 100
	switch {
	case p == 0:
		return "0%"
	case math.Abs(p) < 0.1:
		return strconv.FormatFloat(p, 'g', 2, 64) + "%"
	case math.Abs(p-math.Round(p)) < 0.05:
		return strconv.FormatFloat(math.Round(p), 'f', 0, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + "%"
}

// Params writes hyperparameters as "k=v, k=v", sorted by name, each value
// through Number. keys nil means every parameter; otherwise only those
// named (and present) show.
func Params(params map[string]float64, keys []string) string {
	if keys == nil {
		keys = make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
	} else {
		keys = append([]string(nil), keys...)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v, ok := params[k]
		if !ok {
			continue
		}
		parts = append(parts, k+"="+Number(v))
	}
	return strings.Join(parts, ", ")
}

// Bytes writes a byte count with binary units, as the limits are set:
// "512 B", "1.5 KiB", "3.4 MiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n) / unit
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for v >= unit && i < len(units)-1 {
		v /= unit
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i]
}

// RunState names a run state for people, in messages and metric labels:
// "pending", "running", "succeeded", "failed", "cancelled" (or "unknown").
func RunState(st orchestratorv1.RunState) string {
	switch st {
	case orchestratorv1.RunState_RUN_STATE_PENDING:
		return "pending"
	case orchestratorv1.RunState_RUN_STATE_RUNNING:
		return "running"
	case orchestratorv1.RunState_RUN_STATE_SUCCEEDED:
		return "succeeded"
	case orchestratorv1.RunState_RUN_STATE_FAILED:
		return "failed"
	case orchestratorv1.RunState_RUN_STATE_CANCELLED:
		return "cancelled"
	}
	return "unknown"
}
