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
	"slices"
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
	XGBoost string `json:"xgboost"`
	CPUs    int    `json:"cpus"`
	// info, algorithm
	Threads int `json:"threads"`
	// load, prepare
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes"`
	// algorithm, skipped
	Name           string  `json:"name"`
	Peer           string  `json:"peer"`
	FitSeconds     float64 `json:"fit_seconds"`
	PredictSeconds float64 `json:"predict_seconds"`
	Accuracy       float64 `json:"accuracy"`
	PeakBefore     int64   `json:"peak_rss_before"`
	PeakAfter      int64   `json:"peak_rss_after"`
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
			out.versions = map[string]string{"sklearn": l.Sklearn, "pandas": l.Pandas, "numpy": l.Numpy, "python": l.Python, "xgboost": l.XGBoost}
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
			peer := l.Peer
			if peer == "" {
				peer = peerSklearn
			}
			out.runs = append(out.runs, SklearnRun{Name: l.Name, Peer: peer, Threads: l.Threads,
				FitSeconds: l.FitSeconds, PredictSeconds: l.PredictSeconds, Accuracy: l.Accuracy,
				PeakBefore: l.PeakBefore, PeakAfter: l.PeakAfter})
			out.sawAnyResults = true
		case "skipped":
			out.skipped = append(out.skipped, l.Name+": "+l.Reason)
		}
	}
	return out, sc.Err()
}

// peerModels lists the script's model keys the cases need, once each.
func peerModels(cs []*benchCase) []string {
	var out []string
	for _, c := range cs {
		if !slices.Contains(out, c.PeerModel) {
			out = append(out, c.PeerModel)
		}
	}
	return out
}

// sklearnArgs are the script's arguments for models on threads threads.
type sklearnArgs struct {
	models     []string
	threads    int
	repeat     int
	small      int
	peakMemory bool
	skipLoad   bool
}

// runScript runs sklearn_side.py on the file with the thread count set both
// by flag and, so that the OpenMP and BLAS runtimes read it when they load,
// in the environment. It returns the parsed output and why it failed, ""
// when it did not.
func runScript(ctx context.Context, csvPath string, o options, a sklearnArgs, lg *logger) (*sklearnOutput, string) {
	if _, err := os.Stat(o.python); err != nil {
		return nil, fmt.Sprintf("no Python interpreter at %s", o.python)
	}
	if _, err := os.Stat(o.sklearnScript); err != nil {
		return nil, fmt.Sprintf("script not found: %v (set --sklearn-script)", err)
	}
	// random_state must fit in 32 bits.
	seed := strconv.FormatUint(o.seed%(1<<32), 10)
	args := []string{o.sklearnScript,
		"--csv", csvPath, "--label", o.label, "--split-column", o.splitColumn,
		"--models", strings.Join(a.models, ","),
		"--repeat", strconv.Itoa(a.repeat), "--repeat-small", strconv.Itoa(max(1, a.small)), "--seed", seed, "--threads", strconv.Itoa(a.threads)}
	if a.peakMemory {
		args = append(args, "--peak-memory")
	}
	if a.skipLoad {
		args = append(args, "--skip-load")
	}
	cmd := exec.CommandContext(ctx, o.python, args...)
	t := strconv.Itoa(a.threads)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+t, "OPENBLAS_NUM_THREADS="+t, "MKL_NUM_THREADS="+t)
	if o.ompPassive {
		cmd.Env = append(cmd.Env, "OMP_WAIT_POLICY=PASSIVE")
	}
	cmd.Stderr = lg.w
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err.Error()
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Sprintf("starting %s: %v", o.python, err)
	}
	out, parseErr := parseSklearnOutput(stdout)
	_, _ = io.Copy(io.Discard, stdout) // let the script finish writing
	waitErr := cmd.Wait()
	switch {
	case out.unavailable != "":
		return out, out.unavailable
	case parseErr != nil:
		return out, "unreadable output of sklearn_side.py: " + parseErr.Error()
	case waitErr != nil:
		return out, "sklearn_side.py failed: " + waitErr.Error()
	}
	return out, ""
}

// runSklearn runs sklearn_side.py on the same file and split, once per
// thread count, and records its results. Any failure is recorded as the
// reason peer figures are missing, not returned: the alur figures stand on
// their own.
func runSklearn(ctx context.Context, csvPath string, o options, res *Results, lg *logger) {
	models := peerModels(o.cases)
	for _, threads := range o.threads {
		if ctx.Err() != nil {
			return
		}
		lg.logf("peers: running %s on the same file with %d threads", o.sklearnScript, threads)
		out, reason := runScript(ctx, csvPath, o, sklearnArgs{models: models, threads: threads, repeat: o.repeat, small: o.repeatSmall}, lg)
		if reason != "" {
			if res.Sklearn.Reason != "" {
				res.Sklearn.Reason += "; "
			}
			res.Sklearn.Reason += fmt.Sprintf("%d threads: %s", threads, reason)
			lg.logf("peer side: %s", reason)
		}
		if out == nil || out.unavailable != "" || !out.sawAnyResults {
			continue
		}
		// Partial results of a failed run are still reported, with the reason.
		res.Sklearn.Available = true
		res.Sklearn.Versions = out.versions
		res.Sklearn.CPUs = out.cpus
		res.Sklearn.Runs = append(res.Sklearn.Runs, out.runs...)
		// pandas.read_csv parses on one core whatever the thread count:
		// keep its best time.
		if out.loadSeconds > 0 && (res.Load.PandasSeconds == 0 || out.loadSeconds < res.Load.PandasSeconds) {
			res.Load.PandasSeconds = out.loadSeconds
			res.Load.PandasMBps = float64(out.loadBytes) / 1e6 / out.loadSeconds
		}
		if res.Prepare.SklearnSeconds == 0 || out.prepSeconds < res.Prepare.SklearnSeconds {
			res.Prepare.SklearnSeconds = out.prepSeconds
		}
		for _, s := range out.skipped {
			if !slices.Contains(res.Notes, "peer "+s) {
				res.note("peer %s", s)
			}
		}
	}
}
