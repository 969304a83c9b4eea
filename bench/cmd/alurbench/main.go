// Command alurbench is alur's benchmark harness (`make bench`): it times
// alur's ML library in process and through its gRPC services on a large
// classification CSV, runs scikit-learn and XGBoost on the very same file,
// rows and split right after (bench/sklearn_side.py), both sides with the
// same number of threads (one, and every core), measures the train
// service's peak memory as a separate process, draws the scale curve, and
// prints the figures side by side with the ratios and targets. See
// bench/README.md.
//
// Progress goes to stderr; the report (text, or JSON with --json) goes to
// stdout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alur-ml/alur/bench/synth"
)

// defaultAlgorithms are the algorithms compared.
const defaultAlgorithms = "logistic_regression,random_forest,gradient_boosting,decision_tree,naive_bayes,knn"

// options are the command-line settings.
type options struct {
	rows, features     int
	csvPath            string
	label, splitColumn string
	algorithms         []string
	memAlgorithms      []string
	cases              []*benchCase
	memCases           []*benchCase
	threads            []int
	scaleRows          []int
	scaleCases         []*benchCase
	scalePNG           string
	skipSklearn        bool
	skipServices       bool
	repeat             int
	repeatSmall        int
	ompWait            string
	ompPassive         bool
	jsonOut            bool
	seed               uint64
	python             string
	sklearnScript      string
	trainBin           string
	keep               bool
}

func main() {
	var o options
	var algos, memAlgos, threads, scaleRows, scaleCases string
	flag.IntVar(&o.rows, "rows", 200000, "rows of the generated CSV (ignored with --csv)")
	flag.IntVar(&o.features, "features", 20, "feature columns of the generated CSV (ignored with --csv)")
	flag.StringVar(&o.csvPath, "csv", "", "benchmark this CSV file instead of a generated one; a stratified 80/20 split column is added when it has none")
	flag.StringVar(&o.label, "label", synth.LabelColumn, "label column of --csv")
	flag.StringVar(&o.splitColumn, "split-column", synth.SplitColumn, `column marking rows "train" or "test"`)
	flag.StringVar(&algos, "algorithms", defaultAlgorithms, "comma-separated algorithms (or case keys, such as gradient_boosting_xgb) to time")
	flag.StringVar(&memAlgos, "mem-algorithms", "logistic_regression,random_forest", "comma-separated cases whose train-service peak memory is measured; empty skips the measurement")
	flag.StringVar(&threads, "threads", "1,all", `comma-separated thread counts every comparison runs at, on both sides ("all": every CPU)`)
	flag.StringVar(&scaleRows, "scale", "", "comma-separated row counts of the scale curve (for example 20000,200000,2000000); empty skips it")
	flag.StringVar(&scaleCases, "scale-cases", "logistic_regression,gradient_boosting_xgb", "comma-separated cases of the scale curve")
	flag.StringVar(&o.scalePNG, "scale-png", "bench-scale.png", "where the scale curve's plot (PNG) is written")
	flag.BoolVar(&o.skipSklearn, "skip-sklearn", false, "do not run the scikit-learn side")
	flag.BoolVar(&o.skipServices, "skip-services", false, "do not time the gRPC services nor measure the train service's memory")
	flag.IntVar(&o.repeat, "repeat", 1, "take the best of N runs of every in-process and peer timing")
	flag.StringVar(&o.ompWait, "omp-passive", "auto", `OMP_WAIT_POLICY=PASSIVE for the peers' OpenMP threads: "on", "off", or "auto" (on when the load average exceeds the CPUs, where spinning OpenMP threads fight the other work for the cores)`)
	flag.IntVar(&o.repeatSmall, "repeat-small", 3, "take the best of N runs of every timing whose first run took under 2 s")
	flag.BoolVar(&o.jsonOut, "json", false, "print the results as JSON instead of tables")
	flag.Uint64Var(&o.seed, "seed", 0, "seed of the generator, the split and the randomised models")
	flag.StringVar(&o.python, "python", "/usr/bin/python3", "Python interpreter for the scikit-learn side")
	flag.StringVar(&o.sklearnScript, "sklearn-script", "bench/sklearn_side.py", "path of sklearn_side.py")
	flag.StringVar(&o.trainBin, "train-bin", "", "train service binary (go build ./services/train/cmd/train) for the peak-memory measurement; empty skips it")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory with the generated CSV and print its path")
	flag.Parse()
	o.algorithms = splitList(algos)
	o.memAlgorithms = splitList(memAlgos)
	err := o.resolve(threads, scaleRows, scaleCases)
	if err == nil {
		err = o.validate()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "alurbench:", err)
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "alurbench:", err)
		os.Exit(1)
	}
}

// splitList splits a comma-separated list, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// resolve turns the list flags into thread counts, cases and row counts.
func (o *options) resolve(threads, scaleRows, scaleCases string) error {
	var err error
	if o.threads, err = parseThreads(threads); err != nil {
		return err
	}
	if o.cases, err = selectCases(o.algorithms); err != nil {
		return err
	}
	for _, k := range o.memAlgorithms {
		c, ok := caseByKey(k)
		if !ok {
			return fmt.Errorf("--mem-algorithms: %q is not a case of the benchmark", k)
		}
		o.memCases = append(o.memCases, c)
	}
	for _, f := range splitList(scaleRows) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 100 || n > synth.MaxRows {
			return fmt.Errorf("--scale: %q is not a row count in [100, %d]", f, synth.MaxRows)
		}
		o.scaleRows = append(o.scaleRows, n)
	}
	for _, k := range splitList(scaleCases) {
		c, ok := caseByKey(k)
		if !ok {
			return fmt.Errorf("--scale-cases: %q is not a case of the benchmark", k)
		}
		o.scaleCases = append(o.scaleCases, c)
	}
	return nil
}

// validate checks the options before any work starts.
func (o *options) validate() error {
	switch {
	case o.csvPath == "" && (o.rows < 100 || o.rows > synth.MaxRows):
		return fmt.Errorf("--rows: %d is outside [100, %d]", o.rows, synth.MaxRows)
	case o.csvPath == "" && (o.features < 2 || o.features > synth.MaxFeatures):
		return fmt.Errorf("--features: %d is outside [2, %d]", o.features, synth.MaxFeatures)
	case o.repeat < 1 || o.repeat > 100:
		return fmt.Errorf("--repeat: %d is outside [1, 100]", o.repeat)
	case o.ompWait != "auto" && o.ompWait != "on" && o.ompWait != "off":
		return fmt.Errorf("--omp-passive: %q is none of auto, on, off", o.ompWait)
	case o.repeatSmall < 1 || o.repeatSmall > 100:
		return fmt.Errorf("--repeat-small: %d is outside [1, 100]", o.repeatSmall)
	case len(o.algorithms) == 0:
		return errors.New("--algorithms: name at least one algorithm")
	case o.label == "" || o.splitColumn == "" || o.label == o.splitColumn:
		return errors.New("--label and --split-column must be two different, non-empty column names")
	}
	seen := map[string]bool{}
	for _, a := range o.algorithms {
		if seen[a] {
			return fmt.Errorf("--algorithms: %q is listed twice", a)
		}
		seen[a] = true
	}
	return nil
}

// logger writes progress lines, stamped with the time since the run
// started, so a long run shows where it is.
type logger struct {
	w     io.Writer
	start time.Time
}

// logf prints one progress line.
func (l *logger) logf(format string, args ...any) {
	fmt.Fprintf(l.w, "[%6.1fs] %s\n", time.Since(l.start).Seconds(), fmt.Sprintf(format, args...))
}

// run does the whole benchmark and writes the report to out.
func run(ctx context.Context, o options, out, progress io.Writer) error {
	lg := &logger{w: progress, start: time.Now()}
	m := machineInfo()
	load, _ := strconv.ParseFloat(m.LoadStart, 64)
	o.ompPassive = o.ompWait == "on" || (o.ompWait == "auto" && load > float64(m.CPUs))
	if o.ompPassive {
		lg.logf("peers: OMP_WAIT_POLICY=PASSIVE (--omp-passive %s, load average %s on %d CPUs)", o.ompWait, m.LoadStart, m.CPUs)
	}
	res := &Results{Machine: m, OMPPassive: o.ompPassive, Seed: o.seed, Repeat: o.repeat, RepeatSmall: o.repeatSmall, Threads: o.threads}

	dir, err := os.MkdirTemp("", "alurbench-")
	if err != nil {
		return err
	}
	if o.keep {
		lg.logf("keeping the working directory %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	csvPath, err := obtainCSV(o, dir, res, lg)
	if err != nil {
		return err
	}
	data, err := loadAndPrepare(ctx, csvPath, o, res, lg)
	if err != nil {
		return err
	}
	if err := runInProcess(ctx, data, o, res, lg); err != nil {
		return err
	}
	if o.skipSklearn {
		res.Sklearn.Reason = "skipped (--skip-sklearn)"
	} else {
		runSklearn(ctx, csvPath, o, res, lg)
	}
	if o.skipServices {
		res.note("services and train-service memory not measured (--skip-services)")
	} else {
		if err := runServices(ctx, csvPath, data, o, res, lg); err != nil {
			res.note("services: %v", err)
			lg.logf("services failed: %v", err)
		}
		runMemory(ctx, data, o, res, lg)
	}
	if len(o.scaleRows) > 0 {
		if err := runScale(ctx, dir, o, res, lg); err != nil {
			res.note("scale curve: %v", err)
			lg.logf("scale curve failed: %v", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	res.compare()
	res.Machine.LoadEnd = loadAverage()
	for _, l := range []string{res.Machine.LoadStart, res.Machine.LoadEnd} {
		if v, err := strconv.ParseFloat(l, 64); err == nil && v > float64(res.Machine.CPUs) {
			res.note("the load average (%s at the start, %s at the end) exceeded the %d CPUs: other work competed for the processors, so every timing is inflated, multi-threaded code most; re-run on a quiet machine before drawing conclusions",
				res.Machine.LoadStart, res.Machine.LoadEnd, res.Machine.CPUs)
			break
		}
	}
	lg.logf("done")
	if o.jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return writeText(out, res)
}

// machineInfo describes where the benchmark ran.
func machineInfo() Machine {
	return Machine{
		CPUModel:   cpuModel(),
		LoadStart:  loadAverage(),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS + "/" + runtime.GOARCH,
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Date:       time.Now().UTC().Format(time.RFC3339),
	}
}

// cpuModel returns the processor name from /proc/cpuinfo, or "" where
// there is none (not Linux).
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAverage returns the 1-minute load average from /proc/loadavg, or ""
// where there is none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return ""
}
