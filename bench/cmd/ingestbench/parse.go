package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/alur-ml/alur/ml/csvio"
)

// pandasScript times pandas.read_csv on argv[1], argv[2] times, and prints
// "seconds BEST ROWS VERSION", or "unavailable REASON" without pandas.
const pandasScript = `
import sys, time
try:
    import pandas as pd
except Exception as e:
    print("unavailable", repr(e))
    sys.exit(0)
best, rows = float("inf"), 0
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    df = pd.read_csv(sys.argv[1])
    best = min(best, time.perf_counter() - t)
    rows = len(df)
    del df
print("seconds", best, rows, pd.__version__)
`

// benchParse is benchmark (a): csvio.ReadAll against pandas.read_csv on
// the same file, best of o.repeat runs each.
func benchParse(ctx context.Context, o options, path string) (result, []string, error) {
	rows, size, err := writeCSV(path, o.rows, 0)
	if err != nil {
		return result{}, nil, err
	}
	logf("(a) %d rows, %.1f MB: csvio.ReadAll x%d", rows, float64(size)/1e6, o.repeat)
	best := time.Duration(1<<63 - 1)
	for range o.repeat {
		f, err := os.Open(path)
		if err != nil {
			return result{}, nil, err
		}
		start := time.Now()
		t, _, err := csvio.ReadAll(f, csvio.Options{})
		d := time.Since(start)
		f.Close()
		if err != nil {
			return result{}, nil, err
		}
		if t.NumRows() != rows {
			return result{}, nil, fmt.Errorf("csvio read %d rows, want %d", t.NumRows(), rows)
		}
		best = min(best, d)
	}
	r := result{
		name:   fmt.Sprintf("(a) CSV → columnar table, %d rows × %d columns, %.1f MB (csvio.ReadAll / pandas.read_csv)", rows, genFeatures+1, float64(size)/1e6),
		alur:   fmt.Sprintf("%.1f MB/s (%.3f s)", mbps(size, best), best.Seconds()),
		other:  "skipped",
		ratio:  "—",
		target: "≥ 2× pandas",
	}
	logf("(a) pandas.read_csv x%d", o.repeat)
	secs, version, reason := runPandas(ctx, o, path, rows)
	if reason != "" {
		return r, []string{"(a) pandas skipped: " + reason}, nil
	}
	ratio := mbps(size, best) / mbps(size, time.Duration(secs*float64(time.Second)))
	r.other = fmt.Sprintf("%.1f MB/s (%.3f s, pandas %s)", float64(size)/1e6/secs, secs, version)
	r.ratio = fmt.Sprintf("%.2f×", ratio)
	r.target += ": " + passFail(ratio >= 2)
	return r, nil, nil
}

// runPandas runs pandasScript and returns the best time in seconds and
// pandas' version, or why it could not.
func runPandas(ctx context.Context, o options, path string, rows int) (float64, string, string) {
	if _, err := os.Stat(o.python); err != nil {
		return 0, "", fmt.Sprintf("no Python at %s", o.python)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, o.python, "-c", pandasScript, path, strconv.Itoa(o.repeat))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, "", fmt.Sprintf("%s failed: %v %s", o.python, err, strings.TrimSpace(stderr.String()))
	}
	f := strings.Fields(string(out))
	if len(f) >= 1 && f[0] == "unavailable" {
		return 0, "", "pandas is not installed (" + strings.Join(f[1:], " ") + ")"
	}
	if len(f) != 4 || f[0] != "seconds" {
		return 0, "", fmt.Sprintf("unexpected output %q", out)
	}
	secs, err := strconv.ParseFloat(f[1], 64)
	if err != nil || secs <= 0 {
		return 0, "", fmt.Sprintf("unexpected time %q", f[1])
	}
	if n, _ := strconv.Atoi(f[2]); n != rows {
		return 0, "", fmt.Sprintf("pandas read %s rows, want %d", f[2], rows)
	}
	return secs, f[3], ""
}
