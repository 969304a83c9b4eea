package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// sklearnLine is one JSON line of sklearn_side.py; Kind says which fields
// are set (see the script's docstring).
type sklearnLine struct {
	Kind string `json:"kind"`
	// unavailable, skipped
	Reason string `json:"reason"`
	// info
	Sklearn string `json:"sklearn"`
	Pandas  string `json:"pandas"`
	Numpy   string `json:"numpy"`
	Python  string `json:"python"`
	CPUs    int    `json:"cpus"`
	// load, prepare
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes"`
	// algorithm, skipped
	Name           string  `json:"name"`
	Variant        string  `json:"variant"`
	FitSeconds     float64 `json:"fit_seconds"`
	PredictSeconds float64 `json:"predict_seconds"`
	Accuracy       float64 `json:"accuracy"`
}

// sklearnOutput is what the script reported.
type sklearnOutput struct {
	unavailable   string
	versions      map[string]string
	cpus          int
	loadSeconds   float64
	loadBytes     int64
	prepSeconds   float64
	runs          []SklearnRun
	skipped       []string
	sawAnyResults bool
}

// parseSklearnOutput reads the script's JSON lines. Blank lines are
// ignored, as are kinds it does not know (a newer script may add some);
// anything else that is not a JSON object, or a timing that is not a
// non-negative finite number, is an error naming the line.
func parseSklearnOutput(r io.Reader) (*sklearnOutput, error) {
	out := &sklearnOutput{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var l sklearnLine
		if err := json.Unmarshal(text, &l); err != nil {
			return out, fmt.Errorf("line %d: not a JSON object: %v", n, err)
		}
		for _, v := range []float64{l.Seconds, l.FitSeconds, l.PredictSeconds} {
			if v < 0 {
				return out, fmt.Errorf("line %d: negative time %g", n, v)
			}
		}
		if l.Accuracy < 0 || l.Accuracy > 1 {
			return out, fmt.Errorf("line %d: accuracy %g is outside [0, 1]", n, l.Accuracy)
		}
		switch l.Kind {
		case "unavailable":
			out.unavailable = l.Reason
			if out.unavailable == "" {
				out.unavailable = "scikit-learn is not available"
			}
		case "info":
			out.versions = map[string]string{"sklearn": l.Sklearn, "pandas": l.Pandas, "numpy": l.Numpy, "python": l.Python}
			out.cpus = l.CPUs
		case "load":
			out.loadSeconds, out.loadBytes = l.Seconds, l.Bytes
			out.sawAnyResults = true
		case "prepare":
			out.prepSeconds = l.Seconds
			out.sawAnyResults = true
		case "algorithm":
			if l.Name == "" {
				return out, fmt.Errorf("line %d: algorithm without a name", n)
			}
			out.runs = append(out.runs, SklearnRun{Name: l.Name, Variant: l.Variant,
				FitSeconds: l.FitSeconds, PredictSeconds: l.PredictSeconds, Accuracy: l.Accuracy})
			out.sawAnyResults = true
		case "skipped":
			out.skipped = append(out.skipped, l.Name+": "+l.Reason)
		}
	}
	return out, sc.Err()
}

// runSklearn runs sklearn_side.py on the same file and split and records
// its results. Any failure is recorded as the reason scikit-learn figures
// are missing, not returned: the alur figures stand on their own.
func runSklearn(ctx context.Context, csvPath string, o options, res *Results, lg *logger) {
	if _, err := os.Stat(o.python); err != nil {
		res.Sklearn.Reason = fmt.Sprintf("no Python interpreter at %s", o.python)
		lg.logf("scikit-learn side skipped: %s", res.Sklearn.Reason)
		return
	}
	if _, err := os.Stat(o.sklearnScript); err != nil {
		res.Sklearn.Reason = fmt.Sprintf("script not found: %v (set --sklearn-script)", err)
		lg.logf("scikit-learn side skipped: %s", res.Sklearn.Reason)
		return
	}
	lg.logf("scikit-learn: running %s on the same file", o.sklearnScript)
	// random_state must fit in 32 bits.
	seed := strconv.FormatUint(o.seed%(1<<32), 10)
	cmd := exec.CommandContext(ctx, o.python, o.sklearnScript,
		"--csv", csvPath, "--label", o.label, "--split-column", o.splitColumn,
		"--algorithms", strings.Join(o.algorithms, ","),
		"--repeat", strconv.Itoa(o.repeat), "--seed", seed)
	cmd.Stderr = lg.w
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		res.Sklearn.Reason = err.Error()
		return
	}
	if err := cmd.Start(); err != nil {
		res.Sklearn.Reason = fmt.Sprintf("starting %s: %v", o.python, err)
		return
	}
	out, parseErr := parseSklearnOutput(stdout)
	_, _ = io.Copy(io.Discard, stdout) // let the script finish writing
	waitErr := cmd.Wait()

	switch {
	case out.unavailable != "":
		res.Sklearn.Reason = out.unavailable
	case parseErr != nil:
		res.Sklearn.Reason = "unreadable output of sklearn_side.py: " + parseErr.Error()
	case waitErr != nil:
		res.Sklearn.Reason = "sklearn_side.py failed: " + waitErr.Error()
	}
	if res.Sklearn.Reason != "" {
		lg.logf("scikit-learn side: %s", res.Sklearn.Reason)
	}
	if out.unavailable != "" || !out.sawAnyResults {
		return
	}
	// Partial results of a failed run are still reported, with the reason.
	res.Sklearn.Available = true
	res.Sklearn.Versions = out.versions
	res.Sklearn.CPUs = out.cpus
	res.Sklearn.Runs = out.runs
	if out.loadSeconds > 0 {
		res.Load.PandasSeconds = out.loadSeconds
		res.Load.PandasMBps = float64(out.loadBytes) / 1e6 / out.loadSeconds
	}
	res.Prepare.SklearnSeconds = out.prepSeconds
	for _, s := range out.skipped {
		res.note("scikit-learn %s", s)
	}
}
