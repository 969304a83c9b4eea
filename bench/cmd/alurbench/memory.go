package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alur-ml/alur/ml/table"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	trainv1 "github.com/alur-ml/alur/proto/alur/train/v1"
	"github.com/alur-ml/alur/serverkit"
)

// startTimeout bounds the wait for the train binary to listen.
const startTimeout = 30 * time.Second

// stopTimeout bounds the wait for the train binary to exit after SIGTERM
// before it is killed.
const stopTimeout = 15 * time.Second

// runMemory measures the real train binary's peak resident memory for
// every --mem-algorithms algorithm: a fresh process per algorithm (peak
// RSS never goes down), sent the prepared train table over gRPC like any
// client would, with VmHWM read from /proc after the model came back.
func runMemory(ctx context.Context, d *benchData, o options, res *Results, lg *logger) {
	if len(o.memAlgorithms) == 0 {
		return
	}
	if o.trainBin == "" {
		res.note("train-service memory not measured: no --train-bin (scripts/bench.sh builds one)")
		return
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		res.note("train-service memory not measured: no /proc (the measurement needs Linux)")
		return
	}
	trainT, _ := d.preparedTables()
	rows, cols := d.xTrain.Dims()
	tableBytes := int64(rows) * int64(cols) * 8
	for _, name := range o.memAlgorithms {
		if ctx.Err() != nil {
			return
		}
		spec, why := lookupClassifier(name)
		if spec == nil {
			res.note("train-service memory of %s not measured: %s", name, why)
			continue
		}
		params, _ := paramsFor(spec)
		lg.logf("memory: %s in a separate train process (%d rows × %d features)", name, rows, cols)
		m := Memory{Algorithm: name, TableBytes: tableBytes}
		idle, peak, err := measureTrainProcess(ctx, o.trainBin, &trainv1.TrainConfig{
			Algorithm: name, Params: params, Label: d.transform.GetLabel(),
			Task: datav1.Task_TASK_CLASSIFICATION, Seed: int64(o.seed),
		}, trainT)
		if err != nil {
			m.Error = err.Error()
			lg.logf("memory: %s: %v", name, err)
		} else {
			m.IdleBytes, m.PeakBytes = idle, peak
			m.Ratio = float64(peak) / float64(tableBytes)
			m.Pass = m.Ratio <= targetMemRatio
		}
		res.Memory = append(res.Memory, m)
	}
}

// measureTrainProcess starts the train binary on a free loopback port,
// trains one model on t through it and returns the process's peak RSS
// before the call and after it. The process is stopped before returning.
func measureTrainProcess(ctx context.Context, bin string, cfg *trainv1.TrainConfig, t *table.Table) (idle, peak int64, err error) {
	proc, err := startTrain(ctx, bin)
	if err != nil {
		return 0, 0, err
	}
	defer proc.stop()
	pid := proc.cmd.Process.Pid
	if idle, _, err = readVmHWM(pid); err != nil {
		return 0, 0, err
	}
	conn, err := serverkit.Dial(proc.addr)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	if _, _, err := trainRPC(ctx, trainv1.NewTrainServiceClient(conn), cfg, t); err != nil {
		return 0, 0, fmt.Errorf("train: %w%s", err, proc.logTail())
	}
	if peak, _, err = readVmHWM(pid); err != nil {
		return 0, 0, err
	}
	return idle, peak, nil
}

// trainProcess is a running train binary.
type trainProcess struct {
	cmd  *exec.Cmd
	addr string
	// done is closed when the process has exited (cmd.Wait returned).
	done chan struct{}
	mu   sync.Mutex
	tail []string // last lines of its log, for error messages
}

// startTrain runs bin --addr 127.0.0.1:0 and waits until its log says
// which address it serves on.
func startTrain(ctx context.Context, bin string) (*trainProcess, error) {
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0")
	// The address is read from the "serving" log line, an INFO line.
	cmd.Env = append(os.Environ(), "ALUR_LOG_LEVEL=info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &trainProcess{cmd: cmd, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.tail = append(p.tail, line)
			if len(p.tail) > 5 {
				p.tail = p.tail[1:]
			}
			p.mu.Unlock()
			if addr, ok := servingAddr(line); ok {
				select {
				case addrc <- addr:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		close(p.done)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case p.addr = <-addrc:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before serving%s", bin, p.logTail())
	case <-timer.C:
		p.stop()
		return nil, fmt.Errorf("%s did not report its address within %v%s", bin, startTimeout, p.logTail())
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// stop sends SIGTERM (a graceful stop) and kills the process if it has
// not exited within stopTimeout.
func (p *trainProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// logTail formats the last log lines for an error message.
func (p *trainProcess) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tail) == 0 {
		return ""
	}
	return "; its log ends:\n  " + strings.Join(p.tail, "\n  ")
}

// servingAddr extracts addr from the log line serverkit.Main writes once
// it listens, a slog text line such as
// `time=... level=INFO msg=serving service=train addr=127.0.0.1:40123`.
func servingAddr(line string) (string, bool) {
	fields := strings.Fields(line)
	if !slices.Contains(fields, "msg=serving") {
		return "", false
	}
	for _, f := range fields {
		if a, ok := strings.CutPrefix(f, "addr="); ok && a != "" {
			return strings.Trim(a, `"`), true
		}
	}
	return "", false
}

// readVmHWM returns a process's peak resident set size (VmHWM) and
// current one (VmRSS) in bytes, from /proc/PID/status.
func readVmHWM(pid int) (hwm, rss int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	return parseVmStatus(string(b))
}

// parseVmStatus reads the VmHWM and VmRSS lines of a /proc/PID/status
// text ("VmHWM:\t  123456 kB"; see proc(5)) and returns them in bytes.
func parseVmStatus(status string) (hwm, rss int64, err error) {
	sawHWM := false
	for line := range strings.Lines(status) {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmHWM" && key != "VmRSS") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("malformed %s line %q", key, strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 || kb > math.MaxInt64/1024 {
			return 0, 0, fmt.Errorf("malformed %s value %q", key, f[0])
		}
		if key == "VmHWM" {
			hwm, sawHWM = kb*1024, true
		} else {
			rss = kb * 1024
		}
	}
	if !sawHWM {
		return 0, 0, errors.New("no VmHWM line in the process status")
	}
	return hwm, rss, nil
}
