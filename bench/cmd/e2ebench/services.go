package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/alur-ml/alur/bench/internal/process"
	"github.com/alur-ml/alur/services/orchestrator/stack"
)

// binaries maps each service to its package, relative to the repository
// root.
var binaries = []struct{ name, pkg string }{
	{"ingest", "./services/ingest/cmd/ingest"},
	{"prep", "./services/prep/cmd/prep"},
	{"train", "./services/train/cmd/train"},
	{"eval", "./services/eval/cmd/eval"},
	{"orchestrator", "./services/orchestrator/cmd/orchestrator"},
}

// Memory is one process's peak resident memory.
type Memory struct {
	Process string `json:"process"`
	PeakRSS int64  `json:"peak_rss_bytes"`
}

// cluster is the running alur services, whichever way they run.
type cluster struct {
	// OrchestratorAddr is where the client dials.
	OrchestratorAddr string
	// Mode says how the services run, for the report.
	Mode string
	peak func() ([]Memory, error)
	stop func()
}

// buildBinaries compiles the five service binaries into dir with the go
// tool, from the repository root (the working directory of `make`).
func buildBinaries(dir string) error {
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, b := range binaries {
		args = append(args, b.pkg)
	}
	cmd := exec.Command("go", args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build of the service binaries (run from the repository root, or give --bin-dir): %w", err)
	}
	return nil
}

// startProcesses runs the five binaries in binDir as separate processes,
// as a deployment does, each on a loopback port the kernel picks; the
// orchestrator keeps its store in dataDir and serves no dashboard.
func startProcesses(ctx context.Context, binDir, dataDir string) (*cluster, error) {
	var procs []*process.Process
	stopAll := func() {
		// The orchestrator first, then the stages, as a deployment stops.
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].Stop()
		}
	}
	addrs := map[string]string{}
	for _, b := range binaries {
		var args []string
		if b.name == "orchestrator" {
			args = []string{"--http", "", "--data-dir", dataDir,
				"--ingest", addrs["ingest"], "--prep", addrs["prep"], "--train", addrs["train"], "--eval", addrs["eval"]}
		}
		p, err := process.Start(ctx, filepath.Join(binDir, b.name), args...)
		if err != nil {
			stopAll()
			return nil, err
		}
		procs = append(procs, p)
		addrs[b.name] = p.Addr
	}
	return &cluster{
		OrchestratorAddr: addrs["orchestrator"],
		Mode:             "five processes (the service binaries), each on its own loopback port",
		peak: func() ([]Memory, error) {
			var out []Memory
			for i, p := range procs {
				hwm, _, err := process.ReadVmHWM(p.PID())
				if err != nil {
					return nil, fmt.Errorf("%s: %w", binaries[i].name, err)
				}
				out = append(out, Memory{Process: binaries[i].name, PeakRSS: hwm})
			}
			return out, nil
		},
		stop: stopAll,
	}, nil
}

// startInProcess serves the five services in this process (package stack,
// as `alur dev` runs them), each on its own loopback port; the client
// still reaches the orchestrator, and the orchestrator the stages, over
// TCP. Peak memory is this whole process's, client included.
func startInProcess(ctx context.Context, dataDir string) (*cluster, error) {
	st, err := stack.Start(ctx, stack.Config{DataDir: dataDir})
	if err != nil {
		return nil, err
	}
	return &cluster{
		OrchestratorAddr: st.OrchestratorAddr,
		Mode:             "one process (package stack, as `alur dev`), each service on its own loopback port",
		peak: func() ([]Memory, error) {
			hwm, _, err := process.ReadVmHWM(os.Getpid())
			if err != nil {
				return nil, err
			}
			return []Memory{{Process: "all five services and the client", PeakRSS: hwm}}, nil
		},
		stop: func() {
			if err := st.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "e2ebench: stop:", err)
			}
		},
	}, nil
}

// errNoBinaries explains a --bin-dir without the binaries.
func checkBinDir(dir string) error {
	var missing []string
	for _, b := range binaries {
		if _, err := os.Stat(filepath.Join(dir, b.name)); err != nil {
			missing = append(missing, b.name)
		}
	}
	if len(missing) > 0 {
		return errors.New("--bin-dir: missing " + strings.Join(missing, ", "))
	}
	return nil
}
