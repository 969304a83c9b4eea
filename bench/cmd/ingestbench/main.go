// Command ingestbench measures alur's data collection side by side and
// prints a Markdown table:
//
//   - CSV to columnar table: csvio.ReadAll against pandas.read_csv on the
//     same file (a classification-shaped CSV: 20 float features written
//     with 6 significant digits and an integer label), in MB/s and as a
//     ratio;
//   - table transfer over gRPC on loopback: a server streams a large
//     table's batches (tablepb.StreamEncoder) to a client that decodes
//     them (tablepb.Collector), in MB/s of batch payload;
//   - a large CSV (1 GB by default) read through the real ingest binary
//     (built, started on 127.0.0.1 with a temporary data root, Read over
//     gRPC, batches discarded), reporting the ingest process's peak
//     resident memory (VmHWM) and the throughput.
//
// Every measurement is bounded by flags: --rows, --transfer-rows, --gb,
// --repeat. Usage (from the repository root):
//
//	go run ./bench/cmd/ingestbench [--rows 200000] [--gb 1] [--repeat 3]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// options are the command-line flags.
type options struct {
	rows         int
	transferRows int
	gb           float64
	repeat       int
	python       string
	workDir      string
	keep         bool
	cpuProfile   string
	skip         map[string]bool
	// transferChild runs only benchmark (b) and prints its result as JSON:
	// the parent runs (b) in a child process of its own.
	transferChild bool
}

func main() {
	var o options
	var skip string
	flag.IntVar(&o.rows, "rows", 200000, "rows of the CSV of the parsing benchmark (a)")
	flag.IntVar(&o.transferRows, "transfer-rows", 1000000, "rows of the table of the gRPC transfer benchmark (b)")
	flag.Float64Var(&o.gb, "gb", 1, "size in GB (1e9 bytes) of the CSV read through the ingest binary (c)")
	flag.IntVar(&o.repeat, "repeat", 3, "runs of (a) and (b); the best run counts")
	flag.StringVar(&o.python, "python", "/usr/bin/python3", "Python interpreter with pandas for (a)")
	flag.StringVar(&o.workDir, "work-dir", "", "directory for the generated files (default: a new temporary directory, removed at the end)")
	flag.BoolVar(&o.keep, "keep", false, "keep the generated files")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (benchmarks (a) and (b)) to this file")
	flag.BoolVar(&o.transferChild, "transfer-child", false, "internal: run only benchmark (b) and print its result as JSON")
	flag.StringVar(&skip, "skip", "", "comma-separated benchmarks to skip: parse, transfer, binary")
	flag.Parse()
	o.skip = make(map[string]bool)
	for _, s := range strings.Split(skip, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.skip[s] = true
		}
	}
	if o.rows < 1 || o.transferRows < 1 || o.gb <= 0 || o.gb > 64 || o.repeat < 1 {
		fmt.Fprintln(os.Stderr, "ingestbench: --rows and --transfer-rows must be positive, --gb in (0, 64], --repeat at least 1")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

// result is one row of the report.
type result struct {
	name   string
	alur   string
	other  string
	ratio  string
	target string
}

func run(o options) error {
	if o.transferChild {
		r, err := benchTransfer(context.Background(), o)
		if err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(r.fields())
	}
	dir := o.workDir
	if dir == "" {
		d, err := os.MkdirTemp("", "ingestbench-*")
		if err != nil {
			return err
		}
		dir = d
		if !o.keep {
			defer os.RemoveAll(d)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	var results []result
	var notes []string
	if !o.skip["parse"] {
		r, note, err := benchParse(ctx, o, filepath.Join(dir, "parse.csv"))
		if err != nil {
			return fmt.Errorf("parse benchmark: %w", err)
		}
		results = append(results, r)
		notes = append(notes, note...)
	}
	if !o.skip["transfer"] {
		r, err := transferInChild(ctx, o)
		if err != nil {
			return fmt.Errorf("transfer benchmark: %w", err)
		}
		results = append(results, r)
	}
	if !o.skip["binary"] {
		rs, err := benchBinary(ctx, o, dir)
		if err != nil {
			return fmt.Errorf("ingest binary benchmark: %w", err)
		}
		results = append(results, rs...)
	}
	fmt.Println("| benchmark | alur | reference | ratio | target |")
	fmt.Println("|---|--:|--:|--:|---|")
	for _, r := range results {
		fmt.Printf("| %s | %s | %s | %s | %s |\n", r.name, r.alur, r.other, r.ratio, r.target)
	}
	for _, n := range notes {
		fmt.Println()
		fmt.Println(n)
	}
	return nil
}

// logf reports progress on stderr, keeping stdout for the table.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ingestbench: "+format+"\n", args...)
}

// mbps is bytes per second in MB/s (1e6 bytes).
func mbps(bytes int64, d time.Duration) float64 {
	return float64(bytes) / 1e6 / d.Seconds()
}

// passFail marks a measured figure against its target.
func passFail(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// fields exports a result for the child process's JSON.
func (r result) fields() map[string]string {
	return map[string]string{"name": r.name, "alur": r.alur, "other": r.other, "ratio": r.ratio, "target": r.target}
}

// transferInChild runs benchmark (b) in a fresh process of this program,
// as (c) runs the ingest binary in its own: the transfer allocates and
// frees hundreds of megabytes, and how fast that goes depends on what the
// heap holds, so the parse benchmark before it in the same process would
// weigh on its figure.
func transferInChild(ctx context.Context, o options) (result, error) {
	exe, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	cmd := exec.CommandContext(ctx, exe, "--transfer-child",
		"--transfer-rows", strconv.Itoa(o.transferRows), "--repeat", strconv.Itoa(o.repeat))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, err
	}
	var f map[string]string
	if err := json.Unmarshal(out, &f); err != nil {
		return result{}, fmt.Errorf("reading the child's result: %w", err)
	}
	return result{name: f["name"], alur: f["alur"], other: f["other"], ratio: f["ratio"], target: f["target"]}, nil
}
